"""Training throughput of the tiny Harmony on SynthAV, one CPU thread: samples per second of a
whole optimiser step (batch drawing, encoding, CTS loss, backward, AdamW, EMA), and how much of
the step is not the model (drawing and encoding the batch).

Rows: the ablation's step as it ran before issue 16 (audio encoded at every step), the same with
the pool's latents encoded once (`make_source(cache_latents=True)`), larger batches, and the
curriculum budget's 2 s / 12 fps clips (`ablation.SYNC`). Times are process CPU seconds (with one
torch thread, the compute itself, not the waits of a machine shared with other jobs), median of
`--repeats` steps after one warm-up step.

    python benchmarks/bench_train_throughput.py [--repeats 3] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Case:
    label: str
    budget: str  # "table" (ablation.Budget) or "curriculum" (ablation.SYNC)
    variant: str  # ablation.TRAINED
    batch: int
    cached: bool
    stage: int = -1  # which curriculum stage's step
    compiled: bool = False


CASES = (
    Case("before: table budget, joint (+RoPE)", "table", "rope", 16, False),
    Case("before: table budget, CTS", "table", "cts", 16, False),
    Case("cached latents, joint", "table", "rope", 16, True),
    Case("cached latents, CTS", "table", "cts", 16, True),
    Case("cached latents, joint, batch 64", "table", "rope", 64, True),
    Case("cached latents, CTS, batch 64", "table", "cts", 64, True),
    Case("curriculum budget (2 s, 12 fps), joint stages", "curriculum", "cts", 16, True, stage=0),
    Case("curriculum budget (2 s, 12 fps), CTS stage", "curriculum", "cts", 16, True),
)


def measure(case: Case, repeats: int, cache_dir: str) -> dict:
    import torch

    from harmony_model.synthav.ablation import SYNC, Budget, variant_config
    from harmony_model.synthav.source import make_source
    from harmony_model.train import Trainer

    budget = replace(SYNC if case.budget == "curriculum" else Budget(), batch_size=case.batch)
    cfg = variant_config(case.variant, 0, budget)
    stage = cfg.train.stages[case.stage]
    data = make_source(cfg, count=64, duration=budget.duration, cache_dir=cache_dir, cache_latents=case.cached)
    data.sample_batch(1, torch.Generator().manual_seed(0), **stage.data_options)  # pool built outside the timing
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, data, out)
        if case.compiled:
            trainer.objective = torch.compile(trainer.objective, dynamic=False)
        steps, draws = [], []
        for r in range(repeats + 1):
            started = time.process_time()
            trainer.micro_batch(stage, 0, case.batch)
            drawn = time.process_time()
            trainer.train_step(stage)  # draws the same batch again: the step as training runs it
            if r:  # the first step warms up
                steps.append(time.process_time() - drawn)
                draws.append(drawn - started)
    step, draw = statistics.median(steps), statistics.median(draws)
    return {"step": step, "draw": draw, "samples_per_s": case.batch / step}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd steps (compiles for minutes)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    cases = CASES + ((replace(CASES[2], label="cached latents, joint, torch.compile", compiled=True),)
                     if args.compile else ())
    print(f"{os.cpu_count()} cores, torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'case':52s} {'batch':>5s} {'s/step':>7s} {'draw+encode':>11s} {'samples/s':>9s}")
    with tempfile.TemporaryDirectory() as cache_dir:
        base = None
        for case in cases:
            r = measure(case, args.repeats, cache_dir)
            base = base or r["samples_per_s"]
            print(f"{case.label:52s} {case.batch:5d} {r['step']:7.3f} {r['draw'] / r['step']:10.1%} "
                  f"{r['samples_per_s']:9.1f}  ({r['samples_per_s'] / base:.2f}x the first row)", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
