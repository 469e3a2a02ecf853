"""The compact results table printed at the end of `run` and `report`: one line per metric.

The paper's columns come first, where this run has a number under the paper's protocol, then the
numbers that are not comparable with the paper, then the metrics that gave no number and why.
Every line fits the width asked for (100 columns by default).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from harmony_bench.reports.report import SCOPES, build_tables, empty_column_groups, run_cells
from harmony_bench.reports.runs import RunData, load_run
from harmony_bench.reports.tables import Table, column_header, fmt

SCOPE_HEADERS = {"overall": "Overall", "speech": "Speech", "ambient": "Ambient", "complex": "Complex",
                 "zh": "Chinese"}
VALUE_WIDTH = 9  # "   -12.34"
N_WIDTH = 7
MIN_NAME_WIDTH = 12


def summary_table(run_dir: str | Path, width: int = 100, report_dir: str | Path | None = None) -> str:
    """Plain-text summary of a run's numbers, every line at most `width` characters; it points to
    the report's files in `report_dir` (default: the run's own `report/`)."""
    where = str(report_dir) if report_dir is not None else "report"
    run = load_run(Path(run_dir))
    paper, variants = build_tables([run])
    names = [column_header(col) for col in run_cells([*paper, *variants])]
    name_width = min(max(map(len, names), default=0) + 2, width - len(SCOPES) * VALUE_WIDTH - N_WIDTH)
    name_width = max(name_width, MIN_NAME_WIDTH)
    cases = run.results["case_id"].nunique() if len(run.results) else 0
    lines = [f"Results of {run.run_id} ({run.model}): {cases} cases; mean over cases, n = cases scored"]
    comparable = _metric_lines(paper, name_width)
    lines += (["", "Comparable with the paper's tables:", _header(name_width), *comparable] if comparable
              else ["", "No number comparable with the paper's tables."])
    others = _metric_lines(variants, name_width)
    if others:
        lines += ["", f"Not comparable with the paper (offline variants, other weights; see {where}/variants_*):",
                  _header(name_width)] + others
    lines += _no_number_lines(run, paper, width, where)
    return "\n".join(_cut(line, width) for line in lines) + "\n"


def _header(name_width: int) -> str:
    return "metric".ljust(name_width) + "".join(SCOPE_HEADERS[s].rjust(VALUE_WIDTH) for s in SCOPES) + \
        "n".rjust(N_WIDTH)


def _metric_lines(tables: Sequence[Table], name_width: int) -> list[str]:
    lines = []
    for col, cells in run_cells(tables).items():
        values = "".join(fmt(cells[s].value if s in cells else None).rjust(VALUE_WIDTH) for s in SCOPES)
        n = cells["overall"].n if "overall" in cells else None
        lines.append(_cut(column_header(col), name_width).ljust(name_width) + values
                     + ("" if n is None else str(n)).rjust(N_WIDTH))
    return lines


def _no_number_lines(run: RunData, paper: Sequence[Table], width: int, where: str) -> list[str]:
    """Paper columns this run has no number for, grouped by why and by what fills them here."""
    groups, rescore = empty_column_groups(run, paper)
    if not groups:
        return []
    lines = ["", f"Empty paper columns, and what fills each here (details: {where}/status.csv):"]
    for g in groups:
        lines += _wrap(f"{', '.join(g.columns)}: {g.why}", width, "  ")
        if g.fill:
            lines += _wrap(f"fill: {g.fill}", width, "    ")
    if rescore:
        lines += _wrap(f"then score the run again: {rescore}", width, "  ")
    return lines


def _wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False)


def _cut(text: str, width: int) -> str:
    """At most `width` characters, with names and reasons from the store unable to drive the
    terminal (an escape sequence in a model name would otherwise reach it)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= width else text[:width - 1] + "…"
