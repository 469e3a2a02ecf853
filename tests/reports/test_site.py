"""The static leaderboard site: its files (fast), then the pages driven in headless Chromium.

The browser tests talk to Chromium over the DevTools protocol on a pipe (tests/reports/cdp.py):
they click, pick filters, seek and press keys, then read the DOM and the players' clocks. Any
console error, uncaught exception or failed load fails them. Screenshots of each page type are
kept in test-artifacts/site/.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from harmony_bench.reports.site import make_preview, page_name, write_site
from tests.reports.conftest import CASES, HOSTILE, HOSTILE_MODEL, make_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "site"
N = len(CASES)


@pytest.fixture(scope="module")
def site(tmp_path_factory, run_pair) -> Path:
    mp = pytest.MonkeyPatch()
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    root = tmp_path_factory.mktemp("site")
    # a third run whose model name is hostile, with no clips: its players say why
    hostile = make_run(root, "run-c", HOSTILE_MODEL, clips=False)
    try:
        return write_site([*run_pair, hostile], root / "site")
    finally:
        mp.undo()


# -- files ---------------------------------------------------------------------------------

def test_every_case_has_a_page_and_clips_are_linked_relatively(site, run_pair):
    pages = sorted(p.name for p in (site.parent / "cases").iterdir())
    assert pages == sorted(f"{c['id']}.html" for c in CASES)
    text = (site.parent / "cases" / "amb-001.html").read_text()
    hrefs = re.findall(r'<video class="clip"[^>]* src="([^"]+)"', text)
    assert len(hrefs) == 2 and not any(h.startswith(("/", "file:")) for h in hrefs)
    assert all((site.parent / "cases" / h).resolve() == (run / "clips" / "amb-001.mp4").resolve()
               for h, run in zip(hrefs, run_pair))
    assert (site.parent / "assets" / "site.js").is_file() and "https://" not in text + site.read_text()


def test_text_from_cases_and_models_is_escaped(site):
    case = (site.parent / "cases" / "cx-001.html").read_text()
    index = site.read_text()
    for page in (case, index):
        assert "<script>alert" not in page
        assert len(re.findall(r"<script[ >]", page)) == (2 if page is index else 1)  # ours only
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in case
    data = json.loads(re.search(r'id="site-data">(.*?)</script>', index).group(1))
    assert HOSTILE in [c["caption"] for c in data["cases"]] and HOSTILE_MODEL in [r["label"] for r in data["runs"]]


def test_page_names_stay_inside_the_folder():
    assert page_name("amb-001") == "amb-001.html"
    odd = [page_name(x) for x in ("../../etc/passwd", "a/b", "a b", ".hidden")]
    assert all("/" not in n and not n.startswith(".") for n in odd) and len(set(odd)) == 4


def test_previews_keep_the_timing_and_shrink_the_clip(run_pair, tmp_path):
    import av

    src = run_pair[0] / "clips" / "amb-001.mp4"
    out = make_preview(src, tmp_path / "p.webm", width=16)
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.width, v.height, a.codec_context.name) == ("vp8", 16, 16, "opus")
        frames = sum(1 for _ in c.decode(v))
    assert frames == 8  # 1 s at 8 fps, as the clip
    assert make_preview(src, out, width=16).stat().st_mtime == out.stat().st_mtime  # reused


# -- in the browser --------------------------------------------------------------------------

browser = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    from tests.reports.cdp import Browser

    with Browser(CHROMIUM, tmp_path_factory.mktemp("profile")) as b:
        yield b


def _rows(chrome, table: str) -> list[str]:
    return chrome.eval(f"Array.from(document.querySelectorAll('#{table} tbody tr')).map(r => r.cells[0].textContent)")


def _pick(chrome, name: str, value: str) -> None:
    chrome.eval(f"(s => {{ s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})"
                f"(document.getElementById('f-{name}'))")


@browser
@pytest.mark.browser
@pytest.mark.slow
def test_index_filters_change_the_rows(chrome, site):
    chrome.errors.clear()
    chrome.open(site.as_uri())
    assert len(_rows(chrome, "case-table")) == N and chrome.eval("document.getElementById('case-count').textContent") \
        == f"{N} of {N} cases"
    _pick(chrome, "subset", "speech")
    assert _rows(chrome, "case-table") == ["sp-001", "sp-002", "sp-003", "sp-004", "sp-005"]
    assert chrome.eval("location.hash") == "#subset=speech"
    shown = chrome.eval("Array.from(document.querySelectorAll('#paper .scope')).filter(d => !d.hidden)"
                        ".map(d => d.dataset.scope)")
    assert shown == ["speech", "speech"]  # the paper table and the variants table of that subset
    _pick(chrome, "language", "zh")
    assert _rows(chrome, "case-table") == ["sp-004", "sp-005"]
    # the board's means follow: AQ over the two Chinese cases only
    assert "n=2" in chrome.eval("document.querySelector('#board-table tbody tr').cells[1].textContent")
    _pick(chrome, "subset", "")
    _pick(chrome, "language", "")
    _pick(chrome, "tag", "source=real-world")
    assert _rows(chrome, "case-table") == ["sp-004", "sp-005"]
    chrome.open("about:blank")  # (a hash change alone would not load the page again)
    chrome.open(site.as_uri() + "#subset=ambient")  # a link opens the site filtered
    assert _rows(chrome, "case-table") == ["amb-001", "amb-002", "amb-003", "amb-004"]
    assert chrome.errors == []


@browser
@pytest.mark.browser
@pytest.mark.slow
def test_sorting_orders_the_rows_by_the_column(chrome, site):
    chrome.errors.clear()
    chrome.open(site.as_uri())
    board_aq = ("Array.from(document.querySelectorAll('#board-table thead th')).findIndex("
                "h => h.textContent.startsWith('AQ [aq@official'))")
    col = chrome.eval(board_aq)
    assert col > 0
    click = f"document.querySelectorAll('#board-table thead th')[{col}].querySelector('button').click()"
    chrome.eval(click)
    assert _rows(chrome, "board-table")[-1] == "model-b"  # run B's AQ is 0.3 higher than the others'
    assert chrome.eval(f"document.querySelectorAll('#board-table thead th')[{col}].getAttribute('aria-sort')") \
        == "ascending"
    chrome.eval(click)
    assert _rows(chrome, "board-table")[0] == "model-b"
    # a paper table: the published rows and the runs, ordered by the column's numbers
    values = ("Array.from(document.querySelectorAll('#table4_speech tbody tr')).map(r => parseFloat(r.cells[{c}]"
              ".textContent))")
    chrome.eval("document.querySelectorAll('#table4_speech thead tr:last-child th')[1].querySelector('button').click()")
    got = [v for v in chrome.eval(values.format(c=1)) if v is not None]
    assert len(got) >= 4 and got == sorted(got)
    chrome.eval("document.querySelectorAll('#case-table thead th')[0].querySelector('button').click()")
    chrome.eval("document.querySelectorAll('#case-table thead th')[0].querySelector('button').click()")
    assert _rows(chrome, "case-table")[0] == "sp-005"
    assert chrome.eval("document.querySelectorAll('#case-table thead th')[0].getAttribute('aria-sort')") == "descending"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chrome.eval("window.scrollTo(0, 0)")
    shot = chrome.screenshot(ARTIFACTS / "index.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000
    assert chrome.errors == []


SEEKED = """Promise.all(Array.from(document.querySelectorAll('video.clip')).map(v =>
  v.seeking ? new Promise(r => v.addEventListener('seeked', r, {once: true})) : null))
  .then(() => Array.from(document.querySelectorAll('video.clip')).map(v => v.currentTime))"""
PLAYED = """new Promise(done => { const v = document.querySelector('video.clip'), t0 = performance.now();
  (function wait() {
    v.currentTime > 0.3 || performance.now() - t0 > 10000 ? done(v.currentTime) : setTimeout(wait, 20);
  })();
})"""
READY = """Promise.all(Array.from(document.querySelectorAll('video.clip')).map(v =>
  v.readyState >= 1 ? null : new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}))))
  .then(() => parseFloat(document.getElementById('seek').max))"""


@browser
@pytest.mark.browser
@pytest.mark.slow
def test_one_control_keeps_every_player_in_step(chrome, site):
    chrome.errors.clear()
    chrome.open((site.parent / "cases" / "amb-002.html").as_uri())
    assert chrome.eval(READY) == pytest.approx(1.0, abs=0.05)
    assert chrome.eval("document.querySelectorAll('video.clip').length") == 2
    chrome.eval("(s => { s.value = '0.5'; s.dispatchEvent(new Event('input')); })(document.getElementById('seek'))")
    times = chrome.eval(SEEKED)
    assert max(times) - min(times) <= 0.1 and times[0] == pytest.approx(0.5, abs=0.1)
    chrome.key("ArrowRight", "ArrowRight", 39)  # keyboard: a tenth of a second on
    times = chrome.eval(SEEKED)
    assert max(times) - min(times) <= 0.1 and times[0] == pytest.approx(0.6, abs=0.1)
    chrome.key("Home", "Home", 36)
    chrome.eval(SEEKED)
    chrome.eval("document.getElementById('play').click()")
    assert chrome.eval(PLAYED) > 0.3
    chrome.eval("document.getElementById('play').click()")  # pause
    times = chrome.eval(SEEKED)
    assert max(times) - min(times) <= 0.1 and times[0] > 0.1  # both played, together
    # sound from one player at a time, chosen by radio or number key
    muted = "Array.from(document.querySelectorAll('video.clip')).map(v => v.muted)"
    assert chrome.eval(muted) == [False, True]
    chrome.key("2", "Digit2", 50)
    assert chrome.eval(muted) == [True, False]
    assert chrome.eval("document.querySelector('input[name=sound]:checked').value") == "1"
    chrome.key("0", "Digit0", 48)
    assert chrome.eval(muted) == [True, True]
    missing = chrome.eval("document.querySelector('.player .missing').textContent")
    assert missing == "no clip: no clip stored for this case"  # the hostile run has no clips
    assert chrome.eval("document.querySelector('#prompt img').alt") == "Reference image of case amb-002"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = chrome.screenshot(ARTIFACTS / "case.png")
    assert shot.stat().st_size > 10000
    chrome.key("]", "BracketRight", 221)  # next case
    for _ in range(50):
        if chrome.eval("location.pathname").endswith("/cases/amb-003.html"):
            break
        time.sleep(0.1)
    assert chrome.eval("location.pathname").endswith("/cases/amb-003.html")
    assert chrome.errors == []


@browser
@pytest.mark.browser
@pytest.mark.slow
def test_a_broken_page_is_caught(chrome, tmp_path):
    (tmp_path / "broken.html").write_text('<!DOCTYPE html><body><script>undefinedFunction();</script>'
                                          '<img src="missing.png" alt="x"></body>')
    chrome.errors.clear()
    chrome.open((tmp_path / "broken.html").as_uri())
    assert any("undefinedFunction" in e for e in chrome.errors)
    assert any("missing.png" in e for e in chrome.errors)
