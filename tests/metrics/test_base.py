"""The degenerate-input checks every metric runs behind (metrics/base.py)."""

from __future__ import annotations

import numpy as np
import pytest

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import (BLANK_GREY, FROZEN_GREY, MIN_COVERAGE, SILENCE_DBFS, InputNeeds, Metric, NotScorable, Output,
                          ProtocolCard, Score)

FPS, SR = 24, 16000


class Counting(Metric):
    """Scores anything it is given; counts how often its own code ran."""

    key, family, backend, official, version = "counting@test", "Counting", "test", False, "1"
    outputs = (Output("N", "higher", paper=False),)
    card = ProtocolCard("none", "none", "none", "none", "none", "test only", "test only")
    calls = 0

    def score(self, clip, case) -> Score:
        type(self).calls += 1
        return Score({"N": float(clip.num_frames)})


class NeedsEverything(Counting):
    requires = InputNeeds(sound=True, motion=True, picture=True)


def clip(seconds: float = 4.0, audio_seconds: float | None = None, moving: bool = True, blank: bool = False,
         level_db: float | None = -20.0) -> Clip:
    n = int(round(seconds * FPS))
    rng = np.random.default_rng(0)
    if blank:
        frames = np.full((n, 32, 32, 3), 90, np.uint8)
        if moving:
            frames += (np.arange(n) % 2 * 40).astype(np.uint8)[:, None, None, None]  # a flat picture that flickers
    else:
        base = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
        frames = np.stack([np.roll(base, 3 * i if moving else 0, axis=1)[:, :32] for i in range(n)])
    samples = int((seconds if audio_seconds is None else audio_seconds) * SR)
    audio = np.zeros(samples, np.float32)
    if level_db is not None:
        audio = (rng.standard_normal(samples) * 10 ** (level_db / 20)).astype(np.float32)
    return Clip(frames=frames, fps=FPS, audio=audio, sample_rate=SR)


def case(duration: float = 4.0) -> Case:
    return Case(id="c-001", subset="ambient", video_caption="x", reference_image="r.png", reference_audio="r.wav",
                duration=duration)


def test_a_clip_much_shorter_than_its_case_gets_no_number():
    with pytest.raises(NotScorable, match=r"video track lasts 0\.12 s, the case asks for 4 s"):
        Counting().score(clip(seconds=0.125), case(4.0))
    with pytest.raises(NotScorable, match=r"audio track lasts 1\.00 s"):
        Counting().score(clip(audio_seconds=1.0), case(4.0))


def test_duration_tolerance_is_the_stated_fraction_of_the_case():
    just_enough = MIN_COVERAGE * 5.0 + 1 / FPS
    assert Counting().score(clip(seconds=just_enough), case(5.0)).values["N"] > 0
    with pytest.raises(NotScorable):
        Counting().score(clip(seconds=MIN_COVERAGE * 5.0 - 2 / FPS), case(5.0))
    assert Counting().score(clip(seconds=0.5), None).values["N"] == 12  # no case: nothing to compare with


def test_declared_needs_refuse_silence_frozen_and_blank_pictures():
    metric = NeedsEverything()
    NeedsEverything.calls = 0
    assert metric.score(clip(), case()).values["N"] == 96
    for bad, reason in [(clip(level_db=None), "silent audio"), (clip(level_db=SILENCE_DBFS - 6), "silent audio"),
                        (clip(moving=False), "frozen picture"), (clip(blank=True), "blank picture")]:
        with pytest.raises(NotScorable, match=reason):
            metric.score(bad, case())
    assert NeedsEverything.calls == 1  # refused before the metric's own code ran


def test_quiet_but_audible_sound_and_a_flickering_flat_picture_pass_what_they_should():
    assert NeedsEverything().score(clip(level_db=SILENCE_DBFS + 10), case()).values["N"] == 96
    flat_flicker = clip(blank=True)
    assert flat_flicker.picture_stats().max_change > FROZEN_GREY  # moving...
    assert flat_flicker.picture_stats().max_spatial_std < BLANK_GREY  # ...but blank
    assert InputNeeds(motion=True).check(flat_flicker, case()) is None


def test_without_declared_needs_silence_and_frozen_pictures_are_scored():
    # DD's answer for a frozen clip is 0.0 and WER's for silence is 1.0: a number, rightly
    assert Counting().score(clip(moving=False, level_db=None), case()).values["N"] == 96


def test_every_card_states_its_checks_and_subclasses_cannot_skip_them():
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    for key in all_metric_keys():
        cls = get_metric(key)
        assert f"{MIN_COVERAGE:.0%} of the case's duration" in cls.card.refuses, key
        assert getattr(cls.score, "checks_input", False), key
    assert f"{SILENCE_DBFS:g} dBFS" in NeedsEverything.card.refuses and "frozen" in NeedsEverything.card.refuses
    assert "silence" not in Counting.card.refuses


def test_every_card_states_its_numeric_precision():
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    shipped = [k for k in all_metric_keys() if get_metric(k).__module__.startswith("harmony_bench.metrics.")]
    assert len(shipped) >= 20  # the suite's own; other tests register cards of their own
    for key in shipped:
        precision = get_metric(key).card.precision
        assert "float" in precision or "int8" in precision or precision.startswith("none (classical)"), key
    assert Counting.card.precision == ""  # third-party cards without it still build


def test_tolerance_is_absolute_plus_relative_and_every_card_states_it():
    from harmony_bench.metrics.base import DEFAULT_TOLERANCE, Tolerance
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    tol = Tolerance(absolute=1e-4, relative=1e-3)
    assert tol.agrees(0.5, 0.5 + 5e-4) and not tol.agrees(0.5, 0.5 + 7e-4)  # bound 1e-4 + 5e-4
    assert tol.agrees(-20.0, -20.02) and not tol.agrees(-20.0, -20.03)  # relative to |stored|
    assert tol.agrees(0.0, 1e-4) and not tol.agrees(0.0, 2e-4)
    for key in all_metric_keys():
        cls = get_metric(key)
        assert cls.card.tolerance == cls.tolerance.describe() and "agrees when within" in cls.card.tolerance, key
    assert Counting.tolerance == DEFAULT_TOLERANCE

# The limits as literals, not as the constants: a test that derives its inputs from the
# constants passes whatever they are changed to.
def test_a_track_at_60_percent_of_the_case_is_refused_and_at_85_percent_scored():
    with pytest.raises(NotScorable, match=r"video track lasts 3\.00 s, the case asks for 5 s \(under 80% of it\)"):
        Counting().score(clip(seconds=3.0), case(5.0))
    with pytest.raises(NotScorable, match=r"audio track lasts 3\.00 s"):
        Counting().score(clip(seconds=5.0, audio_seconds=3.0), case(5.0))
    assert Counting().score(clip(seconds=4.25, audio_seconds=4.25), case(5.0)).values["N"] == 102


def test_a_sound_at_minus_70_dbfs_is_silence_and_at_minus_50_audible():
    def tone(rms_db: float) -> Clip:  # 500 Hz: 20 periods in each 40 ms block, so every block has this RMS
        t = np.arange(4 * SR) / SR
        audio = (10 ** (rms_db / 20) * np.sqrt(2) * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
        return Clip(frames=clip().frames, fps=FPS, audio=audio, sample_rate=SR)

    needs_sound = InputNeeds(sound=True)
    quiet, audible = tone(-70.0), tone(-50.0)
    assert quiet.loudest_block_db() == pytest.approx(-70, abs=0.01)
    with pytest.raises(NotScorable, match="silent audio: the loudest 40 ms is -70 dBFS"):
        needs_sound.check(quiet, case())
    assert needs_sound.check(audible, case()) is None


def test_a_clip_without_a_track_is_scored_only_by_metrics_that_read_the_other():
    full = clip()
    no_audio = Clip(frames=full.frames, fps=FPS, audio=None, sample_rate=SR)
    no_video = Clip(frames=None, fps=FPS, audio=full.audio, sample_rate=SR)
    with pytest.raises(NotScorable, match="^the clip has no audio track, which this metric reads$"):
        InputNeeds().check(no_audio, case())
    with pytest.raises(NotScorable, match="^the clip has no video track, which this metric reads$"):
        InputNeeds().check(no_video, case())
    assert InputNeeds(audio=False, motion=True).check(no_audio, case()) is None
    assert InputNeeds(video=False, sound=True).check(no_video, case()) is None
    with pytest.raises(NotScorable, match="video track lasts 1.00 s"):  # the track it has is still checked
        InputNeeds(audio=False).check(Clip(full.frames[:24], FPS, None, SR), case())
    with pytest.raises(ValueError, match="a check on a track the metric does not read"):
        InputNeeds(audio=False, sound=True)
    assert "no video track; no audio track" in Counting.card.refuses


def test_each_metric_reads_the_tracks_its_protocol_uses():
    from harmony_bench.metrics.registry import all_metric_keys, get_metric

    shipped = [k for k in all_metric_keys() if get_metric(k).__module__.startswith("harmony_bench.metrics.")]
    reads = {k: (get_metric(k).requires.video, get_metric(k).requires.audio) for k in shipped}
    video_only = {k for k, r in reads.items() if r == (True, False)}
    audio_only = {k for k, r in reads.items() if r == (False, True)}
    assert {k.split("@")[0] for k in video_only} == {"aq", "dd", "id", "iq", "ms"}
    assert {k.split("@")[0] for k in audio_only} == {"audiobox", "wer"}
    both = set(shipped) - video_only - audio_only
    assert {k.split("@")[0] for k in both} == {"ib", "avoffset", "desync", "lipsync", "syncnet"}
    for key in shipped:
        assert all(f"no {t} track" in get_metric(key).card.refuses
                   for t, read in zip(("video", "audio"), reads[key]) if read), key
