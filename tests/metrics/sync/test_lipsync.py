"""LipSync (offline) on drawn faces speaking espeak-ng speech with known audio shifts."""

import pytest

pytest.importorskip("mediapipe", reason="needs the [offline] extra (mediapipe; it pins numpy<2)")

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync.lipsync import LipSyncMetric

SHIFTS = (-0.5, -0.2, 0.0, 0.12, 0.3, 0.5)  # seconds, > 0: audio late


@pytest.fixture(scope="module")
def metric():
    return LipSyncMetric()


@pytest.fixture(scope="module")
def scores(metric, make_speech_clip):
    return {s: metric.score(make_speech_clip(s), None) for s in SHIFTS}


@pytest.mark.slow
def test_recovers_each_shift_within_one_frame(scores):
    for shift, score in scores.items():
        assert abs(score.details["offset_frames"] - shift * 25) <= 1.0, (shift, score.details)
        assert score.values["LipSync-offset"] == abs(score.details["offset_frames"])


@pytest.mark.slow
def test_confidence_falls_as_the_shift_grows(scores):
    conf = {s: scores[s].values["LipSync-C"] for s in SHIFTS}
    by_size = sorted(SHIFTS, key=abs)
    for small, large in zip(by_size, by_size[1:]):
        if abs(large) > abs(small):
            assert conf[large] < conf[small], conf
    assert scores[0.0].values["LipSync-D"] < min(scores[s].values["LipSync-D"] for s in SHIFTS if s)


@pytest.mark.slow
def test_a_mouth_that_does_not_move_with_the_speech_is_out_of_sync(metric, make_speech_clip, scores):
    still_mouth = make_speech_clip(0.0, layout="silent_partner")  # the partner's mouth never moves
    assert scores[0.0].values["LipSync-C"] > 0.5
    quiet = [t for t in metric.score(still_mouth, None).details["tracks"] if t["lipsync_c"] < 0.1]
    assert len(quiet) == 1


def test_silence_or_a_frozen_picture_get_no_number(metric, make_speech_clip):
    # v1 stored LipSync-C 0.0, D 1.0 and offset 15 (the first lag of a flat curve) for silence
    with pytest.raises(NotScorable, match="silent audio"):
        metric.score(make_speech_clip(0.0, mute=True), None)
    with pytest.raises(NotScorable, match="frozen picture"):
        metric.score(make_speech_clip(0.0, static=True), None)


@pytest.mark.slow
def test_active_speaker_is_the_face_that_speaks(metric, make_speech_clip):
    score = metric.score(make_speech_clip(0.3, layout="silent_partner"), None)
    tracks = score.details["tracks"]
    assert len(tracks) == 2
    speaker = tracks[score.details["active_track"]]
    quiet = tracks[1 - score.details["active_track"]]
    assert speaker["lipsync_c"] > 0.4 and quiet["lipsync_c"] < 0.1
    assert abs(score.details["offset_frames"] - 0.3 * 25) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("shift", [0.0, -0.4, 0.3])
def test_two_speakers_taking_turns(metric, make_speech_clip, shift):
    score = metric.score(make_speech_clip(shift, layout="turns"), None)
    assert len(score.details["tracks"]) == 2
    assert abs(score.details["offset_frames"] - shift * 25) <= 1.0


def test_no_face_is_unscorable(metric, make_flash_clip):
    with pytest.raises(NotScorable, match="no face-mesh track"):
        metric.score(make_flash_clip(0.0), None)


def test_declared_as_an_offline_variant_with_its_own_family():
    assert LipSyncMetric.official is False
    assert LipSyncMetric.family == "LipSync"
    assert {o.name for o in LipSyncMetric.outputs} == {"LipSync-C", "LipSync-D", "LipSync-offset"}
    assert LipSyncMetric().availability() is None
