"""Commands aimed at an existing run folder: the run's own case set is the default, and what a
killed process left in clips/ is cleared by the next `generate`."""

from harmony_bench import runner
from harmony_bench.runfolder import RunFolder
from harmony_bench.runner import RunConfig
import tests.harmony_bench.fake_metrics  # noqa: F401  (registers the test metrics)


def _cfg(out, cases=None, **kw) -> RunConfig:
    return RunConfig(model="static", out=out, cases_dir=cases, metrics=["brightness@test"], device="cpu", quiet=True,
                     **kw)


def test_generate_without_cases_uses_the_runs_own_case_set(tiny_cases, tmp_path):
    """Was: `run --model dir:X --out EXISTING` without --cases was refused as another case set."""
    out = tmp_path / "run"
    assert runner.generate(_cfg(out, tiny_cases)).clips_generated == 6
    again = runner.generate(_cfg(out))
    assert (again.cases, again.clips_reused, again.clips_generated) == (6, 6, 0)
    assert runner.evaluate(_cfg(out), again).rows["ok"] == 6


def test_generate_clears_staging_folders_that_no_process_holds(tiny_cases, tmp_path):
    """Was: a SIGTERM left clips/.staging-* until that case ran again."""
    out = tmp_path / "run"
    runner.generate(_cfg(out, tiny_cases))
    folder = RunFolder(out)
    abandoned = folder.clips_dir / ".staging-amb-001~k1ll3d"
    in_use = folder.clips_dir / ".staging-sp-001~w0rk1ng"
    for staging in (abandoned, in_use):
        staging.mkdir()
        (staging / "half.mp4").write_bytes(b"\0" * 10)
    with folder.case_lock("sp-001") as held:  # another process is generating sp-001 right now
        assert held
        assert runner.generate(_cfg(out, subset="ambient")).clips_reused == 2
    assert not abandoned.exists() and (in_use / "half.mp4").is_file()
