"""One SyncCFG sampling step of the shipped checkpoint: this tree against an older commit.

Each measurement is a fresh process that imports the model code of one tree (this one, or the
`--before` commit unpacked by `git archive`), prepares a 5 s case and times `--steps` guided steps
(3 passes in one forward) in process CPU seconds on one torch thread, after one warm-up step. The
two trees alternate, and which goes first alternates by round, so that a machine whose speed
drifts disturbs both alike; the medians are compared.

    python benchmarks/bench_step.py [--before 71bd8d9] [--rounds 8] [--steps 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "71bd8d9"  # the last commit before the band-limited GLDI windows

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
from harmony_model.pipeline import GenerationRequest, HarmonyPipeline, guided_velocity
pipe = HarmonyPipeline.from_pretrained(sys.argv[1] + "/harmony_model/checkpoints/tiny")
state = pipe.prepare(GenerationRequest("a dog barks twice", "two barks", "", duration=5.0),
                     torch.Generator().manual_seed(0))
with torch.no_grad():
    guided_velocity(pipe.model, state, 0.5, pipe.cfg.sample)
    started = time.process_time()
    for _ in range(int(sys.argv[2])):
        guided_velocity(pipe.model, state, 0.5, pipe.cfg.sample)
print((time.process_time() - started) / int(sys.argv[2]) * 1000)
"""


def step_ms(tree: Path, steps: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(steps)], cwd=tempfile.gettempdir(),
                          env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-step-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"before": Path(tmp), "after": REPO}
        times: dict[str, list[float]] = {"before": [], "after": []}
        for r in range(args.rounds):
            for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                times[name].append(step_ms(trees[name], args.steps))
    lines = [f"# python benchmarks/bench_step.py --before {args.before} --rounds {args.rounds} --steps {args.steps}   "
             f"({datetime.now(timezone.utc):%Y-%m-%dT%H:%MZ}; {os.cpu_count()} cores; load average {load:.2f} at start)",
             "one SyncCFG step (3 passes, one forward) of a 5 s case, shipped checkpoint, one torch thread, CPU ms"]
    for name, values in times.items():
        lines.append(f"{name:6s} ({args.before if name == 'before' else 'this tree'}): median "
                     f"{statistics.median(values):6.1f}  min {min(values):6.1f}  max {max(values):6.1f}  "
                     f"over {len(values)} processes")
    lines.append(f"after / before (medians): {statistics.median(times['after']) / statistics.median(times['before']):.2f}")
    print("\n".join(lines))
    if args.out:
        with args.out.open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
