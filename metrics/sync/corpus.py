"""Known-answer corpus for the offline event-sync metric (`avoffset@onset-motion`).

Synthetic clips whose sound is a known number of frames late (> 0) or early (< 0), at the frame
rates generators write (16, 24, 25, 30, 60 fps) and 16 to 48 kHz audio. Each clip has irregular
events, 0.25 to 0.625 s apart (at least 6 frames, at most 2.5 times the least), each with its sound:

- "flash-N": a lamp switched fully on for N frames (N = 1..4), a zap at the switch-on;
- "ramp-3": a lamp brightening linearly over three frames (then on for one more), the zap where
  the brightening starts;
- "impact": a ball bouncing on a floor, a bounce sound at each contact. Contacts fall between
  frames (free fall under gravity), so the visual evidence is a change of motion, not a frame.
  The ball is let go 0.3 s before its first contact: a silent change of motion.

The sound of an event marks its start (switch-on, start of the ramp, contact). With `distractor`,
a grey disc glides through the picture on a smooth path, making no sound.

Ambiguous clips, built so that no offset is right and a metric should refuse them:
- "periodic": one-frame flashes every 6 frames exactly: offsets a period apart fit equally well;
- "swell": a lamp fading in over half a second with a sound fading in over as long: no onset.

`write=True` sends a clip through PyAV (`harmony_bench.media.write_clip`: H.264 + AAC, and the
exact samples in a wav beside it) and reads it back, as a user's files are read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harmony_bench.media import Clip, read_clip, write_clip

FRAME_RATES = (16, 24, 25, 30, 60)
SAMPLE_RATES = (16000, 22050, 24000, 32000, 44100, 48000)
CLEAN_KINDS = ("flash-1", "flash-2", "flash-3", "flash-4", "ramp-3", "impact")
AMBIGUOUS_KINDS = ("periodic", "swell")
OFFSETS = tuple(range(-8, 9))  # frames
SIZE = (120, 160)  # height, width
GRAVITY = 9.0  # picture heights per s^2: a 0.4 s bounce rises a sixth of the picture
PERIOD_FRAMES = 6
NOISE_DB = -50.0  # pink background noise under every sound
MIN_GAP_FRAMES = 6  # the longest lamp event (ramp or flash) lasts 4 frames: then 2 dark frames at least


@dataclass(frozen=True)
class CorpusClip:
    """One clip's recipe and its right answer."""

    fps: int
    sample_rate: int
    kind: str  # one of CLEAN_KINDS or AMBIGUOUS_KINDS
    offset_frames: int  # > 0: audio late
    distractor: bool = False
    seed: int = 0
    seconds: float = 4.0

    @property
    def ambiguous(self) -> bool:
        return self.kind in AMBIGUOUS_KINDS

    @property
    def offset_s(self) -> float:
        return self.offset_frames / self.fps

    @property
    def name(self) -> str:
        extra = "+distractor" if self.distractor else ""
        return f"{self.kind}{extra}@{self.fps}fps/{self.sample_rate}Hz offset={self.offset_frames:+d} seed={self.seed}"


def event_times(rng: np.random.Generator, seconds: float, fps: float) -> np.ndarray:
    """Irregular event times (s), none in the first or last 0.2 s: gaps of 0.25 to 0.625 s, or of
    MIN_GAP_FRAMES to 2.5 times that where frames are long, so the lamp is dark between events.
    Drawn again while the pattern repeats itself: a clean clip's evidence must single out one
    offset, so no shift (beyond 1.5 frames) may put more than half of its events onto others."""
    low = max(0.25, MIN_GAP_FRAMES / fps)
    while True:
        times, t = [], 0.2 + rng.uniform(0.0, 0.3)
        while t < seconds - 0.2:
            times.append(t)
            t += rng.uniform(low, 2.5 * low)
        if self_overlap(np.asarray(times), fps) <= len(times) / 2:
            return np.asarray(times)


def self_overlap(times: np.ndarray, fps: float) -> int:
    """The most events that one shift (over 1.5 frames) lands within a frame of other events."""
    gaps = (times[None, :] - times[:, None]).ravel() * fps
    shifts = gaps[np.abs(gaps) > 1.5]
    return max((int((np.abs(gaps - s) <= 1.0).sum()) for s in shifts), default=0)


def lamp_levels(spec: CorpusClip, onsets: np.ndarray, n_frames: int) -> np.ndarray:
    """Lamp brightness 0..1 per frame for the lamp kinds; `onsets` are frame indices."""
    level = np.zeros(n_frames)
    for e in onsets:
        if spec.kind.startswith("flash") or spec.kind == "periodic":
            length = 1 if spec.kind == "periodic" else int(spec.kind.split("-")[1])
            level[e : e + length] = 1.0
        elif spec.kind == "ramp-3":
            ramp = np.array([1 / 3, 2 / 3, 1.0, 1.0])
            part = ramp[: n_frames - e]
            level[e : e + len(part)] = np.maximum(level[e : e + len(part)], part)
        else:  # swell: a raised cosine over half a second, then back down as slowly
            rise = int(round(0.5 * spec.fps))
            shape = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, 2 * rise + 1) / rise)
            part = shape[: n_frames - e]
            level[e : e + len(part)] = np.maximum(level[e : e + len(part)], part)
    return level


def ball_heights(contacts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Height above the floor (picture heights) at `times` of a ball in free fall that touches
    the floor exactly at `contacts` (s): a parabola between contacts, falling from rest before
    the first, rising after the last."""
    g = GRAVITY
    h = np.empty_like(times)
    for i, t in enumerate(times):
        k = np.searchsorted(contacts, t)
        if k == 0:  # falling onto the first contact from rest, 0.3 s before it
            d = contacts[0] - t
            h[i] = 0.5 * g * (min(d, 0.3) ** 2) if d <= 0.3 else 0.5 * g * 0.09
        elif k == len(contacts):  # rising after the last contact as if the gap were 0.45 s
            d = t - contacts[-1]
            h[i] = max(0.0, 0.5 * g * 0.45 * d - 0.5 * g * d * d)
        else:
            a, b = contacts[k - 1], contacts[k]
            h[i] = 0.5 * g * (t - a) * (b - t)
    return h


def render_frames(spec: CorpusClip, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from harmony_model.synthav import render

    n_frames = int(round(spec.seconds * spec.fps))
    background = render.canvas(SIZE, color=(60, 70, 90))
    background[int(0.85 * SIZE[0]) :] = (40, 35, 30)  # the floor
    t_frames = np.arange(n_frames) / spec.fps
    if spec.kind == "impact":
        heights = ball_heights(times, t_frames)
    else:
        levels = lamp_levels(spec, np.round(times * spec.fps).astype(int), n_frames)
    phase = rng.uniform(0, 2 * np.pi, 2)
    frames = np.empty((n_frames,) + SIZE + (3,), np.uint8)
    for i, t in enumerate(t_frames):
        img = background.copy()
        if spec.distractor:  # a smooth Lissajous glide: speed changes, never abruptly
            xy = (0.5 + 0.3 * np.sin(2 * np.pi * t / 2.3 + phase[0]),
                  0.45 + 0.25 * np.sin(2 * np.pi * t / 1.7 + phase[1]))
            render.draw_ball(img, xy, 0.09, (170, 170, 170))
        if spec.kind == "impact":
            render.draw_ball(img, (0.35, 0.85 - 0.08 - heights[i]), 0.08, (230, 120, 60))
        else:
            render.draw_lamp(img, (0.7, 0.35), 0.1, float(levels[i]))
        frames[i] = img
    return frames


def render_audio(spec: CorpusClip, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from harmony_model.synthav import sounds

    sr = spec.sample_rate
    n = int(round(spec.seconds * sr))
    audio = sounds.pink_noise(rng, n) * 10 ** (NOISE_DB / 20)
    for t in times + spec.offset_s:
        if spec.kind == "swell":  # noise fading in and out over as long as the lamp does
            k = np.arange(int(sr))
            burst = sounds.pink_noise(rng, len(k)) * 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * k / len(k)))
        elif spec.kind == "impact":
            burst = sounds.bounce(sr, rng.uniform(200, 400), rng)
        else:
            burst = sounds.zap(sr, rng.uniform(300, 600), rng)
        early = max(0, -int(round(t * sr)))  # a sound moved before the clip starts is cut, as a late one at the end
        sounds.place(audio, burst[early:], max(t, 0.0), sr, gain=rng.uniform(0.5, 1.0))
    return audio


def make(spec: CorpusClip, write: bool = False) -> Clip:
    """The clip of `spec`; `write`: through an mp4 written and read with PyAV."""
    kind = CLEAN_KINDS.index(spec.kind) if spec.kind in CLEAN_KINDS else 10 + AMBIGUOUS_KINDS.index(spec.kind)
    rng = np.random.default_rng([spec.seed, spec.fps, spec.sample_rate, spec.offset_frames + 100, kind])
    if spec.kind == "periodic":
        times = np.arange(0.25 * spec.fps, spec.seconds * spec.fps - 3, PERIOD_FRAMES) / spec.fps
    elif spec.kind == "swell":
        times = np.array([0.4, 2.2]) + rng.uniform(0, 0.3)
    else:
        times = event_times(rng, spec.seconds, spec.fps)
    if spec.kind != "impact":  # a lamp switches on with a frame: its sound starts at that frame's time
        times = np.round(times * spec.fps) / spec.fps
    frames, audio = render_frames(spec, times, rng), render_audio(spec, times, rng)
    if not write:
        return Clip(frames=frames, fps=spec.fps, audio=audio, sample_rate=spec.sample_rate, source=spec.name)
    with tempfile.TemporaryDirectory() as tmp:
        clip = read_clip(write_clip(Path(tmp) / "clip.mp4", frames, spec.fps, audio, spec.sample_rate))
        clip.frames  # decoded while the file exists  # noqa: B018
    return clip


def full_corpus() -> list[CorpusClip]:
    """Every frame rate x clean kind x offset, with and without a distractor, sample rates in
    turn; then the ambiguous kinds at every frame rate and a few offsets."""
    specs, i = [], 0
    for fps in FRAME_RATES:
        for kind in CLEAN_KINDS:
            for distractor in (False, True):
                for offset in OFFSETS:
                    specs.append(CorpusClip(fps, SAMPLE_RATES[i % len(SAMPLE_RATES)], kind, offset, distractor, seed=i))
                    i += 1
        for kind in AMBIGUOUS_KINDS:
            for offset in (-5, 0, 3):
                specs.append(CorpusClip(fps, SAMPLE_RATES[i % len(SAMPLE_RATES)], kind, offset, seed=i))
                i += 1
    return specs


def ci_slice() -> list[CorpusClip]:
    """A fast, representative slice, drawn with other seeds than the full corpus: every frame
    rate x clean kind twice, offsets taken in turn from -8, -1, +1, +6, the distractor in every
    third clip, sample rates in turn; and every frame rate x ambiguous kind once."""
    picked, turn = [], 0
    for fps in FRAME_RATES:
        for kind in CLEAN_KINDS + AMBIGUOUS_KINDS:
            for _ in range(1 if kind in AMBIGUOUS_KINDS else 2):
                picked.append(CorpusClip(fps, SAMPLE_RATES[turn % len(SAMPLE_RATES)], kind, (-8, -1, 1, 6)[turn % 4],
                                         distractor=turn % 3 == 0 and kind in CLEAN_KINDS, seed=10_000 + turn))
                turn += 1
    return picked
