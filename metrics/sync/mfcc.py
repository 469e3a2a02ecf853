"""MFCC features exactly as SyncNet v2 was trained on them.

syncnet_python feeds `python_speech_features.mfcc(audio, 16000)` of the int16 wav samples to the
audio stream: 25 ms rectangular frames every 10 ms (100 Hz), pre-emphasis 0.97, a 512-point
power spectrum, 26 triangular mel filters over 0-8 kHz, log, orthonormal DCT-II, 13 coefficients,
cepstral lifter 22, and coefficient 0 replaced by the log frame energy. This is a numpy
re-implementation of that recipe (constants from python_speech_features 0.6, the version
syncnet_python pins); the known-answer test holds it to that library's output.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

SAMPLE_RATE = 16000
WIN_LEN = 400  # 25 ms
HOP = 160  # 10 ms -> 100 MFCC frames per second, 4 per 25 fps video frame
N_FFT = 512
N_FILTERS = 26
N_CEPS = 13
PREEMPH = 0.97
LIFTER = 22
INT16_SCALE = 32768.0  # syncnet_python reads the ffmpeg-written pcm_s16le wav as raw int16 values


def to_int16_scale(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] -> the int16 sample values syncnet_python's wav reader would see."""
    return np.clip(np.round(audio.astype(np.float64) * INT16_SCALE), -32768, 32767)


def mel_filterbank(n_filters: int = N_FILTERS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangular filters on FFT bins floored from mel-spaced edges."""
    def hz_to_mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel):
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    edges_mel = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_filters + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(edges_mel) / sample_rate)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        rise = np.arange(int(lo), int(mid))
        fall = np.arange(int(mid), int(hi))
        bank[j, rise] = (rise - lo) / (mid - lo)
        bank[j, fall] = (hi - fall) / (hi - mid)
    return bank


def frame_signal(signal: np.ndarray, win: int = WIN_LEN, hop: int = HOP) -> np.ndarray:
    """(n_frames, win): zero-padded at the end so the last partial frame is kept."""
    n = len(signal)
    n_frames = 1 if n <= win else 1 + int(np.ceil((n - win) / hop))
    padded = np.concatenate([signal, np.zeros((n_frames - 1) * hop + win - n)])
    idx = np.arange(win)[None, :] + hop * np.arange(n_frames)[:, None]
    return padded[idx]


def mfcc(signal: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_frames, 13) MFCC of `signal` (in int16 units, see `to_int16_scale`), 100 frames/s."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"SyncNet MFCC expects {SAMPLE_RATE} Hz audio, got {sample_rate}")
    x = np.asarray(signal, dtype=np.float64)
    x = np.concatenate([x[:1], x[1:] - PREEMPH * x[:-1]])
    frames = frame_signal(x)
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2 / N_FFT
    tiny = np.finfo(float).eps
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, tiny, energy)
    fbank = power @ mel_filterbank().T
    fbank = np.where(fbank == 0, tiny, fbank)
    ceps = dct(np.log(fbank), type=2, axis=1, norm="ortho")[:, :N_CEPS]
    ceps *= 1.0 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(N_CEPS) / LIFTER)
    ceps[:, 0] = np.log(energy)
    return ceps
