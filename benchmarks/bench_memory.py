"""Peak memory (RSS) and time of the offline metric tier per clip size, on CPU.

The offline tier is every metric that is neither official nor needs weights (dd@farneback,
ms@farneback, avoffset@onset-motion, lipsync@facemesh, wer@faster-whisper-tiny.en where its
extra is installed). Each clip (a translating texture with a flashing square, clicks on the
flashes; H.264 + AAC mp4 with its wav) is written by one process and evaluated by a fresh one,
as the runner does: `read_clip`, then each metric's `score` with a case of the clip's duration,
one metric at a time.
The evaluating process prints its peak RSS after the imports, after opening the clip and after
each metric (the peak only grows, so the metric that raised it is the one whose line it grew on).
Then the run as a user starts it: `evaluate` of a `dir:` run holding the clip (one case of
Harmony-Bench v1, cx-001, with the clip's duration), the same metrics scored on the runner's
default threads (one per core, several metrics of the clip at once), in a fresh process.

    python benchmarks/bench_memory.py [--sizes 480x832x5 3840x2160x1 480x832x60] [--threads 2] [--metric-threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_SIZES = ("480x832x5", "3840x2160x1", "480x832x60")  # height x width x seconds
FPS, SR = 24.0, 16000
TRANSCRIPT = "The quick brown fox jumps over the lazy dog."


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def write_test_clip(path: Path, height: int, width: int, seconds: float) -> None:
    import cv2

    from harmony_bench.media import write_clip

    rng = np.random.default_rng(0)
    n = int(round(seconds * FPS))
    step = 2
    noise = rng.uniform(0, 255, (height, width + step * n, 3)).astype(np.float32)
    texture = np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)
    del noise
    events = np.arange(3, n - 3, 11)
    frames = np.empty((n, height, width, 3), np.uint8)
    side = min(height, width) // 5
    for t in range(n):
        frames[t] = texture[:, step * t : step * t + width]
        if np.any((t >= events) & (t < events + 2)):  # a 2-frame flash
            frames[t, :side, :side] = 255
    audio = rng.normal(0, 0.003, int(seconds * SR)).astype(np.float32)
    click = (rng.normal(0, 0.5, 480) * np.exp(-np.arange(480) / 96)).astype(np.float32)
    for e in events:
        start = int(e / FPS * SR)
        audio[start : start + 480] += click[: len(audio) - start]
    write_clip(path, frames, FPS, audio, SR)


def evaluate(path: Path, seconds: float) -> dict:
    """In this (fresh) process: open the clip and run the offline tier on it."""
    from harmony_bench.cases import Case
    from harmony_bench.media import read_clip, release_freed_memory
    from harmony_bench.metrics.base import NotScorable
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    keys = [k for k in all_metric_keys() if not get_metric(k).official and not get_metric(k).weights]
    metrics = {k: get_metric(k)() for k in keys}
    rows = {"imports": {"peak_mb": peak_rss_mb()}}
    case = Case(id="bench-001", subset="complex", video_caption="a texture", reference_image="",
                reference_audio="", spoken_word_en=TRANSCRIPT, language="en", duration=seconds)
    start = time.perf_counter()
    clip = read_clip(path)
    rows["read_clip"] = {"wall_s": time.perf_counter() - start, "peak_mb": peak_rss_mb()}
    for key, metric in metrics.items():
        reason = metric.availability()
        if reason:
            rows[key] = {"status": f"unavailable: {reason}"}
            continue
        metric.setup()
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            metric.score(clip, case)
            status = "ok"
        except NotScorable as exc:
            status = f"unscorable: {exc}"
        release_freed_memory()  # as the runner does after each metric
        rows[key] = {"status": status, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                     "peak_mb": peak_rss_mb()}
    return rows


def evaluate_run(path: Path, seconds: float, metric_threads: int | None) -> dict:
    """In this (fresh) process: generate (reuse the clip) and evaluate a one-case run as the CLI does."""
    import shutil

    from harmony_bench import runner
    from harmony_bench.cases import DEFAULT_CASES_DIR
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    work = path.parent / f"{path.stem}-run"
    cases, clips = work / "cases", work / "clips"
    line = next(json.loads(x) for x in (DEFAULT_CASES_DIR / "cases.jsonl").read_text().splitlines()
                if json.loads(x)["id"] == "cx-001")
    for name in ("reference_image", "reference_audio"):
        (cases / line[name]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEFAULT_CASES_DIR / line[name], cases / line[name])
    (cases / "cases.jsonl").write_text(json.dumps({**line, "duration": seconds}) + "\n")
    clips.mkdir(parents=True, exist_ok=True)
    for suffix in (".mp4", ".wav"):
        os.link(path.with_suffix(suffix), clips / f"cx-001{suffix}")
    keys = [k for k in all_metric_keys() if not get_metric(k).official and not get_metric(k).weights]
    cfg = runner.RunConfig(model=f"dir:{clips}", out=work / "run", cases_dir=cases, metrics=keys, device="cpu",
                           quiet=True, metric_threads=metric_threads)
    start = time.perf_counter()
    summary = runner.evaluate(cfg, runner.generate(cfg))
    return {"wall_s": time.perf_counter() - start, "peak_mb": peak_rss_mb(), "threads": runner.metric_threads(cfg),
            "rows": {k: v for k, v in summary.rows.items() if v}}


def run_size(spec: str, folder: Path, threads: int, metric_threads: int | None) -> None:
    height, width, seconds = (float(x) for x in spec.split("x"))
    path = folder / f"{spec}.mp4"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    here = str(Path(__file__).resolve())
    subprocess.run([sys.executable, here, "--write", str(path), spec], check=True, env=env)
    out = subprocess.run([sys.executable, here, "--evaluate", str(path), spec], check=True, env=env,
                         capture_output=True, text=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])
    label = f"{int(height)}x{int(width)} {seconds:g} s ({int(round(seconds * FPS))} frames)"
    total_wall = sum(r.get("wall_s", 0.0) for r in rows.values())
    print(f"{label:34s} peak RSS {max(r.get('peak_mb', 0.0) for r in rows.values()):7.0f} MB  "
          f"total {total_wall:6.1f} s wall", flush=True)
    for step, r in rows.items():
        timing = f"{r['wall_s']:7.1f} s wall" if "wall_s" in r else " " * 14
        timing += f" {r['cpu_s']:7.1f} s cpu" if "cpu_s" in r else " " * 13
        peak = f"{r['peak_mb']:7.0f} MB" if "peak_mb" in r else " " * 10
        print(f"  {step:30s} {peak} {timing}  {r.get('status', '')[:70]}", flush=True)
    extra = ["--metric-threads", str(metric_threads)] if metric_threads else []
    out = subprocess.run([sys.executable, here, "--run", str(path), spec, *extra], check=True, env=env,
                         capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"  {'evaluate (the run)':30s} {r['peak_mb']:7.0f} MB {r['wall_s']:7.1f} s wall"
          f"{' ' * 13}  {r['threads']} metric threads; rows {r['rows']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="HEIGHTxWIDTHxSECONDS")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--metric-threads", type=int, default=None,
                        help="metrics of the clip scored at once in the run (default: the runner's, one per core)")
    parser.add_argument("--write", nargs=2, metavar=("PATH", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--evaluate", nargs=2, metavar=("PATH", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=2, metavar=("PATH", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        h, w, s = args.write[1].split("x")
        write_test_clip(Path(args.write[0]), int(h), int(w), float(s))
        return
    if args.evaluate:
        print(json.dumps(evaluate(Path(args.evaluate[0]), float(args.evaluate[1].split("x")[2]))))
        return
    if args.run:
        print(json.dumps(evaluate_run(Path(args.run[0]), float(args.run[1].split("x")[2]), args.metric_threads)))
        return
    import torch

    print(f"# offline metric tier: peak RSS (MB, whole process) and time per clip; {platform.machine()}, "
          f"{os.cpu_count()} cores visible, {args.threads} threads, load average {os.getloadavg()[0]:.1f}; "
          f"torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="hb-bench-memory-") as folder:
        for spec in args.sizes:
            run_size(spec, Path(folder), args.threads, args.metric_threads)


if __name__ == "__main__":
    main()
