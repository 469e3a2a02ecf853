"""The leaderboard as a static site: `harmony-bench leaderboard RUN_OR_BUNDLE... --site DIR`.

    DIR/index.html          runs with protocol badges; the paper's tables (sortable); this suite's
                            own columns over the cases a filter (subset, tag, language) keeps, with
                            n and a bootstrap CI; the list of cases
    DIR/cases/<id>.html     one page per case: prompt and references, every model's clip side by
                            side under one play/pause/seek control, sound from one player at a
                            time, and each model's scores for that case
    DIR/assets/             site.css and site.js (no CDN: the site opens from disk or any host)
    DIR/refs/<id>/          the case's reference image and audio, copied
    DIR/media/<run>/        with `previews`: small WebM copies of the clips (PyAV)

Clips are linked by their path relative to the page (or to their preview). Every text that comes
from a case, a run, a model or an error is escaped here or set as text by the script, which
reads its data from a JSON block and never builds markup from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from harmony_bench.reports import html
from harmony_bench.reports.html import esc, tag_tokens
from harmony_bench.reports.report import _clip_paths, build_tables, run_labels
from harmony_bench.reports.runs import RunData, leaderboard_flags, load_run

ASSETS = ("site.css", "site.js")
PREVIEW_WIDTH = 256  # pixels: enough to compare models side by side, light enough to host


@dataclass
class Player:
    """One model's clip of one case, as the case page shows it."""

    label: str  # the run's row label
    href: str | None  # relative to the case page; None: no clip
    why: str = ""  # why there is no clip


def write_site(run_dirs: list[Path], site_dir: Path, previews: bool = False) -> Path:
    """Write the site for these runs into `site_dir`; returns its index.html."""
    runs = [load_run(Path(d)) for d in run_dirs]
    if len({r.run_id for r in runs}) != len(runs):
        raise ValueError(f"two runs share a run id: {[r.run_id for r in runs]}")
    site_dir = Path(site_dir)
    for sub in ("assets", "cases", "refs"):
        (site_dir / sub).mkdir(parents=True, exist_ok=True)
    for stale in (site_dir / "cases").glob("*.html"):  # pages of cases an earlier build had
        stale.unlink()
    for name in ASSETS:
        (site_dir / "assets" / name).write_bytes(resources.files("harmony_bench.reports").joinpath(
            "site_assets", name).read_bytes())
    labels = run_labels(runs)
    cases = _all_cases(runs)
    players = {case_id: [] for case_id in cases}
    for run in runs:
        for case_id, player in _players(run, labels[run.run_id], site_dir, previews, cases).items():
            players[case_id].append(player)
    ids = sorted(cases)
    for i, case_id in enumerate(ids):
        neighbours = (ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None)
        page = case_page(cases[case_id], players[case_id], _case_scores(runs, labels, case_id),
                         _refs(cases[case_id], site_dir), neighbours)
        (site_dir / "cases" / page_name(case_id)).write_text(page, encoding="utf-8")
    index = site_dir / "index.html"
    index.write_text(index_page(runs, labels, cases), encoding="utf-8")
    return index


def safe_stem(text: str) -> str:
    """A file name stem for a case id or run id: the text where it is safe, else a cleaned text
    and its crc32 (so two ids never share a file)."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", text)
    if clean == text and not text.startswith("."):
        return text
    return f"{clean.lstrip('.')}-{zlib.crc32(text.encode()):08x}"


def page_name(case_id: str) -> str:
    return f"{safe_stem(case_id)}.html"


def _all_cases(runs: list[RunData]) -> dict:
    """case id -> Case (from the first run whose case set has it) or a stand-in with what the store knows."""
    from harmony_bench.cases import Case

    cases = {}
    for run in runs:
        for case_id, g in run.results.groupby("case_id"):
            known = run.cases.get(case_id)
            if case_id not in cases or (known is not None and not cases[case_id].reference_image):
                cases[case_id] = known or Case(case_id, str(g["subset"].iloc[0]), "", "", "")
    return cases


# -- media ---------------------------------------------------------------------------------

def _players(run: RunData, label: str, site_dir: Path, previews: bool, cases: dict) -> dict[str, Player]:
    from harmony_bench.store import Store

    with Store(run.run_dir, readonly=True) as store:
        reasons = {c.case_id: f"generation failed: {c.error}" if c.status != "ok" else "its file is missing"
                   for c in store.clips()}
    clips = _clip_paths(run)
    out = {}
    for case_id in cases:
        video = clips.get(case_id, (None, None))[0]
        if video is None:
            out[case_id] = Player(label, None, reasons.get(case_id, "no clip stored for this case"))
            continue
        if previews:
            video = make_preview(video, site_dir / "media" / safe_stem(run.run_id) / f"{safe_stem(case_id)}.webm")
        out[case_id] = Player(label, Path(os.path.relpath(video, site_dir / "cases")).as_posix())
    return out


def make_preview(src: Path, dest: Path, width: int = PREVIEW_WIDTH) -> Path:
    """A small WebM (VP8 video at `width` pixels, Opus audio) of a clip, timed as the original so
    previews stay in step; reused when newer than the clip."""
    import av

    if dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="webm") as out:
        vin = inp.streams.video[0]
        width = min(width, vin.width // 2 * 2)  # previews never enlarge a clip
        height = max(2, round(vin.height * width / vin.width / 2) * 2)
        vout = out.add_stream("libvpx", rate=vin.average_rate or 24)
        vout.width, vout.height, vout.pix_fmt, vout.bit_rate = width, height, "yuv420p", 300_000
        vout.options = {"deadline": "realtime", "cpu-used": "8"}  # libvpx's default "good" takes 0.1 s a frame
        ain = inp.streams.audio[0] if inp.streams.audio else None
        aout = out.add_stream("libopus", rate=48000) if ain is not None else None
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000) if ain is not None else None
        for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
            for frame in packet.decode():
                if packet.stream is vin:
                    out.mux(vout.encode(frame.reformat(width, height, "yuv420p")))
                else:
                    for chunk in resampler.resample(frame):
                        out.mux(aout.encode(chunk))
        out.mux(vout.encode(None))
        if aout is not None:
            out.mux(aout.encode(None))
    tmp.replace(dest)
    return dest


def _refs(case, site_dir: Path) -> dict[str, str]:
    """Copies of the case's reference image and audio inside the site: kind -> href from a case page."""
    out = {}
    for kind in ("image", "audio"):
        rel = getattr(case, f"reference_{kind}")
        src = getattr(case, f"reference_{kind}_path") if rel else None
        if src is None or not src.is_file():
            continue
        dest = site_dir / "refs" / safe_stem(case.id) / f"ref{src.suffix.lower()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        out[kind] = Path(os.path.relpath(dest, site_dir / "cases")).as_posix()
    return out


# -- per-case scores -----------------------------------------------------------------------

def _case_scores(runs: list[RunData], labels: dict[str, str], case_id: str) -> pd.DataFrame:
    """Rows: "output [metric vN]"; columns: run labels; cells: the value, or the status and why."""
    cells = {}
    for run in runs:
        rows = run.results[run.results["case_id"] == case_id]
        for r in rows.itertuples():
            name = f"{r.output} [{r.metric_key} v{r.protocol_version}]"
            cells.setdefault(name, {})[labels[run.run_id]] = (
                f"{r.value:.4f}" if r.status == "ok" else f"{r.status}: {r.error or ''}")
    frame = pd.DataFrame.from_dict(cells, orient="index", columns=[labels[r.run_id] for r in runs])
    return frame.sort_index().fillna("not measured")


# -- pages ---------------------------------------------------------------------------------

def _head(title: str, prefix: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f'<link rel="stylesheet" href="{prefix}assets/site.css"></head>')


def _data_block(doc: dict) -> str:
    # JSON inside <script>: "<" escaped so no text can close the block
    text = json.dumps(doc, ensure_ascii=False).replace("<", "\\u003c").replace("&", "\\u0026")
    return f'<script type="application/json" id="site-data">{text}</script>'


def index_page(runs: list[RunData], labels: dict[str, str], cases: dict) -> str:
    flags = leaderboard_flags(runs)
    paper, variants = build_tables(runs, flags)
    tables = "".join(f'<div class="scope" data-scope="{esc(t.key.split("_", 1)[1])}">{html.table_html(t)}</div>'
                     for t in paper + variants)
    return (_head("Harmony-Bench leaderboard", "")
            + '<body data-page="index"><a class="skip" href="#main">Skip to the tables</a>'
            + '<header><h1>Harmony-Bench leaderboard</h1><nav aria-label="Sections"><a href="#runs">Runs</a> '
              '<a href="#paper">Paper tables</a> <a href="#board">This suite\'s columns</a> '
              '<a href="#cases">Cases</a></nav></header><main id="main">'
            + _filters(cases)
            + _runs_section(runs, labels, flags)
            + '<section id="paper"><h2>Paper tables</h2><p class="hint">Published rows beside this suite\'s runs; '
              'the subset and language filters pick the table (published numbers cannot be split by tag). '
              'Click a column heading to sort; ⚠ marks a run whose case set or a column\'s protocol differs '
              'from the other runs.</p>' + tables + "</section>"
            + '<section id="board"><h2>This suite\'s columns, over the cases shown</h2><p class="hint">Every '
              'metric output this suite stored, one column per metric and protocol version: mean over the '
              'cases the filters keep that got a number, n, and a 95% percentile bootstrap CI over those '
              'cases (1000 resamples, seed 0). <span class="badge official">paper protocol</span> marks '
              'outputs measured as the paper measured them.</p><div class="scroll"><table id="board-table" '
              'class="sortable"></table></div></section>'
            + '<section id="cases"><h2>Cases</h2><p id="case-count" aria-live="polite"></p><div class="scroll">'
              '<table id="case-table" class="sortable"></table></div></section>'
            + "</main>" + _data_block(_index_data(runs, labels, cases, flags))
            + '<script src="assets/site.js"></script></body></html>\n')


def _filters(cases: dict) -> str:
    def select(name: str, values: list[str]) -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        return (f'<label>{name.capitalize()} <select id="f-{name}" name="{name}"><option value="">all</option>'
                f"{options}</select></label>")

    tags = sorted({t for c in cases.values() for t in tag_tokens(c.tags)})
    languages = sorted({c.language for c in cases.values() if c.language})
    subsets = sorted({c.subset for c in cases.values()})
    return (f'<form class="filters" aria-label="Filter the cases">{select("subset", subsets)} '
            f'{select("tag", tags)} {select("language", languages)}</form>')


def _runs_section(runs: list[RunData], labels: dict[str, str], flags: dict) -> str:
    rows = []
    for run in runs:
        badges = "".join(_badge(key, g) for key, g in run.results.groupby("metric_key", sort=True))
        warn = "".join(f'<span class="flag">⚠ {esc(f)}</span> ' for f in flags.get(run.run_id, ()))
        rows.append(f"<tr><th scope=\"row\">{esc(labels[run.run_id])}</th><td>{esc(run.model)}</td>"
                    f"<td>{esc(run.info.get('seed'))}</td><td><code>{esc(run.case_set[:12])}</code></td>"
                    f"<td>{run.results['case_id'].nunique()}</td><td>{warn}</td><td>{badges}</td></tr>")
    return ('<section id="runs"><h2>Runs</h2><div class="scroll"><table class="sortable"><thead><tr><th>Run</th>'
            '<th>Model</th><th>Seed</th><th>Case set sha256</th><th>Cases</th><th>Differs</th><th>Protocols</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _badge(key: str, rows: pd.DataFrame) -> str:
    ran = rows[rows["status"].isin(["ok", "unscorable"])]
    versions = ",".join(f"v{v}" for v in sorted(set(rows["protocol_version"])))
    if not len(ran):
        kind, note = "none", f"no number: {rows['error'].dropna().iloc[0] if rows['error'].notna().any() else ''}"
    elif bool(ran["comparable"].all()):
        kind, note = "official", "the paper's protocol" + "".join(f"; {n}" for n in set(ran["protocol_note"]) - {""})
    else:
        kind, note = "variant", "; ".join(sorted(set(ran["protocol_note"]) - {""}))
    return f'<span class="badge {kind}" title="{esc(note)}">{esc(key)} {esc(versions)}</span> '


def _index_data(runs: list[RunData], labels: dict[str, str], cases: dict, flags: dict) -> dict:
    ids = sorted(cases)
    position = {c: i for i, c in enumerate(ids)}
    columns, values = [], []
    for run in runs:
        ok = run.results[(run.results["status"] == "ok") & run.results["value"].notna()]
        for (key, output, version), g in ok.groupby(["metric_key", "output", "protocol_version"], sort=True):
            column = {"name": f"{output} [{key} v{version}]", "direction": str(g["direction"].iloc[0]),
                      "official": bool(g["comparable"].all() and g["paper"].all())}
            if column not in columns:
                columns.append(column)
            # [run, column, [[case index, value], ...]]
            values.append([runs.index(run), columns.index(column),
                           [[position[c], float(v)] for c, v in zip(g["case_id"], g["value"])]])
    return {
        "cases": [{"id": c, "href": "cases/" + page_name(c), "subset": cases[c].subset,
                   "language": cases[c].language or "", "tags": tag_tokens(cases[c].tags),
                   "caption": cases[c].video_caption} for c in ids],
        "runs": [{"label": labels[r.run_id], "flags": list(flags.get(r.run_id, ()))} for r in runs],
        "columns": columns,
        "values": values,
    }


def case_page(case, players: list[Player], scores: pd.DataFrame, refs: dict[str, str],
              neighbours: tuple[str | None, str | None]) -> str:
    prev_id, next_id = neighbours
    nav = ('<nav aria-label="Cases">'
           + (f'<a rel="prev" id="prev" href="{esc(page_name(prev_id))}">← {esc(prev_id)}</a> ' if prev_id else "")
           + '<a id="up" href="../index.html#cases">all cases</a>'
           + (f' <a rel="next" id="next" href="{esc(page_name(next_id))}">{esc(next_id)} →</a>' if next_id else "")
           + "</nav>")
    texts = [("Video caption", case.video_caption), ("Audio caption", case.audio_caption),
             ("Spoken words", case.transcript), ("Language", case.language),
             ("Tags", ", ".join(tag_tokens(case.tags))), ("Duration", f"{case.duration:g} s")]
    prompt = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in texts if v)
    ref_image = (f'<img src="{esc(refs["image"])}" alt="Reference image of case {esc(case.id)}" width="160">'
                 if "image" in refs else '<p class="missing">no reference image</p>')
    ref_audio = (f'<audio controls preload="none" src="{esc(refs["audio"])}" '
                 f'aria-label="Reference audio of case {esc(case.id)}"></audio>' if "audio" in refs
                 else '<p class="missing">no reference audio</p>')
    return (_head(f"{case.id}: Harmony-Bench case", "../")
            + f'<body data-page="case"><header>{nav}<h1>Case {esc(case.id)} <small>{esc(case.subset)}</small></h1>'
            + '</header><main id="main">'
            + f'<section id="prompt"><h2>Prompt and references</h2><dl>{prompt}</dl>'
              f'<div class="refs">{ref_image}{ref_audio}</div></section>'
            + _players_section(case, players)
            + '<section id="scores"><h2>Scores for this case</h2><div class="scroll">'
            + _scores_table(scores) + "</div></section></main>"
            + '<script src="../assets/site.js"></script></body></html>\n')


def _players_section(case, players: list[Player]) -> str:
    figures, choices = [], ['<label><input type="radio" name="sound" value="-1"> none</label>']
    for i, p in enumerate(players):
        if p.href is None:
            figures.append(f'<figure class="player"><div class="missing" role="img" aria-label="No clip from '
                           f'{esc(p.label)}">no clip: {esc(p.why)}</div><figcaption>{esc(p.label)}</figcaption>'
                           "</figure>")
            continue
        figures.append(f'<figure class="player"><video class="clip" data-index="{i}" muted playsinline preload="auto" '
                       f'src="{esc(p.href)}" aria-label="Clip of case {esc(case.id)} by {esc(p.label)}"></video>'
                       f"<figcaption>{esc(p.label)}</figcaption></figure>")
        checked = " checked" if len(choices) == 1 else ""
        choices.append(f'<label><input type="radio" name="sound" value="{i}"{checked}> {esc(p.label)}</label>')
    return ('<section id="players"><h2>Clips side by side</h2>'
            '<div class="controls" role="group" aria-label="Playback of every clip">'
            '<button type="button" id="play" aria-keyshortcuts="Space">Play</button> '
            '<input type="range" id="seek" min="0" max="0" step="0.01" value="0" aria-label="Position in seconds"> '
            '<output id="clock" for="seek">0.00 s</output>'
            f'<fieldset class="sound"><legend>Sound from</legend>{"".join(choices)}</fieldset></div>'
            f'<div class="players">{"".join(figures)}</div>'
            '<p class="hint">Keys: Space play/pause, ← → step 0.1 s (Shift: 1 s), Home start, 1-9 sound from that '
            'clip, 0 no sound, [ ] previous / next case.</p></section>')


def _scores_table(scores: pd.DataFrame) -> str:
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in scores.columns)
    body = "".join(f'<tr><th scope="row">{esc(name)}</th>' + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>"
                   for name, row in zip(scores.index, scores.itertuples(index=False)))
    return (f'<table class="sortable scores"><thead><tr><th scope="col">Output [metric]</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")
