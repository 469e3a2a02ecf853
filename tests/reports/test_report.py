"""write_run_report / write_leaderboard / compare_runs on run folders written by the real store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from harmony_bench.store import load_results
from harmony_bench.reports import compare_runs, write_leaderboard, write_run_report
from harmony_bench.reports.html import esc
from tests.reports.conftest import CASES, HOSTILE, HOSTILE_MODEL, HOSTILE_REASON, OTHER, make_run

TABLES = ["table2_overall", "table4_speech", "table5_ambient", "table6_complex", "table7_zh"]


@pytest.fixture(scope="module")
def report_a(run_pair, tmp_path_factory) -> tuple[Path, list[Path]]:
    mp = pytest.MonkeyPatch()  # the autouse manifest fixture is function-scoped
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    try:
        return run_pair[0], write_run_report(run_pair[0])
    finally:
        mp.undo()


def test_run_report_writes_every_table_in_every_format(report_a):
    run_dir, paths = report_a
    names = {p.name for p in paths}
    for stem in TABLES:
        assert {f"{stem}.{ext}" for ext in ("md", "csv", "tex", "json")} <= names
    assert {"report.html", "report.md", "report.json", "status.csv", "wer_aggregation.csv"} <= names
    assert all(p.parent == run_dir / "report" and p.stat().st_size > 0 for p in paths)


def test_report_numbers_match_the_store(report_a):
    run_dir, _ = report_a
    raw = load_results(run_dir)
    aq = raw[(raw["output"] == "AQ") & (raw["status"] == "ok")]
    doc = json.loads((run_dir / "report" / "report.json").read_text())
    overall = doc["tables"][0]
    mine = overall["rows"][-1]
    assert mine["source"] == "run" and mine["method"] == "model-a"
    assert mine["cells"]["AQ"]["value"] == pytest.approx(aq.groupby("subset")["value"].mean().mean())
    assert mine["cells"]["IB"]["value"] is None  # random-weight IB is not the paper's protocol...
    variant = doc["variants"][0]
    assert "IB [ib@imagebind]" in [c["name"] for c in variant["columns"]]  # ...it is reported apart
    assert not variant["ranked"]
    harmony = next(r for r in overall["rows"] if r["method"] == "Harmony")
    assert harmony["cells"]["Sync-C"]["display"] == "5.61"


def test_html_is_escaped_and_self_contained(report_a):
    run_dir, _ = report_a
    page = (run_dir / "report" / "report.html").read_text()
    assert HOSTILE not in page and "<script>alert" not in page
    assert "A cat &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; a &quot;door&quot; slams" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page and not re.search(r"<script[^>]+src", page)
    assert page.count('class="card"') == len(CASES)
    assert 'src="../clips/cx-001.mp4"' in page and (run_dir / "report" / "../clips/cx-001.mp4").is_file()
    assert page.count("data:image/png;base64,") == len(CASES) and page.count('class="wave"') == len(CASES)
    assert page.count('class="radar"') == 6 and 'class="chart"' in page  # five published models + the run
    assert "no face found" in page
    assert page.count('poster="data:image/jpeg;base64,') == len(CASES)


def test_html_charts_say_why_a_bar_is_missing_and_chart_the_other_numbers_apart(report_a):
    import base64
    import io

    import numpy as np
    from PIL import Image

    run_dir, _ = report_a
    page = (run_dir / "report" / "report.html").read_text()
    charts = re.search(r'<section id="charts">.*?</section>', page).group(0)
    assert "<li>no bar for model-a: not run</li>" in charts  # IQ: no metric ran
    assert ("<li>no bar for model-a: measured only outside the paper&#x27;s protocol (ib@imagebind: imagebind.pth "
            "is not the manifest&#x27;s file") in charts
    assert "<li>no bar for MM-Diffusion: not reported in the paper</li>" in charts  # its ID is "-"
    apart = re.search(r'<section id="variant-charts">.*?</section>', page).group(0)
    assert "<h2>Charts: your numbers not comparable with the paper</h2>" in apart
    ib = re.search(r'<svg class="chart"[^>]*><text[^>]*>IB \[ib@imagebind\] ↑</text>.*?</svg>', apart).group(0)
    assert ib.count("<rect") == 5  # model-a over the five scopes
    assert "Harmony" not in apart and "Ovi" not in apart  # no published row among these bars
    poster = re.search(r'poster="data:image/jpeg;base64,([^"]+)"', page).group(1)
    grey = np.asarray(Image.open(io.BytesIO(base64.b64decode(poster)))).mean()
    assert abs(grey - 90) < 6  # the fixture's clips are grey 90


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A run whose model name and failure reason carry markup: every output must show it inert."""
    mp = pytest.MonkeyPatch()
    from tests.reports.conftest import fake_metric_class

    mp.setattr("harmony_bench.reports.runs.metric_class", fake_metric_class)
    try:
        run = make_run(tmp_path_factory.mktemp("hostile"), "hostile", HOSTILE_MODEL, reason=HOSTILE_REASON)
        write_run_report(run)
        return run
    finally:
        mp.undo()


def test_html_title_and_heading_escape_the_model_name(hostile):
    page = (hostile / "report" / "report.html").read_text()
    title = esc(f"Harmony-Bench report: hostile ({HOSTILE_MODEL})")
    assert re.search("<title>(.*?)</title>", page).group(1) == title
    assert re.search("<h1>(.*?)</h1>", page).group(1) == title


def test_html_row_labels_escape_the_model_name(hostile):
    page = (hostile / "report" / "report.html").read_text()
    assert page.count(f'<tr class="run"><th>{esc(HOSTILE_MODEL)} <span class="tag">this suite</span>') >= len(TABLES)


def test_html_gallery_values_and_coverage_escape_error_messages(hostile):
    page = (hostile / "report" / "report.html").read_text()
    card = re.search(r'<article class="card"[^>]*><h3>cx-004 .*?</article>', page).group(0)
    assert f"<td>unscorable: {esc(HOSTILE_REASON)}</td>" in card
    coverage = re.search(r'<section id="status">.*?</section>', page).group(0)
    assert f"<td>{esc(HOSTILE_REASON)}</td>" in coverage


def test_no_output_carries_raw_markup_from_names_reasons_or_cases(hostile, tmp_path):
    write_leaderboard([hostile], tmp_path / "board")
    files = [hostile / "report" / f"report.{ext}" for ext in ("html", "md")] + [hostile / "report" / "table2_overall.md"]
    files += [tmp_path / "board" / f"leaderboard.{ext}" for ext in ("html", "md")]
    for path in files:
        text = path.read_text()
        assert "<script>alert" not in text and "&lt;script&gt;alert(" in text, path.name
    md = (hostile / "report" / "report.md").read_text()
    assert f"# Harmony-Bench report: hostile (&lt;script&gt;alert(\"model\")&lt;/script&gt;\\*m\\*)" in md
    assert "no face &lt;script&gt;alert(\"reason\")&lt;/script&gt; \\| found" in md  # the coverage table's reason
    assert "| &lt;script&gt;alert(\"model\")&lt;/script&gt;\\*m\\* (this suite) |" in md


def test_leaderboard_flags_a_run_on_another_case_set_and_weights(run_pair, tmp_path):
    odd = make_run(tmp_path, "run-c", "model-c", weights_hash=OTHER, cases=CASES[:9], clips=False)
    paths = write_leaderboard([*run_pair, odd], tmp_path / "board")
    assert {"leaderboard.html", "leaderboard.md", "leaderboard.json", "table2_overall.tex"} <= {p.name for p in paths}
    doc = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    flags = {r["run_id"]: r["flags"] for r in doc["runs"]}
    assert flags["run-a"] == [] and flags["run-b"] == []
    assert flags["run-c"] == ["case set differs", f"n differs: 9 cases, most runs {len(CASES)}",
                              "AQ protocol differs"]
    rows = {r["method"]: r for r in doc["tables"][0]["rows"]}
    assert rows["model-c"]["cells"]["AQ"]["value"] is None  # other AQ weights: not in the paper column
    assert rows["model-b"]["cells"]["AQ"]["rank"] == 1
    assert "⚠ case set differs" in (tmp_path / "board" / "leaderboard.md").read_text()
    assert "AQ [aq@official]" in [c["name"] for c in doc["variants"][0]["columns"]]


def test_leaderboard_flags_fewer_cases_of_the_same_case_set(run_pair, tmp_path):
    """Same case set, but one run scored 3 cases where the others scored all: flagged, and each
    cell still shows its own n."""
    small = make_run(tmp_path, "run-small", "model-s", cases=CASES[:3], clips=False)
    (small / "run.json").write_text((run_pair[0] / "run.json").read_text().replace('"run-a"', '"run-small"'))
    write_leaderboard([*run_pair, small], tmp_path / "board")
    doc = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    flag = f"n differs: 3 cases, most runs {len(CASES)}"
    assert {r["run_id"]: r["flags"] for r in doc["runs"]}["run-small"] == [flag]
    assert f"| model-s (this suite) ⚠ {flag} |" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_row_labels_name_the_model_once_and_stay_distinct(tmp_path):
    runs = [make_run(tmp_path, "myplugin", "myplugin", cases=CASES[:4], clips=False),
            make_run(tmp_path, "myplugin-2", "myplugin", cases=CASES[:4], clips=False),
            make_run(tmp_path, "ovi-run", "Ovi", cases=CASES[:4], clips=False),
            make_run(tmp_path, "Harmony", "Harmony", cases=CASES[:4], clips=False)]
    write_leaderboard(runs, tmp_path / "board")
    doc = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    labels = [r["method"] for r in doc["tables"][0]["rows"] if r["source"] == "run"]
    assert labels == ["myplugin", "myplugin (myplugin-2)", "Ovi (ovi-run)", "Harmony'"]
    md = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| myplugin (this suite) |" in md and "(myplugin) (this suite)" not in md


def test_compare_runs_pairs_cases_and_tests_the_difference(run_pair):
    table = compare_runs(*run_pair)
    aq = table[(table["output"] == "AQ") & (table["scope"] == "overall")].iloc[0]
    assert aq["n"] == len(CASES) and aq["diff"] == pytest.approx(0.3) and aq["better"] == "b"
    assert aq["p_value"] == pytest.approx(2 / 2 ** len(CASES))  # exact: only the two all-same-sign patterns
    dd = table[(table["metric_key"] == "dd@raft") & (table["output"] == "DD") & (table["scope"] == "overall")].iloc[0]
    assert dd["diff"] == 0 and dd["p_value"] == 1.0 and dd["better"] == "tie"
    sync = table[(table["output"] == "Sync-C") & (table["scope"] == "complex")].iloc[0]
    assert sync["n"] == 3  # the unscorable case is not paired
    assert table["same_protocol"].all()


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results.sqlite"):
        write_run_report(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_a_scope_without_cases_says_so_and_leaves_no_empty_variant_table(tmp_path):
    ambient_only = make_run(tmp_path, "run-amb", "amb", cases=CASES[:4], clips=False)
    out = tmp_path / "report"
    (out).mkdir()
    (out / "variants_zh.md").write_text("stale")  # from an earlier report of another run
    names = {p.name for p in write_run_report(ambient_only, out)}
    assert "variants_ambient.md" in names and "variants_zh.md" not in names
    assert not (out / "variants_zh.md").exists()
    zh = (out / "table7_zh.md").read_text()
    assert "amb: no number under the paper's protocol here" in zh
    page = (out / "report.html").read_text()
    assert page.count("no clip") == 4  # clips were never generated: said, not hidden


def test_leaderboard_carries_paired_comparisons_with_the_first_run(run_pair, tmp_path):
    write_leaderboard(list(run_pair), tmp_path / "board")
    paired = pd.read_csv(tmp_path / "board" / "paired.csv")
    aq = paired[(paired["output"] == "AQ") & (paired["scope"] == "overall")].iloc[0]
    assert (aq["run_a"], aq["run_b"], aq["better"]) == ("run-a", "run-b", "b")
    assert aq["diff"] == pytest.approx(0.3)
    assert "Paired comparisons with the first run" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_a_run_without_results_still_gets_a_report_that_says_so(tmp_path):
    from harmony_bench.store import Store

    Store(tmp_path / "fresh", create=True).close()
    (tmp_path / "fresh" / "run.json").write_text(json.dumps({"run_id": "fresh", "model": "static"}))
    names = {p.name for p in write_run_report(tmp_path / "fresh")}
    assert "report.html" in names and not any(n.startswith("variants_") for n in names)
    assert "static: no number under the paper's protocol" in (tmp_path / "fresh" / "report" / "report.md").read_text()
    page = (tmp_path / "fresh" / "report" / "report.html").read_text()
    assert ('<figcaption class="why">no number under the paper&#x27;s protocol: see the coverage table</figcaption>'
            in page)


def test_hb_tables_gives_the_paper_tables_as_dataframes(report_a):
    import harmony_bench as hb

    run_dir, _ = report_a
    frames = hb.tables(run_dir)
    assert list(frames) == TABLES and "tables" in hb.__all__
    overall = frames["table2_overall"]
    assert list(overall.columns[:3]) == ["source", "AQ", "IQ"] and overall.attrs["title"].startswith("Table 2.")
    assert list(overall["source"]) == ["paper"] * 5 + ["run"]
    assert overall.loc["Harmony", "Sync-C"] == 5.61 and pd.isna(overall.loc["MM-Diffusion", "ID"])
    doc = json.loads((run_dir / "report" / "report.json").read_text())
    for table, frame in zip(doc["tables"], frames.values()):
        mine = table["rows"][-1]["cells"]
        for name, cell in mine.items():
            got = frame.loc["model-a", name]
            assert (pd.isna(got) and cell["value"] is None) or got == pytest.approx(cell["value"]), (table["key"], name)
    assert list(frames["table7_zh"].columns) == ["source", "WER", "CER", "Sync-C", "Sync-D", "IB"]
    detail = hb.tables(run_dir, detail=True)["table4_speech"]
    assert detail.loc["model-a", "WER_n"] == 3 and pd.isna(detail.loc["Harmony", "WER_n"])
    lo, hi = detail.loc["model-a", ["AQ_ci_low", "AQ_ci_high"]]
    assert lo < detail.loc["model-a", "AQ"] < hi


def test_the_report_says_which_command_fills_each_empty_paper_column(tmp_path, monkeypatch):
    from harmony_bench.store import Store

    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path / "no-weights"))
    Store(tmp_path / "fresh", create=True).close()
    (tmp_path / "fresh" / "run.json").write_text(json.dumps({"run_id": "fresh", "model": "static"}))
    write_run_report(tmp_path / "fresh")
    fill = pd.read_csv(tmp_path / "fresh" / "report" / "fill.csv").set_index("columns")
    assert list(fill.index) == ["AQ", "IQ", "DD", "MS", "ID", "PQ, PC, CE, CU", "WER", "IB-A, IB", "Sync-C, Sync-D",
                                "DeSync"]
    assert fill.loc["PQ, PC, CE, CU", "fill with"] == "harmony-bench weights fetch audiobox@aesthetics"
    assert fill.loc["Sync-C, Sync-D", "tables"] == "Tables 2-7" and fill.loc["WER", "why empty"] == "not run"
    md = (tmp_path / "fresh" / "report" / "report.md").read_text()
    assert f"harmony-bench evaluate {tmp_path / 'fresh'}" in md.replace("\\", "")
    assert md.count("Empty columns: 'Empty paper columns and what fills them' below") == len(TABLES)

def test_table7_run_number_never_sits_unmarked_in_a_column_of_another_scale(run_pair):
    """The paper's Chinese WER (0.92-9.10) is not a character error rate: a run's CER (a fraction)
    goes to this suite's own column; the paper's column gets only the whitespace-token reading,
    footnoted with its assumption; no best/second mark compares a run's CER with a paper number."""
    from harmony_bench.reports.paper import ZH_WER_ASSUMPTION
    from harmony_bench.reports.report import build_tables
    from harmony_bench.reports.runs import load_run
    from harmony_bench.reports.tables import footnotes, ranks, to_markdown

    run = load_run(run_pair[0])
    zh_rows = run.results[(run.results["language"] == "zh") & (run.results["metric_key"] == "wer@whisper")]
    cer = zh_rows.loc[zh_rows["output"] == "WER", "value"].mean()
    by_words = zh_rows.loc[zh_rows["output"] == "WER-words", "value"].mean()
    assert by_words > 2 > cer  # the fixture's two scales, far apart

    paper_tables, variant_tables = build_tables([run])
    table = next(t for t in paper_tables if t.key == "table7_zh")
    mine = table.rows[-1]
    assert mine.source == "run"
    assert mine.cells["CER"].value == pytest.approx(cer) and mine.cells["WER"].value == pytest.approx(by_words)
    assert ZH_WER_ASSUMPTION in mine.cells["WER"].note
    for col in table.columns:  # every column a run fills from another stored output says why
        cell = table.cell(mine, col)
        if not cell.missing and col.published and col.output != col.name:
            assert col.run_note and col.run_note in cell.note, col.name
    published = [r for r in table.rows if r.source == "paper"]
    own = next(c for c in table.columns if not c.published)
    assert own.name == "CER" and published and all(table.cell(r, own).missing for r in published)
    marks = ranks(table)
    assert not any(marks.get((i, "CER")) for i in range(len(table.rows)))  # one run: nothing to rank it against
    assert marks.get((len(published) - 1, "WER")) == 1  # Harmony's 0.92 stays the best WER
    text = to_markdown(table)
    assert "| CER (this suite) ↓ |" in text and "character error rate" not in table.title
    assert f"<sup>{footnotes(table)[mine.cells['WER'].note]}</sup>" in text.splitlines()[4 + len(published)]
    variants = next(t for t in variant_tables if t.key == "variants_zh")  # another WER protocol: CER there too
    assert not any(c.name.startswith("WER") for c in variants.columns)
    other = run.results[(run.results["language"] == "zh") & (run.results["metric_key"] == "wer@whisper+norm")
                        & (run.results["output"] == "WER")]["value"]
    assert len(other) == 2 and variants.rows[-1].cells["CER [wer@whisper+norm]"].value == pytest.approx(other.mean())
