"""Event sounds for SynthAV: short synthetic impacts, zaps and chimes with controllable pitch.

Each function returns a mono float32 burst starting at sample 0 (its onset is the event time).
Pitch and timbre follow what the caption says (a large ball sounds deeper than a small one).
"""

from __future__ import annotations

import numpy as np


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(round(seconds * sr))) / sr


def _lowpass_noise(rng: np.random.Generator, n: int, sr: int, cutoff: float) -> np.ndarray:
    """White noise through a one-pole low-pass at `cutoff` Hz."""
    from scipy.signal import lfilter

    a = np.exp(-2 * np.pi * cutoff / sr)
    return lfilter([1 - a], [1, -a], rng.standard_normal(n)) * np.sqrt(sr / (np.pi * cutoff))


def bounce(sr: int, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """A rubber-ball bounce: a sine dropping from `pitch` Hz, 70 ms decay, with a click."""
    t = _t(0.18, sr)
    freq = pitch * (1.0 + 0.6 * np.exp(-t / 0.01))
    tone = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.07)
    click = _lowpass_noise(rng, len(t), sr, 4000) * np.exp(-t / 0.004) * 0.3
    return (0.8 * tone + click).astype(np.float32)


def zap(sr: int, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """An electric flash: a falling chirp from 2x `pitch` with a buzz, 60 ms decay."""
    t = _t(0.2, sr)
    freq = pitch * (1.0 + np.exp(-t / 0.03))
    buzz = np.sign(np.sin(2 * np.pi * np.cumsum(freq) / sr))
    return (0.45 * buzz * np.exp(-t / 0.06) + 0.1 * rng.standard_normal(len(t)) * np.exp(-t / 0.01)).astype(np.float32)


def slam(sr: int, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """A lid or door slamming: low-passed noise with a thump at `pitch` Hz, 90 ms decay."""
    t = _t(0.3, sr)
    thump = np.sin(2 * np.pi * pitch * t) * np.exp(-t / 0.09)
    body = _lowpass_noise(rng, len(t), sr, 1200) * np.exp(-t / 0.05)
    return (0.7 * thump + 0.35 * body).astype(np.float32)


def chime(sr: int, pitch: float, rng: np.random.Generator) -> np.ndarray:
    """A bell-like chime (two partials), 150 ms decay: used for sounds with no visible source."""
    t = _t(0.4, sr)
    phase = rng.uniform(0, 2 * np.pi)
    tone = np.sin(2 * np.pi * pitch * t + phase) + 0.4 * np.sin(2 * np.pi * 2.76 * pitch * t)
    return (0.4 * tone * np.exp(-t / 0.15)).astype(np.float32)


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS 1/f noise (spectral shaping of white noise)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def place(track: np.ndarray, burst: np.ndarray, t: float, sr: int, gain: float = 1.0) -> None:
    """Add `burst` into `track` starting at time `t` (sample-exact), truncated at the end."""
    start = int(round(t * sr))
    if start >= len(track):
        return
    n = min(len(burst), len(track) - start)
    track[start : start + n] += gain * burst[:n]


SOUNDS = {"bounce": bounce, "flash": zap, "slam": slam, "chime": chime}
