"""The metric interface: a metric scores one decoded clip of one case.

Small on purpose (compare torchmetrics' update/compute): `score(clip, case)` returns the clip's
values; the harness stores them and the reports aggregate them per subset. Everything that
makes a number comparable (backend, protocol version, weights hash) is declared on the class and
stamped on every stored row by the harness.

Degenerate input gets no number. Before a metric's own `score` runs, the base checks the clip
against what the metric's protocol needs (`requires`, an `InputNeeds`); a clip that fails is
unscorable with the reason. Always: each track the clip has lasts at least MIN_COVERAGE of
the case's duration, and each track the metric reads is there (a clip may lack one: a video-only
metric scores a clip without audio). Where declared: audible sound, a picture that changes, a
picture that is not blank. The thresholds live here, once, and every card states them (`ProtocolCard.refuses`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from harmony_bench.cases import SUBSETS, Case
from harmony_bench.media import Clip
from harmony_bench.weights import WeightFile, WeightsMismatch, WeightsMissing, locate, resolve

ALL_SUBSETS = frozenset(SUBSETS)
SPEECH_SUBSETS = frozenset({"speech", "complex"})  # WER, Sync-C, Sync-D (paper Tables 4-6)
AMBIENT_SUBSETS = frozenset({"ambient", "complex"})  # DeSync


@dataclass(frozen=True)
class Output:
    """One number a metric produces per clip, e.g. "DD" or the auxiliary "DD-motion"."""

    name: str
    direction: str  # "higher" or "lower" is better
    paper: bool = True  # a column of the paper's tables (False: auxiliary, for per-case analysis)

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"{self.name}: direction must be 'higher' or 'lower'")


@dataclass(frozen=True)
class ProtocolCard:
    model: str  # network and exact variant, or "none (classical)"
    checkpoint: str  # file(s) and where they come from
    preprocessing: str
    formula: str
    aggregation: str  # per clip, and per subset
    reference: str  # which reference implementation this follows
    differences: str  # where it deliberately differs, and how it relates to the paper's numbers
    precision: str = ""  # the numeric precision the network runs in, and the reference's
    known_answer: str = ""  # whether the publisher prints a known answer (input and output) and where
    refuses: str = ""  # the degenerate-input checks; filled from the metric's `requires`, never by hand
    tolerance: str = ""  # how close a re-scored value must come; filled from the metric's `tolerance`

    steps: tuple[tuple[str, str], ...] = ()  # the reference pipeline's steps, each with whether and how it is followed


@dataclass
class Score:
    values: dict[str, float]  # output name -> value for this clip
    details: dict = field(default_factory=dict)  # JSON-able extras (transcription, offset, ...)


@dataclass(frozen=True)
class Batching:
    """How many of one clip's network inputs go through a forward pass together. Only speed and
    memory depend on it: the values agree to float rounding at any size (tests/metrics/test_batching.py)."""

    unit: str  # what one input is: "frame", "frame pair", "10 s window", ...
    cpu: int  # the default on the CPU, where it bounds memory
    cuda: int  # the default on a CUDA device (GPU throughput: not measured)


@dataclass(frozen=True)
class Tolerance:
    """How far a value scored again from the same clip may fall from the stored one and still
    agree: |again - stored| <= absolute + relative * |stored| (`harmony-bench verify` applies it)."""

    absolute: float
    relative: float = 0.0

    def agrees(self, stored: float, again: float) -> bool:
        return abs(again - stored) <= self.absolute + self.relative * abs(stored)

    def describe(self) -> str:
        return (f"a value scored again from the same clip agrees when within {self.absolute:g} "
                f"+ {self.relative:g} x |stored value|")


# float32 arithmetic summed in another order (thread count, BLAS build, CPU model) moves values
# in about the sixth significant digit; this leaves two to three orders of magnitude of room,
# and stays within the three decimals the tables print for values up to 0.9.
DEFAULT_TOLERANCE = Tolerance(absolute=1e-4, relative=1e-3)


class NotScorable(Exception):
    """This clip cannot get a number under the protocol (no face found, clip too short...)."""


MIN_COVERAGE = 0.8  # a track shorter than 80% of the case's duration is not the clip asked for
SILENCE_DBFS = -60.0  # the loudest 40 ms block (RMS over all channels) quieter than this: silence
FROZEN_GREY = 2.0  # no pixel of a 64x64 grey copy changes by more between consecutive frames: frozen
BLANK_GREY = 2.0  # no frame has more spatial std than this (64x64 grey copy): blank picture


@dataclass(frozen=True)
class InputNeeds:
    """What a metric's protocol needs from a clip beyond the duration check every metric gets."""

    video: bool = True  # reads the video track (a clip without one is unscorable)
    audio: bool = True  # reads the audio track
    sound: bool = False  # audible audio (an offset to a sound needs a sound)
    motion: bool = False  # a picture that changes
    picture: bool = False  # a picture with something in it (a face, an object), not one flat colour

    def __post_init__(self) -> None:
        if (self.sound and not self.audio) or ((self.motion or self.picture) and not self.video):
            raise ValueError(f"{self}: a check on a track the metric does not read")

    def describe(self) -> str:
        parts = [f"a video or audio track shorter than {MIN_COVERAGE:.0%} of the case's duration"]
        parts += [f"no {track} track" for track, read in (("video", self.video), ("audio", self.audio)) if read]
        if self.sound:
            parts.append(f"silence (loudest 40 ms block under {SILENCE_DBFS:g} dBFS)")
        if self.motion:
            parts.append(f"a frozen picture (no pixel of a 64x64 grey copy changing by more than {FROZEN_GREY:g} "
                         "grey levels between consecutive frames)")
        if self.picture:
            parts.append(f"a blank picture (no frame with a grey-level std over {BLANK_GREY:g}, 64x64 grey copies)")
        return "unscorable, no number: " + "; ".join(parts)

    def check(self, clip: Clip, case: Case | None) -> None:
        """Raise NotScorable naming the first problem."""
        tracks = (("video", self.video, clip.has_video, clip.duration),
                  ("audio", self.audio, clip.has_audio, clip.audio_duration))
        for track, read, present, _ in tracks:
            if read and not present:
                raise NotScorable(f"the clip has no {track} track, which this metric reads")
        wanted = getattr(case, "duration", None)
        if wanted:
            for track, _, present, seconds in tracks:
                if present and seconds < MIN_COVERAGE * wanted:
                    raise NotScorable(f"{track} track lasts {seconds:.2f} s, the case asks for {wanted:g} s "
                                      f"(under {MIN_COVERAGE:.0%} of it)")
        if self.sound and clip.loudest_block_db() < SILENCE_DBFS:
            raise NotScorable(f"silent audio: the loudest 40 ms is {clip.loudest_block_db():.0f} dBFS "
                              f"(under {SILENCE_DBFS:g})")
        if self.picture and clip.picture_stats().max_spatial_std < BLANK_GREY:
            raise NotScorable(f"blank picture: no frame has a grey-level std over {BLANK_GREY:g}")
        if self.motion and clip.picture_stats().max_change < FROZEN_GREY:
            raise NotScorable(f"frozen picture: no pixel changes by more than {FROZEN_GREY:g} grey levels "
                              "between consecutive frames (64x64 grey copy)")


VIDEO_ONLY = InputNeeds(audio=False)  # scores a clip that has no audio track
AUDIO_ONLY = InputNeeds(video=False)  # scores a clip that has no video track


class Metric(ABC):
    key: ClassVar[str]  # registry name, "<family>@<backend>", e.g. "dd@raft"
    family: ClassVar[str]  # the paper metric it measures, e.g. "DD"
    backend: ClassVar[str]  # e.g. "raft", "farneback"
    official: ClassVar[bool]  # True: the paper's model and weights; False: an offline variant
    version: ClassVar[str]  # protocol version; bump whenever stored numbers could change
    outputs: ClassVar[tuple[Output, ...]]
    subsets: ClassVar[frozenset[str]] = ALL_SUBSETS
    needs: ClassVar[tuple[str, ...]] = ()  # human readable, e.g. ("frames@8fps", "audio@16kHz mono")
    weights: ClassVar[tuple[WeightFile, ...]] = ()
    packages: ClassVar[tuple[str, ...]] = ()  # importable names of optional packages needed
    extra: ClassVar[str] = ""  # the pip extra providing `packages`
    requires: ClassVar[InputNeeds] = InputNeeds()  # degenerate input this protocol cannot score
    batching: ClassVar[Batching | None] = None  # None: one forward pass per clip, nothing to size
    tolerance: ClassVar[Tolerance] = DEFAULT_TOLERANCE  # agreement of a re-scored value (verify)
    card: ClassVar[ProtocolCard]

    def __init_subclass__(cls, **kwargs) -> None:
        """Every subclass's `score` runs behind the input checks, and its card states them: one
        rule for all metrics, third-party ones included, that no metric can forget."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("score")
        if own is not None and not getattr(own, "checks_input", False):
            @functools.wraps(own)
            def score(self, clip: Clip, case: Case) -> Score:
                type(self).requires.check(clip, case)
                return own(self, clip, case)

            score.checks_input = True
            cls.score = score
        if {"card", "requires", "tolerance"} & set(cls.__dict__):
            card = getattr(cls, "card", None)
            if card is not None:
                cls.card = dataclasses.replace(card, refuses=cls.requires.describe(),
                                               tolerance=cls.tolerance.describe())

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._ready = False
        self.weights_sha256 = ""  # "name=sha256;..." of the files actually loaded
        self._batch_size: int | None = None

    @property
    def batch_size(self) -> int:
        """Inputs per forward pass: as set, else the class's default for the device in use."""
        if self.batching is None:
            raise AttributeError(f"{self.key} has no batch to size (one forward pass per clip)")
        if self._batch_size is not None:
            return self._batch_size
        return self.batching.cuda if str(self.device).startswith("cuda") else self.batching.cpu

    @batch_size.setter
    def batch_size(self, size: int) -> None:
        if self.batching is None:
            raise AttributeError(f"{self.key} has no batch to size (one forward pass per clip)")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{self.key}: batch size must be a positive integer, got {size!r}")
        self._batch_size = size

    # -- availability and set-up -------------------------------------------------------
    def availability(self) -> str | None:
        """None when this metric can run here, else the reason it cannot (cheap: no hashing)."""
        missing = [p for p in self.packages if importlib.util.find_spec(p) is None]
        if missing:
            hint = f" (pip install 'harmony-bench[{self.extra}]')" if self.extra else ""
            return f"package missing: {', '.join(missing)}{hint}"
        for wf in self.weights:
            try:
                locate(wf)
            except WeightsMissing:
                return f"weights missing: {wf.name}"
        return None

    def setup(self) -> None:
        """Verify weights and load models once, before the first `score`."""
        if self._ready:
            return
        reason = self.availability()
        if reason:
            raise MetricUnavailable(reason)
        paths, hashes = {}, []
        for wf in self.weights:
            path, sha = resolve(wf)
            paths[wf.name] = path
            hashes.append(f"{wf.name}={sha}")
        self.weights_sha256 = ";".join(hashes)
        self.load(paths)
        self._ready = True

    def load(self, paths: dict) -> None:
        """Build the model from verified weight files (name -> Path). Default: nothing to load."""

    @abstractmethod
    def score(self, clip: Clip, case: Case) -> Score:
        """Score one clip. Raise NotScorable with the reason when the protocol gives no number."""

    @classmethod
    def protocol_id(cls) -> str:
        return f"{cls.key}/v{cls.version}"

    @classmethod
    def output(cls, name: str) -> Output:
        return next(o for o in cls.outputs if o.name == name)


class MetricUnavailable(RuntimeError):
    """The metric cannot run on this machine (weights or package missing)."""


__all__ = ["ALL_SUBSETS", "AMBIENT_SUBSETS", "AUDIO_ONLY", "SPEECH_SUBSETS", "VIDEO_ONLY", "Batching", "InputNeeds",
           "Metric", "MetricUnavailable", "NotScorable", "Output", "ProtocolCard", "Score", "Tolerance", "WeightFile",
           "WeightsMismatch", "WeightsMissing"]
