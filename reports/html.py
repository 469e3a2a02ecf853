"""Self-contained HTML pages: tables, SVG charts and a filterable per-case gallery.

Everything is inline (CSS, JS, SVG, base64 thumbnails) so the file works opened from disk with
no network; clips are linked by their path relative to the page. Every piece of text that comes
from a case, a model name or an error message goes through `esc`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harmony_bench.reports.stats import is_missing
from harmony_bench.reports.tables import Row, Table, column_header, fmt, fmt_ci, footnotes, ranks

SILENCE = 1e-4  # peak amplitude below which a clip's audio is called silent
PALETTE = ("#8c8c8c", "#b07aa1", "#76b7b2", "#edc948", "#59a14f", "#4e79a7", "#e15759", "#f28e2b", "#9c755f")


def esc(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


# -- tables --------------------------------------------------------------------------------

def table_html(table: Table) -> str:
    marks, notes = ranks(table), footnotes(table)
    head = _group_header(table) + "<tr><th>Method</th>" + "".join(
        f"<th>{esc(column_header(c))}</th>" for c in table.columns) + "</tr>"
    body = "".join(_row_html(table, i, r, marks, notes) for i, r in enumerate(table.rows))
    foot = "".join(f"<li><sup>{esc(m)}</sup> {esc(n)}</li>" for n, m in notes.items())
    foot += "".join(f"<li>{esc(n)}</li>" for n in table.notes)
    return (f'<figure class="table" id="{esc(table.key)}"><figcaption>{esc(table.title)}</figcaption>'
            f'<div class="scroll"><table class="paper"><thead>{head}</thead><tbody>{body}</tbody></table></div>'
            f'<ul class="notes">{foot}</ul></figure>')


def _group_header(table: Table) -> str:
    groups: list[list] = []
    for c in table.columns:
        if groups and groups[-1][0] == c.group:
            groups[-1][1] += 1
        else:
            groups.append([c.group, 1])
    if not any(g for g, _ in groups):
        return ""
    return "<tr><th></th>" + "".join(f'<th colspan="{n}" class="group">{esc(g)}</th>' for g, n in groups) + "</tr>"


def _row_html(table: Table, i: int, row: Row, marks: dict, notes: dict) -> str:
    label = esc(row.label) + (' <span class="tag">this suite</span>' if row.source == "run" else "")
    label += "".join(f' <span class="flag">⚠ {esc(f)}</span>' for f in row.flags)
    cells = []
    for c in table.columns:
        cell = table.cell(row, c)
        text = esc(fmt(cell.value))
        text = {1: f"<b>{text}</b>", 2: f"<u>{text}</u>"}.get(marks.get((i, c.name)), text)
        if cell.note:
            text += f"<sup>{esc(notes[cell.note])}</sup>"
        if cell.ci:
            n = f" n={cell.n}" if cell.n is not None else ""
            text += f'<div class="ci">{esc(fmt_ci(cell.ci))}{n}</div>'
        cells.append(f"<td>{text}</td>")
    return f'<tr class="{esc(row.source)}"><th>{label}</th>{"".join(cells)}</tr>'


# -- charts --------------------------------------------------------------------------------

@dataclass
class Bar:
    label: str  # the model
    value: float
    ci: tuple[float, float] | None = None


def bar_chart_svg(title: str, groups: Sequence[tuple[str, Sequence[Bar]]], models: Sequence[str]) -> str:
    """Grouped bars (one group per table scope, one bar per model) with CI whiskers."""
    values = [v for _, bars in groups for b in bars for v in (b.value, *(b.ci or ())) if not is_missing(v)]
    if not values:
        return ""
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    hi = hi + 0.1 * (hi - lo or 1.0)
    width, height, left, top, bottom = 360, 190, 34, 22, 36
    y = lambda v: top + (hi - v) / (hi - lo) * (height - top - bottom)  # noqa: E731
    slot = (width - left - 8) / max(len(groups), 1)
    parts = [f'<text x="{width / 2}" y="14" class="title">{esc(title)}</text>',
             f'<line x1="{left}" x2="{width - 4}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>',
             f'<text x="{left - 4}" y="{y(hi) + 8:.1f}" class="tick">{hi:.2f}</text>',
             f'<text x="{left - 4}" y="{y(0) + 3:.1f}" class="tick">0</text>']
    for gi, (name, bars) in enumerate(groups):
        x0 = left + gi * slot
        bw = (slot - 10) / max(len(models), 1)
        for b in bars:
            i = models.index(b.label)
            parts.append(_bar(x0 + 5 + i * bw, bw, b, y, PALETTE[i % len(PALETTE)]))
        parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{height - bottom + 14}" class="label">{esc(name)}</text>')
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            + "".join(parts) + "</svg>")


def _bar(x: float, w: float, b: Bar, y, color: str) -> str:
    top, base = sorted((y(b.value), y(0)))
    tip = f"{b.label}: {b.value:.3f}" + (f" (95% CI {b.ci[0]:.3f} to {b.ci[1]:.3f})" if b.ci else "")
    out = (f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(w - 1, 1):.1f}" height="{max(base - top, 0.5):.1f}" '
           f'fill="{color}"><title>{esc(tip)}</title></rect>')
    if b.ci and not any(is_missing(v) for v in b.ci):
        cx = x + w / 2
        y0, y1 = y(b.ci[0]), y(b.ci[1])
        out += (f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" class="whisker"/>'
                f'<line x1="{cx - 3:.1f}" x2="{cx + 3:.1f}" y1="{y0:.1f}" y2="{y0:.1f}" class="whisker"/>'
                f'<line x1="{cx - 3:.1f}" x2="{cx + 3:.1f}" y1="{y1:.1f}" y2="{y1:.1f}" class="whisker"/>')
    return out


def legend_html(models: Sequence[str]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{esc(m)}</span>'
        for i, m in enumerate(models)) + "</div>"


def normalised(table: Table) -> dict[str, dict[str, float | None]]:
    """Row label -> column -> 0..1 over the rows shown (1 = best row, 0 = worst)."""
    out: dict[str, dict[str, float | None]] = {r.label: {} for r in table.rows}
    for c in table.columns:
        vals = {r.label: float(r.cells[c.name].value) for r in table.rows
                if c.name in r.cells and not r.cells[c.name].missing}
        if not vals:
            continue
        lo, hi = min(vals.values()), max(vals.values())
        for label in out:
            v = vals.get(label)
            if v is None:
                out[label][c.name] = None
                continue
            score = 1.0 if hi == lo else (v - lo) / (hi - lo)
            out[label][c.name] = score if c.direction == "higher" else 1.0 - score
    return out


def radar_svg(label: str, scores: dict[str, float | None], color: str, why: str = "") -> str:
    """A model's radar; with no score at all, the empty web carries `why` instead of a polygon."""
    axes = list(scores)
    if len(axes) < 3:
        return _empty(label, why or "fewer than three metrics to draw")
    size, r = 230, 78
    cx = cy = size / 2
    point = lambda i, s: (cx + r * s * math.sin(2 * math.pi * i / len(axes)),  # noqa: E731
                          cy - r * s * math.cos(2 * math.pi * i / len(axes)))
    parts = [f'<text x="{cx}" y="12" class="title">{esc(label)}</text>']
    for ring in (0.5, 1.0):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(len(axes))))
        parts.append(f'<polygon points="{pts}" class="ring"/>')
    for i, a in enumerate(axes):
        x, y = point(i, 1.0)
        tx, ty = point(i, 1.22)
        missing = scores[a] is None
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" class="spoke"/>'
                     f'<text x="{tx:.1f}" y="{ty + 3:.1f}" class="label{" na" if missing else ""}">'
                     f'{esc(a)}{" n/a" if missing else ""}</text>')
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, scores[a]) for i, a in enumerate(axes)
                                                   if scores[a] is not None))
    if pts:
        parts.append(f'<polygon points="{pts}" fill="{color}" fill-opacity="0.35" stroke="{color}"/>')
    svg = (f'<svg class="radar" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img">'
           + "".join(parts) + "</svg>")
    if pts:
        return svg
    caption = f'<figcaption class="why">{esc(why or "no number to draw")}</figcaption>'
    return f'<figure class="radarbox">{svg}{caption}</figure>'


def _empty(title: str, why: str) -> str:
    return f'<figure class="chart empty"><figcaption>{esc(title)}</figcaption><p class="why">{esc(why)}</p></figure>'


NOT_PUBLISHED = "not reported in the paper"


def chart_figure(title: str, groups: Sequence[tuple[str, Sequence[Bar]]], models: Sequence[str],
                 why: Mapping[str, str], default: str = NOT_PUBLISHED) -> str:
    """A bar chart that names each model without a bar and why (`why`: model -> reason, else
    `default`)."""
    drawn = {b.label for _, bars in groups for b in bars}
    absent = [(m, why.get(m, default)) for m in models if m not in drawn]
    svg = bar_chart_svg(title, groups, models)
    if not svg:
        return _empty(title, "no number to draw: " + "; ".join(f"{m}: {reason}" for m, reason in absent))
    notes = "".join(f"<li>no bar for {esc(m)}: {esc(reason)}</li>" for m, reason in absent)
    return f'<figure class="chartbox">{svg}' + (f'<ul class="why">{notes}</ul>' if notes else "") + "</figure>"


def _bar_figures(tables: Sequence[Table], models: Sequence[str], why: Mapping[str, Mapping[str, str]],
                 default: str = NOT_PUBLISHED) -> str:
    """One chart per column of the first table, a group of bars per table (scope) that has it."""
    figures = []
    for col in tables[0].columns:
        groups = [(t.short or t.key, [Bar(r.label, float(r.cells[col.name].value), r.cells[col.name].ci)
                                    for r in t.rows if col.name in r.cells and not r.cells[col.name].missing])
                  for t in tables if col.name in {c.name for c in t.columns}]
        figures.append(chart_figure(column_header(col), groups, models, why.get(col.name, {}), default))
    return "".join(figures)


def charts_section(overall: Table, scoped: Sequence[Table], models: Sequence[str],
                   why: Mapping[str, Mapping[str, str]] | None = None, radar_why: Mapping[str, str] | None = None
                   ) -> str:
    """A bar chart per metric over the scopes, and a radar per model over the overall table.
    `why`: column -> model -> why it has no number there; `radar_why`: model -> why its radar is empty."""
    norm = normalised(overall)
    radar_why = radar_why or {}
    radars = [radar_svg(m, norm.get(m, {}), PALETTE[i % len(PALETTE)], radar_why.get(m, ""))
              for i, m in enumerate(models)]
    return ('<section id="charts"><h2>Charts</h2>' + legend_html(models)
            + '<p class="hint">Bars: mean per table; whiskers: 95% bootstrap CI of this suite\'s rows. '
              'Published rows have no interval (the paper gives none), and were measured on the paper\'s '
              'own case files.</p><div class="charts">' + _bar_figures([overall, *scoped], models, why or {})
            + "</div>"
            + '<h3>Radar per model</h3><p class="hint">Each axis is normalised over the rows of the overall '
              'table (1 = best row, 0 = worst; lower-is-better metrics flipped).</p><div class="charts">'
            + "".join(radars) + "</div></section>")


def variant_charts_section(tables: Sequence[Table], models: Sequence[str]) -> str:
    """This suite's numbers that may not share the paper's columns, charted apart (no published rows)."""
    if not tables:
        return ""
    return ('<section id="variant-charts"><h2>Charts: your numbers not comparable with the paper</h2>'
            + legend_html(models)
            + '<p class="hint">Offline variants, other weights or protocol versions (each table cell\'s note '
              'says which). Never read these bars against the published rows.</p><div class="charts">'
            + _bar_figures(tables, models, {}, "no number from this backend") + "</div></section>")


# -- gallery -------------------------------------------------------------------------------

@dataclass
class GalleryItem:
    case_id: str
    subset: str
    tags: dict
    video_href: str | None  # relative to the page
    texts: dict[str, str]  # field name -> text (captions, transcript)
    values: list[tuple[str, str, str]] = field(default_factory=list)  # (output [metric], value, status)
    image_png: bytes | None = None
    poster_jpeg: bytes | None = None  # a frame of the clip, shown before it plays
    waveform: np.ndarray | None = None  # (bins, 2) min/max envelope in -1..1


def thumbnail_png(path: Path, size: int = 96) -> bytes | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, format="PNG", optimize=True)
            return buf.getvalue()
    except (OSError, ValueError):
        return None


def poster_jpeg(path: Path, size: int = 170) -> bytes | None:
    """A small JPEG of the frame nearest the clip's middle, for the player's poster (None when
    the clip cannot be decoded: the card then shows the player without one)."""
    import av
    from PIL import Image

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            middle = (container.duration or 0) / 2e6  # container.duration is in microseconds
            if container.duration:
                container.seek(container.duration // 2)  # lands on the keyframe before the middle
            frame = None
            for frame in container.decode(stream):  # one frame at a time, up to the middle
                if frame.time is None or frame.time >= middle:
                    break
            if frame is None:
                return None
            image = frame.to_image()
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return None
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def waveform_envelope(path: Path, bins: int = 160) -> np.ndarray | None:
    import soundfile as sf

    try:
        audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError):
        return None
    mono = audio.mean(axis=1)
    if not len(mono):
        return None
    chunks = np.array_split(mono, min(bins, len(mono)))
    return np.array([[c.min(), c.max()] for c in chunks], dtype=np.float32)


def waveform_svg(env: np.ndarray) -> str:
    w, h = 160, 36
    peak = float(np.abs(env).max())
    xs = np.linspace(0, w, len(env))
    upper = " ".join(f"{x:.1f},{h / 2 - v / peak * h / 2:.1f}" for x, v in zip(xs, env[:, 1]))
    lower = " ".join(f"{x:.1f},{h / 2 - v / peak * h / 2:.1f}" for x, v in zip(xs[::-1], env[::-1, 0]))
    return (f'<svg class="wave" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">'
            f'<polygon points="{upper} {lower}"/></svg>')


def gallery_html(items: Sequence[GalleryItem]) -> str:
    tags = sorted({t for it in items for t in tag_tokens(it.tags)})
    subsets = sorted({it.subset for it in items})
    controls = ('<div class="filters"><label>Subset <select id="f-subset"><option value="">all</option>'
                + "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in subsets)
                + '</select></label> <label>Tag <select id="f-tag"><option value="">all</option>'
                + "".join(f'<option value="{esc(t)}">{esc(t)}</option>' for t in tags)
                + '</select></label> <span id="f-count"></span></div>')
    cards = "".join(_card(it) for it in items)
    return f'<section id="gallery"><h2>Per-case gallery</h2>{controls}<div class="cards">{cards}</div></section>'


def tag_tokens(tags: dict) -> list[str]:
    """{"event_types": ["door", "rain"], "speakers": 1} -> ["event_types=door", ...]."""
    out = []
    for k, v in (tags or {}).items():
        for item in v if isinstance(v, (list, tuple)) else [v]:
            if item is not None and item != "":
                out.append(f"{k}={item}")
    return out


def _card(it: GalleryItem) -> str:
    poster = f' poster="data:image/jpeg;base64,{base64.b64encode(it.poster_jpeg).decode()}"' if it.poster_jpeg else ""
    media = (f'<video controls preload="none"{poster} src="{esc(it.video_href)}"></video>' if it.video_href
             else '<div class="missing">no clip</div>')
    image = (f'<img alt="reference image" src="data:image/png;base64,{base64.b64encode(it.image_png).decode()}">'
             if it.image_png else '<div class="missing">no reference image</div>')
    wave = ('<div class="missing">no audio</div>' if it.waveform is None else
            '<div class="missing">silent audio</div>' if float(np.abs(it.waveform).max()) < SILENCE else
            waveform_svg(it.waveform))
    texts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in it.texts.items() if v)
    values = "".join(f'<tr class="{esc(s)}"><td>{esc(k)}</td><td>{esc(v)}</td></tr>' for k, v, s in it.values)
    tags = json.dumps(tag_tokens(it.tags), ensure_ascii=False)
    return (f'<article class="card" data-subset="{esc(it.subset)}" data-tags="{esc(tags)}">'
            f'<h3>{esc(it.case_id)} <small>{esc(it.subset)}</small></h3>'
            f'<div class="media">{media}<div class="side">{image}{wave}</div></div>'
            f'<dl>{texts}</dl><table class="values">{values}</table></article>')


# -- page ----------------------------------------------------------------------------------

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1500px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
figure.table{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
.scroll{overflow-x:auto}table.paper{border-collapse:collapse;font-size:13px}
table.paper th,table.paper td{padding:3px 7px;text-align:center;white-space:nowrap}
table.paper thead tr:last-child th{border-bottom:1px solid #444}table.paper thead{border-top:2px solid #444}
table.paper tbody{border-bottom:2px solid #444}table.paper tbody th{text-align:left;font-weight:400}
th.group{border-bottom:1px solid #999}tr.run{background:#eef5ff}.ci{font-size:10px;color:#555}
.tag{font-size:10px;background:#4e79a7;color:#fff;border-radius:3px;padding:0 4px}
.flag{font-size:11px;color:#b00}.notes{font-size:12px;color:#444}.hint{font-size:12px;color:#555}
.charts{display:flex;flex-wrap:wrap;gap:8px}svg text{font-size:10px;font-family:sans-serif}
svg .title{text-anchor:middle;font-weight:600;font-size:11px}svg .tick{text-anchor:end}
svg .label{text-anchor:middle}svg .na{fill:#aaa}svg .axis,svg .spoke{stroke:#999}
svg .ring{fill:none;stroke:#ddd}svg .whisker{stroke:#000;stroke-width:1.2}
figure.chartbox,figure.radarbox{margin:0}.why{font-size:11px;color:#a60;margin:0;padding-left:1.2em;max-width:360px}
figure.chart.empty{margin:0;width:360px;border:1px dashed #ccc;padding:6px}figure.radarbox figcaption{max-width:230px}
.legend span{margin-right:1em}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.filters{margin:.5em 0}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:10px}
.card{border:1px solid #ccc;border-radius:6px;padding:8px}.card h3{margin:0 0 .3em;font-size:1em}
.media{display:flex;gap:6px}.media video{width:170px;max-height:130px;background:#000}
.side{display:flex;flex-direction:column;gap:4px}.side img{width:64px;height:auto}
.wave polygon{fill:#4e79a7}.missing{font-size:11px;color:#999}
dl{font-size:12px;margin:.4em 0}dt{font-weight:600}dd{margin:0 0 .2em 0}
table.values{font-size:11px;border-collapse:collapse}table.values td{padding:0 6px 0 0}
tr.unscorable td,tr.unavailable td,tr.error td{color:#a60}
"""

JS = """
(function(){
  var subset=document.getElementById('f-subset'), tag=document.getElementById('f-tag');
  if(!subset||!tag){return;}
  var cards=Array.prototype.slice.call(document.querySelectorAll('.card'));
  function apply(){
    var shown=0;
    cards.forEach(function(c){
      var ok=(!subset.value||c.dataset.subset===subset.value)&&
             (!tag.value||JSON.parse(c.dataset.tags).indexOf(tag.value)>=0);
      c.style.display=ok?'':'none'; if(ok){shown++;}
    });
    document.getElementById('f-count').textContent=shown+' of '+cards.length+' cases';
  }
  // a link such as report.html#subset=speech&tag=language%3Dzh opens the gallery filtered
  var wanted=new URLSearchParams(location.hash.slice(1));
  if(wanted.has('subset')){subset.value=wanted.get('subset');}
  if(wanted.has('tag')){tag.value=wanted.get('tag');}
  subset.addEventListener('change',apply); tag.addEventListener('change',apply); apply();
})();
"""


def page(title: str, sections: Sequence[str]) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1>{''.join(sections)}<script>{JS}</script></body></html>\n")
