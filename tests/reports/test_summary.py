"""The compact text table printed after `run` and `report`."""

from __future__ import annotations

import pytest

from harmony_bench.store import load_results
from harmony_bench.reports import summary_table
from harmony_bench.reports.tables import fmt
from tests.reports.conftest import CASES, make_run


@pytest.fixture(scope="module")
def table(run_pair, tmp_path_factory) -> str:
    mp = pytest.MonkeyPatch()
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    mp.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path_factory.mktemp("no-weights")))
    try:
        return summary_table(run_pair[0])
    finally:
        mp.undo()


def _zh_mean(run_dir, output: str) -> float:
    raw = load_results(run_dir)
    return raw[(raw["output"] == output) & (raw["metric_key"] == "wer@whisper") & (raw["language"] == "zh")]["value"].mean()


def _line(text: str, start: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(start)).split()


def test_paper_columns_first_then_the_rest_with_n(table, run_pair):
    lines = table.splitlines()
    assert lines[0] == f"Results of run-a (model-a): {len(CASES)} cases; mean over cases, n = cases scored"
    comparable = lines.index("Comparable with the paper's tables:")
    other = next(i for i, line in enumerate(lines) if line.startswith("Not comparable with the paper"))
    assert lines[comparable + 1].split() == ["metric", "Overall", "Speech", "Ambient", "Complex", "Chinese", "n"]
    names = [line.split(" ")[0] for line in lines[comparable + 2:other - 1]]
    assert names == ["AQ", "DD", "WER", "Sync-C", "Sync-D", "CER"]  # the paper's column order, then the suite's own
    assert _line(table, "CER (this suite)")[4:9] == ["-"] * 4 + [fmt(_zh_mean(run_pair[0], "WER"))]
    assert _line(table, "WER ↓")[6] == fmt(_zh_mean(run_pair[0], "WER-words"))  # Chinese: the paper's scale
    assert _line(table, "Sync-C ↑") == ["Sync-C", "↑", "4.04", "4.01", "-", "4.08", "3.93", "8"]
    assert _line(table, "IB [ib@imagebind]")[-1] == str(len(CASES))
    raw = load_results(run_pair[0])
    aq = raw[(raw["output"] == "AQ") & (raw["status"] == "ok")].groupby("subset")["value"].mean()
    expected = [fmt(aq.mean()), fmt(aq["speech"]), fmt(aq["ambient"]), fmt(aq["complex"]), "-"]
    assert _line(table, "AQ ↑")[2:7] == expected
    fills = {line: lines[i + 1] for i, line in enumerate(lines) if lines[i + 1:i + 2] and "fill:" in lines[i + 1]}
    assert fills["  IQ: not run"] == "    fill: harmony-bench weights fetch iq@musiq-spaq"
    assert fills["  PQ, PC, CE, CU: not run"] == "    fill: harmony-bench weights fetch audiobox@aesthetics"
    # a variant's number (other weights) leaves the paper's IB column empty: the official file fills it
    ib = next(line for line in lines if line.startswith("  IB: measured only outside the paper's protocol"))
    assert lines[lines.index(ib) + 2] == "    fill: harmony-bench weights fetch ib@imagebind-huge --accept-licence"
    assert lines[-1] == f"  then score the run again: harmony-bench evaluate {run_pair[0]}"
    assert "AQ" not in " ".join(fills)  # measured under the paper's protocol


@pytest.mark.parametrize("width", [100, 72, 50])
def test_every_line_fits_the_width(run_pair, width):
    text = summary_table(run_pair[0], width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "AQ ↑" in text


def test_reasons_are_given_and_names_cannot_drive_the_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path / "no-weights"))
    cx_004 = [c for c in CASES if c["id"] == "cx-004"]  # Sync finds no face there
    run = make_run(tmp_path, "odd", "model\x1b[2J", cases=cx_004, clips=False, reason="no face\nfound")
    text = summary_table(run)
    assert "\x1b" not in text and "model?[2J" in text
    assert "  Sync-C, Sync-D: 1 unscorable (no face found)" in text.splitlines()
    assert "  PQ, PC, CE, CU: not run" in text.splitlines()


def test_a_column_this_machine_can_produce_needs_only_a_new_evaluation(run_pair, monkeypatch):
    from harmony_bench import coverage

    monkeypatch.setattr(coverage, "fill_commands", lambda columns: {})  # every official metric ready here
    lines = summary_table(run_pair[0]).splitlines()
    assert "  IQ, MS, ID, PQ, PC, CE, CU, IB-A, DeSync: not run" in lines
    assert not any("fill:" in line for line in lines)
    assert lines[-1] == f"  then score the run again: harmony-bench evaluate {run_pair[0]}"


def test_the_table_points_to_the_report_folder_it_was_written_to(run_pair, tmp_path):
    """`report RUN --out OTHER` prints OTHER's files, not the run's own report/."""
    elsewhere = tmp_path / "elsewhere"
    text = summary_table(run_pair[0], width=400, report_dir=elsewhere)
    assert f"(details: {elsewhere}/status.csv)" in text and f"see {elsewhere}/variants_*" in text
    assert "report/" not in text
    assert "(details: report/status.csv)" in summary_table(run_pair[0], width=400)
