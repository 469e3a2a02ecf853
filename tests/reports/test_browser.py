"""The HTML report in a real browser: headless Chromium loads it from disk with no network.

Console messages are read from Chromium's own log (--enable-logging=stderr): any CONSOLE line
(an uncaught error, a blocked resource) fails the test. The DOM is dumped after the page's
script ran, and a screenshot is kept in test-artifacts/reports/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harmony_bench.reports import write_run_report
from tests.reports.conftest import CASES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")]


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=90, check=False)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def page(run_pair) -> Path:
    mp = pytest.MonkeyPatch()
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    try:
        return next(p for p in write_run_report(run_pair[0]) if p.name == "report.html")
    finally:
        mp.undo()


def test_report_renders_without_console_errors(page, tmp_path):
    done = chromium(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_lines(done.stderr) == []
    dom = done.stdout
    for table in ("table2_overall", "table4_speech", "table5_ambient", "table6_complex", "table7_zh"):
        assert f'id="{table}"' in dom
    assert dom.count('class="card"') == len(CASES)
    assert f"{len(CASES)} of {len(CASES)} cases" in dom  # the filter script ran


def test_gallery_filter_from_the_link(page, tmp_path):
    done = chromium(page.as_uri() + "#subset=speech&tag=language%3Dzh", tmp_path / "profile", "--dump-dom")
    assert console_lines(done.stderr) == []
    assert f"2 of {len(CASES)} cases" in done.stdout


def test_screenshot_is_kept_as_an_artifact(page, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = chromium(page.as_uri(), tmp_path / "profile", "--window-size=1400,2400", f"--screenshot={shot}")
    assert console_lines(done.stderr) == []
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000


def test_console_check_catches_a_broken_page(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    done = chromium(broken.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("undefinedFunction" in line for line in console_lines(done.stderr))


def test_leaderboard_page_renders_without_console_errors(run_pair, tmp_path, monkeypatch):
    from harmony_bench.reports import write_leaderboard

    board = next(p for p in write_leaderboard(list(run_pair), tmp_path / "board") if p.suffix == ".html")
    done = chromium(board.as_uri(), tmp_path / "profile", "--dump-dom")
    assert console_lines(done.stderr) == []
    assert 'id="table2_overall"' in done.stdout and "model-b" in done.stdout
