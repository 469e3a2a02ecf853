"""Training throughput of the tiny Harmony on SynthAV, one CPU thread: samples per second of a
whole optimiser step (batch drawing, encoding, CTS loss, backward, AdamW, EMA), and how much of
the step is not the model (drawing and encoding the batch).

Rows: the ablation's step as it ran before issue 16 (audio encoded at every step), the same with
the pool's latents encoded once (`make_source(cache_latents=True)`), larger batches, and the
curriculum budget's 2 s / 12 fps clips (`ablation.SYNC`). Times are process CPU seconds (with one
torch thread, the compute itself, not the waits of a machine shared with other jobs), median of
`--repeats` steps after one warm-up step.

`--compile` measures instead the cached-latent table-budget steps eagerly and with the model
under `torch.compile` (inductor, dynamic=False); the warm-up step, which compiles, is reported.

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
    compiled: bool = False  # the model under torch.compile


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
COMPILE_CASES = (
    Case("before: cached latents, joint, eager", "table", "rope", 16, True),
    Case("torch.compile, joint", "table", "rope", 16, True, compiled=True),
    Case("before: cached latents, CTS, eager", "table", "cts", 16, True),
    Case("torch.compile, CTS", "table", "cts", 16, True, compiled=True),
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
            trainer.model.compile(dynamic=False)
        steps, draws = [], []
        for r in range(repeats + 1):
            started, wall = time.process_time(), time.perf_counter()
            trainer.micro_batch(stage, 0, case.batch)
            drawn = time.process_time()
            trainer.train_step(stage)  # draws the same batch again: the step as training runs it
            if r:  # the first step warms up (and compiles)
                steps.append(time.process_time() - drawn)
                draws.append(drawn - started)
            else:
                warm_cpu, warm_wall = time.process_time() - started, time.perf_counter() - wall
    step, draw = statistics.median(steps), statistics.median(draws)
    return {"step": step, "draw": draw, "samples_per_s": case.batch / step, "warm_cpu": warm_cpu, "warm_wall": warm_wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="eager against torch.compile (table budget, cached latents)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"{os.cpu_count()} cores, torch {torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'case':52s} {'batch':>5s} {'s/step':>7s} {'draw+encode':>11s} {'samples/s':>9s}")
    with tempfile.TemporaryDirectory() as cache_dir:
        before: dict[str, float] = {}  # variant -> samples/s of its "before" row
        for case in COMPILE_CASES if args.compile else CASES:
            r = measure(case, args.repeats, cache_dir)
            if case.label.startswith("before"):
                before[case.variant] = r["samples_per_s"]
            gain = f"  ({r['samples_per_s'] / before[case.variant]:.2f}x before)" if case.budget == "table" else ""
            print(f"{case.label:52s} {case.batch:5d} {r['step']:7.3f} {r['draw'] / r['step']:11.1%} "
                  f"{r['samples_per_s']:9.1f}{gain}", flush=True)
            if case.compiled:
                print(f"{'':52s} compiling (the warm-up step): {r['warm_cpu']:.0f} CPU s, {r['warm_wall']:.0f} s wall")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
