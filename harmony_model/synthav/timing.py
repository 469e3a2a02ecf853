"""Audio-visual timing of a clip against SynthAV's known layout: the ground-truth timing error.

A SynthAV scene says where each sounding source is and what kind it is (`SynthClip.regions`,
`SynthClip.kinds`), and shows every source at rest in its reference image. For a clip made for
that scene (the data itself, or a model's output conditioned on it), each source's visual state
is its region's mean difference from the reference image; its visual event signal is where the
event shows:
- flash / speech: the state rising (the lamp lights, the mouth opens);
- bounce / slam: the state falling to rest (the ball touches the floor zone it rests on in the
  reference, the lid or door is shut as in the reference).
Distractors outside the regions (a sliding block) are ignored. The audio signal is the rise of
log-energy (onset strength). Both sit on the video frame grid; their normalised
cross-correlation over lags of +-`max_lag` seconds gives:

- offset: the lag of the correlation peak, refined between frames by a parabola (seconds;
  positive = the audio comes late);
- error: |offset| (the ground-truth timing error; lower is better). SynthAV's own clips measure
  about 0.02 s (2 s clips) to 0.05 s (1 s clips) at 8 fps: the floor of this measurement;
- corr0: the correlation at zero lag (higher = sound and motion happen together);
- confidence: peak minus median correlation over lags (like SyncNet's Sync-C: how distinct the
  best alignment is).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SyncMeasure:
    offset: float
    error: float
    corr0: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def region_mask(shape: tuple[int, int], regions: dict[str, tuple[float, float, float, float]]) -> np.ndarray:
    """(H, W) bool mask: the union of fractional (x0, y0, x1, y1) boxes."""
    h, w = shape
    mask = np.zeros((h, w), dtype=bool)
    for x0, y0, x1, y1 in regions.values():
        r0, r1 = int(np.floor(max(0.0, y0) * h)), int(np.ceil(min(1.0, y1) * h))
        c0, c1 = int(np.floor(max(0.0, x0) * w)), int(np.ceil(min(1.0, x1) * w))
        mask[r0:r1, c0:c1] = True
    return mask


RISING = ("flash", "speech")  # events shown by a state leaving rest; others return to rest


def visual_activity(frames: np.ndarray, reference: np.ndarray, regions: dict[str, tuple[float, float, float, float]],
                    kinds: dict[str, str]) -> np.ndarray:
    """(T,) sum over sources of each source's event signal, each scaled to a maximum of 1."""
    x = frames.astype(np.float32)
    ref = reference.astype(np.float32)
    total = np.zeros(len(frames))
    for name, box in regions.items():
        mask = region_mask(frames.shape[1:3], {name: box})
        if not mask.any():
            continue
        state = np.abs(x[:, mask] - ref[mask]).mean(axis=(1, 2))
        if kinds[name] in RISING:
            signal = np.concatenate([[0.0], np.maximum(np.diff(state), 0.0)])
        else:
            signal = state.max() - state
        total += signal / (signal.max() + 1e-6)
    return total.astype(np.float32)


def audio_activity(wave: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """(num_frames,) onset strength: rise of log-energy of frame k's window [k/fps, (k+1)/fps)
    over the previous window (frame 0: 0)."""
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    edges = np.round(np.arange(num_frames + 1) * sr / fps).astype(int)
    energy = np.array([np.mean(wave[a:b] ** 2) if b > a and a < len(wave) else 0.0
                       for a, b in zip(edges[:-1], np.minimum(edges[1:], len(wave)))])
    log_e = np.log10(np.maximum(energy, energy.max() * 1e-3 + 1e-10))  # 30 dB range: noise-floor wiggles are no onsets
    return np.concatenate([[0.0], np.maximum(np.diff(log_e), 0.0)]).astype(np.float32)


def _xcorr(v: np.ndarray, a: np.ndarray, max_shift: int) -> np.ndarray:
    """c(s) = (1/T) sum_t v[t] a[t + s] of the standardised signals, s in [-max_shift, max_shift].

    Standardised once over the whole clip and divided by T (not by the overlap), so a lag with
    little overlap cannot score high by chance; c(0) is the Pearson correlation.
    """
    def z(x: np.ndarray) -> np.ndarray:
        sd = x.std()
        return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x, dtype=np.float64)

    v, a = z(v), z(a)
    n = len(v)
    out = np.zeros(2 * max_shift + 1)
    for i, s in enumerate(range(-max_shift, max_shift + 1)):
        out[i] = (v[: n - s] * a[s:]).sum() / n if s >= 0 else (v[-s:] * a[: n + s]).sum() / n
    return out


def measure(frames: np.ndarray, fps: float, wave: np.ndarray, sr: int, reference: np.ndarray,
            regions: dict[str, tuple[float, float, float, float]], kinds: dict[str, str],
            max_lag: float = 0.5, skip: int = 2) -> SyncMeasure:
    """Timing of `wave` against `frames` for a scene with these sources and reference image.

    The first `skip` frames are left out on both sides: frame 0 is the given reference image,
    and the step from it to the first generated frame is a change of the generator, not an event.
    """
    v = visual_activity(frames, reference, regions, kinds)[skip:]
    a = audio_activity(wave, sr, fps, len(frames))[skip:]
    max_shift = max(1, min(int(round(max_lag * fps)), len(v) // 2))
    c = _xcorr(v, a, max_shift)
    i = int(np.argmax(c))
    frac = 0.0
    if 0 < i < len(c) - 1:  # parabolic refinement of the peak between frames
        denom = c[i - 1] - 2 * c[i] + c[i + 1]
        frac = float(np.clip(0.5 * (c[i - 1] - c[i + 1]) / denom, -0.5, 0.5)) if denom < 0 else 0.0
    offset = (i - max_shift + frac) / fps
    return SyncMeasure(offset=float(offset), error=float(abs(offset)), corr0=float(c[max_shift]),
                       confidence=float(c[i] - np.median(c)))


def measure_against(clip, frames: np.ndarray, wave: np.ndarray, max_lag: float = 0.5) -> SyncMeasure:
    """Timing of a clip (`frames` at clip.fps, `wave` at clip.sample_rate) made for SynthAV
    scene `clip` (a `SynthClip`): a model's output, or the clip's own frames and audio."""
    return measure(frames, clip.fps, wave, clip.sample_rate, clip.reference_image, clip.regions, clip.kinds, max_lag)


def shift_audio(wave: np.ndarray, sr: int, seconds: float) -> np.ndarray:
    """`wave` delayed by `seconds` (advanced when negative), circularly: no silent gap appears,
    so the shift adds no onset of its own."""
    return np.roll(wave, int(round(seconds * sr)))
