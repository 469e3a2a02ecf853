"""Per-video-frame 1-D signals that the offline sync variants correlate.

Every signal has one value per 25 fps frame t, computed from the audio samples of
[t / fps, (t + 1) / fps) or from frames t-1 and t, so a sound and the picture it belongs to
land on the same index and a zero lag means in sync.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

SILENCE_DB = -60.0  # level floor: quieter blocks count as silence


def audio_blocks(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames, block) audio samples per video frame, zero-padded past the end of the audio."""
    block = int(round(sample_rate / fps))
    need = n_frames * block
    padded = np.zeros(need, dtype=np.float64)
    padded[: min(need, len(audio))] = audio[:need]
    return padded.reshape(n_frames, block)


def loudness_db(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """RMS level per video frame in dBFS, floored at SILENCE_DB (the speech envelope)."""
    rms = np.sqrt((audio_blocks(audio, sample_rate, fps, n_frames) ** 2).mean(axis=1))
    return np.maximum(20.0 * np.log10(rms + 1e-12), SILENCE_DB)


def onset_strength(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int, n_bands: int = 24) -> np.ndarray:
    """Spectral flux per video frame: summed rise of log band energies since the previous frame."""
    blocks = audio_blocks(audio, sample_rate, fps, n_frames)
    power = np.abs(np.fft.rfft(blocks * np.hanning(blocks.shape[1]), axis=1)) ** 2
    edges = np.unique(np.geomspace(1, power.shape[1], n_bands + 1).astype(int))
    bands = np.add.reduceat(power, edges[:-1], axis=1)
    level = 10.0 * np.log10(bands / blocks.shape[1] + 1e-10)
    level = np.maximum(level, SILENCE_DB)
    flux = np.zeros(n_frames)
    flux[1:] = np.maximum(np.diff(level, axis=0), 0.0).sum(axis=1)
    return flux


def brightening(frames: Iterable[np.ndarray], size: int = 64) -> np.ndarray:
    """Mean grey-level RISE from the previous frame (0 for the first), on a small copy.

    Only the rise counts, the visual twin of the audio's spectral flux: a flash that lasts a frame
    or two brightens once and darkens once, and counting the darkening too gives two equal peaks
    around one click, so the offset search could not tell which one the sound belongs to.
    Takes any iterable of frames, so a clip can be streamed through it.
    """
    import cv2

    energy, previous = [], None
    for frame in frames:
        grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float64)
        energy.append(0.0 if previous is None else float(np.maximum(grey - previous, 0.0).mean()))
        previous = grey
    return np.asarray(energy)
