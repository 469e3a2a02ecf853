"""A model and a metric that SIGKILL their own worker process on chosen cases (Ray worker-loss
tests), and a worker that records its prefetches (Ray pool tests).

The plan is `<run>/kill-plan.json`, {"generate": {case_id: n}, "evaluate": {case_id: n}}: the
worker dies on the first n attempts at that case (counted by marker files in `<run>/kills/`),
then does the work. Without a plan they behave like `noise` and a plain deterministic metric.
Both register on import; `register` is the Ray worker set-up hook that imports this module in
every worker process.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from harmony_bench.models import register_model
from harmony_bench.models.baselines import NoiseModel
from harmony_bench.metrics.base import ALL_SUBSETS, Metric, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register as register_metric


def register() -> None:
    """Ray `worker_process_setup_hook`: importing this module registers the model and metric."""


def die_if_planned(run: Path, phase: str, case_id: str) -> None:
    plan = run / "kill-plan.json"
    if not plan.is_file():
        return
    times = json.loads(plan.read_text()).get(phase, {}).get(case_id, 0)
    kills = run / "kills"
    kills.mkdir(exist_ok=True)
    done = len(list(kills.glob(f"{phase}-{case_id}-*")))
    if done < times:
        (kills / f"{phase}-{case_id}-{done}").touch()
        os.kill(os.getpid(), signal.SIGKILL)


@register_model("killer")
class KillerModel(NoiseModel):
    name = "killer"

    def generate(self, case, seed, out_dir):
        die_if_planned(Path(out_dir).parents[1], "generate", case.id)  # out_dir: <run>/clips/.staging-*
        return super().generate(case, seed, out_dir)


@register_metric("kill@test")
class Kill(Metric):
    family, backend, official, version = "Kill", "test", False, "1"
    outputs = (Output("Frames", "higher", paper=False),)
    subsets = ALL_SUBSETS
    card = ProtocolCard("none", "none", "none", "see code", "mean", "test only", "test only")

    def score(self, clip, case) -> Score:
        die_if_planned(Path(clip.source).parents[1], "evaluate", case.id)  # source: <run>/clips/<id>.mp4
        return Score({"Frames": float(clip.num_frames)})


class PrefetchRecorder:
    """A Ray worker that prefetches (for the pool tests): each result says whether its job was
    prefetched there, and which process ran it."""

    def __init__(self, seconds: float):
        self.seconds, self.prefetched = seconds, set()

    def prefetch(self, job) -> None:
        self.prefetched.add(job)

    def forget(self, job) -> None:
        self.prefetched.discard(job)

    def run(self, job):
        import os
        import time

        time.sleep(self.seconds)
        return job, job in self.prefetched, os.getpid()

