"""Offset search shared by the sync metrics: one convention, one arithmetic.

Sign convention (every metric in this package): a lag or offset L > 0 means the AUDIO IS LATE,
i.e. the sound of what the video shows at frame t is heard at frame t + L. syncnet_python prints
the opposite sign (its "AV offset" is `vshift - argmin`, positive when the audio is early), so
our Sync-offset equals minus the number syncnet_python prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAIRWISE_EPS = 1e-6  # torch.nn.functional.pairwise_distance adds eps to the difference


@dataclass(frozen=True)
class OffsetSearch:
    """The curve of a score over a lag grid and what the sync metrics read from it."""

    lags: np.ndarray  # (L,) integer lags in frames, ascending, audio late > 0
    curve: np.ndarray  # (L,) mean distance per lag (lower = better aligned)

    @property
    def best(self) -> int:
        # first minimum, like torch.min / argmin in syncnet_python
        return int(np.argmin(self.curve))

    @property
    def offset(self) -> int:
        return int(self.lags[self.best])

    @property
    def min_distance(self) -> float:
        return float(self.curve[self.best])

    @property
    def median(self) -> float:
        # lower middle for even lengths, as torch.median; the grids here are odd (2*shift + 1)
        return float(np.sort(self.curve)[(len(self.curve) - 1) // 2])

    @property
    def confidence(self) -> float:
        """Sync-C's arithmetic: median over lags minus the minimum."""
        return self.median - self.min_distance


def distance_table(video_feat: np.ndarray, audio_feat: np.ndarray, max_shift: int) -> np.ndarray:
    """(N, 2*max_shift+1) L2 distances between video window i and audio window i + lag.

    Column j is lag j - max_shift. Audio windows outside [0, N) are zero vectors, as in
    syncnet_python's `calc_pdist`, which zero-pads the audio features before sliding.
    """
    n, dim = video_feat.shape
    padded = np.concatenate([np.zeros((max_shift, dim)), audio_feat, np.zeros((max_shift, dim))])
    width = 2 * max_shift + 1
    windows = np.stack([padded[i : i + width] for i in range(n)])  # (N, width, D)
    diff = video_feat[:, None, :] - windows + PAIRWISE_EPS
    return np.sqrt((diff**2).sum(axis=-1))


def search_distances(table: np.ndarray, max_shift: int) -> OffsetSearch:
    """Average a distance table over windows: Sync-D = min, Sync-C = median - min, offset = argmin."""
    return OffsetSearch(lags=np.arange(-max_shift, max_shift + 1), curve=table.mean(axis=0))


def standardise(x: np.ndarray, floor: float) -> np.ndarray:
    """Zero-mean signal divided by max(std, floor): a signal flatter than `floor` stays near 0,
    so a still mouth or silence cannot correlate with anything."""
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / max(float(x.std()), floor)


def lagged_correlation(visual: np.ndarray, audio: np.ndarray, max_shift: int) -> np.ndarray:
    """(2*max_shift+1,) mean over ALL T frames of visual[t] * audio[t + lag] (zero outside).

    Dividing by T rather than by the overlap makes the peak shrink as |lag| grows, like the
    zero padding of SyncNet's search: a clip that needs a large shift is less in sync.
    """
    t = min(len(visual), len(audio))
    v, a = visual[:t], audio[:t]
    out = np.empty(2 * max_shift + 1)
    for j, lag in enumerate(range(-max_shift, max_shift + 1)):
        if lag >= 0:
            out[j] = np.dot(v[: t - lag], a[lag:]) if lag < t else 0.0
        else:
            out[j] = np.dot(v[-lag:], a[: t + lag]) if -lag < t else 0.0
    return out / t


def correlation_search(visual: np.ndarray, audio: np.ndarray, max_shift: int) -> OffsetSearch:
    """Offset search on two standardised 1-D signals; distance = 1 - correlation."""
    corr = lagged_correlation(visual, audio, max_shift)
    return OffsetSearch(lags=np.arange(-max_shift, max_shift + 1), curve=1.0 - corr)
