"""Protocol checks and the run's cells, recomputed independently from the stored rows."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harmony_bench.store import Store, load_results
from harmony_bench.reports.paper import COLUMNS_BY_NAME
from harmony_bench.reports.runs import (classify, load_run, measured_row, protocol_status, scored, status_summary,
                          wer_aggregation)
from tests.reports.conftest import CASES, OTHER, PINNED, REAL_METRIC_CLASS, make_run


def test_protocol_verdicts():
    assert protocol_status("aq@official", True, "1", f"aq.safetensors={PINNED}") == (True, "")
    ok, note = protocol_status("sync@syncnet", True, "1", "syncnet.pth=" + "c" * 64)
    assert ok and "unpinned" in note and "syncnet.pth (loaded sha256 cccccccccccc)" in note
    for args, why in [(("dd@farneback", False, "1", ""), "offline variant"),
                      (("aq@official", True, "1", f"aq.safetensors={OTHER}"), "not the manifest's file"),
                      (("aq@official", True, "0", f"aq.safetensors={PINNED}"), "protocol v0"),
                      (("xx@unknown", True, "1", ""), "not installed")]:
        ok, note = protocol_status(*args)
        assert not ok and why in note, (args, note)


def test_rows_are_split_at_the_protocol_line(run_pair):
    results = load_run(run_pair[0]).results
    by_key = results.groupby("metric_key")["comparable"].agg(set).to_dict()
    assert by_key["aq@official"] == {True} and by_key["sync@syncnet"] == {True}
    assert by_key["dd@farneback"] == {False} and by_key["ib@imagebind"] == {False}
    official = scored(results, comparable=True)
    # no auxiliary DD-motion; the auxiliary WER-words only because Table 7's WER column reads it
    assert set(official["column"]) == {"AQ", "DD", "WER", "WER-words", "Sync-C", "Sync-D"}
    variants = scored(results, comparable=False)
    assert set(variants["column"]) == {"DD [dd@farneback]", "IB [ib@imagebind]", "WER [wer@whisper+norm]",
                                       "AV-score [avscore@official]"}
    extra_notes = set(variants.loc[variants["output"] == "AV-score", "protocol_note"])
    assert extra_notes == {"not a column of the paper's tables"}
    alternative = variants.loc[variants["metric_key"] == "wer@whisper+norm", "protocol_note"]
    assert set(alternative) == {"another official protocol for WER; the paper column uses wer@whisper"}


def test_real_registry_verdicts(monkeypatch):
    """The shipped metrics: offline variants never reach the paper columns; pinned files must match."""
    monkeypatch.setattr("harmony_bench.reports.runs.metric_class", REAL_METRIC_CLASS)
    whisper = REAL_METRIC_CLASS("wer@whisper-large-v3")
    pinned = next(wf for wf in whisper.weights if wf.sha256)
    assert protocol_status(whisper.key, True, whisper.version, f"{pinned.name}={pinned.sha256}") == (True, "")
    assert not protocol_status(whisper.key, True, whisper.version, f"{pinned.name}={OTHER}")[0]
    assert not protocol_status("dd@farneback", False, "1", "")[0]


def _ok(frame: pd.DataFrame, key: str, output: str) -> pd.DataFrame:
    return frame[(frame["metric_key"] == key) & (frame["output"] == output) & (frame["status"] == "ok")]


def test_cells_equal_an_independent_pandas_computation(run_pair):
    raw = load_results(run_pair[0])
    values = scored(load_run(run_pair[0]).results, comparable=True)
    cols = [COLUMNS_BY_NAME[n] for n in ("AQ", "WER", "Sync-C")]
    aq = _ok(raw, "aq@official", "AQ")
    expected_overall = aq.groupby("subset")["value"].mean().mean()
    overall = measured_row("m", values, cols, "overall")
    assert overall.cells["AQ"].value == pytest.approx(expected_overall)
    assert overall.cells["AQ"].n == 13
    lo, hi = overall.cells["AQ"].ci
    assert lo < expected_overall < hi

    wer = _ok(raw, "wer@whisper", "WER")
    speech = measured_row("m", values, cols, "speech")
    en = wer[(wer["subset"] == "speech") & (wer["language"] == "en")]["value"]
    assert speech.cells["WER"].value == pytest.approx(en.mean()) and speech.cells["WER"].n == 3
    zh = measured_row("m", values, cols, "zh")
    assert zh.cells["WER"].value == pytest.approx(wer[wer["language"] == "zh"]["value"].mean())
    assert zh.cells["WER"].n == 2

    complex_ = measured_row("m", values, cols, "complex")
    assert complex_.cells["Sync-C"].n == 3  # cx-004 had no face: unscorable, not zero
    assert "unpinned" in complex_.cells["Sync-C"].note
    assert measured_row("m", values, cols, "ambient").cells["Sync-C"].value is None  # not defined there


def _values(per_subset: dict[str, list[float]], column: str = "AQ") -> pd.DataFrame:
    """A scored-values frame as `scored` returns it, built by hand."""
    rows = [{"column": column, "output": column, "subset": s, "language": "en", "value": v, "protocol_note": ""}
            for s, vals in per_subset.items() for v in vals]
    return pd.DataFrame(rows, columns=["column", "output", "subset", "language", "value", "protocol_note"])


def test_overall_cell_ci_is_stratified_by_subset():
    """Known answer: no spread within a subset, so the stratified CI is the point itself; the
    cases are unevenly spread (2 / 16 / 2), so a pooled bootstrap would centre near the pooled
    mean 3.3 instead of the overall 4.0."""
    values = _values({"speech": [0.0, 0.0], "ambient": [3.0] * 16, "complex": [9.0, 9.0]})
    cell = measured_row("m", values, [COLUMNS_BY_NAME["AQ"]], "overall").cells["AQ"]
    assert (cell.value, cell.ci, cell.n) == (4.0, (4.0, 4.0), 20)


def test_overall_says_when_a_defined_subset_had_no_scored_case(run_pair):
    results = load_run(run_pair[0]).results
    no_complex = results[~((results["output"] == "WER") & (results["subset"] == "complex"))]
    cell = measured_row("m", scored(no_complex, True), [COLUMNS_BY_NAME["WER"]], "overall").cells["WER"]
    en_speech = results[(results["metric_key"] == "wer@whisper") & (results["subset"] == "speech")
                        & (results["language"] == "en")]
    assert cell.value == pytest.approx(en_speech["value"].mean())
    assert "no scored case in complex" in cell.note


def test_classify_handles_an_empty_run():
    empty = pd.DataFrame(columns=["metric_key", "official", "protocol_version", "weights_sha256"])
    out = classify(empty)
    assert list(out.columns)[-2:] == ["comparable", "protocol_note"] and out.empty


def test_wer_aggregation_gives_per_clip_and_corpus_rates(run_pair):
    results = load_run(run_pair[0]).results
    table = wer_aggregation(results).set_index(["metric_key", "scope"])
    complex_ = results[(results["metric_key"] == "wer@whisper") & (results["subset"] == "complex")]
    counts = pd.DataFrame(list(complex_["details"]))
    errors = counts[["substitutions", "deletions", "insertions"]].to_numpy().sum()
    row = table.loc[("wer@whisper", "complex")]
    assert row["corpus_rate"] == pytest.approx(errors / counts["reference_units"].sum())
    assert row["per_clip_mean"] == pytest.approx(complex_["value"].mean())
    assert row["corpus_rate"] != pytest.approx(row["per_clip_mean"])
    assert table.loc[("wer@whisper", "Chinese speech (CER)"), "cases"] == 2
    assert table.loc[("wer@whisper", "speech (en)"), "cases"] == 3


def test_languages_come_from_the_metrics_when_the_case_set_is_gone(tmp_path):
    run = make_run(tmp_path, "moved", cases=CASES[4:9], clips=False)  # the five speech cases
    with Store(run) as store:
        rows = store.conn.execute("SELECT case_id FROM results WHERE output='WER'").fetchall()
        for (case_id,) in rows:
            lang = "zh" if case_id in ("sp-004", "sp-005") else "en"
            store.conn.execute("UPDATE results SET details=? WHERE case_id=? AND output='WER'",
                               (f'{{"language": "{lang}"}}', case_id))
    shutil.rmtree(tmp_path / "moved-cases")
    results = load_run(run).results
    assert results.groupby("case_id")["language"].first().to_dict() == {
        "sp-001": "en", "sp-002": "en", "sp-003": "en", "sp-004": "zh", "sp-005": "zh"}


# ---------------------------------------------------------------------------- aggregation, properties

VALUE = st.floats(min_value=-10, max_value=10, allow_nan=False, width=32)
PER_SUBSET = st.fixed_dictionaries({s: st.lists(VALUE, max_size=6) for s in ("speech", "ambient", "complex")})


@settings(max_examples=40, deadline=None)
@given(PER_SUBSET, st.sampled_from(["AQ", "Sync-C", "DeSync"]), st.randoms(use_true_random=False))
def test_run_cells_follow_the_documented_rules(per_subset, name, rnd):
    col = COLUMNS_BY_NAME[name]
    values = _values(per_subset, name)
    row = measured_row("m", values, [col], "overall")
    cell = row.cells[name]
    used = [s for s in ("speech", "ambient", "complex") if s in col.subsets and per_subset[s]]
    if not used:  # nothing scored where the metric is defined: no number, never a zero
        assert cell.missing and cell.n is None
        return
    # the unweighted mean of the per-subset means, over the subsets that have a case
    assert cell.value == pytest.approx(np.mean([np.mean(per_subset[s]) for s in used]), abs=1e-9)
    assert cell.n == sum(len(per_subset[s]) for s in used)  # undefined subsets' cases are not counted
    missing = [s for s in ("speech", "ambient", "complex") if s in col.subsets and s not in used]
    assert (f"no scored case in {', '.join(missing)}" in cell.note) == bool(missing)
    lo, hi = cell.ci
    if min(len(per_subset[s]) for s in used) < 2:
        assert np.isnan(lo) and np.isnan(hi)
    else:  # every resample's statistic lies within the values
        everything = [v for s in used for v in per_subset[s]]
        assert min(everything) - 1e-9 <= lo <= hi <= max(everything) + 1e-9
    shuffled = values.sample(frac=1, random_state=rnd.randrange(2 ** 32))
    # the store's row order changes nothing, CI included (compared as repr: nan == nan)
    assert repr(measured_row("m", shuffled, [col], "overall")) == repr(row)
    for subset in ("speech", "ambient", "complex"):
        sub = measured_row("m", values, [col], subset).cells[name]
        expected_n = len(per_subset[subset]) if subset in col.subsets and per_subset[subset] else None
        assert sub.n == expected_n


STATUS = st.sampled_from(["ok", "unscorable", "unavailable", "error"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a@x", "b@y"]), st.sampled_from(["O1", "O2"]), STATUS), max_size=30))
def test_status_counts_add_up_to_the_stored_rows(rows):
    frame = pd.DataFrame([{"metric_key": k, "output": o, "status": s, "paper": True, "comparable": True,
                           "error": None if s == "ok" else f"{s} because", "protocol_note": ""}
                          for k, o, s in rows], columns=["metric_key", "output", "status", "paper", "comparable",
                                                         "error", "protocol_note"])
    summary = status_summary(frame).set_index(["metric_key", "output"])
    expected = pd.Series([(k, o) for k, o, _ in rows], dtype=object).value_counts()
    assert len(summary) == len(expected)
    for key, n in expected.items():
        got = summary.loc[key]
        assert got[["ok", "unscorable", "unavailable", "error"]].sum() == n
        assert got["ok"] == sum(1 for k, o, s in rows if (k, o) == key and s == "ok")
        assert (got["first_reason"] == "") == (got["ok"] == n)
