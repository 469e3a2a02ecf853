"""`avoffset@onset-motion` on its whole known-answer corpus: figures per frame rate and event kind.

The corpus (`harmony_bench.metrics.sync.corpus`): 16, 24, 25, 30 and 60 fps, 16 to 48 kHz,
flashes of one to four frames, three-frame ramps, bouncing-ball impacts, with and without a
moving distractor, offsets -8..+8 frames; plus clips built to be ambiguous (periodic flashes,
swells without an onset), which should be refused. Every clip goes through an mp4 written and
read with PyAV unless --in-memory.

    python benchmarks/bench_avoffset_corpus.py [--in-memory] [--every N]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import defaultdict
from dataclasses import dataclass

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync.avoffset import AVOffsetMetric
from harmony_bench.metrics.sync.corpus import (AMBIGUOUS_KINDS, CLEAN_KINDS, FRAME_RATES, SAMPLE_RATES, CorpusClip,
                                               full_corpus, make)


@dataclass(frozen=True)
class Outcome:
    spec: CorpusClip
    error_frames: float | None  # None: refused
    reason: str = ""


@dataclass
class Tally:
    n: int = 0
    within_one: int = 0
    over_two: int = 0
    refused: int = 0

    def add(self, o: Outcome) -> None:
        self.n += 1
        if o.error_frames is None:
            self.refused += 1
        else:
            self.within_one += abs(o.error_frames) <= 1.0
            self.over_two += abs(o.error_frames) > 2.0

    def line(self, label: str) -> str:
        return (f"{label:24s} n={self.n:4d}  within 1 frame {self.within_one / self.n:6.1%}  "
                f"over 2 frames {self.over_two:3d}  refused {self.refused / self.n:6.1%}")


def score(metric: AVOffsetMetric, spec: CorpusClip, write: bool) -> Outcome:
    try:
        s = metric.score(make(spec, write=write), None)
    except NotScorable as exc:
        return Outcome(spec, None, str(exc))
    return Outcome(spec, s.details["offset_frames"] - spec.offset_frames)


def report(outcomes: list[Outcome]) -> list[str]:
    clean = [o for o in outcomes if not o.spec.ambiguous]
    groups: dict[str, Tally] = defaultdict(Tally)
    for o in clean:
        keys = ["all clean", f"{o.spec.fps} fps", o.spec.kind, "with distractor" if o.spec.distractor else "no distractor",
                f"{o.spec.sample_rate} Hz"] + (["offset +-1 frame"] if abs(o.spec.offset_frames) == 1 else [])
        for key in keys:
            groups[key].add(o)
    order = (["all clean"] + [f"{f} fps" for f in FRAME_RATES] + list(CLEAN_KINDS) + ["no distractor", "with distractor"]
             + [f"{r} Hz" for r in SAMPLE_RATES] + ["offset +-1 frame"])
    lines = ["# clean clips (goal: >= 95% within one frame, none over two, under 5% refused)"]
    lines += [groups[k].line(k) for k in order if groups[k].n]
    lines += ["# frame rate x event kind: within 1 frame / refused, of n"]
    for fps in FRAME_RATES:
        cells = []
        for kind in CLEAN_KINDS:
            t = Tally()
            for o in clean:
                if (o.spec.fps, o.spec.kind) == (fps, kind):
                    t.add(o)
            cells.append(f"{kind} {t.within_one}/{t.refused}/{t.n}")
        lines.append(f"{fps:2d} fps  " + "  ".join(cells))
    ambiguous: dict[str, Tally] = defaultdict(Tally)
    for o in outcomes:
        if o.spec.ambiguous:
            ambiguous[o.spec.kind].add(o)
    lines += ["# ambiguous clips (built to be refused)"] + [ambiguous[k].line(k) for k in AMBIGUOUS_KINDS if ambiguous[k].n]
    lines += ["# clean clips answered more than one frame wrong"]
    lines += [f"{o.spec.name}: error {o.error_frames:+.2f} frames" for o in clean
              if o.error_frames is not None and abs(o.error_frames) > 1.0]
    lines += ["# clean clips refused"] + [f"{o.spec.name}: {o.reason}" for o in clean if o.error_frames is None]
    lines += ["# ambiguous clips answered"] + [f"{o.spec.name}: error {o.error_frames:+.2f} frames" for o in outcomes
                                              if o.spec.ambiguous and o.error_frames is not None]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-memory", action="store_true", help="score the rendered arrays, no mp4 round trip")
    parser.add_argument("--every", type=int, default=1, help="score every N-th clip of the corpus only")
    args = parser.parse_args()
    metric = AVOffsetMetric()
    specs = full_corpus()[:: args.every]
    start = time.perf_counter()
    outcomes = [score(metric, spec, write=not args.in_memory) for spec in specs]
    seconds = time.perf_counter() - start
    import torch

    print(f"# avoffset@onset-motion v{AVOffsetMetric.version} on its known-answer corpus: {len(specs)} clips "
          f"({'in memory' if args.in_memory else 'mp4 written and read with PyAV'}); errors in frames of each "
          f"clip's rate; {seconds:.0f} s in all ({seconds / len(specs):.2f} s per clip with its making); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    for line in report(outcomes):
        print(line)


if __name__ == "__main__":
    main()
