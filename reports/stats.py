"""Statistics for the report cells: the paper's rounding, subset means, bootstrap CIs, paired tests.

A cell of the paper's overall table is the unweighted mean of per-subset means; its confidence
interval therefore resamples cases *within* each subset (a stratified bootstrap) and recomputes
that same statistic. Fifty cases per subset is small, so the intervals are often wide: they are
there to show how far a difference can be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

N_BOOT = 2000
N_PERM = 10000
SEED = 0
LEVEL = 0.95


def to_decimal(x: Decimal | float | int) -> Decimal:
    # repr() is the shortest string that round-trips, so 0.585 stays 0.585 (not 0.58499999...)
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def round_half_up(x: Decimal | float, places: int = 2) -> Decimal:
    """The paper's rounding: decimal arithmetic, halves away from zero (4.035 -> 4.04)."""
    return to_decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x))


def mean_of_subset_means(values: Mapping[str, Decimal | float | None],
                         defined: Sequence[str] | frozenset[str]) -> tuple[Decimal | None, tuple[str, ...]]:
    """Unweighted mean over the subsets where the metric is defined and a value exists.

    Returns the mean (exact Decimal) and the subsets it used, so a caller can say when fewer
    subsets than defined contributed.
    """
    used = tuple(s for s in values if s in defined and not is_missing(values[s]))
    if not used:
        return None, ()
    total = sum((to_decimal(values[s]) for s in used), Decimal(0))
    return total / len(used), used


def _resampled_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    return values[idx].mean(axis=1)


def stratified_statistic(groups: Sequence[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the mean of group means, resampling within each group."""
    return np.mean([_resampled_means(np.asarray(g, float), n_boot, rng) for g in groups], axis=0)


def bootstrap_ci(groups: Sequence[np.ndarray], n_boot: int = N_BOOT, seed: int = SEED,
                 level: float = LEVEL) -> tuple[float, float]:
    """Percentile CI of the mean of group means (one group: of the plain mean).

    NaN bounds when a group has fewer than two values: one case gives no spread to resample.
    """
    if not groups or min(len(g) for g in groups) < 2:
        return float("nan"), float("nan")
    reps = stratified_statistic(groups, n_boot, np.random.default_rng(seed))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairedResult:
    n: int  # shared cases
    mean_a: float
    mean_b: float
    diff: float  # statistic(b) - statistic(a)
    ci_low: float  # paired bootstrap CI of diff
    ci_high: float
    p_value: float  # two-sided sign-flip permutation test of "no difference" (exact for n <= 16)


def paired_comparison(pairs: Sequence[tuple[np.ndarray, np.ndarray]], n_boot: int = N_BOOT,
                      n_perm: int = N_PERM, seed: int = SEED, level: float = LEVEL) -> PairedResult:
    """Compare two runs on the same cases; `pairs` holds (a, b) value arrays per subset.

    The statistic is the mean of per-subset means, linear in the per-case differences, so both
    the bootstrap (resampling cases within subsets) and the permutation test (swapping a and b
    per case, i.e. flipping the sign of its difference) work on the differences alone.
    """
    diffs = [np.asarray(b, float) - np.asarray(a, float) for a, b in pairs]
    n = sum(len(d) for d in diffs)
    mean_a = float(np.mean([np.mean(a) for a, _ in pairs]))
    mean_b = float(np.mean([np.mean(b) for _, b in pairs]))
    observed = float(np.mean([d.mean() for d in diffs]))
    lo, hi = bootstrap_ci(diffs, n_boot, seed, level)
    return PairedResult(n, mean_a, mean_b, observed, lo, hi, _sign_flip_p(diffs, observed, n_perm, seed))


EXACT_MAX_N = 16  # up to 2**16 sign patterns are enumerated; beyond, N_PERM random ones


def _sign_flip_p(diffs: Sequence[np.ndarray], observed: float, n_perm: int, seed: int) -> float:
    # the statistic is sum_i w_i d_i with w_i = 1 / (groups * size of i's group)
    terms = np.concatenate([d / (len(diffs) * len(d)) for d in diffs])
    tol = 1e-12 * max(1.0, abs(observed))
    if len(terms) <= EXACT_MAX_N:
        signs = 1.0 - 2.0 * ((np.arange(2 ** len(terms))[:, None] >> np.arange(len(terms))) & 1)
        return float(np.mean(np.abs(signs @ terms) >= abs(observed) - tol))
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_perm, len(terms)))
    # +1 in both counts: the observed labelling is one of the permutations (never p = 0)
    return float((np.count_nonzero(np.abs(signs @ terms) >= abs(observed) - tol) + 1) / (n_perm + 1))
