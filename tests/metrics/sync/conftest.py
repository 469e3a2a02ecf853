"""Synthetic clips with known audio-visual timing for the sync metric tests.

Faces and speech come from SynthAV's primitives (harmony_model.synthav.render / .speech); the
audio is then shifted by a known amount: shift > 0 makes the audio LATE (the package's sign).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from harmony_bench.media import Clip

FPS, SR = 25, 16000
SENTENCES = ("The quick brown fox jumps over the lazy dog near the river bank.",
             "Seven happy children painted a bright red barn before lunch.")


@functools.lru_cache(maxsize=8)
def spoken(text: str, voice: str = "en-us") -> np.ndarray:
    from harmony_model.synthav import speech

    wave, _ = speech.speak(text, voice, rate=170, sample_rate=SR)
    return wave


def place(wave: np.ndarray, start_s: float, n: int) -> np.ndarray:
    """`wave` placed at `start_s` in a silent track of n samples (cut at the end)."""
    track = np.zeros(n, np.float32)
    k = int(round(start_s * SR))
    if k < 0:
        wave, k = wave[-k:], 0
    part = wave[: max(0, n - k)]
    track[k : k + len(part)] = part
    return track


def shifted(track: np.ndarray, shift_s: float) -> np.ndarray:
    """The same track with everything moved by shift_s seconds (> 0: later)."""
    return place(track, shift_s, len(track))


def speech_clip(shift_s: float = 0.0, seconds: float = 3.0, layout: str = "single", static: bool = False,
                mute: bool = False) -> Clip:
    """A drawn face whose mouth follows espeak-ng speech.

    layout: "single" one speaker; "silent_partner" a second face that never moves its mouth;
    "turns" two faces speaking one after the other.
    """
    from harmony_model.synthav import render, speech

    n, frames_n = int(seconds * SR), int(round(seconds * FPS))
    first = place(spoken(SENTENCES[0]), 0.3, n)
    if layout == "turns":
        first = place(spoken(SENTENCES[0])[: int(1.4 * SR)], 0.2, n)
        second = place(spoken(SENTENCES[1], "en-us+f3")[: int(1.4 * SR)], 1.7, n)
    else:
        second = np.zeros(n, np.float32)
    env_a = speech.envelope(first, SR, FPS)
    env_b = speech.envelope(second, SR, FPS)
    frames = []
    for t in range(frames_n):
        a = 0.0 if static else float(env_a[t])
        if layout == "single":
            frames.append(render.draw_face(160, a))
        else:
            img = render.canvas((160, 320))
            render.draw_face(None, a, image=img, center=(0.25, 0.52))
            render.draw_face(None, float(env_b[t]), render.FaceStyle.from_seed(3), image=img, center=(0.75, 0.52))
            frames.append(img)
    audio = np.zeros(n, np.float32) if mute else shifted(first + second, shift_s)
    return Clip(frames=np.stack(frames), fps=FPS, audio=audio, sample_rate=SR, source=f"speech shift={shift_s}")


def click(rng: np.random.Generator) -> np.ndarray:
    n = int(0.03 * SR)
    return (rng.normal(0, 0.5, n) * np.exp(-np.arange(n) / (0.006 * SR))).astype(np.float32)


def flash_clip(shift_s: float = 0.0, seconds: float = 4.0, seed: int = 0, static: bool = False,
               mute: bool = False) -> Clip:
    """A lamp that flashes at irregular frames, each flash with a click: events to the edges."""
    from harmony_model.synthav import render

    rng = np.random.default_rng(seed)
    frames_n, n = int(round(seconds * FPS)), int(seconds * SR)
    # one event in every 8-frame slot, jittered: evenly spread, never periodic
    events = np.array([s + int(rng.integers(0, 6)) for s in range(1, frames_n - 6, 8)])
    background = render.canvas(128)
    frames = []
    for t in range(frames_n):
        past = events[events <= t]
        level = 0.0 if static or not len(past) else float(np.exp(-(t - past[-1]) / 1.5))
        frames.append(render.draw_lamp(background.copy(), (0.5, 0.4), 0.12, level))
    audio = np.zeros(n, np.float32)
    if not mute:
        for e in events:
            audio += place(click(rng), e / FPS + shift_s, n)
    return Clip(frames=np.stack(frames), fps=FPS, audio=audio, sample_rate=SR, source=f"flash shift={shift_s}")


def short_flash_clip(shift_frames: int, flash_frames: int, seconds: float = 4.0, seed: int = 0) -> Clip:
    """A lamp switched fully on for `flash_frames` frames then off, at irregular frames, each
    switch-on with a click `shift_frames` frames later (> 0: audio late)."""
    from harmony_model.synthav import render

    rng = np.random.default_rng(seed)
    frames_n, n = int(round(seconds * FPS)), int(seconds * SR)
    events = np.array([s + int(rng.integers(0, 6)) for s in range(1, frames_n - 6, 8)])
    background = render.canvas(128)
    lit = np.zeros(frames_n, bool)
    for e in events:
        lit[e : e + flash_frames] = True
    frames = np.stack([render.draw_lamp(background.copy(), (0.5, 0.4), 0.12, float(on)) for on in lit])
    audio = np.zeros(n, np.float32)
    for e in events:
        audio += place(click(rng), (e + shift_frames) / FPS, n)
    return Clip(frames=frames, fps=FPS, audio=audio, sample_rate=SR,
                source=f"{flash_frames}-frame flashes, shift={shift_frames} frames")


@pytest.fixture(scope="session")
def make_speech_clip():
    return functools.lru_cache(maxsize=32)(speech_clip)


@pytest.fixture(scope="session")
def make_flash_clip():
    return functools.lru_cache(maxsize=32)(flash_clip)


@pytest.fixture(scope="session")
def make_short_flash_clip():
    return short_flash_clip
