"""The SynthAV clip generator: ambient, speech and complex clips with exact event timing.

A clip is a pure function of (seed, flavour, config): `generate(seed)` draws a scene (sounding
objects, a speaker, distractors), renders its frames and mixes its audio, and stores every event
with the time it is seen and the time it is heard. In generated data both times are equal, so a
clip's ground-truth sync error is 0; a model's output is scored against the same timing with
`harmony_model.synthav.timing`.

What makes it hard enough for the ablation (prototype-findings.md): several events per clip,
events as close as two frames, motion without sound (a sliding block, blinks), sound without
motion (an off-screen chime), speech-like continuous envelopes, audio noise and pixel noise.

Splits never share a seed: train, val and test are disjoint seed ranges (`SPLITS`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from harmony_model.synthav import render, sounds
from harmony_model.synthav.speech import ENGLISH_VOICES, MANDARIN_VOICES, envelope, speak

FLAVOURS = ("ambient", "speech", "complex")


@dataclass(frozen=True)
class Level:
    """How hard a clip is: the curriculum's stages (easy first), each a restriction of the full mix."""

    flavours: tuple[str, ...]  # seeds cycle through these
    max_objects: int  # sounding objects of an ambient clip (0: the full mix's 1-2)
    max_events: int  # events per object (0: the full mix's 1-4, 1-3 with two objects)
    distractors: bool  # silent sliding block, off-screen chime
    noise: bool  # audio background noise and pixel noise (also needs SynthAVConfig.noise)


LEVELS = {
    "single": Level(("ambient",), 1, 1, False, False),  # one isolated event: one flash, bounce or slam
    "several": Level(("ambient",), 0, 0, False, False),  # several events of one or two objects
    "hard": Level(FLAVOURS, 0, 0, True, True),  # + speech, distractors and noise
}
SPLITS = {"train": range(0, 1_000_000), "val": range(1_000_000, 1_100_000), "test": range(2_000_000, 2_100_000)}

ENGLISH_PHRASES = (
    "hello there", "good morning", "thank you", "see you soon", "open the door", "look at this",
    "one two three", "how are you", "that is right", "come with me", "not today", "very good",
    "where is it", "let us go", "well done", "I am here", "turn it on", "all right then",
    "maybe later", "listen to me", "it is time", "what a day", "nice to meet you", "stop right there",
)
MANDARIN_PHRASES = (
    "你好", "谢谢你", "早上好", "再见", "我们走吧", "很好", "没问题", "请进", "对不起", "一二三",
    "明天见", "太好了",
)
BALL_COLOURS = {"red": (220, 50, 45), "yellow": (235, 205, 40), "green": (60, 170, 70), "white": (235, 235, 235)}
LAMP_COLOURS = {"yellow": (255, 230, 120), "blue": (120, 180, 255), "pink": (255, 140, 200)}
WOOD = (150, 100, 55)


@dataclass(frozen=True)
class SynthAVConfig:
    size: int = 32
    fps: float = 8.0
    duration: float = 2.0
    sample_rate: int = 16000
    noise: bool = True  # audio background noise and pixel noise
    level: str = "hard"  # curriculum level (LEVELS): "single", "several" or "hard" (every flavour, distractors)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown SynthAV level {self.level!r}; choose from {tuple(LEVELS)}")

    @property
    def num_frames(self) -> int:
        return int(round(self.duration * self.fps))

    @property
    def num_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))


@dataclass(frozen=True)
class Event:
    """One audio-visual event. `t_video` None: heard, not seen; `t_audio` None: seen, not heard."""

    source: str
    kind: str  # bounce / flash / slam / speech / chime / slide / blink
    t_video: float | None
    t_audio: float | None

    @property
    def synced(self) -> bool:
        return self.t_video is not None and self.t_audio is not None


@dataclass
class SynthClip:
    seed: int
    flavour: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    audio: np.ndarray  # (N,) float32 mono
    sample_rate: int
    video_caption: str
    audio_caption: str
    transcript: str | None
    language: str | None
    voice: str | None
    events: list[Event]
    regions: dict[str, tuple[float, float, float, float]]  # sounding source -> (x0, y0, x1, y1) fractions
    kinds: dict[str, str]  # sounding source -> bounce / flash / slam / speech
    reference_image: np.ndarray  # (H, W, 3) uint8: the scene at rest (identity / layout)
    reference_audio: np.ndarray  # (M,) float32: the voice or the object's sound, other content

    def sync_error(self) -> float:
        """Mean |t_audio - t_video| over events that are both seen and heard (0 for SynthAV data)."""
        offsets = [abs(e.t_audio - e.t_video) for e in self.events if e.synced]
        return float(np.mean(offsets)) if offsets else 0.0

    def metadata(self) -> dict:
        """JSON-able description (no arrays)."""
        return {
            "seed": self.seed, "flavour": self.flavour, "fps": self.fps, "sample_rate": self.sample_rate,
            "video_caption": self.video_caption, "audio_caption": self.audio_caption,
            "transcript": self.transcript, "language": self.language, "voice": self.voice,
            "events": [e.__dict__ for e in self.events], "regions": self.regions, "kinds": self.kinds,
            "sync_error": self.sync_error(),
        }


# ---- scene sources: each draws itself at time t, adds its sound, reports its events ----------

@dataclass
class _Source(ABC):
    name: str
    times: list[float]  # event times (seconds), already on the frame grid

    @abstractmethod
    def draw(self, img: np.ndarray, t: float) -> None: ...

    @abstractmethod
    def events(self) -> list[Event]: ...


@dataclass
class _Impactor(_Source):
    """An object whose events are impacts or flashes: seen and heard at the same instant."""

    kind: str = "bounce"
    x: float = 0.5
    y: float = 0.7
    scale: float = 0.1
    colour: tuple = (220, 50, 45)
    pitch: float = 200.0
    gain: float = 1.0
    heights: list[float] = field(default_factory=list)

    def region(self) -> tuple[float, float, float, float]:
        """Where the event is seen, as fractions (x0, y0, x1, y1) of the image (square images)."""
        r = self.scale
        if self.kind == "bounce":  # the floor contact zone: the ball is only there at an impact
            return (self.x - 1.5 * r, self.y - 2.6 * r, self.x + 1.5 * r, self.y)
        if self.kind == "flash":
            return (self.x - 1.5 * r, self.y - 1.5 * r, self.x + 1.5 * r, self.y + 1.5 * r)
        if self.kind == "slam":  # the box and the arc its lid sweeps
            s = 2.6 * r
            return (self.x - 0.6 * s, self.y - 1.4 * s, self.x + 0.6 * s, self.y + 0.5 * s)
        s = 4 * r  # door
        return (self.x - 0.35 * s, self.y - 0.55 * s, self.x + 0.35 * s, self.y + 0.55 * s)

    def _nearest(self, t: float) -> float:
        return min(abs(t - e) for e in self.times)

    def draw(self, img: np.ndarray, t: float) -> None:
        if self.kind == "bounce":
            h, squash = self._ball_height(t)
            render.draw_ball(img, (self.x, self.y - h - self.scale), self.scale, self.colour, squash)
        elif self.kind == "flash":
            after = [t - e for e in self.times if t >= e - 1e-9]
            brightness = np.exp(-min(after) / 0.1) if after else 0.0
            render.draw_lamp(img, (self.x, self.y), self.scale, brightness, self.colour)
        elif self.kind == "slam":
            render.draw_box(img, (self.x, self.y), self.scale * 2.6, min(1.0, self._nearest(t) / 0.3), self.colour)
        else:  # door
            render.draw_door(img, (self.x, self.y), self.scale * 4, min(1.0, self._nearest(t) / 0.3), self.colour)

    def _ball_height(self, t: float) -> tuple[float, float]:
        """Height above the floor on parabolic arcs that touch the floor at each event time."""
        squash = max(0.0, 1.0 - self._nearest(t) / 0.06)
        times = self.times
        if t <= times[0]:
            return self.heights[0] * (1 - (t / times[0]) ** 2) if times[0] > 0 else 0.0, squash
        for i in range(len(times) - 1):
            if times[i] <= t <= times[i + 1]:
                u = (t - times[i]) / (times[i + 1] - times[i])
                return 4 * self.heights[i + 1] * u * (1 - u), squash
        last_gap = self.heights[-1]
        span = max(1e-6, times[-1] - (times[-2] if len(times) > 1 else 0.0))
        u = min(1.0, (t - times[-1]) / span)
        return (4 * last_gap * u * (1 - u)) if u < 0.5 else last_gap, squash

    def events(self) -> list[Event]:
        kind = "slam" if self.kind == "door" else self.kind
        return [Event(self.name, kind, t, t) for t in self.times]

    def mix(self, track: np.ndarray, sr: int, rng: np.random.Generator, times: list[float] | None = None) -> None:
        fn = sounds.SOUNDS["slam" if self.kind == "door" else self.kind]
        for t in self.times if times is None else times:
            sounds.place(track, fn(sr, self.pitch, rng), t, sr, self.gain)


@dataclass
class _Slider(_Source):
    """Motion without sound: a grey block sliding along the floor."""

    y: float = 0.85
    speed: float = 0.4
    start: float = 0.1

    def draw(self, img: np.ndarray, t: float) -> None:
        x = (self.start + self.speed * t) % 1.1 - 0.05
        render.draw_box(img, (x, self.y), 0.14, 0.0, (120, 120, 125))

    def events(self) -> list[Event]:
        return [Event(self.name, "slide", 0.0, None)]


@dataclass
class _Speaker(_Source):
    """A drawn face whose mouth follows the loudness of the speech it says."""

    style: render.FaceStyle = field(default_factory=render.FaceStyle)
    center: tuple[float, float] = (0.5, 0.52)
    scale: float = 1.0
    mouth: np.ndarray = field(default_factory=lambda: np.zeros(1))  # per-frame opening
    fps: float = 8.0
    blinks: list[float] = field(default_factory=list)
    onset: float = 0.0
    end: float = 0.0

    def region(self) -> tuple[float, float, float, float]:
        a, b = self.style.width * self.scale, self.style.height * self.scale
        cx, cy = self.center
        return (cx - a * 0.6, cy + b * 0.15, cx + a * 0.6, cy + b * 0.85)  # the mouth area

    def draw(self, img: np.ndarray, t: float) -> None:
        k = int(round(t * self.fps))
        m = float(self.mouth[k]) if 0 <= k < len(self.mouth) else 0.0
        blink = 1.0 if any(abs(t - b) < 0.5 / self.fps for b in self.blinks) else 0.0
        render.draw_face(0, m, self.style, image=img, center=self.center, scale=self.scale, blink=blink)

    def events(self) -> list[Event]:
        return ([Event(self.name, "speech", self.onset, self.onset), Event(self.name, "speech-end", self.end, self.end)]
                + [Event(self.name, "blink", b, None) for b in self.blinks])


# ---- scene planning -----------------------------------------------------------------------------

def _event_frames(rng: np.random.Generator, n_frames: int, count: int, min_gap: int = 2) -> list[int]:
    """`count` distinct frame indices in [1, n_frames - 1], at least `min_gap` apart."""
    for _ in range(100):
        picks = np.sort(rng.choice(np.arange(1, n_frames), size=count, replace=False))
        if count == 1 or np.diff(picks).min() >= min_gap:
            return [int(p) for p in picks]
    return [1 + i * min_gap for i in range(count) if 1 + i * min_gap < n_frames]


def _impactor(rng: np.random.Generator, cfg: SynthAVConfig, name: str, x: float, kind: str,
              max_events: int) -> tuple[_Impactor, str, str]:
    """A sounding object with 1..max_events events, and its video and audio caption phrases."""
    count = int(rng.integers(1, max_events + 1))
    times = [f / cfg.fps for f in _event_frames(rng, cfg.num_frames, count)]
    if kind == "bounce":
        colour = str(rng.choice(list(BALL_COLOURS)))
        big = bool(rng.integers(2))
        pitch = rng.uniform(110, 170) if big else rng.uniform(320, 480)
        scale = 0.11 if big else 0.075
        gaps = np.diff([0.0] + times)
        heights = list(np.minimum(0.45, 1.6 * gaps**2 + 0.06))
        obj = _Impactor(name, times, kind, x, 0.9, scale, BALL_COLOURS[colour], pitch, 1.0, heights)
        video = f"{'big' if big else 'small'} {colour} ball bounces {_times(count)}"
        audio = _count(count, "deep thud" if big else "high bounce")
    elif kind == "flash":
        colour = str(rng.choice(list(LAMP_COLOURS)))
        pitch = {"yellow": 600.0, "blue": 1000.0, "pink": 1500.0}[colour] * rng.uniform(0.9, 1.1)
        obj = _Impactor(name, times, kind, x, rng.uniform(0.3, 0.45), 0.11, LAMP_COLOURS[colour], pitch, 0.6)
        video = f"{colour} lamp flashes {_times(count)}"
        audio = _count(count, f"{'low' if colour == 'yellow' else 'high'} zap")
    else:  # slam: a box lid or a door
        door = kind == "door"
        pitch = rng.uniform(50, 80) if door else rng.uniform(100, 160)
        obj = _Impactor(name, times, kind, x, 0.55 if door else 0.75, 0.1, WOOD, pitch, 0.9)
        video = f"{'door' if door else 'box lid'} slams {_times(count)}"
        audio = _count(count, "door slam" if door else "knock")
    return obj, video, audio


def _times(n: int) -> str:
    return {1: "once", 2: "twice", 3: "three times", 4: "four times"}.get(n, f"{n} times")


def _count(n: int, noun: str) -> str:
    return f"one {noun}" if n == 1 else f"{ {2: 'two', 3: 'three', 4: 'four'}.get(n, str(n))} {noun}s"


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _speaker(rng: np.random.Generator, cfg: SynthAVConfig, center, scale, max_fraction: float
             ) -> tuple[_Speaker, np.ndarray, str, str, str, np.ndarray]:
    """A face saying a short phrase: (source, speech track, transcript, language, voice, reference audio)."""
    zh = rng.random() < 0.25
    phrases, voices = (MANDARIN_PHRASES, MANDARIN_VOICES) if zh else (ENGLISH_PHRASES, ENGLISH_VOICES)
    text, other = (str(p) for p in rng.choice(phrases, size=2, replace=False))
    voice = str(rng.choice(voices))
    rate, pitch = int(rng.choice([150, 170, 190])), int(rng.choice([35, 50, 65]))
    wave, sr = speak(text, voice, rate, pitch, cfg.sample_rate)
    wave = _trim_silence(wave, sr)[: int(cfg.num_samples * max_fraction)]
    start_frame = int(rng.integers(1, max(2, int((cfg.num_samples - len(wave)) / sr * cfg.fps))))
    onset = start_frame / cfg.fps
    track = np.zeros(cfg.num_samples, dtype=np.float32)
    sounds.place(track, wave, onset, sr)
    mouth = envelope(track, sr, cfg.fps)[: cfg.num_frames]
    blinks = [f / cfg.fps for f in _event_frames(rng, cfg.num_frames, int(rng.integers(1, 3)), min_gap=4)]
    src = _Speaker("speaker", [onset], render.FaceStyle.from_seed(int(rng.integers(1 << 30))), center, scale,
                   mouth, cfg.fps, blinks, onset, min(cfg.duration, onset + len(wave) / sr))
    ref, _ = speak(other, voice, rate, pitch, cfg.sample_rate)
    return src, track, text, "zh" if zh else "en", voice, _trim_silence(ref, sr)


def _trim_silence(wave: np.ndarray, sr: int, threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(wave) > threshold)
    return wave[loud[0] : loud[-1] + 1] if len(loud) else wave


# ---- the generator --------------------------------------------------------------------------------

def flavour_of(seed: int, level: str = "hard") -> str:
    flavours = LEVELS[level].flavours
    return flavours[seed % len(flavours)]


def generate(seed: int, flavour: str | None = None, config: SynthAVConfig = SynthAVConfig()) -> SynthClip:
    """The clip of `seed` (its flavour cycles ambient/speech/complex with the seed unless given)."""
    cfg, level = config, LEVELS[config.level]
    flavour = flavour or flavour_of(seed, cfg.level)
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; choose from {FLAVOURS}")
    rng = np.random.default_rng([seed, FLAVOURS.index(flavour)])
    noise = cfg.noise and level.noise
    background = tuple(int(c) for c in rng.integers(60, 190, 3))
    objects: list[_Impactor] = []
    others: list[_Source] = []
    video_parts, audio_parts = [], []
    transcript = language = voice = None
    speech_track = np.zeros(cfg.num_samples, dtype=np.float32)
    reference_audio = None

    if flavour in ("speech", "complex"):
        center, scale = ((0.5, 0.52), 1.0) if flavour == "speech" else ((0.3, 0.45), 0.62)
        speaker, speech_track, transcript, language, voice, reference_audio = _speaker(
            rng, cfg, center, scale, 0.8 if flavour == "speech" else 0.6)
        others.append(speaker)
        who = "a woman" if "+f" in voice else "a man"
        video_parts.append(f"{who} speaks" + (" Chinese" if language == "zh" else ""))
        background = speaker.style.background
    if flavour in ("ambient", "complex"):
        n_obj = 1 if flavour == "complex" else int(rng.integers(1, 3))
        n_obj = min(n_obj, level.max_objects or n_obj)
        slots = [0.72] if flavour == "complex" else ([0.5] if n_obj == 1 else [0.27, 0.73])
        kinds = rng.choice(["bounce", "flash", "slam", "door"], size=n_obj, replace=False)
        for i, (x, kind) in enumerate(zip(slots, kinds)):
            max_events = min(4 if n_obj == 1 else 3, level.max_events or 4)
            obj, v, a = _impactor(rng, cfg, f"object{i}", x + rng.uniform(-0.05, 0.05), str(kind), max_events)
            objects.append(obj)
            video_parts.append(v)
            audio_parts.append(a)
        if level.distractors and rng.random() < 0.5:  # motion without sound
            others.append(_Slider("slider", [], 0.88, rng.uniform(0.2, 0.6) * rng.choice([-1, 1]), rng.random()))
            video_parts.append("a block slides")

    track = speech_track.copy()
    for obj in objects:
        obj.mix(track, cfg.sample_rate, rng)
    chime_event = []
    if level.distractors and flavour != "speech" and rng.random() < 0.35:  # sound without motion
        t = int(rng.integers(1, cfg.num_frames)) / cfg.fps
        sounds.place(track, sounds.chime(cfg.sample_rate, rng.uniform(700, 1400), rng), t, cfg.sample_rate, 0.5)
        chime_event = [Event("offscreen", "chime", None, t)]
        audio_parts.append("off-screen chime")
    if noise:
        gain = 10 ** (rng.uniform(-40, -25) / 20)
        track += gain * sounds.pink_noise(rng, cfg.num_samples)
    track = (track / max(1.0, float(np.abs(track).max()) / 0.95)).astype(np.float32)

    frames = _render(cfg, noise, background, objects, others, rng)
    rest = render.canvas(cfg.size, background)
    for src in [*objects, *others]:
        if not isinstance(src, _Slider):
            _draw_at_rest(src, rest)
    if reference_audio is None:
        reference_audio = np.zeros(int(0.5 * cfg.sample_rate), dtype=np.float32)
        objects[0].mix(reference_audio, cfg.sample_rate, rng, times=[0.05])  # one event of the first object
    events = sorted([e for s in [*objects, *others] for e in s.events()] + chime_event,
                    key=lambda e: (e.t_video if e.t_video is not None else e.t_audio))
    sounding = [*objects, *(s for s in others if isinstance(s, _Speaker))]
    regions = {s.name: tuple(round(float(v), 4) for v in s.region()) for s in sounding}
    kinds = {s.name: "speech" if isinstance(s, _Speaker) else s.events()[0].kind for s in sounding}
    return SynthClip(
        seed=seed, flavour=flavour, frames=frames, fps=cfg.fps, audio=track, sample_rate=cfg.sample_rate,
        video_caption=_sentence(video_parts), audio_caption=_sentence(audio_parts) if audio_parts else "Speech.",
        transcript=transcript, language=language, voice=voice, events=events, regions=regions, kinds=kinds,
        reference_image=rest, reference_audio=reference_audio)


def _render(cfg: SynthAVConfig, noise: bool, background, objects, others, rng: np.random.Generator) -> np.ndarray:
    base = render.canvas(cfg.size, background)
    frames = np.empty((cfg.num_frames, cfg.size, cfg.size, 3), dtype=np.uint8)
    sigma = rng.uniform(0, 4) if noise else 0.0
    for k in range(cfg.num_frames):
        img = base.copy()
        for src in [*objects, *others]:
            src.draw(img, k / cfg.fps)
        if sigma > 0:
            img = np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)
        frames[k] = img
    return frames


def _draw_at_rest(src: _Source, img: np.ndarray) -> None:
    """The reference image shows each source in its resting state (mouth closed, lamp off...)."""
    if isinstance(src, _Speaker):
        render.draw_face(0, 0.0, src.style, image=img, center=src.center, scale=src.scale)
    elif src.kind == "bounce":
        render.draw_ball(img, (src.x, src.y - src.scale), src.scale, src.colour)
    elif src.kind == "flash":
        render.draw_lamp(img, (src.x, src.y), src.scale, 0.0, src.colour)
    elif src.kind == "slam":
        render.draw_box(img, (src.x, src.y), src.scale * 2.6, 0.0, src.colour)
    else:
        render.draw_door(img, (src.x, src.y), src.scale * 4, 0.0, src.colour)


def split_seeds(split: str, count: int, offset: int = 0) -> list[int]:
    """The first `count` seeds of a split (after skipping `offset`)."""
    seeds = SPLITS[split]
    if offset + count > len(seeds):
        raise ValueError(f"split {split!r} holds {len(seeds)} seeds")
    return list(seeds[offset : offset + count])
