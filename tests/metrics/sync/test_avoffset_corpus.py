"""The known-answer corpus (metrics/sync/corpus.py) and `avoffset@onset-motion` on a slice of it.

The whole corpus and its figures per frame rate and event kind: benchmarks/bench_avoffset_corpus.py
(results in benchmarks/results/avoffset_corpus.txt).
"""

import numpy as np
import pytest

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.sync.avoffset import AVOffsetMetric
from harmony_bench.metrics.sync.corpus import (CLEAN_KINDS, FRAME_RATES, SAMPLE_RATES, CorpusClip, ball_heights,
                                               ci_slice, full_corpus, make, self_overlap)


def _sound_starts(audio: np.ndarray, sample_rate: int, threshold: float = 0.05) -> np.ndarray:
    """Times (s) where the audio first exceeds `threshold` after 0.1 s under it (the noise floor
    is -50 dBFS, about 0.003)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    starts = loud[np.r_[True, np.diff(loud) > 0.1 * sample_rate]]
    return starts / sample_rate


@pytest.mark.parametrize("fps,offset", [(30, -1), (24, 5), (60, 8), (16, -3)])
def test_each_sound_starts_at_its_flash_plus_the_offset(fps, offset):
    spec = CorpusClip(fps, 44100, "flash-1", offset, distractor=True, seed=3)
    clip = make(spec)
    lamp = clip.frames[:, int(0.35 * 120), int(0.7 * 160)].astype(int).sum(axis=1)  # the bulb's centre pixel
    switch_on = np.flatnonzero(np.diff(lamp) > 100) + 1
    expected = switch_on / fps + spec.offset_s
    expected = expected[(expected > 0) & (expected < spec.seconds - 0.05)]
    np.testing.assert_allclose(_sound_starts(clip.audio[:, 0], 44100), expected, atol=0.0005)


def test_the_ball_touches_the_floor_exactly_at_each_contact():
    contacts = np.array([0.5, 0.9, 1.6])
    assert np.allclose(ball_heights(contacts, contacts), 0.0)
    between = ball_heights(contacts, np.array([0.7, 1.25]))
    assert between == pytest.approx([0.5 * 9.0 * 0.2 * 0.2, 0.5 * 9.0 * 0.35 * 0.35])  # g t (gap - t) / 2 at mid-arc
    assert ball_heights(contacts, np.linspace(0, 2, 200)).min() >= 0.0


def test_self_overlap_counts_the_events_a_shift_puts_on_others():
    assert self_overlap(np.arange(10) * 0.25, 24.0) == 9  # periodic: one period maps 9 of 10
    assert self_overlap(np.array([0.1, 0.5, 1.4, 2.6]), 25.0) == 1  # a shift by one gap maps its pair only


def test_clean_corpus_patterns_never_repeat_and_the_corpus_covers_the_brief():
    specs = full_corpus()
    assert {s.fps for s in specs} == set(FRAME_RATES) and {s.sample_rate for s in specs} == set(SAMPLE_RATES)
    assert {s.offset_frames for s in specs if not s.ambiguous} == set(range(-8, 9))
    assert {s.kind for s in specs if not s.ambiguous} == set(CLEAN_KINDS)
    rng = np.random.default_rng(0)
    from harmony_bench.metrics.sync.corpus import event_times

    for fps in FRAME_RATES:
        times = event_times(rng, 4.0, fps)
        assert self_overlap(times, fps) <= len(times) / 2
        assert np.diff(times).min() * fps >= 6 - 1e-9


@pytest.fixture(scope="module")
def slice_outcomes():
    metric = AVOffsetMetric()
    outcomes = {}
    for spec in ci_slice():
        try:
            outcomes[spec] = metric.score(make(spec), None).details["offset_frames"] - spec.offset_frames
        except NotScorable as exc:
            outcomes[spec] = str(exc)
    return outcomes


@pytest.mark.slow
def test_the_slice_meets_the_goals_on_clean_clips(slice_outcomes):
    clean = {s: o for s, o in slice_outcomes.items() if not s.ambiguous}
    errors = [abs(o) for o in clean.values() if not isinstance(o, str)]
    refused = [f"{s.name}: {o}" for s, o in clean.items() if isinstance(o, str)]
    assert {s.fps for s in clean} == set(FRAME_RATES) and len(clean) == 60
    assert sum(e <= 1.0 for e in errors) >= 0.95 * len(clean), sorted(errors)[-5:]
    assert max(errors) <= 2.0, [s.name for s, o in clean.items() if not isinstance(o, str) and abs(o) > 2]
    assert len(refused) <= 0.05 * len(clean), refused
    # sub-frame: no steady bias (v2 read clips off 25 fps about 25 ms early, 0.6 frame at 24 fps)
    assert np.median(errors) < 0.25, np.median(errors)


@pytest.mark.slow
def test_the_slice_refuses_every_ambiguous_clip_with_its_reason(slice_outcomes):
    ambiguous = {s: o for s, o in slice_outcomes.items() if s.ambiguous}
    assert len(ambiguous) == 10
    answered = [s.name for s, o in ambiguous.items() if not isinstance(o, str)]
    assert not answered
    assert all(o.startswith(("ambiguous", "no clear onset", "no visual events")) for o in ambiguous.values())


@pytest.mark.slow
@pytest.mark.parametrize("fps", FRAME_RATES)
def test_through_an_mp4_written_and_read_with_pyav(fps):
    spec = CorpusClip(fps, 48000 if fps % 2 else 22050, "impact" if fps in (24, 60) else "flash-1", 1, distractor=True,
                      seed=20_000 + fps)
    score = AVOffsetMetric().score(make(spec, write=True), None)
    assert abs(score.details["offset_frames"] - 1) <= 1.0, score.details


def test_cues_that_single_out_different_offsets_are_refused():
    # a four-frame flash seen through a gliding distractor at 16 fps: the brightening cue finds the
    # offset (+1 frame, 0.0625 s), the impact cue (the light moving the picture's moment) another,
    # and both stand out: conflicting evidence gets no number
    spec = CorpusClip(16, 16000, "flash-4", 1, distractor=True, seed=10_006)
    with pytest.raises(NotScorable, match=r"the brightening cue gives \+0.06\d s, the impact cue -0.1\d\d s"):
        AVOffsetMetric().score(make(spec), None)
