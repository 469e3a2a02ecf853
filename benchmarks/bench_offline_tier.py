"""The offline metric tier on realistic 480x832 5 s clips, on CPU: seconds per clip per metric,
per subset, for the 150-case mix, and end to end through the runner (one process scoring one
metric at a time or one per core, and 2 Ray workers), with peak memory.

The offline tier is every metric that is neither official nor needs weights. The clip is the
memory benchmark's (a texture panning 2 px per frame with a square flashing white every 11 frames,
clicks on the flashes; H.264 + AAC mp4 with its wav), copied under the ids of the first
`--per-subset` cases of each subset, as a folder of pre-generated clips (`--model dir:`).

    python benchmarks/bench_offline_tier.py [--per-subset 4] [--out FILE]

Per metric: CPU seconds of a second call of `score` (the first pays imports and model loading),
after `read_clip` (which decodes the clip once for all metrics). End to end: wall seconds of `evaluate` on an empty run folder (the clips
already stored), metric models loaded on first use, divided by the clips.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one torch thread per process, as a Ray worker of 1 CPU
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import bench_memory  # noqa: E402  (the clip and the fresh-process evaluation)
import bench_ray  # noqa: E402  (one timed run through the runner, worker memory)

SUBSETS = ("ambient", "complex", "speech")


def offline_keys() -> list[str]:
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    return [k for k in all_metric_keys() if not get_metric(k).official and not get_metric(k).weights]


def per_metric(path: Path, keys: list[str]) -> dict:
    """CPU seconds of `read_clip` and of each metric's `score` on one clip, after a first call
    that pays the one-time costs (imports, model loading, graph building)."""
    from harmony_bench.media import read_clip
    from harmony_bench.metrics.base import NotScorable
    from harmony_bench.metrics.registry import get_metric

    from harmony_bench.cases import Case

    case = Case(id="bench-001", subset="complex", video_caption="a texture", reference_image="",
                reference_audio="", spoken_word_en=bench_memory.TRANSCRIPT, language="en", duration=5.0)
    start = time.process_time()
    clip = read_clip(path)
    rows = {"read_clip": {"cpu_s": time.process_time() - start, "status": "ok"}}
    for key in keys:
        metric = get_metric(key)()
        reason = metric.availability()
        if reason:
            rows[key] = {"status": f"unavailable: {reason}"}
            continue
        metric.setup()
        for _ in range(2):  # the second call is the steady cost per clip
            start = time.process_time()
            try:
                metric.score(clip, case)
                status = "ok"
            except NotScorable as exc:
                status = f"unscorable: {exc}"
        rows[key] = {"cpu_s": time.process_time() - start, "status": status}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-subset", type=int, default=4)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import ray

    from harmony_bench.cases import DEFAULT_CASES_DIR, load_cases
    from harmony_bench.metrics.registry import get_metric

    say = bench_ray.Transcript(f"# python benchmarks/bench_offline_tier.py --per-subset {args.per_subset}   "
             f"({datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; {platform.machine()}, {os.cpu_count()} cores, "
             f"load average at start {os.getloadavg()[0]:.1f})")

    keys = offline_keys()
    with tempfile.TemporaryDirectory(prefix="hb-bench-offline-") as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        bench_memory.write_test_clip(clip, 480, 832, 5.0)
        rows = per_metric(clip, keys)
        say("per metric, one 480x832 5 s clip (120 frames at 24 fps), one torch thread, CPU seconds "
            "(all threads of the process) of a second call of score():")
        say(f"  {'read_clip (decodes once)':32} {rows['read_clip']['cpu_s']:6.2f} s")
        cost = {}
        for key in keys:
            r = rows[key]
            cost[key] = r.get("cpu_s", 0.0)
            say(f"  {key:32} {cost[key]:6.2f} s   {r['status'][:60]}   subsets: {','.join(get_metric(key).subsets)}")
        by_subset = {s: rows["read_clip"]["cpu_s"] + sum(c for k, c in cost.items() if s in get_metric(k).subsets)
                     for s in SUBSETS}
        mix = sum(by_subset.values()) / len(by_subset)  # the benchmark has 50 cases of each subset
        say("sum per clip (decode + the metrics its subset runs), one thread: "
            + ", ".join(f"{s} {v:.2f} s" for s, v in by_subset.items())
            + f"; the 150-case mix {mix:.2f} s per clip, {mix * 150 / 60:.1f} min for 150 clips on one core")

        clips = tmp / "clips"
        clips.mkdir()
        cases = load_cases(DEFAULT_CASES_DIR)
        for subset in SUBSETS:
            for case in [c for c in cases if c.subset == subset][: args.per_subset]:
                for ext in (".mp4", ".wav"):
                    shutil.copyfile(clip.with_suffix(ext), clips / f"{case.id}{ext}")
        run_args = argparse.Namespace(model=f"dir:{clips}", limit=args.per_subset, metrics=",".join(keys))
        configs = (("local, 1 metric at a time", "local", None, 1),
                   (f"local, {os.cpu_count()} metric threads", "local", None, None),  # the default on CPU
                   ("ray, 1 worker", "ray", 1, None), ("ray, 2 workers", "ray", 2, None))
        say(f"end to end: `evaluate` of {3 * args.per_subset} clips ({args.per_subset} per subset), "
            "metric models loaded on first use, wall clock:")
        say(f"  {'executor':28} {'evaluate s':>10} {'s per clip':>10} {'150 clips':>10}  peak MB (driver; workers)")
        reference = None
        for i, (label, executor, workers, threads) in enumerate(configs):
            out = tmp / f"run{i}"
            run_args.metric_threads = threads
            if executor == "ray" and not ray.is_initialized():  # started late: its daemons take CPU too
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            r = bench_ray.one_run(run_args, out, executor, workers)
            per_clip = r["evaluate"] / r["cases"]
            if reference is None:
                reference = out
            else:
                from tests.harmony_bench.stores import assert_same_run

                assert_same_run(out, reference)
            peaks = ", ".join(f"{p:.0f}" for p in r["worker_peaks"]) or "-"
            say(f"  {label:28} {r['evaluate']:10.1f} {per_clip:10.2f} {per_clip * 150 / 60:8.1f} min  "
                f"{bench_memory.peak_rss_mb():.0f}; {peaks}")
        ray.shutdown()
    say("Every store equals the first one row by row, values included. "
        f"Load average at end {os.getloadavg()[0]:.1f}.")
    if args.out:
        say.write(args.out)


if __name__ == "__main__":
    main()
