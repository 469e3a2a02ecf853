"""Seconds per 5 s clip for each video metric backend, on CPU (and CUDA when present).

The official weights are not on this machine, so each official backend runs its full-size
architecture (RAFT large, AMT-S, MUSIQ, SigLIP so400m-patch14-384 + head, DINOv3 ViT-L/16) with random
weights written in the official file formats and loaded through the metric's real `setup()`:
the same tensors and operations as with the real weights. The clip is decoded once (a synthetic
translating texture, 24 fps). The heavy backends are timed on a short clip (`--frames`) and the
time is scaled by the protocol's work units in a 5 s clip (frames for AQ / IQ / ID, sampled
pairs for DD, interpolated pairs for MS); the scale factor is printed. Times are process CPU
seconds with `--threads` torch threads (the compute, not the waits of a shared machine) and
wall seconds; the load average is printed.

    python benchmarks/bench_video_metrics.py [--height 480 --width 832] [--frames 5] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.registry import get_metric
from harmony_bench.metrics.video import manifest

FPS, SECONDS = 24.0, 5.0
SO400M = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
              image_size=384, patch_size=14)
VITL16 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
              num_register_tokens=4, patch_size=16, image_size=224, layerscale_value=1.0)


def write_full_size_weights(folder: Path, keys: list[str]) -> dict[str, str]:
    """Random full-size weights in the official formats for the metrics `keys`; returns the
    manifest table."""
    import torch
    from torchvision.models.optical_flow import raft_large
    from transformers import DINOv3ViTConfig, DINOv3ViTModel, SiglipVisionConfig, SiglipVisionModel

    from harmony_bench.weights import sha256_of
    from harmony_bench.metrics.video.amt import AMT
    from harmony_bench.metrics.video.musiq import Musiq, MusiqConfig

    def head(path: Path) -> None:
        sizes = [SO400M["hidden_size"], 1024, 128, 64, 16, 1]
        torch.save({f"scoring_head.{2 * i}.{p}": t for i, (a, b) in enumerate(zip(sizes, sizes[1:]))
                    for p, t in torch.nn.Linear(a, b).state_dict().items()}, path)

    writers = {  # one writer per file; a Hugging Face folder is written with its weights file
        manifest.RAFT_THINGS: lambda p: torch.save(raft_large(weights=None).state_dict(), p),
        manifest.MUSIQ_SPAQ: lambda p: torch.save(Musiq(MusiqConfig()).state_dict(), p),
        manifest.AESTHETIC_HEAD: head,
        manifest.AMT_S: lambda p: torch.save({"state_dict": AMT().state_dict()}, p),
        manifest.SIGLIP_WEIGHTS: lambda p: SiglipVisionModel(SiglipVisionConfig(**SO400M)).save_pretrained(p.parent),
        manifest.DINOV3_WEIGHTS: lambda p: DINOv3ViTModel(DINOv3ViTConfig(**VITL16)).save_pretrained(p.parent),
    }
    needed = {wf for key in keys for wf in get_metric(key).weights}
    for wf in needed & set(writers):
        (folder / wf.name).parent.mkdir(parents=True, exist_ok=True)
        writers[wf](folder / wf.name)
    return {wf.name: sha256_of(folder / wf.name) for wf in needed}


def make_clip(n: int, height: int, width: int) -> Clip:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (height, width + 3 * n, 3), dtype=np.uint8)
    frames = np.stack([base[:, 3 * i : 3 * i + width] for i in range(n)])  # 3 px per frame pan
    return Clip(frames=frames, fps=FPS, audio=np.zeros((int(n / FPS * 16000), 1), np.float32), sample_rate=16000)


def work_units(key: str, n_frames: int) -> int:
    """The protocol's unit of work in an n-frame clip at 24 fps."""
    if key.startswith("dd@"):
        return len(range(0, n_frames, 3)) - 1  # VBench samples every round(24 / 8) = 3rd frame
    if key.startswith("ms@"):
        return (n_frames + 1) // 2 - 1  # pairs of even frames
    return n_frames


def bench(key: str, device: str, short: int, full: int, height: int, width: int, case: Case) -> str:
    metric = get_metric(key)(device=device)
    t0 = time.perf_counter()
    metric.setup()
    load_s = time.perf_counter() - t0
    n = full if not metric.weights else short  # classical backends: time the whole clip
    clip = make_clip(n, height, width)
    metric.score(make_clip(4, height, width), case)  # warm-up (first-call allocations)
    c0, w0 = time.process_time(), time.perf_counter()
    metric.score(clip, case)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    scale = work_units(key, full) / work_units(key, n)
    return (f"{key:<18} {device:<5} {cpu * scale:>9.1f} {wall * scale:>9.1f} {scale:>7.1f} "
            f"{cpu / work_units(key, n):>9.2f} {load_s:>7.1f}")


def main() -> None:
    import torch

    p = argparse.ArgumentParser()
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=832)
    p.add_argument("--frames", type=int, default=5, help="frames in the short clip the heavy backends are timed on")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", default="", help="comma-separated metric keys")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    keys = [k for k in args.only.split(",") if k] or ["dd@farneback", "ms@farneback", "iq@musiq-spaq", "dd@raft",
                                                       "ms@raft", "ms@amt-s", "aq@siglip-v2.5", "id@dinov3-vitl16"]
    full = int(FPS * SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        from PIL import Image

        Image.fromarray(make_clip(1, args.height, args.width).frames[0]).save(folder / "ref.png")
        case = Case(id="bench", subset="ambient", video_caption="", reference_image="ref.png",
                    reference_audio="ref.wav", root=folder)
        (folder / "manifest.json").write_text(json.dumps(write_full_size_weights(folder / "w", keys)))
        os.environ["HARMONY_BENCH_WEIGHTS"] = str(folder / "w")
        os.environ["HARMONY_BENCH_MANIFEST"] = str(folder / "manifest.json")
        print(f"# video metrics, seconds per {SECONDS:.0f} s clip ({full} frames, {FPS:.0f} fps, "
              f"{args.height}x{args.width}), clip decoded once")
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, torch threads "
              f"{args.threads}, load average {os.getloadavg()[0]:.1f}; full-size random weights; heavy backends "
              f"timed on {args.frames} frames and scaled by work units (x)")
        print(f"{'metric':<18} {'dev':<5} {'cpu_s':>9} {'wall_s':>9} {'x':>7} {'cpu/unit':>9} {'load_s':>7}")
        for key in keys:
            print(bench(key, args.device, args.frames, full, args.height, args.width, case), flush=True)


if __name__ == "__main__":
    main()
