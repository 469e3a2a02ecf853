"""From a run's stored results to table rows: loading, protocol checks, per-cell statistics.

Only numbers measured with the paper's protocol share the paper's columns: the metric must be
an official backend at its current protocol version, and every weight file it loaded must hash
to the sha256 its `WeightFile` states (a file without a public hash is allowed and marked
"unpinned"). Everything else (offline variants, other checkpoints, random test weights, older
protocol versions) goes to a separate section that says why and is never ranked against the
paper's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from harmony_bench.cases import Case
from harmony_bench.weights import OVERRIDE_MARK
from harmony_bench.reports.paper import CHINESE_COLUMNS, COLUMNS_BY_NAME, SUBSET_ORDER, Column
from harmony_bench.reports.stats import bootstrap_ci, mean_of_subset_means, paired_comparison
from harmony_bench.reports.tables import Cell, Row

# WER of these languages is a character error rate: it stays out of the WER column of Tables 2, 4
# and 6, whose published values it would swamp, and is Table 7's own CER column.
CER_LANGUAGES = frozenset({"zh"})
CHINESE = "zh"
# Auxiliary (non-paper) outputs that a paper column reads for a run (paper.CHINESE_COLUMNS).
TABLE_READINGS = frozenset(c.reads for c in CHINESE_COLUMNS if c.published and c.reads)


@dataclass
class RunData:
    run_dir: Path
    run_id: str
    model: str
    info: dict  # run.json (empty when absent)
    results: pd.DataFrame  # load_results + `comparable` (bool) and `protocol_note` (str)
    cases: dict[str, Case] = field(default_factory=dict)

    @property
    def case_set(self) -> str:
        return str(self.info.get("case_set_sha256") or "unknown")


def load_run(run_dir: Path) -> RunData:
    from harmony_bench.store import DB_NAME, load_results

    run_dir = Path(run_dir)
    if not (run_dir / DB_NAME).is_file():
        raise FileNotFoundError(f"{run_dir}: no {DB_NAME}; is this a run folder?")
    results = classify(_fill_language(load_results(run_dir)))
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    models = sorted(results["model"].unique()) if len(results) else []
    model = ", ".join(models) or str((info.get("model_info") or {}).get("name") or info.get("model") or "model")
    # labelled by the folder's present name: the stored run id is a hash of the run's identity
    return RunData(run_dir, run_dir.resolve().name, model, info, results,
                   _load_cases(info.get("cases_dir")))


def _fill_language(results: pd.DataFrame) -> pd.DataFrame:
    """Where the case set could not be found, take a case's language from what its metrics
    recorded (the WER metrics store it), so Chinese cases still stay out of the WER column."""
    if results.empty or results["language"].notna().all():
        return results
    recorded = {}
    for case_id, details in zip(results["case_id"], results["details"]):
        if isinstance(details, dict) and details.get("language"):
            recorded.setdefault(case_id, details["language"])
    out = results.copy()
    # object dtype first: pandas 3 refuses to fill a str or all-NaN float column from another dtype
    out["language"] = out["language"].astype(object).fillna(out["case_id"].map(recorded).astype(object))
    return out


def _load_cases(cases_dir: str | None) -> dict[str, Case]:
    from harmony_bench.cases import load_cases

    if not cases_dir or not Path(cases_dir).is_dir():
        return {}
    return {c.id: c for c in load_cases(cases_dir, validate=False)}


# -- protocol checks -----------------------------------------------------------------------

def metric_class(key: str):
    """The installed metric class for a key, or None (tests substitute their own table)."""
    from harmony_bench.metrics.registry import METRICS, load_builtin

    load_builtin()
    return METRICS.get(key) if key in METRICS else None


def protocol_status(metric_key: str, official: bool, version: str, weights_sha256: str) -> tuple[bool, str]:
    """(shares the paper's columns?, note). The note says why not, or flags unpinned weights."""
    if not official:
        return False, f"offline variant {metric_key}, not the paper's model"
    cls = metric_class(metric_key)
    if cls is None:
        return False, f"{metric_key} is not installed here, so its weights cannot be checked"
    if str(version) != str(cls.version):
        return False, f"{metric_key} protocol v{version}; the current protocol is v{cls.version}"
    loaded = dict(part.split("=", 1) for part in weights_sha256.split(";") if "=" in part)
    if OVERRIDE_MARK in loaded:
        return False, f"{metric_key}: weights checked against a local override manifest ($HARMONY_BENCH_MANIFEST), not the shipped one"
    unpinned = []
    for wf in cls.weights:
        if wf.sha256 is None:  # nothing to check against: say which file was used, so runs can be told apart
            unpinned.append(f"{wf.name} (loaded sha256 {(loaded.get(wf.name) or 'none')[:12]})")
        elif loaded.get(wf.name) != wf.sha256:
            got = (loaded.get(wf.name) or "none")[:12]
            return False, f"{metric_key}: {wf.name} is not the manifest's file (sha256 {got}...)"
    return True, ("unpinned weights (no public sha256): " + ", ".join(unpinned)) if unpinned else ""


def classify(results: pd.DataFrame) -> pd.DataFrame:
    """Add `comparable` and `protocol_note` to every stored row."""
    keys = ["metric_key", "official", "protocol_version", "weights_sha256"]
    out = results.copy()
    if out.empty:
        out["comparable"], out["protocol_note"] = pd.Series(dtype=bool), pd.Series(dtype=str)
        return out
    verdicts = {k: protocol_status(*k) for k in out[keys].drop_duplicates().itertuples(index=False, name=None)}
    stamp = list(zip(*(out[k] for k in keys)))
    out["comparable"] = [verdicts[s][0] for s in stamp]
    out["protocol_note"] = [verdicts[s][1] for s in stamp]
    return out


# -- per-case values -> cells --------------------------------------------------------------

def scored(results: pd.DataFrame, comparable: bool) -> pd.DataFrame:
    """ok rows of paper outputs on one side of the protocol line, with a `column` name: the
    output itself for the paper's columns, "output [metric_key]" for the other side.

    When two official backends measure one column (e.g. two WER normalisations), the one that
    scored most cases fills the paper column and the other is reported beside the variants.
    """
    read = results["output"].isin(TABLE_READINGS)  # auxiliary outputs a paper column reads (Table 7's WER)
    ok = results[(results["status"] == "ok") & (results["paper"] | read) & results["value"].notna()].copy()
    ok.loc[~ok["output"].isin(COLUMNS_BY_NAME.keys() | TABLE_READINGS), ["comparable", "protocol_note"]] = (
        False, "not a column of the paper's tables")
    ok["comparable"] = ok["comparable"].astype(bool)
    primary = _primary_keys(ok[ok["comparable"]])
    in_paper = ok["comparable"] & (ok["metric_key"] == ok["output"].map(primary))
    if comparable:
        return ok[in_paper].assign(column=ok["output"])
    other = ok[~in_paper & ok["paper"]].copy()
    alternative = other["comparable"]
    other.loc[alternative, "protocol_note"] = [
        f"another official protocol for {o}; the paper column uses {primary[o]}"
        for o in other.loc[alternative, "output"]]
    return other.assign(column=other["output"] + " [" + other["metric_key"] + "]")


def _primary_keys(official: pd.DataFrame) -> dict[str, str]:
    counts = official.groupby(["output", "metric_key"]).size().reset_index(name="n")
    counts["length"] = counts["metric_key"].str.len()
    best = counts.sort_values(["n", "length", "metric_key"], ascending=[False, True, True]).drop_duplicates("output")
    return dict(zip(best["output"], best["metric_key"]))


def variant_columns(values: pd.DataFrame) -> tuple[Column, ...]:
    cols = values.drop_duplicates("column").sort_values("column")
    return tuple(Column(r.column, r.direction, "", _defined(r.output)) for r in cols.itertuples())


def chinese_variant_columns(columns: Sequence[Column]) -> tuple[Column, ...]:
    """Variant columns for the Chinese cases: a WER output there is a character error rate, so
    its column says CER (it reads the same stored output)."""
    return tuple(replace(c, name="CER" + c.name[3:], reads=c.name) if _output_of(c) == "WER" else c for c in columns)


def _defined(output: str) -> frozenset[str]:
    col = COLUMNS_BY_NAME.get(output)
    return col.subsets if col else frozenset(SUBSET_ORDER)


def _scope_values(values: pd.DataFrame, col: Column, subset: str, chinese: bool = False) -> np.ndarray:
    v = values[(values["column"] == col.output) & (values["subset"] == subset)]
    if chinese:
        v = v[v["language"] == CHINESE]
    elif _output_of(col) == "WER":
        v = v[~v["language"].isin(CER_LANGUAGES)]
    # sorted: the bootstrap draws indices, so the CI would otherwise depend on the store's row order
    return np.sort(v["value"].to_numpy(float))


def _output_of(col: Column) -> str:
    """The stored output behind a column ("WER [wer@x]" -> "WER")."""
    return col.output.split(" [")[0]


def _note(values: pd.DataFrame, col: Column) -> str:
    notes = sorted(set(values.loc[values["column"] == col.output, "protocol_note"]) - {""})
    return "; ".join(notes + ([col.run_note] if col.run_note else []))


def subset_cell(values: pd.DataFrame, col: Column, subset: str, chinese: bool = False) -> Cell:
    if subset not in col.subsets:
        return Cell(None)
    arr = _scope_values(values, col, subset, chinese)
    if not len(arr):
        return Cell(None)
    return Cell(float(arr.mean()), bootstrap_ci([arr]), len(arr), _note(values, col))


def overall_cell(values: pd.DataFrame, col: Column) -> Cell:
    groups = {s: _scope_values(values, col, s) for s in SUBSET_ORDER if s in col.subsets}
    groups = {s: g for s, g in groups.items() if len(g)}
    mean, used = mean_of_subset_means({s: float(g.mean()) for s, g in groups.items()}, col.subsets)
    if mean is None:
        return Cell(None)
    missing = [s for s in SUBSET_ORDER if s in col.subsets and s not in used]
    notes = [_note(values, col)] + ([f"{_output_of(col)}: no scored case in {', '.join(missing)}; "
                                     f"mean over {', '.join(used)} only"] if missing else [])
    return Cell(float(mean), bootstrap_ci([groups[s] for s in used]), sum(len(groups[s]) for s in used),
                "; ".join(n for n in notes if n))


def measured_row(label: str, values: pd.DataFrame, columns: Sequence[Column], scope: str,
                 flags: tuple[str, ...] = ()) -> Row:
    """The run's row of one table; scope is "overall", a subset, or "zh" (Table 7)."""
    if scope == "overall":
        cells = {c.name: overall_cell(values, c) for c in columns}
    else:
        subset, chinese = ("speech", True) if scope == CHINESE else (scope, False)
        cells = {c.name: subset_cell(values, c, subset, chinese) for c in columns}
    return Row(label, cells, "run", flags)


# -- WER aggregation -----------------------------------------------------------------------

WER_SCOPES = (("speech (en)", "speech", False), ("complex", "complex", False), ("Chinese speech (CER)", "speech", True))
COUNT_KEYS = ("reference_units", "substitutions", "deletions", "insertions")


def wer_aggregation(results: pd.DataFrame) -> pd.DataFrame:
    """Per WER backend and scope: the tables' per-clip mean beside the corpus-level rate (all
    errors over all reference units), from the edit counts the WER metrics store per clip.
    The two differ when clips differ in length; the paper does not say which it used."""
    from harmony_bench.metrics.audio.text import EditCounts, corpus_rate

    wer = results[(results["output"] == "WER") & (results["status"] == "ok")]
    wer = wer.loc[wer["details"].map(lambda d: all(k in d for k in COUNT_KEYS)).astype(bool)]
    rows = []
    for key, g in wer.groupby("metric_key", sort=True):
        for name, subset, chinese in WER_SCOPES:
            part = g[g["subset"] == subset]
            part = part[part["language"] == CHINESE] if chinese else part[~part["language"].isin(CER_LANGUAGES)]
            counts = [EditCounts.from_json(d) for d in part["details"]]
            if counts and sum(c.reference_units for c in counts):
                rows.append({"metric_key": key, "scope": name, "cases": len(part),
                             "per_clip_mean": float(part["value"].mean()), "corpus_rate": corpus_rate(counts)})
    return pd.DataFrame(rows, columns=["metric_key", "scope", "cases", "per_clip_mean", "corpus_rate"])


# -- status summary ------------------------------------------------------------------------

def status_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per metric output: how many cases got a number and why the others did not. The protocol
    verdict comes from the rows that ran (an unavailable metric loaded no weights to judge)."""
    rows = []
    for (key, output), g in results.groupby(["metric_key", "output"], sort=True):
        counts = g["status"].value_counts()
        reasons = g.loc[g["status"] != "ok", "error"].dropna()
        ran = g[g["status"].isin(["ok", "unscorable"])]
        rows.append({"metric_key": key, "output": output, "paper": bool(g["paper"].iloc[0]),
                     "comparable": bool(ran["comparable"].all()) if len(ran) else None,
                     **{s: int(counts.get(s, 0)) for s in ("ok", "unscorable", "unavailable", "error")},
                     "first_reason": reasons.iloc[0] if len(reasons) else "",
                     "protocol_note": "; ".join(sorted(set(ran["protocol_note"]) - {""}))})
    return pd.DataFrame(rows, columns=["metric_key", "output", "paper", "comparable", "ok", "unscorable",
                                       "unavailable", "error", "first_reason", "protocol_note"])


# -- paired comparison ---------------------------------------------------------------------

def compare_frames(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Paired comparison of every (metric, output) both runs scored, per subset and overall."""
    ok_a, ok_b = (_ok_cases(f) for f in (a, b))
    joined = ok_a.merge(ok_b, on=["metric_key", "output", "case_id"], suffixes=("_a", "_b"))
    rows = []
    for (key, output), g in joined.groupby(["metric_key", "output"], sort=True):
        rows += _compare_metric(key, output, g)
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


COMPARE_COLUMNS = ["metric_key", "output", "scope", "n", "mean_a", "mean_b", "diff", "ci_low", "ci_high",
                   "p_value", "direction", "better", "same_protocol", "note"]


def _ok_cases(frame: pd.DataFrame) -> pd.DataFrame:
    ok = frame[(frame["status"] == "ok") & frame["value"].notna()]
    keep = ["metric_key", "output", "case_id", "subset", "language", "value", "direction",
            "protocol_version", "weights_sha256"]
    return ok[keep]


def _compare_metric(key: str, output: str, g: pd.DataFrame) -> list[dict]:
    if output == "WER":
        g = g[~g["language_a"].isin(CER_LANGUAGES)]
    pairs = {s: (sub["value_a"].to_numpy(float), sub["value_b"].to_numpy(float))
             for s, sub in g.groupby("subset_a") if len(sub)}
    same = bool((g["protocol_version_a"] == g["protocol_version_b"]).all()
                and (g["weights_sha256_a"] == g["weights_sha256_b"]).all())
    direction = g["direction_a"].iloc[0] if len(g) else "higher"
    scopes = [(s, [pairs[s]]) for s in SUBSET_ORDER if s in pairs] + [("overall", list(pairs.values()))]
    rows = []
    for scope, groups in scopes:
        if not groups:
            continue
        r = paired_comparison(groups)
        better = "tie" if r.diff == 0 else ("b" if (r.diff > 0) == (direction == "higher") else "a")
        note = "" if same else "protocol version or weights differ between the runs: not a like-for-like comparison"
        rows.append({"metric_key": key, "output": output, "scope": scope, "n": r.n, "mean_a": r.mean_a,
                     "mean_b": r.mean_b, "diff": r.diff, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "p_value": r.p_value, "direction": direction, "better": better, "same_protocol": same,
                     "note": note})
    return rows


def leaderboard_flags(runs: Sequence[RunData]) -> dict[str, tuple[str, ...]]:
    """run_id -> warnings where its case set, the cases it scored, or a column's protocol differs
    from most runs (a mean over 3 cases beside a mean over 6 is no comparison)."""
    flags: dict[str, list[str]] = {r.run_id: [] for r in runs}
    for run_id in _deviants({r.run_id: r.case_set for r in runs}):
        flags[run_id].append("case set differs")
    scored_cases = {r.run_id: frozenset(r.results["case_id"]) for r in runs}
    reference = _majority(list(scored_cases.values()))
    for run_id in _deviants(scored_cases):
        n, m = len(scored_cases[run_id]), len(reference)
        flags[run_id].append(f"n differs: {n} cases, most runs {m}" if n != m else "other cases than most runs")
    columns = sorted(set().union(*(set(r.results.loc[r.results["paper"], "output"]) for r in runs)))
    for col in columns:
        for run_id in _deviants({r.run_id: _protocol_of(r.results, col) for r in runs}, ignore="not measured"):
            flags[run_id].append(f"{col} protocol differs")
    return {k: tuple(v) for k, v in flags.items()}


def _protocol_of(results: pd.DataFrame, output: str) -> str:
    ok = results[(results["output"] == output) & (results["status"] == "ok")]
    stamps = sorted(set(zip(ok["metric_key"], ok["protocol_version"], ok["weights_sha256"])))
    return " + ".join(f"{k} v{v} {w}" for k, v, w in stamps) or "not measured"


def _majority(values: list):
    # the most common value is the reference; ties go to the first run listed
    return max(dict.fromkeys(values), key=values.count)


def _deviants(values: dict[str, object], ignore: object = None) -> list[str]:
    """Run ids whose value differs from the most common one (`ignore`d values take no part)."""
    present = [v for v in values.values() if v != ignore]
    if len(set(present)) <= 1:
        return []
    reference = _majority(present)
    return [run_id for run_id, v in values.items() if v != reference and v != ignore]


def no_number_reason(results: pd.DataFrame, output: str) -> str:
    """Why a run has no number under the paper's protocol for a paper column: measured only
    outside the protocol, or the stored counts and first reason, or not run."""
    rows = results[results["output"] == output]
    outside = rows[(rows["status"] == "ok") & ~rows["comparable"].astype(bool)]
    if len(outside):
        notes = "; ".join(sorted(set(outside["protocol_note"]) - {""}))
        return f"measured only outside the paper's protocol ({notes})" if notes else \
            "measured only outside the paper's protocol"
    counts = rows["status"].value_counts()
    failed = ", ".join(f"{counts[k]} {k}" for k in ("unscorable", "unavailable", "error") if counts.get(k, 0))
    if not failed:
        return "not run"
    first = rows.loc[rows["status"] != "ok", "error"].dropna()
    return " ".join(f"{failed} ({first.iloc[0] if len(first) else 'no reason stored'})".split())
