"""Reference Harmony model: parameters, forward / training-step time, peak memory, guidance cost,
and the generation time of one 5 s case with the shipped checkpoint (harmony_model/checkpoints/tiny).

Each timed measurement runs in its own process (so its peak resident memory is its own) and
reports the median of `--repeats`. Times are the process's CPU time (with one torch thread, the
compute itself, not the waits of a machine shared with other jobs); the load average is printed. The paper-scale configuration is counted on the meta device; its forward
needs a GPU and the real weights.

    python benchmarks/bench_model.py [--repeats 3] [--threads 1] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time

SECONDS = 5.0


def _timed(fn, device: str) -> float:
    """CPU: process CPU seconds; CUDA: wall seconds after synchronising."""
    if not device.startswith("cuda"):
        started = time.process_time()
        fn()
        return time.process_time() - started
    import torch

    torch.cuda.synchronize()
    started = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - started


def _median_time(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    return statistics.median(_timed(fn, device) for _ in range(repeats))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(device: str, threads: int):
    """The shipped checkpoint (what `harmony-bench run --model harmony` generates with)."""
    import numpy as np
    import torch

    from harmony_model.pipeline import GenerationRequest, HarmonyPipeline
    from harmony_model.synthav.checkpoint import SHIPPED

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    pipe = HarmonyPipeline.from_pretrained(SHIPPED, device)
    req = GenerationRequest("a man speaks in a quiet room", "a calm male voice", "the train leaves at noon",
                            np.full((64, 64, 3), 128, np.uint8), np.zeros(32000, np.float32), SECONDS)
    return torch, pipe.cfg, pipe.model, pipe, req


def _latents(pipe, cfg, batch: int, seconds: float, g):
    """Latents of random clips of the config's shape, through the model's own codecs."""
    import torch

    from harmony_model.losses import Latents

    c = cfg.codec
    video = torch.rand(batch, round(seconds * c.fps), 3, c.height, c.width, generator=g) * 2 - 1
    audio = torch.randn(batch, round(seconds * c.sample_rate), generator=g) * 0.1
    ref = torch.randn(batch, round(c.ref_audio_seconds * c.sample_rate), generator=g) * 0.1
    with torch.no_grad():
        return Latents(pipe.video_codec.encode(video), pipe.audio_codec.encode(audio), pipe.audio_codec.encode(ref))


def tokens(pipe, cfg, seconds: float) -> tuple[int, int]:
    """(video, audio) latent tokens of one clip of `seconds`."""
    import math

    import torch

    lat = _latents(pipe, cfg, 1, seconds, torch.Generator().manual_seed(0))
    return math.prod(lat.video.shape[2:]) // math.prod(cfg.video.patch_size), lat.audio.shape[1]


def measure(task: str, device: str, threads: int, repeats: int, queue) -> None:
    """Child process: one measurement, its result (with the child's peak RSS) put on `queue`."""
    torch, cfg, model, pipe, req = _setup(device, threads)
    result: dict = {}
    if task == "steps":  # one guided denoising step on a 5 s clip, the guidance modes interleaved
        from harmony_model.config import SampleConfig
        from harmony_model.pipeline import guided_velocity

        st = pipe.prepare(req, torch.Generator().manual_seed(0))
        modes = ("none", "text", "sync", "both")
        times: dict[str, list[float]] = {m: [] for m in modes}
        with torch.no_grad():
            for r in range(repeats * 2 + 1):
                for m in modes:
                    seconds = _timed(lambda: guided_velocity(model, st, 0.5, SampleConfig(guidance=m)), device)
                    if r:  # the first round warms up
                        times[m].append(seconds)
        result = {m: statistics.median(t) for m, t in times.items()}
        result["tokens"] = tokens(pipe, cfg, SECONDS)
    elif task == "generate":  # the whole 5 s case: 40 SyncCFG steps + codec decode
        result["seconds"] = _median_time(lambda: pipe.generate(req, seed=0), max(1, repeats // 2), device)
    elif task.startswith("train:"):  # one CTS training step, batch 16 of 1 s clips
        from harmony_model.losses import Latents, Noise, cts_loss

        lam = (0.1, 0.3) if task == "train:cts" else (0.0, 0.0)
        model.train()
        g = torch.Generator().manual_seed(0)
        lat = _latents(pipe, cfg, 16, 1.0, g)
        opt = torch.optim.AdamW(model.parameters(), 1e-3)

        def step():
            cond = model.encode_conditions(["a flash"] * 16, ["a click"] * 16, ["tick"] * 16)
            loss = cts_loss(model, lat, cond, Noise.draw(lat, 5.0, g), *lam)
            opt.zero_grad()
            loss.total.backward()
            opt.step()

        result["seconds"] = _median_time(step, repeats, device)
    result["peak_mb"] = round(_peak_mb(), 1)
    queue.put(result)


def run_child(task: str, args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=measure, args=(task, args.device, args.threads, args.repeats, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from harmony_model.config import HarmonyConfig, paper, tiny
    from harmony_model.pretrained import parameter_counts
    from harmony_model.synthav.checkpoint import SHIPPED

    shipped = HarmonyConfig.load(SHIPPED / "config.json")
    px = f"{shipped.codec.height}x{shipped.codec.width} px"

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {args.threads}, device {args.device}, load average {os.getloadavg()[0]:.1f} at start; "
          f"times are {'CUDA wall' if args.device.startswith('cuda') else 'process CPU'} seconds")
    for name, cfg in (("tiny", tiny()), ("shipped checkpoint", shipped), ("paper", paper())):
        counts = parameter_counts(cfg)
        parts = ", ".join(f"{k} {v / 1e6:,.2f} M" for k, v in counts.items() if k != "total")
        print(f"parameters {name}: {counts['total'] / 1e6:,.2f} M ({parts})")
    print("paper forward: not measured (needs a GPU and the Wan2.2 weights)")

    setup = run_child("setup", args)["peak_mb"]
    print(f"peak resident memory of a process holding the shipped checkpoint and codecs: {setup} MB")
    steps = run_child("steps", args)
    base = steps["none"]
    print(f"\nshipped checkpoint, one denoising step on a {SECONDS:.0f} s clip at {px} ({steps['tokens'][0]} video + {steps['tokens'][1]} audio latent tokens), batch 1,"
          f" modes interleaved (peak {steps['peak_mb']} MB):")
    for g in ("none", "text", "sync", "both"):
        print(f"  guidance {g:5s}: {steps[g] * 1000:8.1f} ms  ({steps[g] / base:.2f}x the plain joint step)")
    for task, label in (("train:joint", "joint only (Eq. 1)"), ("train:cts", "CTS, 3 tasks batched (Eq. 3)")):
        r = run_child(task, args)
        print(f"shipped config, training step, batch 16 x 1 s at {px}, {label}: {r['seconds']:.3f} s  (peak {r['peak_mb']} MB)")
    r = run_child("generate", args)
    print(f"shipped checkpoint, generation of one {SECONDS:.0f} s case at {px} (40 steps, SyncCFG, log-mel Griffin-Lim decode): "
          f"{r['seconds']:.2f} s  (peak {r['peak_mb']} MB)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
