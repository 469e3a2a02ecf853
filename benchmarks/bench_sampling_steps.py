"""What fewer sampling steps would cost the shipped checkpoint: its SynthAV sync check at several
step counts, with the CPU time of each.

`make run`'s time is almost all generation, and generation is `steps` x SyncCFG's three passes.
The paper samples with 40 steps (Appendix B), which the shipped checkpoint keeps. This measures
what a cheaper setting would lose, with the bar a checkpoint must pass to ship
(`harmony_model.synthav.sync_check.passes`: in sync over all clips and in the speech and complex
flavours). One torch thread; the same 96 held-out clips of 2 s at every step count.

    python benchmarks/bench_sampling_steps.py [--steps 40,20,16,12,8] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="40,20,16,12,8")
    ap.add_argument("--out", type=Path, default=None, help="append the figures to this file")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from harmony_model import SHIPPED_CHECKPOINT
    from harmony_model.synthav.sync_check import DEFAULT_CLIPS, DEFAULT_SECONDS, _line, check, passes

    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    lines = [f"# python benchmarks/bench_sampling_steps.py --steps {args.steps}   ({started}; {os.cpu_count()} cores; "
             f"load average {os.getloadavg()[0]:.2f} at start; one torch thread)",
             f"shipped checkpoint, sync check on {DEFAULT_CLIPS} held-out SynthAV clips of {DEFAULT_SECONDS:g} s "
             "(mean [95% CI]); CPU s a clip includes the scoring"]
    for steps in (int(s) for s in args.steps.split(",")):
        cpu = time.process_time()
        result = check(SHIPPED_CHECKPOINT, DEFAULT_CLIPS, DEFAULT_SECONDS, None, steps)
        per_clip = (time.process_time() - cpu) / result["clips"]
        lines.append(f"{steps} steps: {per_clip:.2f} CPU s a clip; passes the shipping bar: "
                     f"{'yes' if passes(result) else 'NO'}")
        lines += ["  " + _line(name, part) for name, part in (("all", result), *result["flavours"].items())]
        print("\n".join(lines[-5:]), flush=True)
    if args.out:
        with args.out.open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
