"""Renderers (markdown, CSV, LaTeX, JSON) and the Table 3 ablation layout."""

from __future__ import annotations

import csv
import io
import json

from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from harmony_bench.reports.paper import PAPER_COLUMNS, Column
from harmony_bench.reports.tables import (Cell, Row, ablation_table, md_escape, overall_from_subsets, paper_table, to_csv, to_json,
                            to_latex, to_markdown)

RUN = Row("my_model & co", {"AQ": Cell(0.6149, (0.58, 0.65), 50), "DD": Cell(0.1, (0.05, 0.2), 50, "unpinned weights"),
                            "WER": Cell(None)}, "run")


def test_markdown_marks_best_and_second_and_shows_cis():
    md = to_markdown(paper_table("overall", [RUN]))
    row = next(line for line in md.splitlines() if line.startswith("| my"))
    assert "**0.61**" in row  # beats Harmony's 0.59
    assert "| - |" in row  # WER missing, shown as in the paper
    assert "<u>0.59</u>" in md  # Harmony's AQ drops to second
    assert "[0.58, 0.65]" in md and "| ↳ cases | 50 |" in md
    assert "<sup>a</sup> unpinned weights" in md
    assert "my\\_model &amp; co (this suite)" in row


def test_latex_is_booktabs_with_escaped_labels_and_marks():
    tex = to_latex(paper_table("overall", [RUN]))
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\cmidrule(lr){2-6}" in tex  # the five video columns
    assert "my\\_model \\& co (this suite) & \\textbf{0.61}" in tex
    assert "\\underline{0.59}" in tex and "$\\downarrow$" in tex
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") == 1


def test_csv_and_json_keep_full_precision_and_missing_cells():
    table = paper_table("overall", [RUN])
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    mine = rows[-1]
    assert float(mine["AQ"]) == 0.6149 and float(mine["AQ_ci_low"]) == 0.58 and mine["AQ_n"] == "50"
    assert mine["WER"] == "" and rows[0]["ID"] == ""  # MM-Diffusion's ID is "-" in the paper
    assert rows[1]["WER"] == "1.00"  # published values keep their printed digits
    doc = json.loads(json.dumps(to_json(table)))
    cell = doc["rows"][-1]["cells"]["AQ"]
    assert cell == {"value": 0.6149, "display": "0.61", "rank": 1, "ci95": [0.58, 0.65], "n": 50}
    assert doc["rows"][0]["cells"]["ID"]["value"] is None


def test_ablation_layout_takes_rows_with_flags_and_never_ranks_them_against_the_paper():
    rows = [{"variant": "global xattn", "GLDI": 0, "Sync-C": 1.5, "Sync-D": 9.0, "IB": 0.2},
            {"variant": "full", "GLDI": 1, "RoPE": 1, "CTS": 1, "SyncCFG": 1, "Sync-C": 2.5,
             "Sync-C_ci_low": 2.1, "Sync-C_ci_high": 2.9, "Sync-C_n": 30, "Sync-D": 8.0, "IB": 0.3}]
    table = ablation_table(rows)
    assert [r.label for r in table.rows][-2:] == ["global xattn", "full"]
    assert len(table.rows) == 7 and not table.ranked
    md = to_markdown(table)
    assert "| full (this suite) | ✓ | ✓ | ✓ | ✓ | 2.50 | 8.00 | 0.30 |" in md
    assert "| + GLDI | ✓ |  |  |  | 4.29 | 10.67 | 0.14 |" in md
    assert "**" not in md
    alone = ablation_table(rows, include_paper=False)
    assert alone.ranked and "**2.50**" in to_markdown(alone)
    assert "\\checkmark" in to_latex(alone)


def test_ablation_layout_with_the_suites_own_measures():
    measures = [Column("timing error (s)", "lower", "Synchronization"),
                Column("LipSync-C", "higher", "Synchronization")]
    rows = [{"variant": "baseline", "timing error (s)": 0.23, "LipSync-C": 0.1},
            {"variant": "+GLDI", "GLDI": True, "timing error (s)": 0.006, "timing error (s)_ci_low": 0.004,
             "timing error (s)_ci_high": 0.009, "timing error (s)_n": 256, "LipSync-C": 0.4}]
    table = ablation_table(rows, measures)
    assert [r.label for r in table.rows] == ["baseline", "+GLDI"]  # the paper's rows measure other things
    assert [c.name for c in table.columns][4:] == ["timing error (s)", "LipSync-C"]
    md = to_markdown(table)
    assert "| +GLDI (this suite) | ✓ |  |  |  | **0.01** | **0.40** |" in md
    assert "[0.00, 0.01]" in md and "| ↳ cases |  |  |  |  | 256 |  |" in md


def test_markdown_escape_makes_html_and_markup_inert():
    assert md_escape('<img src=x onerror="alert(1)">') == '&lt;img src=x onerror="alert(1)"&gt;'
    assert md_escape("a & b") == "a &amp; b" and md_escape("&lt;") == "&amp;lt;"  # shown as written
    assert md_escape("*x* _y_ [l](u) `c` a|b ~~s~~ \\") == "\\*x\\* \\_y\\_ \\[l\\](u) \\`c\\` a\\|b \\~\\~s\\~\\~ \\\\"
    assert md_escape("two\nlines\r\n| row") == "two lines \\| row" and md_escape(None) == ""


# ---------------------------------------------------------------------------- Table 2 aggregation, properties

METHODS = ("m1", "m2", "m3")
SUBSETS = ("speech", "ambient", "complex")
CELL = st.one_of(st.none(), st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False))


@st.composite
def subset_frames(draw):
    """Tables 4-6 as published: per subset, methods x paper columns, cells Decimal or None ("-")."""
    names = [c.name for c in PAPER_COLUMNS]
    return {s: pd.DataFrame([[draw(CELL) for _ in names] for _ in METHODS], index=list(METHODS), columns=names,
                            dtype=object) for s in SUBSETS}


@settings(max_examples=25, deadline=None)
@given(subset_frames())
def test_overall_is_the_unweighted_mean_of_the_defined_subset_means(frames):
    overall = overall_from_subsets(frames)
    for method in METHODS:
        for col in PAPER_COLUMNS:
            present = [frames[s].loc[method, col.name] for s in SUBSETS
                       if s in col.subsets and frames[s].loc[method, col.name] is not None]
            expected = sum(present, Decimal(0)) / len(present) if present else None
            assert overall.loc[method, col.name] == expected, (method, col.name)


@settings(max_examples=25, deadline=None)
@given(subset_frames(), st.randoms(use_true_random=False))
def test_overall_ignores_the_order_of_methods_and_subsets(frames, rnd):
    subsets = list(SUBSETS)
    rnd.shuffle(subsets)
    methods = list(METHODS)
    rnd.shuffle(methods)
    shuffled = {s: frames[s].loc[methods] for s in subsets}
    assert overall_from_subsets(shuffled).loc[list(METHODS)].equals(overall_from_subsets(frames))


@settings(max_examples=25, deadline=None)
@given(subset_frames(), st.sampled_from(SUBSETS))
def test_a_subset_without_a_value_leaves_the_mean_of_the_others(frames, gone):
    """A cell missing in one subset (or a subset table without the method) is skipped, never a zero."""
    without = {**frames, gone: frames[gone].assign(**{c.name: None for c in PAPER_COLUMNS})}
    dropped = {s: f for s, f in frames.items() if s != gone}
    assert overall_from_subsets(without).equals(overall_from_subsets(dropped).reindex(list(METHODS)))
