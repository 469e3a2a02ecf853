"""AVOffset (offline) on flashing lamps with clicks at known audio shifts (25 fps clips; the
other frame rates, impacts, ramps and distractors: test_avoffset_corpus.py)."""

import numpy as np
import pytest

from harmony_bench.media import Clip
from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync.avoffset import MAX_RIVAL, AVOffsetMetric

SHIFTS = (-0.5, -0.2, 0.0, 0.2, 0.5)


@pytest.fixture(scope="module")
def metric():
    return AVOffsetMetric()


@pytest.fixture(scope="module")
def scores(metric, make_flash_clip):
    return {s: metric.score(make_flash_clip(s), None) for s in SHIFTS}


def test_recovers_each_shift_within_one_frame(scores):
    for shift, score in scores.items():
        assert abs(score.details["offset_s"] - shift) <= 1 / 25 + 1e-9, (shift, score.details)
        assert score.values["AV-offset"] == pytest.approx(abs(score.details["offset_s"]))


def test_confidence_says_how_clearly_one_offset_wins(scores):
    # v2's confidence fell with |shift| only because its correlation was divided by the clip's
    # length; v3's is 1 - rival: how far the next-best offset is from fitting as well
    for score in scores.values():
        assert score.values["AV-offset-conf"] == pytest.approx(1.0 - score.details["rival"])
        assert 1.0 - MAX_RIVAL <= score.values["AV-offset-conf"] <= 1.0


@pytest.mark.parametrize("flash_frames", [1, 2, 3])
def test_short_flashes_at_both_signs_within_one_frame(metric, make_short_flash_clip, flash_frames):
    # v1 counted the switch-off as an event too: two equal peaks per click, and the tie went to
    # the smaller lag, so a 2-frame flash came out 2 frames short
    for shift in range(-6, 7):
        score = metric.score(make_short_flash_clip(shift, flash_frames), None)
        assert abs(score.details["offset_s"] * 25 - shift) <= 1.0 + 1e-9, (flash_frames, shift, score.details)


@pytest.mark.parametrize("seed", [1, 2])
def test_other_event_patterns(metric, make_flash_clip, seed):
    score = metric.score(make_flash_clip(0.28, seed=seed), None)
    assert abs(score.details["offset_s"] - 0.28) <= 1 / 25 + 1e-9


def test_static_picture_or_silence_get_no_number(metric, make_flash_clip):
    with pytest.raises(NotScorable, match="frozen picture"):
        metric.score(make_flash_clip(0.0, static=True), None)
    with pytest.raises(NotScorable, match="silent audio"):
        metric.score(make_flash_clip(0.0, mute=True), None)


def test_a_moving_picture_whose_events_are_too_faint_gets_no_number(metric, make_flash_clip):
    clip = make_flash_clip(0.0)
    faint = Clip(frames=(clip.frames // 32 + 100).astype(np.uint8), fps=clip.fps, audio=clip.audio,
                 sample_rate=clip.sample_rate)  # the picture moves, but the lamp brightens by a few levels
    with pytest.raises(NotScorable, match="no visual events"):
        metric.score(faint, None)


def test_declared_as_an_offline_variant_with_its_own_family():
    assert AVOffsetMetric.official is False
    assert AVOffsetMetric.family == "AVOffset"
    assert AVOffsetMetric.output("AV-offset").direction == "lower"
