"""The command line: listing, validation exit codes, errors that name the problem."""

import json
import shutil

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


def test_weights_lists_sources_and_detects_a_bad_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "MISSING" in out and "licence" in out
    from metrics.registry import all_metric_keys, get_metric

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
