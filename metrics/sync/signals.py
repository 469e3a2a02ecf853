"""Per-video-frame audio signals that the offline lip-sync variant correlates.

Every signal has one value per video frame t, computed from the audio samples of
[t / fps, (t + 1) / fps), so a sound and the picture it belongs to land on the same index and a
zero lag means in sync. (The event-sync variant works on a 1 ms grid instead: `events.py`.)
"""

from __future__ import annotations

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
