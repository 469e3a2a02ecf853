"""Speech from espeak-ng, and the per-frame loudness envelope that drives a drawn mouth.

espeak-ng is deterministic for a given text, voice, rate and pitch, so a clip made from a seed
is reproducible. Text goes to espeak-ng as one argument of an argument list (never a shell).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import numpy as np

#: Voices used by SynthAV: (espeak-ng voice, language). "+f3"/"+m3" are espeak-ng variants.
ENGLISH_VOICES = ("en-us", "en-us+f3", "en-gb", "en-gb+f2", "en-us+m3")
MANDARIN_VOICES = ("cmn", "cmn+f3")


class SpeechError(RuntimeError):
    """espeak-ng is missing or failed."""


def speak(text: str, voice: str = "en-us", rate: int = 150, pitch: int = 50,
          sample_rate: int = 16000) -> tuple[np.ndarray, int]:
    """Synthesise `text` with espeak-ng.

    Args:
        text: what to say (English, or Chinese characters with voice "cmn").
        voice: an espeak-ng voice name, optionally with a variant ("en-us+f3").
        rate: words per minute (espeak-ng `-s`).
        pitch: 0..99 (espeak-ng `-p`).
        sample_rate: output rate; espeak-ng's native 22050 Hz is resampled to it.

    Returns:
        (wave, sample_rate): mono float32 in [-1, 1].
    """
    return _speak_cached(text, voice, int(rate), int(pitch), int(sample_rate)).copy(), sample_rate


@functools.lru_cache(maxsize=256)
def _speak_cached(text: str, voice: str, rate: int, pitch: int, sample_rate: int) -> np.ndarray:
    from harmony_bench.media import resample

    wave, native_sr = _espeak(text, voice, rate, pitch)
    return np.clip(resample(wave, native_sr, sample_rate), -1.0, 1.0).astype(np.float32)


def _exe() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechError("espeak-ng is not installed (apt-get install espeak-ng)")
    return exe


@functools.lru_cache(maxsize=1)
def available_voices() -> frozenset[str]:
    """Voice and variant names espeak-ng knows ("en-us", "cmn", "f3", ...).

    espeak-ng silently falls back to its default voice for an unknown name, so names are checked
    against this list first.
    """
    names: set[str] = set()
    for kind in ("--voices", "--voices=variant"):
        out = subprocess.run([_exe(), kind], capture_output=True, text=True, check=True, timeout=60).stdout
        for row in out.splitlines()[1:]:
            cols = row.split()
            if len(cols) >= 5:
                names.update({cols[1], cols[4].rsplit("/", 1)[-1]})
    return frozenset(names)


def _espeak(text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, int]:
    import soundfile as sf

    exe = _exe()
    unknown = [part for part in voice.split("+") if part not in available_voices()]
    if unknown:
        raise SpeechError(f"espeak-ng has no voice or variant {', '.join(map(repr, unknown))}")
    cmd = [exe, "--stdout", "-v", voice, "-s", str(rate), "-p", str(pitch), "--", text]
    proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
    if proc.returncode != 0 or len(proc.stdout) < 64:
        raise SpeechError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.decode(errors='replace').strip()}")
    # espeak-ng writes a WAV header with unknown length when piping; soundfile copes with it
    wave, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    return wave, int(sr)


def envelope(wave: np.ndarray, sr: int, fps: float, smooth: float = 0.03, floor_db: float = 30.0) -> np.ndarray:
    """Per-video-frame speech loudness in 0..1 (1 = the clip's loudest frame).

    RMS over each frame's window of samples, in dB above a -`floor_db` floor relative to the peak,
    lightly smoothed (`smooth` seconds) so the mouth does not flicker. The number of frames is
    round(len(wave) / sr * fps).
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    n = max(1, int(round(len(wave) / sr * fps)))
    edges = np.round(np.arange(n + 1) * sr / fps).astype(int)
    rms = np.array([np.sqrt(np.mean(wave[a:b] ** 2)) if b > a else 0.0
                    for a, b in zip(edges[:-1], np.minimum(edges[1:], len(wave)))])
    peak = rms.max()
    if peak <= 0:
        return np.zeros(n, dtype=np.float32)
    db = 20 * np.log10(np.maximum(rms / peak, 1e-6))
    env = np.clip((db + floor_db) / floor_db, 0.0, 1.0)
    width = max(1, int(round(smooth * fps)))
    if width > 1:
        env = np.convolve(env, np.ones(width) / width, mode="same")
    return env.astype(np.float32)
