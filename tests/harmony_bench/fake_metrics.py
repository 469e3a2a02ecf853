"""Deterministic cheap metrics for harness tests (registered on import, also in subprocesses)."""

from __future__ import annotations

import os
import time

from harmony_bench.metrics.base import (ALL_SUBSETS, AUDIO_ONLY, SPEECH_SUBSETS, VIDEO_ONLY, Metric, NotScorable,
                                        Output, ProtocolCard, Score)
from harmony_bench.metrics.registry import register

_CARD = ProtocolCard("none", "none", "none", "see code", "mean", "test only", "test only")


@register("brightness@test")
class Brightness(Metric):
    family, backend, official = "Brightness", "test", False
    version = os.environ.get("FAKE_METRIC_VERSION", "1")
    outputs = (Output("Brightness", "higher", paper=False), Output("Loudness", "higher", paper=False))
    subsets = ALL_SUBSETS
    card = _CARD

    def score(self, clip, case) -> Score:
        time.sleep(float(os.environ.get("FAKE_METRIC_SLEEP", "0")))
        audio = clip.audio_at(16000)
        return Score({"Brightness": float(clip.frames.mean() / 255), "Loudness": float((audio ** 2).mean() ** 0.5)},
                     {"frames": clip.num_frames})


@register("picky@test")
class Picky(Metric):
    """Refuses Chinese cases, to exercise the 'unscorable' path."""

    family, backend, official, version = "Picky", "test", False, "1"
    outputs = (Output("Picky", "lower", paper=False),)
    subsets = SPEECH_SUBSETS
    card = _CARD

    def score(self, clip, case) -> Score:
        if case.language == "zh":
            raise NotScorable("no Chinese support")
        return Score({"Picky": float(clip.duration)})


@register("flaky@test")
class Flaky(Metric):
    """Fails while $FAKE_METRIC_FAIL is set, to check that a failed (case, metric) is retried."""

    family, backend, official, version = "Flaky", "test", False, "1"
    outputs = (Output("Flaky", "higher", paper=False),)
    subsets = ALL_SUBSETS
    card = _CARD

    def score(self, clip, case) -> Score:
        if os.environ.get("FAKE_METRIC_FAIL"):
            raise RuntimeError("asked to fail")
        return Score({"Flaky": float(clip.num_frames)})


@register("frames@test")
class FrameCount(Metric):
    """Reads the video alone, so a clip without audio gets its number."""

    family, backend, official, version = "Frames", "test", False, "1"
    outputs = (Output("Frames", "higher", paper=False),)
    requires = VIDEO_ONLY
    card = _CARD

    def score(self, clip, case) -> Score:
        return Score({"Frames": float(clip.num_frames)})


@register("rms@test")
class Rms(Metric):
    """Reads the audio alone, so a clip without video gets its number."""

    family, backend, official, version = "RMS", "test", False, "1"
    outputs = (Output("RMS", "higher", paper=False),)
    requires = AUDIO_ONLY
    card = _CARD

    def score(self, clip, case) -> Score:
        return Score({"RMS": float((clip.audio_at(16000) ** 2).mean() ** 0.5)})
