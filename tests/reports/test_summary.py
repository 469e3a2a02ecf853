"""The compact text table printed after `run` and `report`."""

from __future__ import annotations

import pytest

from harmony_bench.store import load_results
from harmony_bench.reports import summary_table
from harmony_bench.reports.tables import fmt
from tests.reports.conftest import CASES, make_run


@pytest.fixture(scope="module")
def table(run_pair) -> str:
    mp = pytest.MonkeyPatch()
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    try:
        return summary_table(run_pair[0])
    finally:
        mp.undo()


def _line(text: str, start: str) -> list[str]:
    return next(line for line in text.splitlines() if line.startswith(start)).split()


def test_paper_columns_first_then_the_rest_with_n(table, run_pair):
    lines = table.splitlines()
    assert lines[0] == f"Results of run-a (model-a): {len(CASES)} cases; mean over cases, n = cases scored"
    comparable = lines.index("Comparable with the paper's tables:")
    other = next(i for i, line in enumerate(lines) if line.startswith("Not comparable with the paper"))
    assert lines[comparable + 1].split() == ["metric", "Overall", "Speech", "Ambient", "Complex", "Chinese", "n"]
    names = [line.split(" ")[0] for line in lines[comparable + 2:other - 1]]
    assert names == ["AQ", "DD", "WER", "Sync-C", "Sync-D"]  # the paper's column order
    assert _line(table, "Sync-C ↑") == ["Sync-C", "↑", "4.04", "4.01", "-", "4.08", "3.93", "8"]
    assert _line(table, "IB [ib@imagebind]")[-1] == str(len(CASES))
    raw = load_results(run_pair[0])
    aq = raw[(raw["output"] == "AQ") & (raw["status"] == "ok")].groupby("subset")["value"].mean()
    expected = [fmt(aq.mean()), fmt(aq["speech"]), fmt(aq["ambient"]), fmt(aq["complex"]), "-"]
    assert _line(table, "AQ ↑")[2:7] == expected
    assert "  IQ, MS, ID, PQ, PC, CE, CU, IB-A, DeSync: not run" in lines


@pytest.mark.parametrize("width", [100, 72, 50])
def test_every_line_fits_the_width(run_pair, width):
    text = summary_table(run_pair[0], width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "AQ ↑" in text


def test_reasons_are_given_and_names_cannot_drive_the_terminal(tmp_path):
    cx_004 = [c for c in CASES if c["id"] == "cx-004"]  # Sync finds no face there
    run = make_run(tmp_path, "odd", "model\x1b[2J", cases=cx_004, clips=False, reason="no face\nfound")
    text = summary_table(run)
    assert "\x1b" not in text and "model?[2J" in text
    assert "  Sync-C, Sync-D: 1 unscorable (no face found)" in text.splitlines()
    assert "  IQ, MS, ID, PQ, PC, CE, CU, IB-A, DeSync: not run" in text.splitlines()


def test_the_table_points_to_the_report_folder_it_was_written_to(run_pair, tmp_path):
    """`report RUN --out OTHER` prints OTHER's files, not the run's own report/."""
    elsewhere = tmp_path / "elsewhere"
    text = summary_table(run_pair[0], width=400, report_dir=elsewhere)
    assert f"(details: {elsewhere}/status.csv)" in text and f"see {elsewhere}/variants_*" in text
    assert "report/" not in text
    assert "(details: report/status.csv)" in summary_table(run_pair[0], width=400)
