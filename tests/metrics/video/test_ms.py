"""Motion smoothness: VBench's even/odd protocol with flow-warp interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.base import NotScorable
from metrics.video.flow import interpolate_midpoint, warp
from metrics.video.ms import MotionSmoothnessFarneback, motion_smoothness


def zero_flow(a, b):
    return np.zeros(a.shape[:3] + (2,), np.float32)


def test_static_clip_is_perfectly_smooth(synth):
    assert MotionSmoothnessFarneback().score(synth.clip(synth.static()), None).values["MS"] == pytest.approx(1.0)


def test_linear_blends_are_smoother_than_shuffled_frames(synth):
    metric = MotionSmoothnessFarneback()
    blend = metric.score(synth.clip(synth.blend()), None).values["MS"]
    jumbled = metric.score(synth.clip(synth.shuffled(synth.blend())), None).values["MS"]
    assert blend > 0.99
    assert jumbled < blend - 0.02


def test_translating_pattern_is_interpolated_by_the_flow_warp(synth):
    # 1 px per frame: the even-frame flow is 2 px and the midpoint warp recovers the odd frame
    frames = synth.translating(n=9, step=1)
    with_flow = MotionSmoothnessFarneback().score(synth.clip(frames), None).values["MS"]
    without = motion_smoothness(frames, zero_flow).values["MS"]
    assert with_flow > without + 0.01


def test_score_matches_hand_computation_with_a_known_interpolator():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (7, 6, 8, 3), dtype=np.uint8)  # even 0,2,4,6 -> 3 pairs vs odd 1,3,5
    score = motion_smoothness(frames, zero_flow)
    preds = [np.rint((frames[i].astype(float) + frames[i + 2]) / 2) for i in (0, 2, 4)]
    mad = np.mean([np.abs(p - frames[i + 1]).mean() for p, i in zip(preds, (0, 2, 4))])
    assert score.details["pairs"] == 3
    assert score.values["MS"] == pytest.approx((255 - mad) / 255, abs=1e-9)


def test_even_frame_count_drops_the_unmatched_last_odd_frame():
    frames = np.zeros((6, 4, 4, 3), np.uint8)  # even 0,2,4 -> 2 pairs; odd frame 5 has no pair
    assert motion_smoothness(frames, zero_flow).details["pairs"] == 2


def test_warp_follows_the_flow_direction():
    img = np.zeros((1, 5, 5, 3), np.uint8)
    img[0, 2, 3] = 200
    flow = np.zeros((1, 5, 5, 2), np.float32)
    flow[..., 0] = 1.0  # out(x) = img(x + 1): content moves one pixel left
    assert warp(img, flow)[0, 2, 2, 0] == pytest.approx(200)


def test_midpoint_of_identical_frames_is_the_frame(synth):
    a = synth.texture()[None]
    assert np.array_equal(interpolate_midpoint(a, a, zero_flow), a)


def test_two_frames_are_unscorable():
    with pytest.raises(NotScorable):
        motion_smoothness(np.zeros((2, 4, 4, 3), np.uint8), zero_flow)
