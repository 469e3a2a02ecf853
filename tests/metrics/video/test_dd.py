"""Dynamic degree: VBench's sampling, threshold and vote, on clips with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.video.dd import DynamicDegreeFarneback, dd_required_pairs, dd_threshold, dynamic_degree, judge_motion
from harmony_bench.metrics.video.flow import top_fraction_magnitude
from harmony_bench.metrics.video.frames import vbench_interval, vbench_sample


@pytest.mark.parametrize("fps, interval", [(24, 3), (25, 3), (30, 4), (16, 2), (8, 1), (5, 1), (60, 8)])
def test_interval_is_round_fps_over_8(fps, interval):
    assert vbench_interval(fps) == interval


def test_sampling_picks_every_kth_frame_from_zero():
    frames = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1).repeat(3, axis=3)
    picked = vbench_sample(frames, 24.0)[:, 0, 0, 0]
    assert picked.tolist() == list(range(0, 50, 3))


def test_threshold_and_required_pairs_match_vbench_formulas():
    # VBench 45e79ec set_params: 6 * min(H, W) / 256, whatever the frame rate
    assert dd_threshold(256, 512) == pytest.approx(6.0)
    assert dd_threshold(480, 832) == pytest.approx(11.25)
    assert dd_threshold(720, 1280) == pytest.approx(16.875)
    assert [dd_required_pairs(n) for n in (16, 41, 40, 6, 2)] == [4, 10, 10, 2, 0]


def test_top_fraction_is_mean_of_largest_five_percent():
    flow = np.zeros((10, 20, 2), np.float32)  # 200 pixels -> top 10
    flow.reshape(-1, 2)[:10, 0] = np.arange(1, 11)
    flow.reshape(-1, 2)[10:30, 1] = 0.5
    assert top_fraction_magnitude(flow) == pytest.approx(5.5)


def test_vote_needs_enough_pairs_above_threshold():
    # 16 sampled frames at 8 fps, 256 px: threshold 6 px, 4 pairs must exceed it
    below = judge_motion([7.0] * 3 + [1.0] * 12, 256, 256, 16)
    above = judge_motion([7.0] * 4 + [1.0] * 11, 256, 256, 16)
    assert (below.dynamic, above.dynamic) == (False, True)
    assert above.motion == pytest.approx(np.mean([7.0] * 4 + [1.0] * 11) / 6.0)


def test_static_clip_is_not_dynamic_and_translating_pattern_is(synth):
    metric = DynamicDegreeFarneback()
    static = metric.score(synth.clip(synth.static()), None)
    moving = metric.score(synth.clip(synth.translating(step=2)), None)
    assert static.values["DD"] == 0.0 and static.values["DD-motion"] < 0.05  # Farneback leaves ~0.03 px
    assert moving.values["DD"] == 1.0
    # 2 px per frame, every 3rd frame sampled: 6 px per pair against a 1.5 px threshold
    assert 5.5 / 1.5 < moving.values["DD-motion"] < 7.0 / 1.5
    assert moving.details["pairs_above"] == 7 and moving.details["frame_interval"] == 3


def test_subset_value_is_fraction_of_dynamic_clips(synth):
    metric = DynamicDegreeFarneback()
    clips = [synth.static(), synth.translating(step=2), synth.translating(step=1)]
    per_clip = [metric.score(synth.clip(c), None).values["DD"] for c in clips]
    assert per_clip == [0.0, 1.0, 1.0]
    assert np.mean(per_clip) == pytest.approx(2 / 3)


def test_flow_function_sees_consecutive_sampled_pairs(synth):
    seen = []

    def fake_flow(a, b):
        seen.append((a[:, 0, 0, 0].tolist(), b[:, 0, 0, 0].tolist()))
        return np.zeros(a.shape[:3] + (2,), np.float32)

    frames = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=3).repeat(4, 1).repeat(4, 2)
    dynamic_degree(vbench_sample(frames, 16.0), 16.0, fake_flow)
    assert seen == [([0, 2, 4, 6], [2, 4, 6, 8])]


def test_large_frames_go_through_the_flow_in_chunks_of_pairs(monkeypatch):
    from harmony_bench.metrics.video import frames as frames_module

    seen = []

    def fake_flow(a, b):
        seen.append((a[:, 0, 0, 0].tolist(), b[:, 0, 0, 0].tolist()))
        return np.zeros(a.shape[:3] + (2,), np.float32)

    monkeypatch.setattr(frames_module, "FRAME_PIXELS", 4 * 4 // 4)  # two 4x4 pairs at a time
    frames = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, axis=3).repeat(4, 1).repeat(4, 2)
    verdict = dynamic_degree(iter(vbench_sample(frames, 16.0)), 16.0, fake_flow)
    assert seen == [([0, 2], [2, 4]), ([4, 6], [6, 8])]
    assert len(verdict.pair_scores) == 4 and verdict.required == dd_required_pairs(5)


def test_single_frame_is_unscorable(synth):
    with pytest.raises(NotScorable):
        DynamicDegreeFarneback().score(synth.clip(synth.static(n=2)), None)


def test_known_answer_below_8_fps_uses_the_plain_threshold():
    # 16 frames of 256 x 256 at 4 fps: interval 1, 15 pairs, 4 needed; every pair moves 7 px.
    # VBench 45e79ec: threshold 6 px, so dynamic. The July-2024 factor max(1, 8/4) = 2 made it 12 px
    # and the clip static: this pins the version followed.
    frames = np.zeros((16, 256, 256, 3), np.uint8)
    verdict = dynamic_degree(frames, 4.0, lambda a, b: np.full(a.shape[:3] + (2,), 7.0 / np.sqrt(2), np.float32))
    assert verdict.threshold == pytest.approx(6.0) and verdict.required == 4
    assert verdict.dynamic and verdict.pair_scores == pytest.approx([7.0] * 15)
    assert verdict.motion == pytest.approx(7.0 / 6.0)
