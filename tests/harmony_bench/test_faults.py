"""The fault suite: kills at random points, concurrent writers, a full disk and a read-only run
never change a stored number, never duplicate a row, and end in one line naming the path."""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.harmony_bench.stores import assert_same_run, rows

REPO = Path(__file__).resolve().parents[2]
METRICS = "brightness@test,picky@test,flaky@test"
LAUNCHER = """
import sys
sys.path.insert(0, {repo!r})
import tests.harmony_bench.fake_metrics
from harmony_bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cli(args, env=None, **kw) -> subprocess.Popen:
    env = {**os.environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-c", LAUNCHER.format(repo=str(REPO)), *map(str, args)], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run_args(cases: Path, out: Path, *extra) -> list:
    return ["run", "--model", "noise", "--cases", cases, "--metrics", METRICS, "--quiet", "--device", "cpu",
            "--out", out, *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run, and how long it took."""
    from tests.conftest import write_case_set

    root = tmp_path_factory.mktemp("faults")
    cases = write_case_set(root / "cases")
    start = time.time()
    code, _, err = finish(cli(run_args(cases, root / "reference"), {"FAKE_METRIC_SLEEP": "0.05"}))
    assert code == 0, err
    return cases, root / "reference", time.time() - start


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(reference, tmp_path):
    cases, ref, seconds = reference
    rng = random.Random(12)
    stages = set()
    for trial in range(10):
        out = tmp_path / f"trial{trial}"
        proc = cli(run_args(cases, out), {"FAKE_METRIC_SLEEP": "0.05"})
        time.sleep(rng.uniform(0.3, seconds))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (out / "results.sqlite").is_file():
            con = sqlite3.connect(out / "results.sqlite")
            n_clips, n_rows = (con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("clips", "results"))
            con.close()
            stages.add("evaluate" if n_rows else "generate" if n_clips else "start")
        code, _, err = finish(cli(run_args(cases, out), {"FAKE_METRIC_SLEEP": "0"}))
        assert code == 0, err
        assert_same_run(out, ref)
        assert not list((out / "clips").glob(".staging-*")) and not list((out / "clips").glob("*.part"))
    assert {"generate", "evaluate"} <= stages, f"the kills should land in both phases, got {stages}"


@pytest.mark.slow
@pytest.mark.parametrize("shards", [("1/1", "1/1"), ("1/2", "2/2")], ids=["same-command-twice", "two-shards"])
def test_concurrent_writers_on_one_folder_equal_one_process(reference, tmp_path, shards):
    cases, ref, _ = reference
    out = tmp_path / "shared"
    procs = [cli(run_args(cases, out, "--shard", s), {"FAKE_METRIC_SLEEP": "0.05"}) for s in shards]
    results = [finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    if shards[0] == "1/2":  # each shard reported its own half; run once more over all cases
        code, _, err = finish(cli(run_args(cases, out)))
        assert code == 0, err
    assert_same_run(out, ref)


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs mount, where the test can make one (root on Linux); skipped otherwise."""
    mnt = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip() or 'not root'}): ENOSPC/EROFS untested")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def remount(mnt: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True, capture_output=True)


def test_a_full_disk_stops_with_one_line_and_the_store_stays_consistent(reference, tmpfs):
    cases, ref, _ = reference
    out = tmpfs / "run"
    code, stdout, err = finish(cli(run_args(cases, out)))
    assert code == 1 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert "no space left" in line and str(tmpfs) in line, err
    if (out / "results.sqlite").is_file():
        con = sqlite3.connect(out / "results.sqlite")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    remount(tmpfs, "size=50m")
    code, _, err = finish(cli(run_args(cases, out)))
    assert code == 0, err
    assert_same_run(out, ref)


def test_a_full_disk_while_reporting_leaves_no_partial_report(reference, tmpfs):
    cases, ref, _ = reference
    remount(tmpfs, "size=50m")
    run = tmpfs / "run"
    shutil.copytree(ref, run)
    shutil.rmtree(run / "report", ignore_errors=True)
    free = shutil.disk_usage(tmpfs).free
    (tmpfs / "filler").write_bytes(b"\0" * (free - 64 * 1024))
    code, _, err = finish(cli(["report", run]))
    assert code == 1 and "no space left" in err and "Traceback" not in err
    assert not (run / "report").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".report")]


def test_a_read_only_run_is_still_reportable(reference, tmpfs, tmp_path):
    cases, ref, _ = reference
    remount(tmpfs, "size=50m")
    run = tmpfs / "run"
    shutil.copytree(ref, run)
    remount(tmpfs, "ro")
    code, _, err = finish(cli(["report", run]))
    assert code == 1 and "read-only" in err and "--out" in err and "Traceback" not in err
    code, out, err = finish(cli(["report", run, "--out", tmp_path / "report"]))
    assert code == 0, err
    assert (tmp_path / "report" / "report.html").is_file()
    code, _, err = finish(cli(["evaluate", run, "--metrics", "brightness@test", "--quiet"]))
    assert code == 1 and "read-only" in err and "Traceback" not in err
    from harmony_bench.store import load_results

    assert len(load_results(run)) == len(rows(ref, "results"))
