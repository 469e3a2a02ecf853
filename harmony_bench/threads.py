"""How a run spreads over the CPU cores, as measured in benchmarks/bench_make_run.py.

A small model is overhead-bound: torch's intra-op threads meet at a barrier after every small
operation, and a thread that has to share its core with another process holds up all the others
(docs/performance.md has the figures). So on the CPU each generation job computes on one torch
thread and the cores are filled with independent jobs (batches of cases) instead: jobs never wait
for each other, and under contention each loses only its share of a core. One torch thread also
makes the clips independent of the machine's core count (the model's floats change in the last
bits with the number of threads).
"""

from __future__ import annotations

import os


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def generation_threads(requested: int | None, executor: str, device: str) -> int:
    """Generation jobs run at once by one process: one per core on the CPU, else one (a GPU
    batches within a job; a Ray worker is one job of one CPU)."""
    if requested is not None:
        return requested
    return cpu_cores() if executor == "local" and device == "cpu" else 1


def use_one_torch_thread() -> None:
    """Intra-op work of this process on the calling thread only (see the module docstring)."""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # allowed only before the first inter-op work; one thread is then moot
        pass
