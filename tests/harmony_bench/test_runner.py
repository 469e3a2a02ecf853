"""The run loop: storing, resuming, sharding, failures that stay local to their case."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tests.harmony_bench.fake_metrics  # noqa: F401  (registers brightness@test, picky@test)
from harmony_bench import runner
from harmony_bench.media import write_clip
from harmony_bench.runner import RunConfig, shard_cases
from harmony_bench.store import load_results
from tests.harmony_bench.one_track import write_audio_only, write_video_only

METRICS = ["brightness@test", "picky@test"]
REPO = Path(__file__).resolve().parents[2]


def cfg(tiny_cases, out, **kw) -> RunConfig:
    return RunConfig(model=kw.pop("model", "static"), out=out, cases_dir=tiny_cases, metrics=METRICS,
                     device="cpu", quiet=True, **kw)


def test_static_run_stores_one_row_per_case_and_output(tiny_cases, tmp_path):
    c = cfg(tiny_cases, tmp_path / "run")
    s = runner.evaluate(c, runner.generate(c))
    df = load_results(tmp_path / "run")
    assert s.exit_code == 0 and s.clips_generated == 6
    # brightness: 2 outputs x 6 cases; picky: 1 output x 4 speech/complex cases
    assert len(df) == 12 + 4
    assert not df.duplicated(["case_id", "metric_key", "output"]).any()
    picky = df[df.metric_key == "picky@test"].set_index("case_id")
    assert picky.loc["sp-002", "status"] == "unscorable" and np.isnan(picky.loc["sp-002", "value"])
    assert picky.loc["sp-002", "error"] == "no Chinese support"
    assert picky.loc["sp-001", "value"] == pytest.approx(1.0)
    loud = df[(df.output == "Loudness")]
    assert (loud.value == 0).all()  # static model: silence
    row = df[df.case_id == "sp-002"].iloc[0]
    assert row.protocol_version == "1" and row.lib_versions["torch"] and row.language == "zh"
    assert row.tags["source"] == "real-world"


def test_rerun_skips_and_protocol_change_recomputes(tiny_cases, tmp_path, monkeypatch):
    c = cfg(tiny_cases, tmp_path / "run")
    runner.evaluate(c, runner.generate(c))
    again = runner.evaluate(c, runner.generate(c))
    assert again.clips_reused == 6 and again.rows["ok"] == 0 and again.rows["skipped"] == 10
    from tests.harmony_bench.fake_metrics import Brightness

    monkeypatch.setattr(Brightness, "version", "2")
    bumped = runner.evaluate(c)
    assert bumped.rows["ok"] == 6  # only the changed metric, on every case
    df = load_results(tmp_path / "run")
    assert set(df[df.metric_key == "brightness@test"].protocol_version) == {"2"}
    assert len(df) == 16


def test_the_next_clip_is_decoded_while_the_current_one_is_scored(tiny_cases, tmp_path, monkeypatch):
    import threading

    from tests.harmony_bench.fake_metrics import Brightness

    c = cfg(tiny_cases, tmp_path / "run")
    runner.generate(c)
    order = [case.id for case in runner.select_cases(c, tiny_cases)]  # the order the run takes them in
    opened = {cid: threading.Event() for cid in order}
    threads, real_read, real_score = {}, runner.read_clip, Brightness.score

    def read_clip(video, audio):
        cid = Path(video).stem
        threads.setdefault(cid, []).append(threading.current_thread().name)
        opened[cid].set()
        return real_read(video, audio)

    def score(self, clip, case):
        nxt = order.index(case.id) + 1
        if nxt < len(order):  # the next clip is being opened while this one is scored
            assert opened[order[nxt]].wait(timeout=30), f"{order[nxt]} not opened while {case.id} was scored"
        return real_score(self, clip, case)

    monkeypatch.setattr(runner, "read_clip", read_clip)
    monkeypatch.setattr(Brightness, "score", score)
    summary = runner.evaluate(c)
    assert summary.rows["ok"] == 6 + 3 and summary.rows["error"] == 0, summary.problems  # brightness x 6, picky x 3
    assert threads[order[0]] == ["MainThread"]
    assert all(threads[cid] == ["harmony-bench-decode_0"] for cid in order[1:]), threads  # each opened once


def test_no_clip_is_opened_when_none_of_its_metrics_can_run(tiny_cases, tmp_path, monkeypatch):
    from tests.harmony_bench.fake_metrics import Brightness, Picky

    real_read = runner.read_clip
    monkeypatch.setattr(Picky, "availability", lambda self: "no weights (test)")

    def opened_by(name: str) -> tuple[list[str], runner.Summary]:
        c = cfg(tiny_cases, tmp_path / name)
        runner.generate(c)
        opened = []
        monkeypatch.setattr(runner, "read_clip", lambda video, audio: (opened.append(video), real_read(video, audio))[1])
        return opened, runner.evaluate(c)

    opened, summary = opened_by("brightness-runs")
    assert len(opened) == 6 and summary.rows["ok"] == 6  # every case has brightness: each opened once
    monkeypatch.setattr(Brightness, "availability", lambda self: "no weights (test)")
    opened, summary = opened_by("none-runs")
    assert opened == [] and {k for k, n in summary.rows.items() if n} == {"unavailable"}


def test_the_metrics_of_a_clip_are_scored_at_once_and_stored_as_in_one_thread(tiny_cases, tmp_path, monkeypatch):
    import threading

    from tests.harmony_bench.fake_metrics import Brightness, Flaky
    from tests.harmony_bench.stores import assert_same_run

    def config(name: str, threads: int) -> RunConfig:
        return RunConfig(model="static", out=tmp_path / name, cases_dir=tiny_cases, device="cpu", quiet=True,
                         metrics=["brightness@test", "flaky@test"], metric_threads=threads)

    runner.run(config("one", 1))
    both_started = threading.Barrier(2, timeout=30)  # passes only if the two metrics of a clip run together
    for cls in (Brightness, Flaky):
        real = cls.score
        monkeypatch.setattr(cls, "score", lambda self, clip, case, real=real: (both_started.wait(), real(self, clip, case))[1])
    summary = runner.run(config("two", 2))
    assert summary.rows["ok"] == 12 and summary.rows["error"] == 0, summary.problems
    assert_same_run(tmp_path / "two", tmp_path / "one")


def test_metric_threads_default_to_the_cores_on_cpu_only(tiny_cases, tmp_path):
    import os

    assert runner.metric_threads(cfg(tiny_cases, tmp_path)) == os.cpu_count()
    assert runner.metric_threads(cfg(tiny_cases, tmp_path, metric_threads=3)) == 3
    with pytest.raises(ValueError, match="--metric-threads must be at least 1"):
        runner.check_config(cfg(tiny_cases, tmp_path, metric_threads=0))


def test_shards_partition_the_cases(tiny_cases):
    from harmony_bench.cases import load_cases

    cases = load_cases(tiny_cases)
    parts = [shard_cases(cases, k, 3) for k in (1, 2, 3)]
    ids = [c.id for p in parts for c in p]
    assert sorted(ids) == sorted(c.id for c in cases) and len(ids) == len(set(ids))


def test_dir_model_reports_missing_corrupt_and_silent_clips_per_case(tiny_cases, tmp_path):
    clips = tmp_path / "clips"
    frames = np.full((24, 32, 32, 3), 128, np.uint8)
    for cid in ("amb-001", "amb-002", "sp-001"):
        write_clip(clips / f"{cid}.mp4", frames, 24, np.zeros(16000, np.float32), 16000, wav=False)
    (clips / "amb-002.mp4").write_bytes(b"\x00garbage" * 200)  # corrupt
    write_video_only(clips / "cx-001.mp4", frames[:1], 24)
    (clips / "not-a-case.mp4").write_bytes(b"")
    c = cfg(tiny_cases, tmp_path / "run", model=f"dir:{clips}")
    s = runner.evaluate(c, runner.generate(c))
    assert any("missing clip for case sp-002" in n for n in s.notes)
    assert any("extra file" in n and "not-a-case" in n for n in s.notes)
    df = load_results(tmp_path / "run")
    status = df[df.output == "Brightness"].set_index("case_id").status
    assert status["amb-001"] == "ok" and status["sp-001"] == "ok"
    err = df[df.output == "Brightness"].set_index("case_id").error
    assert "cannot decode" in err["amb-002"]
    assert status["cx-001"] == "unscorable" and err["cx-001"] == "the clip has no audio track, which this metric reads"
    assert "generation failed" in err["sp-002"] and "missing clip" in err["sp-002"]
    assert s.exit_code == 1 and len([p for p in s.problems if "brightness" in p]) == 3


def test_a_clip_missing_a_track_is_scored_by_the_metrics_of_the_other_and_never_retried(tiny_cases, tmp_path):
    clips = tmp_path / "clips"
    frames = np.zeros((24, 32, 32, 3), np.uint8) + np.arange(24, dtype=np.uint8)[:, None, None, None] * 8
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    clips.mkdir()
    write_video_only(clips / "amb-001.mp4", frames, 24)
    write_audio_only(clips / "sp-001.mp4", tone, 16000)
    write_clip(clips / "cx-001.mp4", frames, 24, tone, 16000)
    c = cfg(tiny_cases, tmp_path / "run", model=f"dir:{clips}", limit=1)  # amb-001, sp-001, cx-001
    c.metrics = ["frames@test", "rms@test", "brightness@test"]
    first = runner.evaluate(c, runner.generate(c))
    df = load_results(c.out)
    by = {key: g for key, g in df.groupby(["case_id", "metric_key"])}
    assert by["amb-001", "frames@test"][["status", "value"]].values.tolist() == [["ok", 24.0]]
    assert by["sp-001", "rms@test"].status.tolist() == ["ok"]
    assert by["sp-001", "rms@test"].value.iloc[0] == pytest.approx(0.5 / 2**0.5, rel=0.05)  # AAC: lossy
    for case_id, metric, track in [("amb-001", "rms@test", "audio"), ("amb-001", "brightness@test", "audio"),
                                   ("sp-001", "frames@test", "video"), ("sp-001", "brightness@test", "video")]:
        assert set(by[case_id, metric].status) == {"unscorable"}
        assert set(by[case_id, metric].error) == {f"the clip has no {track} track, which this metric reads"}
    assert set(df[df.case_id == "cx-001"].status) == {"ok"}
    assert first.rows["error"] == 0 and first.rows["unscorable"] == 4 and first.rows["ok"] == 5
    again = runner.evaluate(c)
    assert again.rows["skipped"] == 9 and again.rows["unscorable"] == again.rows["ok"] == 0


LAUNCHER = """
import sys
sys.path.insert(0, {repo!r})
import tests.harmony_bench.fake_metrics
from harmony_bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(args, env, **kw):
    code = LAUNCHER.format(repo=str(REPO))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=REPO, **kw)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_uninterrupted_run(tiny_cases, tmp_path):
    env = {**os.environ, "FAKE_METRIC_SLEEP": "0.4"}
    args = ["evaluate", "--model", "noise", "--cases", str(tiny_cases), "--metrics", ",".join(METRICS), "--quiet",
            "--device", "cpu"]
    killed = tmp_path / "killed"
    proc = _cli([*args, "--out", str(killed)], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = killed / "results.sqlite"
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some but not all cases are stored
        time.sleep(0.05)
        try:
            n = sqlite3.connect(db).execute("SELECT COUNT(DISTINCT case_id) FROM results").fetchone()[0]
        except sqlite3.Error:
            continue
        if n >= 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = sqlite3.connect(db).execute("SELECT COUNT(DISTINCT case_id) FROM results").fetchone()[0]
    assert 2 <= partial < 6, "the kill should land mid-run"
    env["FAKE_METRIC_SLEEP"] = "0"
    for out in (killed, tmp_path / "clean"):
        p = _cli([*args, "--out", str(out), "--metrics", ",".join(METRICS)], env, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    a = load_results(killed).sort_values(["case_id", "metric_key", "output"]).reset_index(drop=True)
    b = load_results(tmp_path / "clean").sort_values(["case_id", "metric_key", "output"]).reset_index(drop=True)
    assert not a.duplicated(["case_id", "metric_key", "output"]).any()
    assert len(a) == len(b) == 16
    np.testing.assert_allclose(a.value.to_numpy(float), b.value.to_numpy(float), equal_nan=True)
    assert list(a.status) == list(b.status)


def test_a_large_clip_is_scored_by_fewer_metrics_at_once(tiny_cases, tmp_path, monkeypatch):
    import threading

    from harmony_bench.media import Clip
    from tests.harmony_bench.fake_metrics import Brightness, Flaky

    def clip(h, w):
        return Clip(np.zeros((1, h, w, 3), np.uint8), 24, None, 16000)

    assert [runner.metrics_at_once(clip(h, w)) for h, w in ((2160, 3840), (1080, 1920), (4320, 7680))] == [2, 8, 1]
    assert runner.metrics_at_once("clip unreadable") is None
    # every clip of the tiny run counts as large: its metrics must take turns, on three threads
    monkeypatch.setattr(runner, "CONCURRENT_PIXELS", 1)
    running, most, lock = [0], [0], threading.Lock()
    for cls in (Brightness, Flaky):
        real = cls.score

        def counted(self, clip, case, real=real):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return real(self, clip, case)

        monkeypatch.setattr(cls, "score", counted)
    c = RunConfig(model="static", out=tmp_path / "run", cases_dir=tiny_cases, device="cpu", quiet=True,
                  metrics=["brightness@test", "flaky@test"], metric_threads=3, limit=1)
    summary = runner.run(c)
    assert summary.rows["ok"] == 6 and most[0] == 1


def test_no_decoding_or_scoring_thread_outlives_the_evaluation(tiny_cases, tmp_path):
    """A thread that decoded holds PyAV state; left alive, a later fork running Python in the child
    (Ray's preexec_fn) frees it there and hangs (seen with PyAV 19)."""
    import threading

    def ours() -> list[str]:
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("harmony-bench-"))

    before = ours()
    summary = runner.run(cfg(tiny_cases, tmp_path / "run", metric_threads=2))
    assert summary.rows["ok"] > 0 and summary.rows["error"] == 0, summary.problems
    assert ours() == before, ours()
