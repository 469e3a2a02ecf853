"""The files a user reads: a run's report, a leaderboard of several runs, a paired comparison."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harmony_bench.reports import html
from harmony_bench.reports.paper import PAPER_TABLES, Column, load_baseline
from harmony_bench.reports.runs import (CER_LANGUAGES, CHINESE, RunData, chinese_variant_columns, compare_frames, leaderboard_flags, load_run, measured_row,
                          no_number_reason, scored, status_summary, variant_columns, wer_aggregation)
from harmony_bench.reports.stats import LEVEL, N_BOOT, SEED
from harmony_bench.reports.tables import RENDERERS, Cell, Table, md_escape, paper_table, to_frame, to_json, to_markdown

SCOPES = ("overall", "speech", "ambient", "complex", "zh")

COMMON_NOTES = [
    "Published rows: Hu et al., Harmony (Tables 2-7), measured on the paper's own case files, which are not "
    "public; rows marked 'this suite' were measured on this suite's cases. Compare with that in mind.",
    f"This suite's cells: mean over cases with a {LEVEL:.0%} percentile bootstrap CI over cases "
    f"({N_BOOT} resamples, seed {SEED}) and n = cases scored.",
]
SCOPE_NOTES = {
    "overall": ["Overall = unweighted mean of the per-subset means, over the subsets where the metric is "
                "defined (the paper's Table 2 rule); the CI resamples cases within each subset."],
    "zh": ["WER is on the paper's Table 7 scale (0.92-9.10 there, not a character error rate); a run's cell "
           "carries the assumption under which it is read so. CER (this suite): the character error rate of the "
           "Chinese speech cases, a fraction; the paper printed none, so its rows are '-'. Best and second "
           "are marked within each column only."],
}
WER_NOTE = (f"WER excludes {', '.join(sorted(CER_LANGUAGES))} cases (their scores are in the Chinese speech "
            "table, Table 7).")


def run_labels(runs: Sequence[RunData]) -> dict[str, str]:
    """run_id -> row label: the model name, with the run id only where the model alone would not
    tell the row from another run's or from a published row (a run of Ovi beside the paper's Ovi)."""
    taken = {str(method) for scope in SCOPES for method in load_baseline(scope).index}
    models = [r.model for r in runs]
    labels = {}
    for r in runs:
        label = r.model
        if (models.count(r.model) > 1 or label in taken) and r.run_id != r.model:
            label = f"{r.model} ({r.run_id})"
        while label in taken:  # still ambiguous: the run id is the model's name too
            label += "'"
        taken.add(label)
        labels[r.run_id] = label
    return labels


def build_tables(runs: Sequence[RunData], flags: dict[str, tuple[str, ...]] | None = None
                 ) -> tuple[list[Table], list[Table]]:
    """(paper-format tables with the runs' rows, variant tables that are never ranked)."""
    flags = flags or {}
    labels = run_labels(runs)
    official = {r.run_id: scored(r.results, comparable=True) for r in runs}
    paper = []
    for scope in SCOPES:
        spec = PAPER_TABLES[scope]
        rows = [measured_row(labels[r.run_id], official[r.run_id], spec.columns, scope, flags.get(r.run_id, ()))
                for r in runs]
        table = paper_table(scope, rows)
        table.notes += COMMON_NOTES + SCOPE_NOTES.get(scope, []) + ([WER_NOTE] if scope != "zh" else [])
        table.notes += [f"{row.label}: no number under the paper's protocol here (metrics unavailable, offline "
                        "variants only, or no case of this scope); see the coverage table."
                        for row in rows if all(c.missing for c in row.cells.values())]
        paper.append(table)
    return paper, variant_tables(runs, labels)


def variant_tables(runs: Sequence[RunData], labels: dict[str, str]) -> list[Table]:
    variants = {r.run_id: scored(r.results, comparable=False) for r in runs}
    frames = [v for v in variants.values() if len(v)]
    if not frames:
        return []
    columns = variant_columns(pd.concat(frames))
    tables = []
    for scope in SCOPES:
        scoped = chinese_variant_columns(columns) if scope == CHINESE else columns
        rows = [measured_row(labels[r.run_id], variants[r.run_id], scoped, scope) for r in runs]
        if all(c.missing for row in rows for c in row.cells.values()):
            continue
        tables.append(Table(f"variants_{scope}", f"Not comparable with the paper: {PAPER_TABLES[scope].title}",
                            scoped, rows, ranked=False, short=PAPER_TABLES[scope].short, notes=[
                                "Offline variants, other checkpoints or other protocol versions: each cell's "
                                "note says which and why. Never ranked against the paper's rows."]))
    return tables


def write_tables(tables: Sequence[Table], out_dir: Path) -> list[Path]:
    # a variant table of an earlier report may have no rows now: don't leave it behind
    for ext in RENDERERS:
        for stale in out_dir.glob(f"variants_*.{ext}"):
            stale.unlink()
    paths = []
    for table in tables:
        for ext, render in RENDERERS.items():
            path = out_dir / f"{table.key}.{ext}"
            path.write_text(render(table), encoding="utf-8")
            paths.append(path)
    return paths


STATUS_COLUMNS = ["metric_key", "output", "ok", "unscorable", "unavailable", "error", "first_reason", "protocol_note"]
STATUS_INTRO = "Every metric that did not give a number says why; missing numbers are never filled in."
PAIRED_INTRO = ("Each run against the first on the cases both scored (overall rows; paired.csv has every "
                "subset): mean difference b - a, paired-bootstrap 95% CI, sign-flip permutation p-value.")
WER_INTRO = ("WER per clip averaged (the tables' rule) beside the corpus-level rate (all errors over all "
             "reference units), from the stored edit counts; they differ when clips differ in length.")


def _status_view(status: pd.DataFrame) -> pd.DataFrame:
    return status[(["run_id"] if "run_id" in status else []) + STATUS_COLUMNS]


def _cell_text(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _frame_md(title: str, frame: pd.DataFrame, intro: str = "") -> str:
    cols = list(frame.columns)
    lines = [f"### {md_escape(title)}", "", *([md_escape(intro), ""] if intro else []),
             "| " + " | ".join(map(md_escape, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(md_escape(_cell_text(v)) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _frame_html(title: str, intro: str, frame: pd.DataFrame, section_id: str) -> str:
    head = "".join(f"<th>{html.esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.esc(_cell_text(v))}</td>" for v in r) + "</tr>"
                   for r in frame.itertuples(index=False))
    return (f'<section id="{section_id}"><h2>{html.esc(title)}</h2><p class="hint">{html.esc(intro)}</p>'
            f'<div class="scroll"><table class="paper"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            f"</table></div></section>")


def _info_html(runs: Sequence[RunData]) -> str:
    items = "".join(f"<li><b>{html.esc(r.run_id)}</b>: model {html.esc(r.model)}, seed "
                    f"{html.esc(r.info.get('seed'))}, case set sha256 {html.esc(r.case_set[:16])}, "
                    f"{r.results['case_id'].nunique()} cases</li>" for r in runs)
    return f'<section id="runs"><h2>Runs</h2><ul>{items}</ul></section>'


def _tables_html(title: str, tables: Sequence[Table], section_id: str, intro: str = "") -> str:
    if not tables:
        return ""
    return (f'<section id="{section_id}"><h2>{html.esc(title)}</h2>'
            + (f'<p class="hint">{html.esc(intro)}</p>' if intro else "")
            + "".join(html.table_html(t) for t in tables) + "</section>")


# -- gallery -------------------------------------------------------------------------------

def gallery_items(run: RunData, page_dir: Path) -> list[html.GalleryItem]:
    clips = _clip_paths(run)
    items = []
    for case_id, g in run.results.groupby("case_id", sort=True):
        case = run.cases.get(case_id)
        video, audio = clips.get(case_id, (None, None))
        items.append(html.GalleryItem(
            case_id=case_id, subset=str(g["subset"].iloc[0]), tags=case.tags if case else {},
            video_href=Path(os.path.relpath(video, page_dir)).as_posix() if video else None,
            texts=_case_texts(case),
            values=[_value_line(r) for r in g.sort_values(["paper", "output"], ascending=[False, True]).itertuples()],
            image_png=html.thumbnail_png(case.reference_image_path) if case else None,
            poster_jpeg=html.poster_jpeg(video) if video else None,
            waveform=html.waveform_envelope(audio) if audio else None))
    return items


def _clip_paths(run: RunData) -> dict[str, tuple[Path | None, Path | None]]:
    from harmony_bench.runfolder import RunFolder
    from harmony_bench.store import Store

    with Store(run.run_dir, readonly=True) as store:
        rows = store.clips()
    folder, out = RunFolder(run.run_dir), {}
    for r in rows:
        video, audio = folder.absolute(r.video_path), folder.absolute(r.audio_path)
        video = video if video is not None and video.is_file() else None
        audio = audio if audio is not None and audio.is_file() else None
        if audio is None and video is not None and video.with_suffix(".wav").is_file():
            audio = video.with_suffix(".wav")
        out[r.case_id] = (video, audio)
    return out


def _case_texts(case) -> dict[str, str]:
    if case is None:
        return {"note": "case not found in the run's case set"}
    return {"video caption": case.video_caption, "audio caption": case.audio_caption or "",
            "transcript": case.transcript or "", "language": case.language or ""}


def _value_line(r) -> tuple[str, str, str]:
    name = f"{r.output} [{r.metric_key}]" + ("" if r.paper else " (aux)")
    shown = f"{r.value:.3f}" if r.status == "ok" else f"{r.status}: {r.error or ''}"
    return name, shown, r.status


# -- public API ----------------------------------------------------------------------------

@dataclass
class Extra:
    """A plain per-metric table written as <name>.csv and shown in the md and HTML pages."""

    name: str
    title: str
    intro: str
    frame: pd.DataFrame


@dataclass
class Bundle:
    title: str
    runs: Sequence[RunData]
    paper: list[Table]
    variants: list[Table]
    extras: list[Extra]
    flags: dict = field(default_factory=dict)


def _extras(runs: Sequence[RunData]) -> list[Extra]:
    many = len(runs) > 1

    def stack(fn) -> pd.DataFrame:
        frames = [fn(r.results).assign(run_id=r.run_id) if many else fn(r.results) for r in runs]
        frame = pd.concat(frames, ignore_index=True)
        return frame[["run_id", *frame.columns.drop("run_id")]] if many else frame

    extras = [Extra("status", "Coverage: cases per metric and status", STATUS_INTRO, stack(status_summary))]
    wer = stack(wer_aggregation)
    if len(wer):
        extras.append(Extra("wer_aggregation", "WER: per-clip mean and corpus-level rate", WER_INTRO, wer))
    return extras


def _write_bundle(bundle: Bundle, out_dir: Path, stem: str, tail_html: str = "") -> list[Path]:
    paths = write_tables(bundle.paper + bundle.variants, out_dir)
    paths += [_write(out_dir / f"{e.name}.csv", e.frame.to_csv(index=False)) for e in bundle.extras]
    paths.append(_write(out_dir / f"{stem}.md", _combined_md(bundle)))
    paths.append(_write(out_dir / f"{stem}.json", _combined_json(bundle)))
    flag_hint = ("⚠ marks a run whose case set or a column's protocol differs from the other runs."
                 if any(bundle.flags.values()) else "")
    page = html.page(bundle.title, [
        _info_html(bundle.runs),
        _tables_html("Paper-format tables", bundle.paper, "tables", flag_hint),
        html.charts_section(bundle.paper[0], bundle.paper[1:], [r.label for r in bundle.paper[0].rows],
                            *_chart_reasons(bundle)),
        html.variant_charts_section(bundle.variants, list(run_labels(bundle.runs).values())),
        _tables_html("Not comparable with the paper", bundle.variants, "variants",
                     "Offline variants and other checkpoints, shown apart and never ranked with the paper."),
        *(_frame_html(e.title, e.intro, _shown(e), e.name) for e in bundle.extras),
        tail_html,
    ])
    paths.append(_write(out_dir / f"{stem}.html", page))
    return paths


def _chart_reasons(bundle: Bundle) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(column -> run label -> why no bar, run label -> why an empty radar) for the charts."""
    labels = run_labels(bundle.runs)
    why = {col.name: {labels[r.run_id]: no_number_reason(r.results, col.name) for r in bundle.runs}
           for col in bundle.paper[0].columns}
    see = "the charts of numbers not comparable with the paper and " if bundle.variants else ""
    radar = {labels[r.run_id]: f"no number under the paper's protocol: see {see}the coverage table"
             for r in bundle.runs}
    return why, radar


def _shown(extra: Extra) -> pd.DataFrame:
    if extra.name == "status":
        return _status_view(extra.frame)
    if extra.name == "paired":
        return extra.frame[extra.frame["scope"] == "overall"].drop(columns=["scope", "note"])
    return extra.frame


def run_cells(tables: Sequence[Table]) -> dict[Column, dict[str, Cell]]:
    """Column -> scope -> the run's cell, over tables that each cover one scope. Columns of one
    name share a line (Table 7's WER reads another output on the paper's Chinese scale)."""
    first: dict[str, Column] = {}
    out: dict[Column, dict[str, Cell]] = {}
    for table in tables:
        row = next(r for r in table.rows if r.source == "run")
        scope = next(s for s in SCOPES if table.key.endswith(f"_{s}"))
        for col in table.columns:
            out.setdefault(first.setdefault(col.name, col), {})[scope] = table.cell(row, col)
    return {col: cells for col, cells in out.items() if not all(c.missing for c in cells.values())}


@dataclass(frozen=True)
class EmptyGroup:
    """Paper columns a run has no number for under the paper's protocol, sharing why and fill."""

    columns: list[str]
    why: str  # from the run's stored results
    fill: str  # the command that lets this machine produce them; "" when nothing is missing here


def empty_column_groups(run: RunData, paper: Sequence[Table]) -> tuple[list[EmptyGroup], str]:
    """(groups in the paper's column order, the command that scores the run again, or "" when
    no group would gain from it)."""
    from harmony_bench.coverage import fill_commands

    measured = {col.name for col in run_cells(paper)}  # a variant's number leaves the paper's column empty
    missing = [col.name for col in paper[0].columns if col.name not in measured]
    fills = fill_commands(set(missing)) if missing else {}
    groups: dict[tuple[str, str], list[str]] = {}
    for name in missing:
        groups.setdefault((no_number_reason(run.results, name), fills.get(name, "")), []).append(name)
    out = [EmptyGroup(names, why, fill) for (why, fill), names in groups.items()]
    # `evaluate` scores again what was unavailable or never run; stored numbers are kept
    rescore = any(g.fill or RETRIED.search(g.why) for g in out)
    return out, f"harmony-bench evaluate {run.run_dir}" if rescore else ""


# the reasons of results that `evaluate` scores again in a run folder
RETRIED = re.compile(r"\d+ unavailable|^not run$")


def _fill_extra(run: RunData, paper: list[Table]) -> list[Extra]:
    """The run's empty paper columns and the command that fills each on this machine."""
    from harmony_bench.coverage import tables_of, tables_text

    groups, rescore = empty_column_groups(run, paper)
    if not groups:
        return []
    frame = pd.DataFrame([{"columns": ", ".join(g.columns),
                           "tables": tables_text(tuple(sorted({t for c in g.columns for t in tables_of(c)}))),
                           "why empty": g.why, "fill with": g.fill or "-"} for g in groups])
    intro = FILL_INTRO + (f" Then score the run again (numbers already stored are kept): {rescore}" if rescore else "")
    return [Extra("fill", "Empty paper columns and what fills them", intro, frame)]


FILL_INTRO = ("Each paper column this run has no number for under the paper's protocol, why, and the command "
              "that lets this machine produce it (`harmony-bench doctor` checks them all).")


def _paired(runs: Sequence[RunData]) -> Extra:
    first = runs[0]
    frames = [compare_frames(first.results, r.results).assign(run_a=first.run_id, run_b=r.run_id) for r in runs[1:]]
    frame = pd.concat(frames, ignore_index=True)
    return Extra("paired", "Paired comparisons with the first run", PAIRED_INTRO,
                 frame[["run_a", "run_b", *frame.columns.drop(["run_a", "run_b"])]])


def write_run_report(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Paper-format tables (md, CSV, LaTeX, JSON), coverage and WER-aggregation tables and a
    self-contained report.html for one run; returns the files written (default: run_dir/report)."""
    run = load_run(Path(run_dir))
    out_dir = Path(out_dir) if out_dir is not None else run.run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    paper, variants = build_tables([run])
    fill = _fill_extra(run, paper)
    for table in paper if fill else ():
        table.notes.append(f"Empty columns: '{fill[0].title}' below says which command fills each on this machine.")
    bundle = Bundle(f"Harmony-Bench report: {run.run_id} ({run.model})", [run], paper, variants,
                    _extras([run]) + fill)
    return _write_bundle(bundle, out_dir, "report", html.gallery_html(gallery_items(run, out_dir)))


def write_leaderboard(run_dirs: list[Path], out_dir: Path) -> list[Path]:
    """All runs as rows beside the published baselines, each flagged where its case set or a
    column's protocol differs from the other runs; tables, leaderboard.md/.json/.html."""
    runs = [load_run(Path(d)) for d in run_dirs]
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"two runs share a run id: {ids}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = leaderboard_flags(runs)
    paper, variants = build_tables(runs, flags)
    extras = _extras(runs) + ([_paired(runs)] if len(runs) > 1 else [])
    return _write_bundle(Bundle("Harmony-Bench leaderboard", runs, paper, variants, extras, flags),
                         out_dir, "leaderboard")


def paper_tables(run_dir: Path, detail: bool = False) -> dict[str, pd.DataFrame]:
    """The run's paper-format tables as DataFrames: Table 2 (overall) and Tables 4-7 (speech,
    ambient, complex, Chinese speech), each with the published rows and the run's row, keyed by
    file stem ("table2_overall", ...). See `harmony_bench.reports.tables.to_frame` for the layout; with
    `detail`, every metric also has its 95% CI bounds and n."""
    paper, _ = build_tables([load_run(Path(run_dir))])
    return {t.key: to_frame(t, detail) for t in paper}


def compare_runs(run_a: Path, run_b: Path) -> pd.DataFrame:
    """Paired comparison on the cases both runs scored: per metric output and per subset plus
    overall, the mean difference (b - a) with a paired-bootstrap 95% CI and a sign-flip
    permutation p-value; `better` is "a" or "b" (by the metric's direction) or "tie"."""
    a, b = load_run(Path(run_a)), load_run(Path(run_b))
    return compare_frames(a.results, b.results)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _combined_md(bundle: Bundle) -> str:
    parts = [f"# {md_escape(bundle.title)}\n"] + [to_markdown(t) for t in bundle.paper]
    if bundle.variants:
        parts += ["## Not comparable with the paper\n"] + [to_markdown(t) for t in bundle.variants]
    parts += [_frame_md(e.title, _shown(e), e.intro) for e in bundle.extras]
    return "\n".join(parts)


def _combined_json(bundle: Bundle) -> str:
    doc = {"title": bundle.title,
           "runs": [{"run_id": r.run_id, "model": r.model, "case_set_sha256": r.case_set, "seed": r.info.get("seed"),
                     "flags": list(bundle.flags.get(r.run_id, ()))} for r in bundle.runs],
           "tables": [to_json(t) for t in bundle.paper], "variants": [to_json(t) for t in bundle.variants],
           **{e.name: json.loads(e.frame.to_json(orient="records")) for e in bundle.extras}}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
