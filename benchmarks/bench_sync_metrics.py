"""Seconds per 5 s clip for each sync metric (CPU, or --device cuda).

Clips: SynthAV 5 s, 25 fps, 256 px (a speaking drawn face for the speech metrics, sounding
objects for the ambient ones). SyncNet runs on random weights written to a temporary folder
(same architecture and cost as the real file; its numbers are meaningless and not printed as
results). DeSync runs the native Synchformer at its official size on random weights.

    python benchmarks/bench_sync_metrics.py [--device cuda] [--repeats 3] [--metrics syncnet@v2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import torch

from harmony_bench.media import Clip
from harmony_model.synthav.generator import SynthAVConfig, generate
from harmony_bench.metrics.registry import get_metric

CONFIG = SynthAVConfig(size=256, fps=25.0, duration=5.0, noise=False)
TIMED = {"syncnet@v2": "speech", "syncnet@v2-blazeface": "speech", "lipsync@facemesh": "speech",
         "avoffset@onset-motion": "ambient", "desync@synchformer": "ambient"}  # metric -> clip flavour


def synth_clip(flavour: str, seed: int = 0) -> Clip:
    s = generate(seed, flavour, CONFIG)
    return Clip(frames=s.frames, fps=s.fps, audio=s.audio, sample_rate=s.sample_rate, source=f"synthav {flavour} {seed}")


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clips", type=int, default=8, help="SynthAV clips per flavour for the accuracy check")
    parser.add_argument("--metrics", default=",".join(TIMED),
                        help="comma-separated metrics to time; the accuracy check runs only with all of them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hb-sync-weights-") as weights:  # the Synchformer file is ~950 MB
        run(args, weights)


def run(args: argparse.Namespace, weights: str) -> None:
    from harmony_bench.metrics.sync.testing import write_random_weights

    keys = args.metrics.split(",")
    manifest = write_random_weights(weights, full_synchformer="desync@synchformer" in keys)
    with open(os.path.join(weights, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    os.environ["HARMONY_BENCH_WEIGHTS"] = weights
    os.environ["HARMONY_BENCH_MANIFEST"] = os.path.join(weights, "manifest.json")

    clips = {"speech": synth_clip("speech"), "ambient": synth_clip("ambient")}
    print(f"# sync metrics, seconds per 5 s clip (median of {args.repeats}); device={args.device}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    for key in keys:
        flavour = TIMED[key]
        metric = get_metric(key)(device=args.device)
        reason = metric.availability()
        if reason:
            print(f"{key:24s} unavailable here: {reason}")
            continue
        metric.setup()
        clip = clips[flavour]
        seconds = timed(lambda: score_or_refuse(metric, clip), 1 if key.startswith("desync") else args.repeats)
        weights_note = " (random weights)" if metric.weights else ""
        if key.startswith("desync"):
            weights_note += "; native Synchformer, official size; 1 run"
        print(f"{key:24s} {seconds:7.2f} s/clip  on a SynthAV {flavour} clip{weights_note}")
    if set(keys) == set(TIMED):
        time_desync_preprocessing(clips["ambient"], args.repeats)
        offline_accuracy_on_synthav(args.clips)


def score_or_refuse(metric, clip: Clip) -> None:
    """Score, or let the metric refuse: a refusal (avoffset on an ambiguous clip) costs the same work."""
    from harmony_bench.metrics.base import NotScorable

    try:
        metric.score(clip, None)
    except NotScorable:
        pass


def time_desync_preprocessing(clip: Clip, repeats: int) -> None:
    from harmony_bench.metrics.sync import desync

    def prepare():
        video, audio = desync.common_span(clip.video_at(desync.FPS), clip.audio_at(desync.SAMPLE_RATE))
        desync.video_segments(video, desync.kept_segments(desync.WINDOW_SEGMENTS))
        desync.audio_segments(audio, desync.kept_segments(desync.WINDOW_SEGMENTS))

    print(f"{'desync preprocessing':24s} {timed(prepare, repeats):7.2f} s/clip  (segments and log-mels only, no network)")


def offline_accuracy_on_synthav(n: int) -> None:
    """The offline variants on SynthAV clips, which are in sync by construction (true offset 0)."""
    import numpy as np

    from harmony_bench.metrics.base import NotScorable

    print(f"# offline variants on SynthAV clips (in sync by construction), seeds 0-{n - 1} per flavour")
    for key, flavours, name in (("lipsync@facemesh", ("speech", "complex"), "offset_frames"),
                                ("avoffset@onset-motion", ("ambient", "complex"), "offset_s")):
        metric = get_metric(key)()
        for flavour in flavours:
            errors, skipped = [], 0
            for seed in range(n):
                try:
                    score = metric.score(synth_clip(flavour, seed), None)
                except NotScorable:
                    skipped += 1
                    continue
                frames = abs(score.details[name]) * (25 if name == "offset_s" else 1)
                errors.append(frames)
            errors = np.asarray(errors)
            if not len(errors):
                print(f"{key:24s} {flavour:8s} no clip scored; unscorable {skipped}")
                continue
            print(f"{key:24s} {flavour:8s} within 1 frame: {np.mean(errors <= 1.0 + 1e-9):.2f} of {len(errors)}; "
                  f"mean |offset| {errors.mean() / 25:.3f} s; worst {errors.max() / 25:.2f} s; unscorable {skipped}")


if __name__ == "__main__":
    main()
