"""Run identity, reuse, merge and early checks: a number is never reused or counted under the
wrong model, seed, case set, clip or weights, and a mistake stops a command before any work."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import tests.harmony_bench.fake_metrics  # noqa: F401  (registers the test metrics)
from harmony_bench import runner
from harmony_bench.cli import main
from harmony_bench.media import write_clip
from harmony_bench.runfolder import RunFolderError
from harmony_bench.runner import RunConfig
from harmony_bench.store import StoreError, load_results
from tests.harmony_bench.stores import assert_same_run, rows

METRICS = ["brightness@test", "picky@test"]


def cfg(cases, out, **kw) -> RunConfig:
    return RunConfig(model=kw.pop("model", "static"), out=out, cases_dir=cases, metrics=kw.pop("metrics", METRICS),
                     device="cpu", quiet=True, **kw)


def full_run(c: RunConfig) -> runner.Summary:
    return runner.evaluate(c, runner.generate(c))


# -- identity ------------------------------------------------------------------------------
def test_another_model_in_the_same_folder_stops_before_any_work(tiny_cases, tmp_path):
    out = tmp_path / "run"
    full_run(cfg(tiny_cases, out, model="static"))
    before = rows(out, "clips")
    with pytest.raises(RunFolderError, match=r"holds another run: its model .*differ.*--overwrite"):
        runner.generate(cfg(tiny_cases, out, model="noise"))
    assert rows(out, "clips") == before  # nothing generated, nothing replaced
    s = full_run(cfg(tiny_cases, out, model="noise", overwrite=True))
    assert s.clips_generated == 6 and s.clips_reused == 0
    df = load_results(out)
    assert set(df.model) == {"noise"} and (df[df.output == "Loudness"].value > 0.1).all()


def test_seed_and_case_set_are_part_of_the_identity(tiny_cases, tmp_path):
    out = tmp_path / "run"
    full_run(cfg(tiny_cases, out))
    with pytest.raises(RunFolderError, match=r"seed \(0 -> 1\)"):
        runner.generate(cfg(tiny_cases, out, seed=1))
    jsonl = tiny_cases / "cases.jsonl"
    jsonl.write_text(jsonl.read_text(encoding="utf-8").replace("bounces twice", "bounces once"), encoding="utf-8")
    with pytest.raises(RunFolderError, match="case set"):
        runner.generate(cfg(tiny_cases, out))


def test_cli_reproduction_two_cmd_models_never_share_clips(tiny_cases, tmp_path, monkeypatch, capsys):
    """Was: `run --model 'cmd:python gen_a.py'` then gen_b.py, both without --out: 3 reused."""
    monkeypatch.chdir(tmp_path)
    import sys

    for name, level in (("gen_a.py", 40), ("gen_b.py", 200)):
        (tmp_path / name).write_text(
            "import sys, numpy as np\nfrom harmony_bench.media import write_clip\n"
            f"write_clip(sys.argv[1], np.full((24, 16, 16, 3), {level}, np.uint8), 24, np.zeros(16000, np.float32), 16000)\n")
    outs = []
    for name in ("gen_a.py", "gen_b.py"):
        code = main(["run", "--model", f"cmd:{sys.executable} {name} {{out}}", "--cases", str(tiny_cases),
                     "--metrics", "brightness@test", "--quiet", "--limit", "1", "--device", "cpu"])
        out = capsys.readouterr().out
        assert code == 0 and "3 generated, 0 reused" in out
        outs.append(Path(next(l for l in out.splitlines() if l.startswith("run folder: ")).split(": ", 1)[1]))
    assert outs[0] != outs[1]
    b = [load_results(o) for o in outs]
    assert b[0].value[b[0].output == "Brightness"].max() < 0.2 < b[1].value[b[1].output == "Brightness"].min()


def test_two_dir_folders_with_one_base_name_are_two_runs(tiny_cases, tmp_path):
    from harmony_bench.cli import default_out

    specs = []
    for parent, level in (("a", 30), ("b", 220)):
        clips = tmp_path / parent / "clips"
        for cid in ("amb-001", "sp-001", "cx-001"):
            write_clip(clips / f"{cid}.mp4", __import__("numpy").full((24, 16, 16, 3), level, "uint8"), 24,
                       __import__("numpy").zeros(16000, "float32"), 16000)
        specs.append(f"dir:{clips}")
    assert default_out(specs[0]) != default_out(specs[1])
    out = tmp_path / "run"
    runner.generate(cfg(tiny_cases, out, model=specs[0], limit=1))
    with pytest.raises(RunFolderError, match="folder"):
        runner.generate(cfg(tiny_cases, out, model=specs[1], limit=1))


def test_moved_copied_and_renamed_runs_evaluate_and_report(tiny_cases, tmp_path):
    a = tmp_path / "a"
    runner.generate(cfg(tiny_cases, a))
    b = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(a, b)
    shutil.rmtree(a)
    s = runner.evaluate(cfg(tiny_cases, b, model=None))
    assert s.exit_code == 0 and s.rows["ok"] == 6 + 3 and s.rows["error"] == 0
    assert any(p.name == "report.html" for p in runner.report(b))


# -- reuse ---------------------------------------------------------------------------------
def test_a_failed_metric_is_retried_on_the_next_run(tiny_cases, tmp_path, monkeypatch):
    c = cfg(tiny_cases, tmp_path / "run", metrics=["flaky@test"])
    monkeypatch.setenv("FAKE_METRIC_FAIL", "1")
    assert full_run(c).rows["error"] == 6
    monkeypatch.delenv("FAKE_METRIC_FAIL")
    again = runner.evaluate(c)
    assert again.rows["ok"] == 6 and again.rows["skipped"] == 0
    assert set(load_results(c.out).status) == {"ok"}


def test_a_failed_generation_is_retried(tiny_cases, tmp_path, monkeypatch):
    from harmony_bench.models.baselines import StaticModel

    c = cfg(tiny_cases, tmp_path / "run")
    real = StaticModel.generate
    monkeypatch.setattr(StaticModel, "generate", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    assert runner.generate(c).clips_failed == 6
    monkeypatch.setattr(StaticModel, "generate", real)
    s = full_run(c)
    assert s.clips_generated == 6 and s.rows["error"] == 0


def test_a_clip_is_reused_only_when_seed_file_and_content_match(tiny_cases, tmp_path):
    out = tmp_path / "run"
    c = cfg(tiny_cases, out)
    full_run(c)
    assert runner.generate(c).clips_reused == 6
    db = sqlite3.connect(out / "results.sqlite")
    db.execute("UPDATE clips SET seed = 99 WHERE case_id = 'amb-001'")
    db.commit()
    db.close()
    (out / "clips" / "sp-001.mp4").unlink()
    with open(out / "clips" / "cx-001.wav", "ab") as f:
        f.write(b"\0" * 64)
    s = runner.generate(c)
    assert s.clips_generated == 3 and s.clips_reused == 3
    # the regenerated clips are byte-identical (deterministic model), so their scores stay valid
    assert runner.evaluate(c).rows["skipped"] == 10


def test_scores_follow_the_clip_content(tiny_cases, tmp_path):
    import numpy as np

    clips = tmp_path / "clips"

    def put(level):
        for cid in ("amb-001", "sp-001", "cx-001"):
            write_clip(clips / f"{cid}.mp4", np.full((24, 16, 16, 3), level, np.uint8), 24,
                       np.zeros(16000, np.float32), 16000)

    put(40)
    c = cfg(tiny_cases, tmp_path / "run", model=f"dir:{clips}", limit=1, metrics=["brightness@test"])
    full_run(c)
    put(200)  # the same file names, other content: old scores must not survive
    s = full_run(c)
    assert s.rows["ok"] == 3 and s.rows["skipped"] == 0
    assert (load_results(c.out).query("output == 'Brightness'").value > 0.7).all()


def test_the_runner_alone_recomputes_a_score_of_another_clip(tiny_cases, tmp_path):
    """Scores stamped with another clip's sha256 under the current clip (the store's own clean-up
    bypassed): the runner's plan must not reuse them."""
    c = cfg(tiny_cases, tmp_path / "run", metrics=["brightness@test"])
    full_run(c)
    db = sqlite3.connect(c.out / "results.sqlite")
    db.execute("UPDATE results SET clip_sha256 = ? WHERE case_id = 'amb-001'", ("0" * 64,))
    db.commit()
    db.close()
    s = runner.evaluate(c)
    assert s.rows["ok"] == 1 and s.rows["skipped"] == 5
    clip_sha = {r["case_id"]: r["sha256"] for r in rows(c.out, "clips")}
    assert all(r["clip_sha256"] == clip_sha[r["case_id"]] for r in rows(c.out, "results"))


def test_the_run_id_hashes_the_model_the_case_set_and_the_seed():
    from harmony_bench.runfolder import Identity

    model = {"spec": "static", "name": "static"}
    base = Identity(model, "a" * 64, 0)
    # sha256 of '{"case_set_sha256": "aaa...a", "model": {"name": "static", "spec": "static"}, "seed": 0}'
    assert base.run_id == "1943c1c80b39b043"
    others = [Identity(model, "a" * 64, 1), Identity(model, "b" * 64, 0),
              Identity({**model, "spec": "noise"}, "a" * 64, 0)]
    assert len({base.run_id, *(o.run_id for o in others)}) == 4


def test_a_weights_change_recomputes_the_metric(tiny_cases, tmp_path, monkeypatch):
    c = cfg(tiny_cases, tmp_path / "run", metrics=["brightness@test"])
    full_run(c)
    assert runner.evaluate(c).rows["skipped"] == 6
    real = runner.prepare_metrics

    def other_weights(keys, device):
        slots = real(keys, device)
        for s in slots:
            s.weights = "model.pth=abc"
        return slots

    monkeypatch.setattr(runner, "prepare_metrics", other_weights)
    assert runner.evaluate(c).rows["ok"] == 6
    assert set(load_results(c.out).weights_sha256) == {"model.pth=abc"}


# -- merge ---------------------------------------------------------------------------------
def shard_runs(cases, tmp_path, n=2):
    outs = []
    for k in range(1, n + 1):
        out = tmp_path / f"shard{k}"
        full_run(cfg(cases, out, shard=(k, n)))
        outs.append(out)
    return outs


def test_merged_shards_equal_one_process_row_by_row(tiny_cases, tmp_path):
    single = tmp_path / "single"
    full_run(cfg(tiny_cases, single))
    s1, s2 = shard_runs(tiny_cases, tmp_path)
    assert main(["merge", str(tmp_path / "merged"), str(s1), str(s2)]) == 0
    assert_same_run(tmp_path / "merged", single)
    assert main(["merge", str(tmp_path / "merged"), str(s1), str(s2)]) == 0  # idempotent
    assert_same_run(tmp_path / "merged", single)
    # Reproduction: merge shard 2 into shard 1's folder, then run again there: nothing new
    assert main(["merge", str(s1), str(s2)]) == 0
    assert_same_run(s1, single)
    again = full_run(cfg(tiny_cases, s1))
    assert again.clips_generated == 0 and again.clips_reused == 6
    assert again.rows["ok"] == again.rows["error"] == 0 and again.rows["skipped"] == 10
    assert len(load_results(s1)) == 16


def test_a_merged_folder_stands_alone(tiny_cases, tmp_path):
    s1, s2 = shard_runs(tiny_cases, tmp_path)
    merged = tmp_path / "merged"
    assert main(["merge", str(merged), str(s1), str(s2)]) == 0
    shutil.rmtree(s1)
    shutil.rmtree(s2)
    s = runner.evaluate(cfg(tiny_cases, merged, model=None, metrics=[*METRICS, "flaky@test"]))
    assert s.rows["ok"] == 6 and s.rows["error"] == 0  # the new metric, on the copied clips
    assert any(p.name == "report.html" for p in runner.report(merged))
    assert json.loads((merged / "run.json").read_text())["cases_dir"] == str(tiny_cases.resolve())


def test_merge_takes_the_final_or_newer_row(tiny_cases, tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("FAKE_METRIC_FAIL", "1")
    full_run(cfg(tiny_cases, a, metrics=["flaky@test"]))
    monkeypatch.delenv("FAKE_METRIC_FAIL")
    shutil.copytree(a, b)
    runner.evaluate(cfg(tiny_cases, b, model=None, metrics=["flaky@test"]))
    assert main(["merge", str(a), str(b)]) == 0
    assert set(load_results(a).status) == {"ok"}
    # both final: the newer computation wins
    db = sqlite3.connect(b / "results.sqlite")
    db.execute("UPDATE results SET value = 123, finished_at = finished_at + 10 WHERE case_id = 'amb-001'")
    db.commit()
    db.close()
    assert main(["merge", str(a), str(b)]) == 0
    assert load_results(a).set_index("case_id").loc["amb-001", "value"] == 123


def test_merge_refuses_bad_sources(tiny_cases, tmp_path, capsys):
    s1, _ = shard_runs(tiny_cases, tmp_path)
    other = tmp_path / "other"
    runner.generate(cfg(tiny_cases, other, model="noise"))
    assert main(["merge", str(s1), str(other)]) == 1
    assert "another run" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "x"), str(tmp_path / "missing")]) == 1
    assert "missing: no such folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert main(["merge", str(tmp_path / "x"), str(tiny_cases / "cases.jsonl")]) == 1
    assert "not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# -- early checks --------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--metrics", "brightnes@test"], "unknown metric 'brightnes@test'; did you mean brightness@test"),
    (["--metrics", ""], "names no metric"),
    (["--limit", "0"], "at least 1"),
    (["--limit", "-1"], "at least 1"),
    (["--device", "gpu"], "--device 'gpu'"),
    (["--device", "cuda:7"], "CUDA device"),
    (["--model", "cmd:python gen.py {captoin} {out}"], "unknown field {captoin}"),
])
def test_mistakes_stop_before_any_work(tiny_cases, tmp_path, capsys, args, message):
    argv = ["run", "--model", "static", "--cases", str(tiny_cases), "--out", str(tmp_path / "run"), "--quiet", *args]
    if "--model" in args:
        argv = argv[:1] + argv[3:]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_out_naming_a_file_is_refused(tiny_cases, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["run", "--model", "static", "--cases", str(tiny_cases), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_reading_commands_never_create_a_folder(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["evaluate", str(missing)]) == 1
    assert main(["report", str(missing)]) == 1
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(StoreError, match="no such folder"):
        load_results(missing)
    assert not missing.exists()
