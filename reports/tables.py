"""Paper-format tables: a small table model, the overall (Table 2) computation, and renderers.

A `Table` holds the published rows of one paper table plus the user's rows; rendering ranks
each numeric column on the displayed (two-decimal) values like the paper: best bold, second
underlined, ties share the mark. Run rows carry a 95% CI and the number of cases per cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np
import pandas as pd

from harmony_bench.reports.paper import (ABLATION_COLUMNS, ABLATION_FLAGS, PAPER_COLUMNS, PAPER_TABLES, SUBSET_ORDER, Column,
                           load_baseline)
from harmony_bench.reports.stats import is_missing, mean_of_subset_means, round_half_up

PLACES = 2


@dataclass(frozen=True)
class Cell:
    value: Decimal | float | bool | None
    ci: tuple[float, float] | None = None  # 95% bootstrap CI (run rows)
    n: int | None = None  # cases behind the value (run rows)
    note: str = ""  # shown as a footnote, e.g. "unpinned weights" or "over speech only"

    @property
    def missing(self) -> bool:
        return is_missing(self.value)


@dataclass
class Row:
    label: str
    cells: dict[str, Cell]
    source: str = "paper"  # "paper": published numbers; "run": measured by this suite
    flags: tuple[str, ...] = ()  # leaderboard warnings, e.g. "case set differs"


@dataclass
class Table:
    key: str  # file stem, e.g. "table2_overall"
    title: str
    columns: tuple[Column, ...]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ranked: bool = True  # False for sections that must not rank against the paper
    short: str = ""  # axis label in charts

    def cell(self, row: Row, col: Column) -> Cell:
        return row.cells.get(col.name, Cell(None))


# -- building ------------------------------------------------------------------------------

def paper_rows(key: str) -> list[Row]:
    frame = load_baseline(key)
    return [Row(str(method), {c: Cell(v) for c, v in values.items()}) for method, values in frame.iterrows()]


def paper_table(key: str, extra_rows: Iterable[Row] = ()) -> Table:
    """One of the paper's tables with its published rows, plus the user's rows."""
    spec = PAPER_TABLES[key]
    stem = f"table{spec.number}_{key}"
    return Table(stem, f"Table {spec.number}. {spec.title}", spec.columns, paper_rows(key) + list(extra_rows),
                 short=spec.short)


def overall_from_subsets(subset_frames: Mapping[str, pd.DataFrame],
                         columns: Sequence[Column] = PAPER_COLUMNS) -> pd.DataFrame:
    """Table 2 from Tables 4-6: per method and column, the exact mean of the per-subset means
    over the subsets where the column is defined (cells Decimal, None where nothing is defined)."""
    methods = list(dict.fromkeys(m for f in subset_frames.values() for m in f.index))
    out = pd.DataFrame(index=methods, columns=[c.name for c in columns], dtype=object)
    for method in methods:
        for col in columns:
            per_subset = {s: _get(f, method, col.name) for s, f in subset_frames.items()}
            out.loc[method, col.name] = mean_of_subset_means(per_subset, col.subsets)[0]
    return out


def _get(frame: pd.DataFrame, method: str, column: str):
    if method not in frame.index or column not in frame.columns:
        return None
    return frame.loc[method, column]


def ablation_table(rows: pd.DataFrame | Sequence[Mapping], measures: Sequence[Column] | None = None,
                   title: str = "", include_paper: bool | None = None, source: str = "run") -> Table:
    """Table 3's layout for ablation results: one row per variant with the component flags
    (GLDI, RoPE, CTS, SyncCFG; truthy = on) and its measures, by default the paper's Sync-C /
    Sync-D / IB; each measure may come with `<name>_ci_low` / `<name>_ci_high` / `<name>_n`.
    The label comes from `method`, `variant` or `label`. The paper's rows are included by default
    only when the measures are the paper's, and measured rows are then never ranked against them.
    """
    paper_measures = ABLATION_COLUMNS[len(ABLATION_FLAGS):]
    columns = ABLATION_FLAGS + (tuple(measures) if measures else paper_measures)
    if include_paper is None:
        include_paper = measures is None
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else [dict(r) for r in rows]
    measured = [_ablation_row(r, columns, source) for r in records]
    published = [_as_flag_row(r) for r in paper_rows("ablation")] if include_paper else []
    table = paper_table("ablation")
    return replace(table, title=title or table.title, columns=columns, rows=published + measured,
                   ranked=not (include_paper and measured))


def _as_flag_row(row: Row) -> Row:
    flags = {c.name for c in ABLATION_FLAGS}
    return replace(row, cells={k: Cell(bool(c.value)) if k in flags else c for k, c in row.cells.items()})


def _ablation_row(record: Mapping, columns: Sequence[Column], source: str) -> Row:
    label = str(next(record[k] for k in ("method", "variant", "label") if k in record))
    cells = {}
    for col in columns:
        if col.direction is None:
            cells[col.name] = Cell(bool(record.get(col.name, False)))
            continue
        lo, hi = record.get(f"{col.name}_ci_low"), record.get(f"{col.name}_ci_high")
        ci = (float(lo), float(hi)) if not (is_missing(lo) or is_missing(hi)) else None
        n = record.get(f"{col.name}_n")
        cells[col.name] = Cell(record.get(col.name), ci, None if is_missing(n) else int(n))
    return Row(label, cells, source)


# -- ranking and formatting ----------------------------------------------------------------

def fmt(value) -> str:
    if is_missing(value):
        return "-"
    if isinstance(value, bool):
        return "✓" if value else ""
    return str(round_half_up(value, PLACES))


def fmt_ci(ci: tuple[float, float] | None) -> str:
    if ci is None or is_missing(ci[0]) or is_missing(ci[1]):
        return ""
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def ranks(table: Table) -> dict[tuple[int, str], int]:
    """(row index, column) -> 1 (best) or 2 (second best), on the displayed values."""
    if not table.ranked:
        return {}
    marks = {}
    for col in table.columns:
        if col.direction is None:
            continue
        shown = {i: round_half_up(r.cells[col.name].value, PLACES) for i, r in enumerate(table.rows)
                 if col.name in r.cells and not r.cells[col.name].missing}
        if len(shown) < 2:  # a lone value (one run in this suite's own column) is best of nothing
            continue
        order = sorted(set(shown.values()), reverse=col.direction == "higher")
        for i, v in shown.items():
            if order.index(v) < 2:
                marks[(i, col.name)] = order.index(v) + 1
    return marks


def footnotes(table: Table) -> dict[str, str]:
    """Distinct cell notes -> a letter marker, in order of appearance."""
    notes = dict.fromkeys(c.note for r in table.rows for c in r.cells.values() if c.note)
    return {note: chr(ord("a") + i) for i, note in enumerate(notes)}


def column_label(col: Column) -> str:
    """The header without its arrow; this suite's own columns (a scale the paper printed nothing
    in) say so, so that no reader takes them for the paper's."""
    return col.name if col.published else f"{col.name} (this suite)"


def column_header(col: Column) -> str:
    return f"{column_label(col)} {col.arrow}".strip()


# -- renderers -----------------------------------------------------------------------------

def to_markdown(table: Table) -> str:
    marks, notes = ranks(table), footnotes(table)
    lines = [f"### {md_escape(table.title)}", "",
             "| Method | " + " | ".join(md_escape(column_header(c)) for c in table.columns) + " |",
             "|---|" + "---|" * len(table.columns)]
    for i, row in enumerate(table.rows):
        cells = [_md_cell(table.cell(row, c), marks.get((i, c.name)), notes) for c in table.columns]
        lines.append(f"| {_md_label(row)} | " + " | ".join(cells) + " |")
        if row.source == "run" and any(table.cell(row, c).ci for c in table.columns):
            lines.append("| ↳ 95% CI | " + " | ".join(fmt_ci(table.cell(row, c).ci) for c in table.columns) + " |")
            lines.append("| ↳ cases | " + " | ".join(_n(table.cell(row, c)) for c in table.columns) + " |")
    lines += [""] + [f"<sup>{m}</sup> {md_escape(note)}  " for note, m in notes.items()]
    lines += [f"- {md_escape(n)}" for n in table.notes]
    return "\n".join(lines).rstrip() + "\n"


def _md_label(row: Row) -> str:
    label = md_escape(row.label)
    if row.source == "run":
        label = f"{label} (this suite)"
    return label + "".join(f" ⚠ {md_escape(f)}" for f in row.flags)


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_MARKUP = "\\`*_[]|~"


def md_escape(text) -> str:
    """Text this suite did not write (model names, run ids, reasons, notes), made inert in Markdown.

    Every Markdown output goes through here. `<`, `>` and `&` become entities: raw HTML passes
    through Markdown, and not every renderer honours a backslash before `<`. Emphasis, link,
    code and table characters are backslash-escaped, and line breaks, which would end a table
    row, become spaces.
    """
    flat = " ".join(str("" if text is None else text).split())
    return "".join(_MD_ENTITIES.get(ch) or ("\\" + ch if ch in _MD_MARKUP else ch) for ch in flat)


def _md_cell(cell: Cell, rank: int | None, notes: dict[str, str]) -> str:
    text = fmt(cell.value)
    text = {1: f"**{text}**", 2: f"<u>{text}</u>"}.get(rank, text)
    return text + (f"<sup>{notes[cell.note]}</sup>" if cell.note else "")


def _n(cell: Cell) -> str:
    return "" if cell.n is None else str(cell.n)


def to_records(table: Table) -> list[dict]:
    """Flat rows for CSV: value, CI bounds, n and note per column."""
    records = []
    for row in table.rows:
        rec = {"method": row.label, "source": row.source, "flags": "; ".join(row.flags)}
        for col in table.columns:
            cell = table.cell(row, col)
            rec[col.name] = "" if cell.missing else (cell.value if isinstance(cell.value, bool) else _plain(cell.value))
            if col.direction is not None:
                rec[f"{col.name}_ci_low"], rec[f"{col.name}_ci_high"] = cell.ci or ("", "")
                rec[f"{col.name}_n"] = "" if cell.n is None else cell.n
                rec[f"{col.name}_note"] = cell.note
        records.append(rec)
    return records


def to_frame(table: Table, detail: bool = False) -> pd.DataFrame:
    """The table as a DataFrame: index `method`, a `source` column ("paper": published, "run":
    measured by this suite), then one column per metric as float (NaN where the table shows "-").
    With `detail`, each metric is followed by `<name>_ci_low`, `<name>_ci_high` and `<name>_n`.
    `attrs` holds the table's title and notes."""
    records = []
    for row in table.rows:
        rec = {"method": row.label, "source": row.source}
        for col in table.columns:
            cell = table.cell(row, col)
            value = cell.value if isinstance(cell.value, bool) else float(cell.value) if not cell.missing else np.nan
            rec[col.name] = value
            if detail and col.direction is not None:
                rec[f"{col.name}_ci_low"], rec[f"{col.name}_ci_high"] = cell.ci or (np.nan, np.nan)
                rec[f"{col.name}_n"] = cell.n
        records.append(rec)
    frame = pd.DataFrame(records).set_index("method")
    if detail:
        frame = frame.astype({c: "Int64" for c in frame.columns if c.endswith("_n")})
    frame.attrs.update(title=table.title, notes=list(table.notes))
    return frame


def _plain(value) -> str:
    # full precision for machine use; the published Decimals keep their printed digits
    return str(value) if isinstance(value, Decimal) else repr(float(value))


def to_csv(table: Table) -> str:
    records = to_records(table)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]) if records else ["method"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def to_json(table: Table) -> dict:
    marks = ranks(table)
    return {
        "key": table.key, "title": table.title, "notes": table.notes, "ranked": table.ranked,
        "columns": [{"name": c.name, "direction": c.direction, "group": c.group} for c in table.columns],
        "rows": [{"method": r.label, "source": r.source, "flags": list(r.flags),
                  "cells": {c.name: _json_cell(table.cell(r, c), marks.get((i, c.name))) for c in table.columns}}
                 for i, r in enumerate(table.rows)],
    }


def _json_cell(cell: Cell, rank: int | None) -> dict:
    value = None if cell.missing else (cell.value if isinstance(cell.value, bool) else float(cell.value))
    out = {"value": value, "display": fmt(cell.value), "rank": rank}
    if cell.ci is not None:
        out["ci95"] = [None if is_missing(x) else float(x) for x in cell.ci]
    if cell.n is not None:
        out["n"] = cell.n
    if cell.note:
        out["note"] = cell.note
    return out


def dumps_json(table: Table) -> str:
    return json.dumps(to_json(table), indent=2, ensure_ascii=False) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs tabular with the paper's column groups, arrows, bold / underline marks."""
    marks, notes = ranks(table), footnotes(table)
    cols = table.columns
    lines = [r"% requires \usepackage{booktabs}", r"\begin{table*}[t]", r"\centering", r"\small",
             rf"\caption{{{latex_escape(table.title)}}}", r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule"]
    groups = _groups(cols)
    if any(g for g, _ in groups):
        lines.append(" & ".join([""] + [rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(g)}}}" for g, n in groups]) + r" \\")
        lines.append(" ".join(_cmidrules(groups)))
    arrows = {"higher": r"$\uparrow$", "lower": r"$\downarrow$"}
    lines.append(" & ".join(["Method"] + [f"{latex_escape(column_label(c))} {arrows.get(c.direction or '', '')}".strip()
                                          for c in cols]) + r" \\")
    lines.append(r"\midrule")
    for i, row in enumerate(table.rows):
        label = latex_escape(row.label) + (r" (this suite)" if row.source == "run" else "")
        cells = [_latex_cell(table.cell(row, c), marks.get((i, c.name)), notes) for c in cols]
        lines.append(" & ".join([label] + cells) + r" \\")
        if row.source == "run" and any(table.cell(row, c).ci for c in cols):
            cis = [rf"\scriptsize {fmt_ci(table.cell(row, c).ci)}" if table.cell(row, c).ci else "" for c in cols]
            lines.append(" & ".join([r"\scriptsize 95\% CI"] + cis) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for note, m in notes.items():
        lines.append(rf"\par\footnotesize \textsuperscript{{{m}}} {latex_escape(note)}")
    lines.append(r"\end{table*}")
    return "\n".join(lines) + "\n"


def _groups(cols: Sequence[Column]) -> list[tuple[str, int]]:
    groups: list[tuple[str, int]] = []
    for c in cols:
        if groups and groups[-1][0] == c.group:
            groups[-1] = (c.group, groups[-1][1] + 1)
        else:
            groups.append((c.group, 1))
    return groups


def _cmidrules(groups: list[tuple[str, int]]) -> list[str]:
    rules, start = [], 2  # column 1 is the method
    for g, n in groups:
        if g:
            rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
        start += n
    return rules


def _latex_cell(cell: Cell, rank: int | None, notes: dict[str, str]) -> str:
    if isinstance(cell.value, bool):
        return r"\checkmark" if cell.value else ""
    text = fmt(cell.value)
    text = {1: rf"\textbf{{{text}}}", 2: rf"\underline{{{text}}}"}.get(rank, text)
    return text + (rf"\textsuperscript{{{notes[cell.note]}}}" if cell.note else "")


RENDERERS = {"md": to_markdown, "csv": to_csv, "tex": to_latex, "json": dumps_json}


def subset_tables_from_baselines() -> dict[str, pd.DataFrame]:
    return {s: load_baseline(s) for s in SUBSET_ORDER}
