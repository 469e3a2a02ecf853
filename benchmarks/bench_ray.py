"""Cases per hour against the number of Ray workers, with peak memory.

Each configuration runs the same cases from an empty run folder: generation with `--model`, then
evaluation with `--metrics`, timed by wall clock including the start of the workers (each loads the
model or the metric models once). The one-process `local` executor is the baseline; its store is
compared row by row with every Ray run's (values included). Every process computes with one
torch thread, as a Ray worker of 1 CPU does. Memory: the peak resident set of the
driver and of each worker process (VmHWM, sampled from /proc while it lives).

    python benchmarks/bench_ray.py [--model harmony] [--limit 4] [--workers 1,2] [--repeats 3] [--out FILE]

On a shared machine other processes take cores at random moments; the Ray configurations are
therefore repeated, interleaved, and the best of each is compared (the least disturbed run).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# Ray gives a worker of 1 CPU one torch thread; the local baseline gets the same, so that the runs
# compute the same clips (the Harmony model's output changes in the last bits with the thread count)
# and the comparison is per worker.
os.environ["OMP_NUM_THREADS"] = "1"

WORKER_TITLES = ("ray::GenerationWorker", "ray::EvaluationWorker")


class WorkerSampler:
    """Peak resident memory (MB) and CPU seconds of every Ray worker process seen, by pid."""

    def __init__(self):
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "WorkerSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            for pid_dir in Path("/proc").glob("[0-9]*"):
                try:
                    if not (pid_dir / "cmdline").read_bytes().startswith(tuple(t.encode() for t in WORKER_TITLES)):
                        continue
                    hwm = next(line for line in (pid_dir / "status").read_text().splitlines()
                               if line.startswith("VmHWM:"))
                    ticks = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[11:13]  # utime, stime
                except (OSError, StopIteration):
                    continue
                pid = int(pid_dir.name)
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), int(hwm.split()[1]) / 1024)
                self.cpu[pid] = sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")


def one_run(args, out: Path, executor: str, workers: int | None) -> dict:
    from harmony_bench import runner

    cfg = runner.RunConfig(model=args.model, out=out, limit=args.limit, metrics=args.metrics.split(","),
                           device="cpu", quiet=True, executor=executor, workers=workers,
                           metric_threads=getattr(args, "metric_threads", None))
    cpu0 = time.process_time()
    with WorkerSampler() as workers_seen:
        start = time.perf_counter()
        summary = runner.generate(cfg)
        generated = time.perf_counter()
        runner.evaluate(cfg, summary)
        done = time.perf_counter()
    assert summary.exit_code == 0 and summary.clips_generated == summary.cases, summary.problems
    return {"cases": summary.cases, "generate": generated - start, "evaluate": done - generated, "total": done - start,
            "cpu": time.process_time() - cpu0 + sum(workers_seen.cpu.values()),
            "worker_peaks": sorted(workers_seen.peaks.values(), reverse=True)}


def _row(label: str, r: dict, base: dict | None) -> str:
    ratio = f"{base['total'] / r['total']:.2f}x" if base else "-"
    peaks = ", ".join(f"{p:.0f}" for p in r["worker_peaks"]) or "- (works in the driver)"
    return (f"{label:20} {r['generate']:10.1f} {r['evaluate']:10.1f} {r['total']:8.1f} "
            f"{r['cases'] / r['total'] * 3600:8.0f} {ratio:>11} {r['cpu']:6.0f} {r['cpu'] / r['total']:5.2f}  {peaks}")


class Transcript:
    """Prints each line as it comes and keeps them all, so a results file holds what was shown."""

    def __init__(self, header: str):
        self.lines = [header]

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)

    def write(self, path: Path) -> None:
        path.write_text("\n".join(self.lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="harmony")
    ap.add_argument("--limit", type=int, default=4, help="cases per subset (3 subsets)")
    ap.add_argument("--metrics", default="avoffset@onset-motion,dd@farneback")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats of each Ray configuration")
    ap.add_argument("--out", type=Path, help="also write the results here")
    args = ap.parse_args()
    import ray
    import torch

    from tests.harmony_bench.stores import assert_same_run

    cpus = os.cpu_count()
    say = Transcript(f"# python benchmarks/bench_ray.py --model {args.model} --limit {args.limit} --metrics {args.metrics} "
             f"--workers {args.workers} --repeats {args.repeats}   ({datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; "
             f"{platform.machine()}, {cpus} cores, Ray {ray.__version__}, torch {torch.__version__})")

    say(f"load average at start {os.getloadavg()[0]:.1f} (other processes share these {cpus} cores); "
        "times are wall clock, worker start-up included")
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    configs = [("ray", int(w)) for w in args.workers.split(",")]
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "local"
        runs["local (1 process)"] = [one_run(args, reference, "local", None)]
        for repeat in range(args.repeats):  # interleaved, so a burst of load elsewhere hits every config
            for executor, workers in configs:
                out = Path(tmp) / f"ray{workers}-{repeat}"
                runs.setdefault(f"ray, {workers} worker(s)", []).append(one_run(args, out, executor, workers))
                assert_same_run(out, reference)
    ray.shutdown()
    say(f"{runs['local (1 process)'][0]['cases']} cases of Harmony-Bench v1 (--limit {args.limit}), "
        f"model {args.model}, metrics {args.metrics}, CPU workers (1 CPU, 0 GPU each), {args.repeats} interleaved "
        "repeats of each Ray configuration; every Ray store equals the local one row by row, values included")
    say(f"{'executor':20} {'generate s':>10} {'evaluate s':>10} {'total s':>8} {'cases/h':>8} {'vs 1 worker':>11} "
        f"{'CPU s':>6} {'cores':>5}  peak MB of each worker process")
    singles = runs.get("ray, 1 worker(s)", [])
    for label, rs in runs.items():
        for i, r in enumerate(rs):  # each Ray run against the single worker of its repeat
            say(_row(label, r, singles[i] if label.startswith("ray") and i < len(singles) else None))
    best = {label: min(rs, key=lambda r: r["total"]) for label, rs in runs.items()}
    if "ray, 1 worker(s)" in best:
        for label, r in best.items():
            if label.startswith("ray") and label != "ray, 1 worker(s)":
                base = best["ray, 1 worker(s)"]
                say(f"best of {args.repeats}: {label} {r['cases'] / r['total'] * 3600:.0f} cases/h, "
                    f"{base['total'] / r['total']:.2f}x the best single worker "
                    f"({base['cases'] / base['total'] * 3600:.0f} cases/h)")
    say(f"CPU s: driver plus workers; cores: CPU s / total s, the share of the {cpus} cores the run got. "
        f"Peak resident memory of the driver over all runs (it holds the model and the metric models in the "
        f"local run): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    say("GPU: not measured (no GPU in this session); on a GPU node each worker takes --gpus-per-worker 1 by default")
    say(f"load average at end {os.getloadavg()[0]:.1f}")
    if args.out:
        say.write(args.out)


if __name__ == "__main__":
    main()
