"""SynthAV generation speed: milliseconds of CPU time per clip, by flavour and clip size.

espeak-ng results are cached per (text, voice, rate, pitch) inside a process, so the first clips
of a speech flavour pay for synthesis and later ones mostly do not; both are reported (cold: the
first `--clips` seeds in a fresh cache; warm: the same seeds again). Each cell shows process CPU
time (robust on a shared machine) and, in brackets, wall time, which also counts the espeak-ng
child processes; the load average is printed.

    python benchmarks/bench_synthav.py [--clips 30]
"""

from __future__ import annotations

import argparse
import os
import time

SIZES = ((16, 8.0, 1.0), (32, 8.0, 2.0), (256, 24.0, 5.0))  # (px, fps, seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=30)
    args = ap.parse_args()
    from harmony_model.synthav import speech
    from harmony_model.synthav.generator import FLAVOURS, SynthAVConfig, generate, split_seeds

    print(f"load average {os.getloadavg()[0]:.2f}; {args.clips} clips per cell; "
          "ms per clip: CPU (wall), cold cache / warm cache")
    print(f"{'clip':>18} " + " ".join(f"{f:>22}" for f in FLAVOURS))
    for size, fps, seconds in SIZES:
        cfg = SynthAVConfig(size=size, fps=fps, duration=seconds)
        cells = []
        for flavour in FLAVOURS:
            speech._speak_cached.cache_clear()
            seeds = split_seeds("val", args.clips)
            times = []
            for _ in range(2):
                cpu, wall = time.process_time(), time.perf_counter()
                for s in seeds:
                    generate(s, flavour, cfg)
                times += [1000 * (time.process_time() - cpu) / len(seeds), 1000 * (time.perf_counter() - wall) / len(seeds)]
            cells.append(f"{times[0]:.0f} ({times[1]:.0f}) / {times[2]:.0f} ({times[3]:.0f})")
        print(f"{f'{size}px {fps:g}fps {seconds:g}s':>18} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
