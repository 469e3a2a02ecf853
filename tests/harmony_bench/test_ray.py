"""`--executor ray` on a local 2-CPU Ray cluster: the same rows as one process, values included,
and a worker killed mid-case loses and duplicates nothing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import tests.harmony_bench.fake_metrics  # noqa: F401  (registers brightness@test, picky@test)
from harmony_bench import executors, runner
from harmony_bench.cli import main
from harmony_bench.runner import RunConfig
from harmony_bench.store import load_results
from tests.harmony_bench import ray_faults
from tests.harmony_bench.stores import assert_same_run, rows

REPO = Path(__file__).resolve().parents[2]

METRICS = ["brightness@test", "picky@test", "kill@test"]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module (starting one takes seconds); every worker imports the
    model and metric that kill themselves."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": ray_faults.register,
                          "env_vars": {"PYTHONPATH": str(REPO)}})  # workers import tests.*
    yield
    ray.shutdown()


def cfg(cases, out, executor="local", model="killer", **kw) -> RunConfig:
    return RunConfig(model=model, out=out, cases_dir=cases, metrics=METRICS, device="cpu", quiet=True,
                     executor=executor, **kw)


def full_run(c: RunConfig) -> runner.Summary:
    return runner.evaluate(c, runner.generate(c))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny case set run in one process."""
    from tests.conftest import write_case_set

    root = tmp_path_factory.mktemp("ray")
    cases = write_case_set(root / "cases")
    summary = full_run(cfg(cases, root / "local"))
    assert summary.exit_code == 0 and summary.clips_generated == 6
    return cases, root / "local", summary


@pytest.mark.slow
def test_two_ray_workers_store_exactly_the_rows_of_one_process(cluster, reference, tmp_path):
    cases, local, local_summary = reference
    summary = full_run(cfg(cases, tmp_path / "ray", "ray", workers=2))
    assert_same_run(tmp_path / "ray", local)
    assert summary.to_json() == local_summary.to_json()
    again = full_run(cfg(cases, tmp_path / "ray", "ray", workers=2))  # resume: nothing left to do
    assert again.clips_reused == 6 and again.rows["skipped"] == 6 + 6 + 4 and again.rows["ok"] == 0
    assert_same_run(tmp_path / "ray", local)


@pytest.mark.slow
def test_killed_workers_lose_and_duplicate_nothing(cluster, reference, tmp_path):
    cases, local, _ = reference
    out = tmp_path / "ray"
    out.mkdir()
    # one generation and one evaluation killed once; sp-002's evaluation kills every worker it meets
    (out / "kill-plan.json").write_text(json.dumps({"generate": {"amb-002": 1},
                                                    "evaluate": {"cx-001": 1, "sp-002": 99}}))
    summary = full_run(cfg(cases, out, "ray", workers=2))
    assert sorted(p.name for p in (out / "kills").iterdir()) == [
        "evaluate-cx-001-0", "evaluate-sp-002-0", "evaluate-sp-002-1", "evaluate-sp-002-2", "generate-amb-002-0"]
    assert summary.clips_generated == 6 and summary.rows["error"] == 3  # sp-002: its three metrics
    assert [p.split(" (last: ")[0] for p in sorted(summary.problems)] == [
        f"sp-002 {key}: its worker died on each of 3 attempts" for key in sorted(METRICS)]
    assert rows(out, "clips") == rows(local, "clips")
    got = load_results(out)
    assert not got.duplicated(["case_id", "metric_key", "output"]).any()
    lost = got[got.case_id == "sp-002"]
    assert set(lost.status) == {"error"} and lost.value.isna().all()
    assert not list((out / "clips").glob(".staging-*"))
    # the lost case is retried by the next run and then everything equals the one-process run
    (out / "kill-plan.json").unlink()
    resumed = runner.evaluate(cfg(cases, out, "ray", workers=2))
    assert resumed.rows["ok"] == 2 and resumed.rows["unscorable"] == 1 and resumed.rows["error"] == 0
    assert_same_run(out, local)


def test_executor_options_are_checked_before_any_work(tmp_path, tiny_cases):
    with pytest.raises(ValueError, match="--workers only apply to --executor ray"):
        runner.check_config(cfg(tiny_cases, tmp_path / "x", workers=2))
    with pytest.raises(ValueError, match="--executor 'spark'"):
        runner.check_config(cfg(tiny_cases, tmp_path / "x", "spark"))
    with pytest.raises(ValueError, match="Ray gives each worker its GPUs"):
        runner.check_config(RunConfig(model="static", out=tmp_path / "x", device="cuda:1", executor="ray"))
    assert not (tmp_path / "x").exists()


def test_without_ray_the_command_says_which_extra_to_install(tiny_cases, tmp_path, monkeypatch, capsys):
    real = executors.importlib.util.find_spec
    monkeypatch.setattr(executors.importlib.util, "find_spec", lambda name: None if name == "ray" else real(name))
    code = main(["run", "--executor", "ray", "--model", "static", "--cases", str(tiny_cases), "--out",
                 str(tmp_path / "run")])
    assert code == 1 and "pip install 'harmony-bench[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("resources, options, shape", [
    ({"CPU": 2.0}, {}, (2, 0.0)),
    ({"CPU": 2.0}, {"workers": 1}, (1, 0.0)),
    ({"CPU": 16.0, "GPU": 4.0}, {}, (4, 1.0)),
    ({"CPU": 16.0, "GPU": 4.0}, {"gpus_per_worker": 0.5}, (8, 0.5)),
    ({"CPU": 16.0, "GPU": 4.0}, {"device": "cpu"}, (16, 0.0)),
    ({"CPU": 2.0, "GPU": 4.0}, {}, (2, 1.0)),  # each worker also takes a CPU
])
def test_worker_pool_shape(resources, options, shape):
    opts = {"device": "auto", "workers": None, "gpus_per_worker": None, **options}
    assert executors._worker_shape(resources, SimpleNamespace(**opts)) == shape


@pytest.mark.parametrize("resources, options, message", [
    ({"CPU": 2.0}, {"workers": 3}, "--workers 3: this Ray cluster has room for 2"),
    ({"CPU": 2.0}, {"gpus_per_worker": 1.0}, "cannot hold one worker"),
    ({"CPU": 2.0}, {"device": "cuda"}, "give each worker GPUs"),
])
def test_a_pool_the_cluster_cannot_hold_is_refused(resources, options, message):
    opts = {"device": "auto", "workers": None, "gpus_per_worker": None, **options}
    with pytest.raises(ValueError, match=message):
        executors._worker_shape(resources, SimpleNamespace(**opts))


def test_cli_passes_the_executor_options(tmp_path):
    from harmony_bench.cli import _config, build_parser

    args = build_parser().parse_args(["generate", "--model", "static", "--executor", "ray", "--ray-address", "auto",
                                      "--workers", "3", "--gpus-per-worker", "0.5", "--out", str(tmp_path)])
    c = _config(args)
    assert (c.executor, c.ray_address, c.workers, c.gpus_per_worker) == ("ray", "auto", 3, 0.5)


class TwoAtOnce:
    """A pool that keeps two jobs in flight, as a Ray pool of two workers does."""

    def __init__(self, on_wait):
        self.on_wait, self.waits = on_wait, 0

    def map(self, jobs):
        running = []
        while True:
            while len(running) < 2:
                item = next(jobs, None)
                if item is None:
                    break
                if item is executors.WAIT:
                    self.waits += 1
                    self.on_wait()
                    break
                running.append(item)
            if not running:
                return
            case, job = running.pop(0)
            yield case, f"done {job}"


def test_a_case_another_process_holds_is_never_awaited_with_cases_in_flight(tiny_cases, tmp_path):
    from contextlib import ExitStack

    from harmony_bench.cases import load_cases
    from harmony_bench.runfolder import RunFolder

    folder = RunFolder(tmp_path / "run")
    other = ExitStack()  # another process's lock (flock: another open file conflicts even in one process)
    assert other.enter_context(folder.case_lock("amb-002"))
    pool, finished = TwoAtOnce(on_wait=other.close), []
    runner._each_case(folder, sorted(load_cases(tiny_cases), key=lambda c: c.id), "test", True,
                      plan=lambda case: case.id, pool=pool, finish=lambda case, job, result: finished.append(result))
    assert pool.waits >= 1  # a blocking wait here, with cases in flight, would never return
    assert sorted(finished) == sorted(f"done {c}" for c in ("amb-001", "amb-002", "cx-001", "cx-002", "sp-001",
                                                            "sp-002"))
    assert finished[-1] == "done amb-002"


@pytest.mark.slow
def test_a_worker_that_cannot_start_stops_the_run_with_its_reason(cluster, tiny_cases, tmp_path):
    with pytest.raises(RuntimeError, match=r"a Ray worker could not start: .*no-such-model"):
        runner.generate(cfg(tiny_cases, tmp_path / "run", "ray", workers=1, model="no-such-model"))


def _pool(workers: int):
    shape = SimpleNamespace(executor="ray", workers=workers, gpus_per_worker=None, device="cpu", ray_address=None,
                            quiet=True)
    return executors.RayPool(shape, ray_faults.PrefetchRecorder, (0.3,))


def test_a_ray_worker_is_given_its_next_case_while_it_runs_one(cluster):
    pool = _pool(1)
    try:
        results = [result for _, result in pool.map(iter([(f"case-{i}", i) for i in range(4)]))]
    finally:
        pool.close()
    assert [job for job, _, _ in results] == [0, 1, 2, 3]
    assert [prefetched for _, prefetched, _ in results] == [False, True, True, True]


def test_an_idle_ray_worker_takes_a_next_case_waiting_behind_another(cluster):
    pool = _pool(2)
    try:
        results = [result for _, result in pool.map(iter([("case-0", 0), ("case-1", 1)]))]
    finally:
        pool.close()
    assert sorted(job for job, _, _ in results) == [0, 1]
    assert len({pid for _, _, pid in results}) == 2  # run side by side, not one behind the other
