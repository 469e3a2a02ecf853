import numpy as np
import pytest

from harmony_bench.metrics.sync.offsets import (correlation_search, distance_table, lagged_correlation, search_distances,
                                  standardise)


def test_distance_table_by_hand():
    v = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    a = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
    table = distance_table(v, a, max_shift=1)
    eps = 1e-6
    d = lambda x, y: np.sqrt(((np.asarray(x) - np.asarray(y) + eps) ** 2).sum())  # noqa: E731
    zero = [0.0, 0.0]
    expected = [
        [d(v[0], zero), d(v[0], a[0]), d(v[0], a[1])],  # lags -1, 0, +1 for window 0
        [d(v[1], a[0]), d(v[1], a[1]), d(v[1], a[2])],
        [d(v[2], a[1]), d(v[2], a[2]), d(v[2], zero)],
    ]
    np.testing.assert_allclose(table, expected)


def test_sync_c_and_sync_d_arithmetic_on_a_hand_table():
    table = np.array([
        [9.0, 4.0, 7.0, 8.0, 10.0],
        [11.0, 6.0, 9.0, 8.0, 10.0],
    ])  # mean over windows: [10, 5, 8, 8, 10]
    s = search_distances(table, max_shift=2)
    assert s.lags.tolist() == [-2, -1, 0, 1, 2]
    assert s.min_distance == 5.0  # Sync-D
    assert s.median == 8.0
    assert s.confidence == 3.0  # Sync-C = median - min
    assert s.offset == -1  # audio one frame early


def test_first_minimum_wins_ties_like_torch_min():
    s = search_distances(np.array([[3.0, 1.0, 2.0, 1.0, 3.0]]), max_shift=2)
    assert s.offset == -1


def test_sign_convention_audio_late_gives_positive_offset():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(40, 8))
    late = 3  # the sound of video window i is in audio window i + 3
    audio = np.concatenate([rng.normal(size=(late, 8)), video[:-late]])
    s = search_distances(distance_table(video, audio, 15), 15)
    assert s.offset == late
    early = np.concatenate([video[late:], rng.normal(size=(late, 8))])
    assert search_distances(distance_table(video, early, 15), 15).offset == -late


def test_lagged_correlation_sign_and_shrinking_peak():
    rng = np.random.default_rng(1)
    x = standardise(rng.normal(size=200), 1e-3)
    for lag in (0, 4, -7, 12):
        y = np.roll(x, lag)
        s = correlation_search(x, y, 15)
        assert s.offset == lag
    peaks = [lagged_correlation(x, np.roll(x, lag), 15).max() for lag in (0, 5, 10)]
    assert peaks[0] > peaks[1] > peaks[2]  # divided by T, not by the overlap


def test_standardise_keeps_flat_signals_near_zero():
    flat = np.full(50, 3.0) + np.linspace(0, 1e-4, 50)
    assert np.abs(standardise(flat, floor=0.01)).max() < 0.01
    assert standardise(np.array([0.0, 2.0]), floor=0.01).tolist() == pytest.approx([-1.0, 1.0])
