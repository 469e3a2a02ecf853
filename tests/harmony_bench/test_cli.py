"""The command line: listing, validation exit codes, errors that name the problem."""

import json
import shutil

import pytest

from harmony_bench.cli import main


def test_cases_validate_reports_each_problem(tiny_cases, capsys):
    assert main(["cases", "validate", str(tiny_cases)]) == 0
    assert "6 valid cases" in capsys.readouterr().out
    lines = (tiny_cases / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    dup = dict(json.loads(lines[1]), id=first["id"])
    missing = json.loads(lines[2])
    del missing["video_caption"]
    outside = dict(json.loads(lines[3]), reference_image="../elsewhere.png")
    (tiny_cases / "cases.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in
                                                     [first, dup, missing, outside, *map(json.loads, lines[4:])]) + "\n")
    assert main(["cases", "validate", str(tiny_cases)]) == 1
    out = capsys.readouterr().out
    assert "amb-001" in out and "duplicate" in out.lower()
    assert "sp-001" in out and "video_caption" in out
    assert "sp-002" in out and "reference_image" in out


def test_metrics_lists_every_metric_with_a_reason(capsys):
    assert main(["metrics", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows, "no metric registered"
    for r in rows:
        assert r["protocol"].startswith(r["key"] + "/v")
        assert r["runs_here"] or r["why_not"]


def test_metrics_prints_the_protocol_cards_asked_for(capsys):
    assert main(["metrics", "ms@farneback", "dd@raft"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dd@raft/v") and "\nms@farneback/v" in out  # registry order, only these two
    assert "precision: " in out and "reference: VBench" in out and "128 px" in out
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "ms@farnback"])
    assert exc.value.code == 2 and "did you mean ms@farneback" in capsys.readouterr().err


def test_weights_lists_sources_and_detects_a_bad_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "MISSING" in out and "licence" in out
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    wf = next(w for k in all_metric_keys() for w in get_metric(k).weights)
    (tmp_path / wf.name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / wf.name).write_bytes(b"truncated")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({wf.name: "0" * 64}))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(manifest))
    assert main(["weights", "--verify"]) == 1
    out = capsys.readouterr().out
    assert f"BAD: {tmp_path / wf.name}" in out and "0" * 64 in out


def test_unknown_subset_and_bad_shard_are_usage_errors(tiny_cases, tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["run", "--model", "static", "--shard", "3/2", "--cases", str(tiny_cases)])
    assert "K must be" in capsys.readouterr().err
    assert main(["run", "--model", "no-such-model", "--cases", str(tiny_cases), "--out", str(tmp_path / "r")]) == 2
    assert "unknown model" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "r", ignore_errors=True)


def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name != "train":  # handed to harmony_model.train, which has its own help
                    yield from _actions(sub)
        else:
            yield parser.prog, action


def test_every_command_and_argument_has_help():
    from harmony_bench.cli import build_parser

    missing = [f"{prog} {a.dest}" for prog, a in _actions(build_parser()) if not a.help]
    assert not missing, missing


def test_listings_fit_100_columns_and_version_prints(capsys):
    import pytest

    for argv in (["metrics"], ["models"], ["--help"], ["run", "--help"], ["evaluate", "--help"]):
        try:
            main(argv)
        except SystemExit:
            pass
        out = capsys.readouterr().out
        assert out and max(map(len, out.splitlines())) <= 100, argv
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("harmony-bench ")


def test_models_lists_the_builtins(capsys):
    assert main(["models", "--json"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert {"harmony", "static", "noise", "dir", "cmd"} <= names


def test_a_closed_pipe_ends_quietly(tmp_path):
    import subprocess
    import sys

    # `metrics | head -1` without a shell: the reader closes the pipe after one line
    writer = subprocess.Popen([sys.executable, "-m", "harmony_bench.cli", "metrics"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    reader = subprocess.Popen(["head", "-1"], stdin=writer.stdout, stdout=subprocess.DEVNULL)
    writer.stdout.close()
    reader.wait(timeout=120)
    err = writer.stderr.read()
    writer.wait(timeout=120)
    assert writer.returncode == 0 and "Traceback" not in err and "BrokenPipe" not in err
