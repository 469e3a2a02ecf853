import json

import numpy as np
import pytest

from harmony_model.synthav.rows import slug as _slug
from harmony_model.synthav.report import bootstrap, write_report


def _clips(errors, flavour="speech"):
    return [{"seed": i, "flavour": flavour, "error": e, "offset": e, "corr0": 1 - e, "confidence": 0.5,
             "avoffset": None, "null_error": 0.25, "null_corr0": 0.0} for i, e in enumerate(errors)]


def test_bootstrap_mean_and_interval():
    rng = np.random.default_rng(0)
    assert bootstrap({0: np.full(5, 0.2), 1: np.full(5, 0.2)}, rng) == (0.2, 0.2, 0.2)
    mean, lo, hi = bootstrap({0: np.array([0.0, 1.0] * 10), 1: np.array([0.0, 1.0] * 10)}, rng)
    assert mean == 0.5 and 0.25 < lo < 0.5 < hi < 0.75


def test_report_from_results(tmp_path):
    for seed in (0, 1):
        for row, errors in (("baseline", [0.3, 0.3]), ("+GLDI", [0.1, 0.1])):
            (tmp_path / f"{_slug(row)}-seed{seed}.json").write_text(json.dumps({"row": row, "seed": seed, "clips": _clips(errors)}))
    write_report(tmp_path, tmp_path / "out")
    md = (tmp_path / "out" / "table.md").read_text()
    assert "| 0.100 [0.100, 0.100] | -0.150 [-0.150, -0.150] | 0.90 [0.90, 0.90] | 0.90 [0.90, 0.90] |" in md
    assert "| baseline |" in md and "| +GLDI | ✓ |" in md and "0.300 [0.300, 0.300]" in md
    assert "| -0.200 [-0.200, -0.200] | 0.20 [0.20, 0.20] |" in md  # paired steps (error, corr0), baseline to +GLDI
    assert "- +GLDI: timing error -0.200 [-0.200, -0.200] s, corr0 0.20 [0.20, 0.20]" in md
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["+GLDI"]["error"][0] == 0.1
    assert (tmp_path / "out" / "table3.png").stat().st_size > 1000
    assert "Incomplete" not in md  # no budget recorded: nothing to be missing from


def test_a_report_with_missing_runs_says_which(tmp_path):
    (tmp_path / "anchors.json").write_text(json.dumps({"budget": {"seeds": [0, 1]}, "rows": {}}))
    for seed in (0, 1):
        (tmp_path / f"baseline-seed{seed}.json").write_text(json.dumps({"row": "baseline", "seed": seed, "clips": _clips([0.3])}))
    (tmp_path / f"{_slug('+CTS')}-seed0.json").write_text(json.dumps({"row": "+CTS", "seed": 0, "clips": _clips([0.2])}))
    write_report(tmp_path, tmp_path / "out")
    md = (tmp_path / "out" / "table.md").read_text()
    assert "**Incomplete: 9 of 12 (row, seed) results are missing (+GLDI seed 0, +GLDI seed 1, +RoPE seed 0, " in md
    assert "+CTS seed 1," in md and "+CTS seed 0" not in md and "baseline seed" not in md


def test_a_result_measured_on_other_test_clips_is_left_out(tmp_path):
    budget = {"seeds": [0], "test_clips": 2, "sample_steps": 12}
    (tmp_path / "anchors.json").write_text(json.dumps({"budget": budget, "rows": {}}))
    (tmp_path / "baseline-seed0.json").write_text(json.dumps({"row": "baseline", "seed": 0, "budget": budget,
                                                              "clips": _clips([0.3, 0.3])}))
    (tmp_path / "gldi-seed0.json").write_text(json.dumps({"row": "+GLDI", "seed": 0, "clips": _clips([0.2]),
                                                          "budget": {**budget, "test_clips": 1}}))
    write_report(tmp_path, tmp_path / "out")
    md = (tmp_path / "out" / "table.md").read_text()
    assert "| +GLDI |" not in md and "(+GLDI seed 0, +RoPE seed 0," in md


def test_minimum_detectable_effect_is_2_8_standard_errors():
    from harmony_model.synthav.report import minimum_detectable_effect

    rng = np.random.default_rng(0)
    diffs = rng.normal(0.0, 0.1, 100)
    before = {0: [{"error": 0.2} for _ in diffs]}
    after = {0: [{"error": 0.2 + d} for d in diffs]}
    se = diffs.std() / np.sqrt(len(diffs))
    assert minimum_detectable_effect(before, after, rng, "error") == pytest.approx(2.8 * se, rel=0.12)
    assert np.isnan(minimum_detectable_effect(before, {1: after[0]}, rng, "error"))  # no shared seed


def test_the_papers_steps_are_scaled_to_the_row_above_and_set_against_the_mde():
    from harmony_model.synthav.report import paper_steps

    rng = np.random.default_rng(1)

    def rows(spread):
        noise = {s: rng.normal(0.0, spread, 96) for s in (0, 1)}
        return {"baseline": {s: _clips([0.3] * 96) for s in (0, 1)},
                "+GLDI": {s: _clips(list(0.3 - 0.02 + noise[s])) for s in (0, 1)}}

    # paper: Sync-D 10.93 -> 10.67 is -2.38%; at our baseline's 0.3 s that is -0.0071 s
    noisy = paper_steps(rows(0.05), rng)
    line = next(x for x in noisy.splitlines() if x.startswith("| baseline -> +GLDI"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:4] == ["10.93 -> 10.67", "-2.4%", "-0.0071"]
    mde, needed = float(cells[5]), float(cells[7].replace(",", ""))
    assert 0.007 < mde < 0.02 and cells[6] == "no"  # about 2.8 x 0.05 / sqrt(192)
    assert needed == pytest.approx(2 * (mde / 0.0071364) ** 2, rel=0.12)  # two seeds; MDE printed to 3 decimals
    assert "| +GLDI -> +RoPE | 10.67 -> 10.30 | -3.5% | not yet run |" in noisy
    quiet = paper_steps(rows(0.005), rng)
    assert "| yes |" in next(x for x in quiet.splitlines() if x.startswith("| baseline -> +GLDI"))


def test_flavour_errors_leave_a_dash_for_a_flavour_without_clips():
    from harmony_model.synthav.report import _flavour_errors

    clips = [{"flavour": "ambient", "error": 0.1}, {"flavour": "ambient", "error": 0.3}, {"flavour": "complex", "error": 0.5}]
    assert _flavour_errors(clips) == "— / 0.200 / 0.500"


def test_t_interval_over_seeds_known_answer():
    from harmony_model.synthav.report import t_interval

    # mean 2, sd 1, se 1/sqrt(3); t_0.975,2 = 4.3027, t_0.80,2 = 1.0607
    mean, lo, hi, mde = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo == pytest.approx(2 - 4.3027 / 3 ** 0.5, abs=1e-3) and hi == pytest.approx(2 + 4.3027 / 3 ** 0.5, abs=1e-3)
    assert mde == pytest.approx((4.3027 + 1.0607) / 3 ** 0.5, abs=1e-3)
    assert all(np.isnan(x) for x in t_interval([0.5])[1:])  # one seed: no interval


def test_seed_level_reads_each_seed_as_one_observation(tmp_path):
    # every clip of a seed has one value, so the bootstrap over 2 seeds x clips is narrow while
    # the seeds disagree: the t-interval (1 df) must be wide and include zero
    for seed, (base, gldi) in enumerate([(0.30, 0.10), (0.30, 0.32)]):
        for row, e in (("baseline", base), ("+GLDI", gldi)):
            (tmp_path / f"{_slug(row)}-seed{seed}.json").write_text(json.dumps({"row": row, "seed": seed, "clips": _clips([e] * 8)}))
    write_report(tmp_path, tmp_path / "out")
    md = (tmp_path / "out" / "table.md").read_text()
    step = next(x for x in md.splitlines() if x.startswith("| baseline -> +GLDI | 2 |"))
    cells = [c.strip() for c in step.strip("|").split("|")]
    assert cells[2:4] == ["-0.200 / +0.020", "-0.090"]
    lo, hi = (float(v) for v in cells[4].strip("[]").split(","))
    assert lo < -1.0 and hi > 0.5  # 12.7 x 0.11
    assert "| baseline | 2 | +0.050 / +0.050 | +0.050 | [+0.050, +0.050] |" in md  # error - chance, no spread


def test_seeds_over_runs_known_answer():
    from harmony_model.synthav.report import seeds_over_runs

    # sd 1: at n = 10, (t_0.975,9 + t_0.80,9) / sqrt(10) = (2.2622 + 0.8834) / 3.1623 = 0.995 <= 1;
    # at n = 9, (2.3060 + 0.8889) / 3 = 1.065 > 1
    assert seeds_over_runs([-1.0, 0.0, 1.0], 1.0) == 10
    assert seeds_over_runs([-1.0, 0.0, 1.0], -1.0) == 10  # a step's sign does not matter
    assert seeds_over_runs([-1.0, 0.0, 1.0], 1.07) == 9
    assert np.isnan(seeds_over_runs([0.3], 1.0))  # one seed: no spread seen
    assert seeds_over_runs([-1.0, 0.0, 1.0], 0.0) == float("inf")
