"""Event timing for the offline event-sync metric, at the clip's own frame rate.

The picture gives events at frame times (t / fps, the time frame t is first shown) or between
them (an impact, placed by the motion around it); the sound gives an onset envelope every
millisecond. The offset search slides the sound's envelope under the visual events on a 1 ms
grid, so no frame is dropped or moved and the answer is not tied to a frame grid.

Two visual cues, each searched on its own:
- brightening onsets: the frame where the mean grey-level rise jumps (a lamp switching on, the
  start of a ramp), for the share of the change that is net brightness: motion gives none;
- impacts: abrupt changes of motion (a ball hitting the floor), the second difference of the
  picture's first moment of grey levels (its summed motion), flat for steady motion and for
  free fall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

ENVELOPE_RATE = 1000  # audio onset envelope samples per second (1 ms grid)
ANALYSIS_RATE = 16000  # audio is resampled to this before its envelope is taken
WINDOW_S = 0.010  # each envelope value: band levels of the 10 ms ENDING at its time
N_BANDS = 8  # log-spaced between 100 Hz and 8 kHz
LEVEL_FLOOR_DB = -80.0
SIZE = 64  # frames are analysed as SIZE x SIZE grey copies
RIVAL_FRAMES = 1.5  # a rival offset lies further than this from the best one


@dataclass(frozen=True)
class VisualCues:
    """Per-frame evidence of visual events; `times` in seconds."""

    times: np.ndarray  # (T,) the time each weight belongs to
    onsets: np.ndarray  # (T,) brightening onsets, grey levels
    impacts: np.ndarray  # (T,) change of the grey-level moment, grey level x pixel per pixel (SIZE x SIZE copy)


def audio_onset_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral flux every millisecond: value i is the summed rise (dB) of N_BANDS band levels
    of the 10 ms ending at i ms over those of the 10 ms ending at i - 1 ms. A sound starting at
    time s raises the values from s to s + 2 ms: trailing windows put no onset early."""
    from harmony_bench.media import resample

    x = resample(np.asarray(audio, np.float32), sample_rate, ANALYSIS_RATE).astype(np.float64)
    hop, width = ANALYSIS_RATE // ENVELOPE_RATE, int(WINDOW_S * ANALYSIS_RATE)
    n = len(x) // hop + 1
    padded = np.concatenate([np.zeros(width), x, np.zeros(hop)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[: n * hop : hop]
    # Hann taper: without it a tone leaks into every band and its level flickers from one 1 ms
    # step to the next (flux all along the tone); the price is an onset read about 2 ms late
    power = np.abs(np.fft.rfft(windows * np.hanning(width), axis=1)) ** 2 / width
    bin_hz = ANALYSIS_RATE / width
    edges = np.unique(np.round(np.geomspace(100, 8000, N_BANDS + 1) / bin_hz).astype(int))
    bands = np.add.reduceat(power, edges[:-1], axis=1)[:, : len(edges) - 1]
    level = np.maximum(10.0 * np.log10(bands + 1e-20), LEVEL_FLOOR_DB)
    flux = np.zeros(len(level))
    flux[1:] = np.maximum(np.diff(level, axis=0), 0.0).sum(axis=1)
    flux[: width // hop + 1] = 0.0  # windows reaching before the first sample: the track starting is no onset
    return flux


def visual_cues(frames: Iterable[np.ndarray], fps: float) -> VisualCues:
    """Both visual cues from the frames at their own rate (kept as SIZE x SIZE grey copies)."""
    import cv2

    grey = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                     for f in frames]).astype(np.float32)
    change = np.diff(grey, axis=0).reshape(len(grey) - 1, -1).astype(np.float64)
    rise = np.concatenate([[0.0], np.maximum(change, 0.0).mean(axis=1)])
    # moving things brighten one side and darken the other; a light only brightens (or only
    # darkens): the share of a change that is net brightness is not motion
    photometric = np.concatenate([[0.0], np.abs(change.mean(axis=1)) / np.maximum(np.abs(change).mean(axis=1), 1e-6)])
    # a moving object steps the rise too (speeding up, entering): only the net-brightness share counts
    return VisualCues(times=np.arange(len(grey)) / fps, onsets=_rise_jumps(rise) * photometric,
                      impacts=_motion_changes(_moments(grey), photometric))


def _moments(grey: np.ndarray) -> np.ndarray:
    """(T, 2) first moment (x, y) of each frame's grey levels about the picture's centre, per
    pixel. Over a still background an object of contrast c and area A adds c * A * position,
    so the moment moves with what moves, whatever the size of its steps (optical flow loses an
    object that moves more than its size between frames), and a uniform change of light adds
    nothing."""
    axis = np.arange(SIZE, dtype=np.float64) - (SIZE - 1) / 2
    grey = grey.astype(np.float64)
    return np.stack([(grey.sum(axis=1) * axis).mean(axis=1), (grey.sum(axis=2) * axis).mean(axis=1)], axis=1) / SIZE


def _rise_jumps(rise: np.ndarray) -> np.ndarray:
    """Positive steps of the brightening: a ramp counts at its first frame, a steady glide never."""
    onsets = np.zeros(len(rise))
    if len(rise) > 1:
        onsets[1] = rise[1]  # frame 1's rise has no predecessor to step from
        onsets[2:] = np.maximum(np.diff(rise[1:]), 0.0)
    return onsets


def _motion_changes(moments: np.ndarray, photometric: np.ndarray) -> np.ndarray:
    """Norm of the second difference of the moments, centred on frame t (from t-1, t, t+1),
    damped by (1 - net-brightness share)^2 of the worse of its two frame pairs: a flash moves
    the moment too, by a lot, and video noise keeps its share just under 1, so a linear damping
    let a lamp switching off pass for an impact."""
    n = len(moments)
    impacts = np.zeros(n)
    if n > 2:
        jump = np.linalg.norm(np.diff(moments, n=2, axis=0), axis=1)
        light = np.maximum(photometric[1:-1], photometric[2:])
        impacts[1 : n - 1] = jump * (1.0 - light) ** 2
    return impacts


@dataclass(frozen=True)
class LagSearch:
    """How well the sound fits the visual events at each lag (1 ms grid, > 0: audio late)."""

    lags_s: np.ndarray  # (L,)
    curve: np.ndarray  # (L,) fit above its median (the chance level)
    frame_s: float  # one frame of the clip, in seconds

    @property
    def best(self) -> int:
        return int(np.argmax(self.curve))

    @property
    def offset_s(self) -> float:
        return float(self.lags_s[self.best])

    @property
    def peak(self) -> float:
        return float(self.curve[self.best])

    @property
    def rival(self) -> float:
        """The best fit more than RIVAL_FRAMES frames from the peak, as a fraction of the peak:
        near 1 when another offset explains the events about as well (a periodic pattern)."""
        far = np.abs(self.lags_s - self.offset_s) > RIVAL_FRAMES * self.frame_s
        return float(max(self.curve[far].max(), 0.0) / self.peak) if self.peak > 0 and far.any() else 1.0

    @property
    def width_frames(self) -> float:
        """Width of the peak at half its height, in frames: wide when the events have no clear onset."""
        above = self.curve >= 0.5 * self.peak
        lo = hi = self.best
        while lo > 0 and above[lo - 1]:
            lo -= 1
        while hi < len(above) - 1 and above[hi + 1]:
            hi += 1
        return (self.lags_s[hi] - self.lags_s[lo]) / self.frame_s


def lag_search(times: np.ndarray, weights: np.ndarray, envelope: np.ndarray, fps: float,
               max_shift_s: float) -> LagSearch:
    """Fit of the audio onset envelope to weighted visual events at every lag on the envelope's
    grid: fit(L) = sum_k w_k env(t_k + L), the envelope smoothed by a Gaussian of half a frame so
    that an event between two frames still meets its sound. Weights and envelope are taken above
    their medians: steady motion and steady noise add nothing."""
    from scipy.ndimage import gaussian_filter1d

    env = gaussian_filter1d(envelope, sigma=0.5 * ENVELOPE_RATE / fps, mode="constant")
    env = np.maximum(env - np.median(env), 0.0)
    w = np.maximum(weights - np.median(weights), 0.0)
    shift = int(round(max_shift_s * ENVELOPE_RATE))
    lags = np.arange(-shift, shift + 1)
    keep = w > 0
    at = np.round(times[keep] * ENVELOPE_RATE).astype(int)[:, None] + lags[None, :]
    valid = (at >= 0) & (at < len(env))
    fit = (w[keep][:, None] * np.where(valid, env[np.clip(at, 0, len(env) - 1)], 0.0)).sum(axis=0)
    return LagSearch(lags_s=lags / ENVELOPE_RATE, curve=fit - np.median(fit), frame_s=1.0 / fps)
