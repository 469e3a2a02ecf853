"""`harmony-bench doctor` and the paper-column coverage behind it."""

from __future__ import annotations

import hashlib
import json

import pytest

from harmony_bench import coverage
from harmony_bench.cli import main
from harmony_bench.fetch import metric_files
from harmony_bench.reports.paper import PAPER_COLUMNS

# the official metric that gives each paper column, and so the fix doctor must name
FIXES = {"AQ": "harmony-bench weights fetch aq@siglip-v2.5 --accept-licence",
         "IQ": "harmony-bench weights fetch iq@musiq-spaq", "DD": "harmony-bench weights fetch dd@raft",
         "MS": "harmony-bench weights fetch ms@amt-s --accept-licence",
         "ID": "HF_TOKEN=hf_... harmony-bench weights fetch id@dinov3-vitl16",
         **{c: "harmony-bench weights fetch audiobox@aesthetics" for c in ("PQ", "PC", "CE", "CU")},
         "WER": "harmony-bench weights fetch wer@whisper-large-v3",
         "IB-A": "harmony-bench weights fetch ib@imagebind-huge --accept-licence",
         "IB": "harmony-bench weights fetch ib@imagebind-huge --accept-licence",
         "Sync-C": "harmony-bench weights fetch syncnet@v2", "Sync-D": "harmony-bench weights fetch syncnet@v2",
         "DeSync": "harmony-bench weights fetch desync@synchformer"}


@pytest.fixture
def weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(folder))
    monkeypatch.setattr(coverage, "installed", lambda package: True)  # the extras need not be installed here
    return folder


def _fill(folder, tmp_path, monkeypatch) -> None:
    """Every official file present, its hash pinned by a manifest override."""
    pins = {}
    for name in metric_files():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
        pins[name] = hashlib.sha256(name.encode()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps(pins))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "manifest.json"))


def _column_entries(out: str) -> dict[str, tuple[str, str]]:
    """column -> (its MISSING line, the fix line after it)."""
    lines = out.split("Paper columns (Tables 2-7):\n", 1)[1].splitlines()
    entries = {}
    for i, line in enumerate(lines):
        if line.startswith("  MISSING "):
            names = line[len("  MISSING "):].split(" (Table")[0].split(", ")
            entries.update({n: (line, lines[i + 1].strip()) for n in names})
    return entries


def test_without_weights_doctor_names_each_column_gap_and_its_fix(weights, capsys):
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    entries = _column_entries(out)
    assert set(entries) == {c.name for c in PAPER_COLUMNS} == set(FIXES)
    for column, (line, fix) in entries.items():
        assert "weights missing: " in line, column
        assert fix == f"fix: {FIXES[column]}", column
    assert "MISSING PQ, PC, CE, CU (Tables 2, 4-6): weights missing: audiobox-aesthetics/model.safetensors" in out
    assert "MISSING Sync-C, Sync-D (Tables 2-7)" in out and "MISSING WER (Tables 2, 4-7)" in out
    assert "15 of 15 paper columns cannot be produced here" in out
    assert out.count("  MISSING whisper/large-v3.pt") == 1 and "Python " in out and "extras " in out


def test_with_every_file_verified_doctor_exits_0(weights, tmp_path, monkeypatch, capsys):
    _fill(weights, tmp_path, monkeypatch)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "MISSING" not in out and "All 15 paper columns can be produced here" in out
    assert "  ok      AQ, IQ, DD, MS, ID, PQ, PC, CE, CU, WER, IB-A, Sync-C, Sync-D, DeSync, IB" in out


def test_a_file_failing_verification_and_a_missing_package(weights, tmp_path, monkeypatch, capsys):
    _fill(weights, tmp_path, monkeypatch)
    (weights / "syncnet_v2.model").write_bytes(b"truncated")
    monkeypatch.setattr(coverage, "installed", lambda package: package != "whisper")
    assert main(["doctor"]) == 1
    entries = _column_entries(capsys.readouterr().out)
    assert set(entries) == {"Sync-C", "Sync-D", "WER"}
    assert entries["Sync-C"] == ("  MISSING Sync-C, Sync-D (Tables 2-7): weights fail verification: syncnet_v2.model",
                                 "fix: harmony-bench weights fetch syncnet@v2")
    assert entries["WER"][1] == "fix: pip install 'harmony-bench[audio]'"
    assert "package missing: whisper" in entries["WER"][0]


@pytest.mark.parametrize("numbers, text", [((2, 3, 4, 5, 6, 7), "Tables 2-7"), ((2, 4, 5, 6), "Tables 2, 4-6"),
                                           ((3, 7), "Tables 3, 7"), ((2, 3), "Tables 2, 3"), ((7,), "Table 7")])
def test_tables_text(numbers, text):
    assert coverage.tables_text(numbers) == text
