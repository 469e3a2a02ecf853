"""Table 3 on SynthAV: aggregate the ablation's per-clip results into a markdown table and a plot.

Confidence intervals are 95% percentile intervals of a two-level bootstrap (training seeds with
replacement, then test clips with replacement within each drawn seed), so they include the
spread between training runs. A row's step over the row above it is a paired bootstrap of the
difference (the rows share seeds and test clips). With two or three training seeds a bootstrap
over them sees only (n-1)/n of their variance and never reaches beyond the extreme seeds, so
`seed_level` also reads each seed as one observation, with Student's t.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harmony_bench.reports.paper import load_baseline
from harmony_model.synthav.rows import ROWS, TRAINED, same_test, slug

N_BOOT = 2000
METRICS = (("error", "timing error (s) ↓"), ("error_gain", "error - chance (s) ↓"), ("corr0", "corr0 ↑"),
           ("corr0_gain", "corr0 - chance ↑"), ("confidence", "confidence ↑"), ("avoffset", "AVOffset (s) ↓"))
# chance level of a clip: the same frames scored with another clip's audio (ablation.clip_scores)
DERIVED = {"error_gain": ("error", "null_error"), "corr0_gain": ("corr0", "null_corr0")}
TWO_DIGITS = ("corr0", "corr0_gain", "confidence")
PLOTTED = ("error", "corr0", "corr0_gain")
FLAGS = {"baseline": "", "gldi": "GLDI", "rope": "GLDI RoPE", "cts": "GLDI RoPE CTS"}
# our row -> the paper's Table 3 row it reproduces (reports/baselines/table3_ablation.csv)
PAPER_ROWS = {"baseline": "Baseline (global cross-attention)", "+GLDI": "+ GLDI", "+RoPE": "+ RoPE alignment",
              "+CTS": "+ CTS", "+SyncCFG": "+ SyncCFG (Harmony)"}


def load(results: Path) -> tuple[dict[str, dict[int, list[dict]]], dict]:
    """{row: {seed: clip rows}} for model rows, and the anchors file. A result measured on other
    test clips than the anchors' budget is left out (and so reported missing): rows of one table
    are paired clip by clip."""
    anchors = json.loads((results / "anchors.json").read_text()) if (results / "anchors.json").is_file() else {}
    rows: dict[str, dict[int, list[dict]]] = {}
    for row in ROWS:
        for path in sorted(results.glob(f"{slug(row)}-seed*.json")):
            obj = json.loads(path.read_text())
            if "budget" not in anchors or same_test(obj.get("budget", {}), anchors["budget"]):
                rows.setdefault(row, {})[int(obj["seed"])] = obj["clips"]
    return rows, anchors


def clip_values(clips: list[dict], key: str) -> np.ndarray:
    if key in DERIVED:
        value, chance = DERIVED[key]
        return clip_values(clips, value) - clip_values(clips, chance)
    return np.array([np.nan if c.get(key) is None else float(c[key]) for c in clips])


def _nanmean(x) -> float:
    """Mean of the non-NaN values; NaN (without a warning) when there are none."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


def _flavour_errors(clips: list[dict]) -> str:
    """Mean timing error per flavour, speech / ambient / complex; — for a flavour without clips
    (a test level of ambient scenes only)."""
    means = (_nanmean([c["error"] for c in clips if c["flavour"] == f]) for f in ("speech", "ambient", "complex"))
    return " / ".join("—" if np.isnan(m) else f"{m:.3f}" for m in means)


def _draws(per_seed: dict[int, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Two-level bootstrap draws of the mean over seeds of per-seed clip means (NaN draws dropped)."""
    seeds = sorted(per_seed)
    boots = np.empty(N_BOOT)
    for b in range(N_BOOT):
        drawn = rng.choice(seeds, size=len(seeds), replace=True)
        boots[b] = np.mean([_nanmean(per_seed[s][rng.integers(0, len(per_seed[s]), len(per_seed[s]))]) for s in drawn])
    return boots[~np.isnan(boots)]


def bootstrap(per_seed: dict[int, np.ndarray], rng: np.random.Generator) -> tuple[float, float, float]:
    """(mean, low, high): mean over seeds of per-seed clip means, with a two-level bootstrap."""
    point = float(np.mean([_nanmean(per_seed[s]) for s in sorted(per_seed)]))
    if np.isnan(point):
        return point, point, point
    lo, hi = np.percentile(_draws(per_seed, rng), [2.5, 97.5])
    return point, float(lo), float(hi)


# two-sided 5% test with 80% power: a true step of (1.96 + 0.84) standard errors is found 80% of the time
MDE_Z = 1.96 + 0.84


def minimum_detectable_effect(before: dict[int, list[dict]], after: dict[int, list[dict]], rng: np.random.Generator,
                              key: str) -> float:
    """The smallest paired step (after - before) in `key` these seeds and clips detect with 80% power
    at the 5% level: MDE_Z times the bootstrap standard error of the paired mean difference."""
    seeds = sorted(set(before) & set(after))
    if not seeds:
        return float("nan")
    return MDE_Z * float(np.std(_draws({s: clip_values(after[s], key) - clip_values(before[s], key) for s in seeds}, rng)))


def _fmt(m: tuple[float, float, float], digits: int = 3) -> str:
    return "n/a" if np.isnan(m[0]) else f"{m[0]:.{digits}f} [{m[1]:.{digits}f}, {m[2]:.{digits}f}]"


def table(rows: dict[str, dict[int, list[dict]]], anchors: dict, seed: int = 0) -> tuple[str, dict]:
    rng = np.random.default_rng(seed)
    summary: dict[str, dict] = {}
    head = ["row", "GLDI", "RoPE", "CTS", "SyncCFG", *(label for _, label in METRICS),
            "error: step vs row above", "corr0: step vs row above", "error speech / ambient / complex", "seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    previous = None
    for row, (variant, guidance, _) in ROWS.items():
        if row not in rows:
            continue
        per_seed = rows[row]
        stats = {key: bootstrap({s: clip_values(c, key) for s, c in per_seed.items()}, rng) for key, _ in METRICS}
        flav = _flavour_errors([c for cs in per_seed.values() for c in cs])
        paired = previous and row != "+CTS, standard CFG"
        steps = [_paired_step(rows.get(previous), per_seed, rng, key, digits) if paired else "—"
                 for key, digits in (("error", 3), ("corr0", 2))]
        flags = TRAINED[variant]
        cells = [row, _tick(flags["mode"] == "gldi"), _tick(flags["rope_align"]), _tick(flags["cts"]),
                 _tick(guidance == "sync") + (" (text CFG)" if guidance == "text" else ""),
                 *(_fmt(stats[k], 2 if k in TWO_DIGITS else 3) for k, _ in METRICS),
                 *steps, flav, str(len(per_seed))]
        lines.append("| " + " | ".join(cells) + " |")
        summary[row] = {k: stats[k] for k, _ in METRICS}
        if row != "+CTS, standard CFG":
            previous = row
    for name, clips in anchors.get("rows", {}).items():
        stats = {key: bootstrap({0: clip_values(clips, key)}, rng) for key, _ in METRICS}
        flav = _flavour_errors(clips)
        cells = [f"*{name}*", "", "", "", "", *(_fmt(stats[k], 2 if k in TWO_DIGITS else 3) for k, _ in METRICS),
                 "—", "—", flav, "—"]
        lines.append("| " + " | ".join(cells) + " |")
        summary[name] = {k: stats[k] for k, _ in METRICS}
    if "baseline" in rows:
        lines += ["", "Each row against the baseline, paired over the same seeds and test clips (row - baseline):"]
        lines += [f"- {row}: timing error {_paired_step(rows['baseline'], rows[row], rng, 'error', 3)} s, "
                  f"corr0 {_paired_step(rows['baseline'], rows[row], rng, 'corr0', 2)}; minimum detectable effect "
                  f"(5% level, 80% power) {minimum_detectable_effect(rows['baseline'], rows[row], rng, 'error'):.3f} s "
                  f"in timing error, {minimum_detectable_effect(rows['baseline'], rows[row], rng, 'corr0_gain'):.2f} "
                  "in corr0 - chance"
                  for row in ROWS if row in rows and row != "baseline"]
    lines += ["", seed_level(rows)]
    lines += ["", "## A step of the paper's size", "",
              "The paper's Table 3 steps in Sync-D, read as relative changes of our row above's timing error (an "
              "assumption: Sync-D is a distance, not seconds), against the minimum detectable effect (5% level, 80% "
              "power) of our paired step. \"Seeds to detect it\" scales this table's training seeds by (MDE / "
              "step)^2 at its test clips a seed; while a row has one seed the spread between training runs is "
              "unseen and the count is a lower bound. \"Over runs\" counts each seed once instead: the fewest "
              "seeds whose t-based MDE (section above) reaches the paper's step, at the spread between this "
              "table's runs (a standard deviation from a few seeds, so a rough count). Whether our own step is "
              "significant is read from its CIs, not from the >= MDE column.", "", paper_steps(rows, rng)]
    return "\n".join(lines), summary


def t_interval(values: list[float]) -> tuple[float, float, float, float]:
    """(mean, low, high, MDE) of a mean over a few independent observations (training seeds):
    the 95% Student-t interval with n-1 degrees of freedom, and the smallest true mean that a
    two-sided 5% t-test finds with 80% power, (t_0.975 + t_0.80) standard errors."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan"), float("nan")
    se = float(x.std(ddof=1)) / np.sqrt(x.size)
    df = x.size - 1
    half = float(t.ppf(0.975, df)) * se
    return mean, mean - half, mean + half, float(t.ppf(0.975, df) + t.ppf(0.80, df)) * se


def _per_seed(before: dict[int, list[dict]] | None, after: dict[int, list[dict]], key: str) -> list[float]:
    """Each shared training seed's mean over the test clips of `key` (after - before, paired per clip)."""
    seeds = sorted(set(after) & set(before)) if before is not None else sorted(after)
    return [_nanmean(clip_values(after[s], key) - (clip_values(before[s], key) if before is not None else 0))
            for s in seeds]


def seeds_over_runs(values: list[float], step: float, most: int = 100_000) -> float:
    """How many training seeds would detect a true mean of `step` over runs, at the spread between
    runs that `values` (one per seed) show: the smallest n with (t_0.975 + t_0.80, n-1 df) x sd /
    sqrt(n) <= |step|, the MDE of `t_interval`. nan with fewer than two seeds, inf beyond `most`."""
    from scipy.stats import t

    if len(values) < 2:
        return float("nan")
    n = np.arange(2, most + 1)
    mde = (t.ppf(0.975, n - 1) + t.ppf(0.80, n - 1)) * float(np.std(values, ddof=1)) / np.sqrt(n)
    enough = np.flatnonzero(mde <= abs(step))
    return float(n[enough[0]]) if enough.size else float("inf")


def seed_level(rows: dict[str, dict[int, list[dict]]]) -> str:
    """Per training seed (each its mean over the test clips): every row's sync against chance and
    every step against the row above, as t-intervals over the seeds."""
    def line(name: str, values: list[float]) -> str:
        mean, lo, hi, mde = t_interval(values) if values else (float("nan"),) * 4
        shown = " / ".join(f"{v:+.3f}" for v in values) or "—"
        interval = "—" if np.isnan(lo) else f"[{lo:+.3f}, {hi:+.3f}]"
        return f"| {name} | {len(values)} | {shown} | {mean:+.3f} | {interval} | {'—' if np.isnan(mde) else f'{mde:.3f}'} |"

    head = "| {} | seeds | per seed | mean | 95% t-interval | MDE |\n|---|---|---|---|---|---|"
    out = ["## Over training seeds", "",
           "Each training seed as one observation (its mean over the test clips): 95% Student-t intervals with "
           "seeds - 1 degrees of freedom (t_0.975 = 12.7 with two seeds, 4.30 with three) and the MDE as "
           "(t_0.975 + t_0.80) standard errors. They cover the spread between training runs, on these test "
           "clips; the bootstrap intervals above cover the sampling of test clips, but with so few seeds "
           "understate the spread between runs. A row or step is established only where both exclude zero.", "",
           head.format("row: error - chance (s)")]
    out += [line(row, _per_seed(None, rows[row], "error_gain")) for row in ROWS if row in rows]
    out += ["", head.format("row: corr0 - chance")]
    out += [line(row, _per_seed(None, rows[row], "corr0_gain")) for row in ROWS if row in rows]
    out += ["", head.format("step: timing error (s)")]
    names = [r for r in ROWS if r != "+CTS, standard CFG"]
    out += [line(f"{above} -> {row}", _per_seed(rows[above], rows[row], "error"))
            for above, row in zip(names, names[1:]) if above in rows and row in rows]
    return "\n".join(out)


def paper_steps(rows: dict[str, dict[int, list[dict]]], rng: np.random.Generator) -> str:
    """Can this table see a step of the paper's size? Each of the paper's steps in Sync-D (a
    distance, lower is better, like our timing error) is taken as a relative change of the row
    above, applied to our row above's timing error, and set against the minimum detectable
    effect of our paired step. Sync-D is not in seconds, so the scaling is an assumption: a step
    that shrinks Sync-D by x% is read as one that shrinks the timing error by x%."""
    paper = load_baseline("ablation")
    lines = ["| step | paper: Sync-D | paper's relative step | at this table's scale (s) | this table's step (s) "
             "| MDE (s) | paper's step >= MDE | seeds to detect it | seeds to detect it over runs |", "|" + "---|" * 9]
    names = list(PAPER_ROWS)
    for above, row in zip(names, names[1:]):
        before, after = (float(paper.loc[PAPER_ROWS[r], "Sync-D"]) for r in (above, row))
        relative = after / before - 1
        seeds = sorted(set(rows.get(above, {})) & set(rows.get(row, {})))
        cells = [f"{above} -> {row}", f"{before:.2f} -> {after:.2f}", f"{relative:+.1%}"]
        if not seeds:
            lines.append("| " + " | ".join(cells + ["not yet run"] + ["—"] * 5) + " |")
            continue
        scaled = relative * float(np.mean([_nanmean(clip_values(rows[above][s], "error")) for s in seeds]))
        mde = minimum_detectable_effect(rows[above], rows[row], rng, "error")
        cells += [f"{scaled:+.4f}", _paired_step(rows[above], rows[row], rng, "error", 3), f"{mde:.3f}",
                  "yes" if abs(scaled) >= mde else "no", f"{len(seeds) * (mde / scaled) ** 2:,.0f}",
                  _count(seeds_over_runs(_per_seed(rows[above], rows[row], "error"), scaled))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _count(n: float) -> str:
    return "—" if np.isnan(n) else "> 100,000" if np.isinf(n) else f"{n:,.0f}"


def _tick(on: bool) -> str:
    return "✓" if on else ""


def _paired_step(before: dict[int, list[dict]] | None, after: dict[int, list[dict]], rng: np.random.Generator,
                 key: str, digits: int) -> str:
    """Mean difference of `key` (after - before) over shared seeds and clips, with a paired bootstrap."""
    if not before:
        return "—"
    seeds = sorted(set(before) & set(after))
    diffs = {s: clip_values(after[s], key) - clip_values(before[s], key) for s in seeds}
    return _fmt(bootstrap(diffs, rng), digits) if seeds else "—"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model_rows = [r for r in ROWS if r in summary]
    anchor_rows = [r for r in summary if r not in ROWS]
    labels = dict(METRICS)
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(16, 4.2))
    for ax, key in zip(axes, PLOTTED):
        label = labels[key]
        means = [summary[r][key][0] for r in model_rows]
        err = np.array([[summary[r][key][0] - summary[r][key][1], summary[r][key][2] - summary[r][key][0]] for r in model_rows]).T
        ax.bar(range(len(model_rows)), means, yerr=err.tolist(), capsize=4, color="#4c72b0")  # lists: one bar warns as arrays
        for name, style in zip(anchor_rows, ("-", "--", ":")):
            ax.axhline(summary[name][key][0], color="grey", linestyle=style, label=name)
        ax.set_xticks(range(len(model_rows)), model_rows, rotation=25, ha="right")
        ax.set_ylabel(label)
    if anchor_rows:  # one legend for both panels, below them, clear of the bars
        fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(anchor_rows), fontsize=8)
    fig.suptitle("Table 3 on SynthAV test clips (mean over training seeds, 95% bootstrap CI)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def missing_results(rows: dict[str, dict[int, list[dict]]], budget: dict) -> list[str]:
    """'row seed N' for each (table row, budget seed) without a result file."""
    return [f"{row} seed {seed}" for row in ROWS for seed in budget.get("seeds", ()) if seed not in rows.get(row, {})]


def write_report(results: Path, out_dir: Path) -> None:
    rows, anchors = load(results)
    if not rows:
        print(f"no results in {results}")
        return
    md, summary = table(rows, anchors)
    budget = anchors.get("budget", {})
    header = ("# Table 3 on SynthAV (generated by `python -m harmony_model.synthav.ablation`)\n\n"
              f"Budget per trained variant: {json.dumps(budget)}.\n"
              f"Test clips: {budget.get('test_clips')} held-out clips of SynthAV level "
              f"`{budget.get('test_level', 'hard')}`.\n"
              "Values: mean over training seeds of the mean over test clips; [95% bootstrap CI]. "
              "Italic rows are references without a model. Chance: the same frames scored with the audio "
              "of another test clip generated by the same row (7 clips apart), so `- chance` columns are "
              "paired per clip; for the data rows it is another data clip's audio.\n\n")
    missing = missing_results(rows, budget)
    if missing:
        header += (f"**Incomplete: {len(missing)} of {len(ROWS) * len(budget['seeds'])} (row, seed) results are "
                   f"missing ({', '.join(missing)}). Rows with fewer seeds than the budget are not yet comparable "
                   "with the paper's ordering; read this table as work in progress.**\n\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table.md").write_text(header + md)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(summary, out_dir / "table3.png")
    print(header + md)
