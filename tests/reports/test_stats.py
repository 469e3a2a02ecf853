"""Rounding, bootstrap intervals and the paired test, checked against independent computations."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
import pytest

from harmony_bench.reports.stats import EXACT_MAX_N, bootstrap_ci, mean_of_subset_means, paired_comparison, round_half_up


@pytest.mark.parametrize("x,expected", [(2.675, "2.68"), (0.585, "0.59"), (-0.125, "-0.13"), (Decimal("4.035"), "4.04"),
                                        (0.004999, "0.00")])
def test_round_half_up(x, expected):
    assert round_half_up(x) == Decimal(expected)


def test_mean_of_subset_means_skips_undefined_and_missing_subsets():
    values = {"speech": 1.0, "ambient": 5.0, "complex": None}
    mean, used = mean_of_subset_means(values, frozenset({"speech", "complex"}))
    assert (mean, used) == (Decimal(1), ("speech",))
    assert mean_of_subset_means({"ambient": 2.0}, frozenset({"speech"})) == (None, ())


def test_bootstrap_ci_matches_the_normal_theory_width():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(400)
    lo, hi = bootstrap_ci([x])
    assert lo < x.mean() < hi
    expected = 2 * 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert abs((hi - lo) - expected) / expected < 0.1
    assert bootstrap_ci([x]) == (lo, hi)  # fixed seed: the same interval every time


def test_stratified_ci_is_centred_on_the_mean_of_group_means():
    rng = np.random.default_rng(2)
    small, big = rng.normal(0, 1, 8), rng.normal(10, 1, 80)
    lo, hi = bootstrap_ci([small, big])
    centre = (small.mean() + big.mean()) / 2
    assert lo < centre < hi
    pooled = np.concatenate([small, big]).mean()
    assert not lo < pooled < hi  # a pooled mean would weight the big subset ten times more


def test_overall_ci_is_stratified_known_answer():
    """No spread inside a subset: a stratified bootstrap has nothing to resample, so the CI of the
    mean of subset means is that mean exactly; a pooled bootstrap would move and widen it."""
    groups = [np.zeros(3), np.full(20, 3.0), np.full(3, 9.0)]
    assert bootstrap_ci(groups) == (4.0, 4.0)  # pooled: about [2.5, 4.3] around the pooled mean 3.35


def test_stratified_ci_width_matches_the_per_subset_normal_theory():
    rng = np.random.default_rng(6)
    groups = [rng.normal(0, 1, 40), rng.normal(5, 3, 160), rng.normal(1, 0.5, 20)]
    lo, hi = bootstrap_ci(groups, n_boot=8000)
    # var(mean of G means) = sum(var_g / n_g) / G^2, with the bootstrap's ddof=0 variances
    sd = np.sqrt(sum(g.var() / len(g) for g in groups)) / len(groups)
    assert (hi - lo) == pytest.approx(2 * 1.96 * sd, rel=0.06)
    pooled = np.concatenate(groups)
    assert 2 * 1.96 * pooled.std() / np.sqrt(len(pooled)) > 1.5 * (hi - lo)  # what pooling would give


def test_a_single_case_gives_no_interval():
    assert all(np.isnan(bootstrap_ci([np.array([0.5])])))


def _exact_p(groups, observed):
    """Brute force over every sign pattern (independent of the implementation's bit tricks)."""
    diffs = np.concatenate(groups)
    sizes = [len(g) for g in groups]
    count = total = 0
    for signs in itertools.product((-1.0, 1.0), repeat=len(diffs)):
        flipped = np.array(signs) * diffs
        parts = np.split(flipped, np.cumsum(sizes)[:-1])
        stat = np.mean([p.mean() for p in parts])
        count += abs(stat) >= abs(observed) - 1e-12
        total += 1
    return count / total


def test_paired_p_value_equals_brute_force_enumeration():
    rng = np.random.default_rng(3)
    a1, a2 = rng.normal(0, 1, 6), rng.normal(0, 1, 5)
    b1, b2 = a1 + rng.normal(0.4, 1, 6), a2 + rng.normal(0.4, 1, 5)
    r = paired_comparison([(a1, b1), (a2, b2)])
    assert r.n == 11
    assert r.diff == pytest.approx(((b1 - a1).mean() + (b2 - a2).mean()) / 2)
    assert r.p_value == pytest.approx(_exact_p([b1 - a1, b2 - a2], r.diff))


def test_monte_carlo_p_value_is_close_to_the_exact_one_beyond_enumeration():
    rng = np.random.default_rng(4)
    n = EXACT_MAX_N + 1
    a = rng.normal(0, 1, n)
    b = a + rng.normal(0.3, 1, n)
    d = b - a
    signs = 1.0 - 2.0 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    exact = np.mean(np.abs(signs @ d / n) >= abs(d.mean()) - 1e-12)
    assert paired_comparison([(a, b)]).p_value == pytest.approx(exact, abs=0.015)


def test_identical_runs_show_no_difference_and_a_real_shift_is_detected():
    rng = np.random.default_rng(5)
    a = rng.normal(0.5, 0.1, 50)
    same = paired_comparison([(a, a.copy())])
    assert same.diff == 0 and same.p_value == 1.0
    shifted = paired_comparison([(a, a + 0.05 + rng.normal(0, 0.02, 50))])
    assert shifted.p_value < 0.001 and 0 < shifted.ci_low < 0.05 < shifted.ci_high
