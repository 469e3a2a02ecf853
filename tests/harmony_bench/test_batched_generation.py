"""Generation in batches and on several threads: the same run as one case at a time."""

import threading

import pytest

import tests.harmony_bench.fake_metrics  # noqa: F401  (registers brightness@test, picky@test)
from harmony_bench import runner
from harmony_bench.executors import WAIT, WorkerLost, batched, unbatched
from harmony_bench.models.baselines import NoiseModel
from harmony_bench.runner import RunConfig
from harmony_bench.threads import generation_threads
from tests.harmony_bench.stores import assert_same_run, rows


def cfg(tiny_cases, out, **kw) -> RunConfig:
    return RunConfig(model="noise", out=out, cases_dir=tiny_cases, metrics=["brightness@test"], device="cpu",
                     quiet=True, **kw)


def test_batches_group_planned_jobs_and_a_wait_sends_the_partial_batch_first():
    jobs = [("a", 1), ("b", 2), ("c", 3), WAIT, ("d", 4), ("e", 5)]
    assert list(batched(iter(jobs), 2)) == [(("a", "b"), (1, 2)), (("c",), (3,)), WAIT, (("d", "e"), (4, 5))]
    lost = WorkerLost("killed")
    assert list(unbatched([(("a", "b"), ["x", "y"]), (("c", "d"), lost)])) == [
        ("a", "x"), ("b", "y"), ("c", lost), ("d", lost)]


def test_batched_threaded_generation_stores_the_run_of_one_case_at_a_time(tiny_cases, tmp_path, monkeypatch):
    sizes, threads = [], set()
    plain = NoiseModel.generate_batch

    def spy(self, cases, seed, out_dir):
        sizes.append(len(cases))
        threads.add(threading.current_thread().name)
        return plain(self, cases, seed, out_dir)

    one = cfg(tiny_cases, tmp_path / "one", batch_size=1, generation_threads=1)
    runner.evaluate(one, runner.generate(one))
    monkeypatch.setattr(NoiseModel, "generate_batch", spy)
    many = cfg(tiny_cases, tmp_path / "many", batch_size=4, generation_threads=2)
    summary = runner.evaluate(many, runner.generate(many))
    assert summary.clips_generated == 6 and summary.exit_code == 0
    assert sorted(sizes) == [2, 4] and len(threads) == 2  # 6 cases: a batch of 4 and one of 2, at once
    assert_same_run(tmp_path / "many", tmp_path / "one")


def test_a_failing_case_keeps_its_batch_and_is_retried_on_resume(tiny_cases, tmp_path, monkeypatch):
    plain = NoiseModel.generate

    def fails_once(self, case, seed, out_dir):
        if case.id == "cx-002":
            raise RuntimeError("out of ideas")
        return plain(self, case, seed, out_dir)

    monkeypatch.setattr(NoiseModel, "generate", fails_once)
    c = cfg(tiny_cases, tmp_path / "run", batch_size=6)
    first = runner.generate(c)
    assert first.clips_generated == 5 and first.clips_failed == 1
    assert first.problems == ["cx-002 generation: RuntimeError: out of ideas"]
    assert not list((tmp_path / "run" / "clips").glob(".staging-*"))  # nothing half-done left behind
    monkeypatch.setattr(NoiseModel, "generate", plain)
    again = runner.generate(c)
    assert again.clips_reused == 5 and again.clips_generated == 1 and again.exit_code == 0
    by_case = {r["case_id"]: r for r in rows(tmp_path / "run", "clips")}
    assert by_case["cx-002"]["status"] == "ok" and len(by_case) == 6


def test_generation_threads_default_to_the_cores_on_cpu_only(tiny_cases, tmp_path):
    import os

    assert generation_threads(None, "local", "cpu") == len(os.sched_getaffinity(0))
    assert generation_threads(None, "local", "cuda") == 1 and generation_threads(None, "ray", "cpu") == 1
    assert generation_threads(3, "local", "cuda") == 3
    for flag in ("batch_size", "generation_threads"):
        with pytest.raises(ValueError, match=f"--{flag.replace('_', '-')} must be at least 1"):
            runner.check_config(cfg(tiny_cases, tmp_path, **{flag: 0}))


def test_the_default_batch_leaves_no_thread_idle():
    assert runner._default_batch(4, 150, 2) == 4
    assert runner._default_batch(4, 3, 2) == 2 and runner._default_batch(4, 1, 2) == 1
