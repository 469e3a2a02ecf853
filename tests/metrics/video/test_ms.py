"""Motion smoothness: VBench's even/odd protocol, flow-warp and AMT-S interpolators."""

from __future__ import annotations

import numpy as np
import pytest

from harmony_bench.cases import Case
from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.video import frames as frames_module
from harmony_bench.metrics.video.flow import farneback_flow, interpolate_midpoint, warp
from harmony_bench.metrics.video.ms import MotionSmoothnessAmt, MotionSmoothnessFarneback, flow_warp, motion_smoothness


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
    without = motion_smoothness(frames, flow_warp(zero_flow)).values["MS"]
    assert with_flow > without + 0.01


def test_score_matches_hand_computation_with_a_known_interpolator():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (7, 6, 8, 3), dtype=np.uint8)  # even 0,2,4,6 -> 3 pairs vs odd 1,3,5
    score = motion_smoothness(frames, flow_warp(zero_flow))
    preds = [np.rint((frames[i].astype(float) + frames[i + 2]) / 2) for i in (0, 2, 4)]
    mad = np.mean([np.abs(p - frames[i + 1]).mean() for p, i in zip(preds, (0, 2, 4))])
    assert score.details["pairs"] == 3
    assert score.values["MS"] == pytest.approx((255 - mad) / 255, abs=1e-9)


def test_even_frame_count_drops_the_unmatched_last_odd_frame():
    frames = np.zeros((6, 4, 4, 3), np.uint8)  # even 0,2,4 -> 2 pairs; odd frame 5 has no pair
    assert motion_smoothness(frames, flow_warp(zero_flow)).details["pairs"] == 2


def test_warp_follows_the_flow_direction():
    img = np.zeros((1, 5, 5, 3), np.uint8)
    img[0, 2, 3] = 200
    flow = np.zeros((1, 5, 5, 2), np.float32)
    flow[..., 0] = 1.0  # out(x) = img(x + 1): content moves one pixel left
    assert warp(img, flow)[0, 2, 2, 0] == pytest.approx(200)


def test_midpoint_of_identical_frames_is_the_frame(synth):
    a = synth.texture()[None]
    assert np.array_equal(interpolate_midpoint(a, a, zero_flow), a)


def test_a_clip_far_shorter_than_its_case_gets_no_number(synth):
    # v1 gave MS = 1.0 to a 0.12 s clip of a 4 s case: the clip's length was never checked
    case = Case(id="c-001", subset="ambient", video_caption="x", reference_image="r.png", reference_audio="r.wav",
                duration=4.0)
    with pytest.raises(NotScorable, match=r"video track lasts 0\.12 s, the case asks for 4 s"):
        MotionSmoothnessFarneback().score(synth.clip(synth.translating(n=3)), case)
    assert MotionSmoothnessFarneback().score(synth.clip(synth.translating(n=96)), case).values["MS"] < 1.0


def test_chunks_of_a_stream_give_the_numbers_of_the_whole_clip(synth, monkeypatch):
    frames = synth.blend(n=14)  # 6 pairs, the last odd frame unpaired
    whole = motion_smoothness(frames, flow_warp(farneback_flow))
    monkeypatch.setattr(frames_module, "FRAME_PIXELS", frames.shape[1] * frames.shape[2] // 4)  # 2 pairs a chunk
    streamed = motion_smoothness(iter(frames), flow_warp(farneback_flow))
    assert streamed.details == whole.details and streamed.values == whole.values


def test_two_frames_are_unscorable():
    with pytest.raises(NotScorable):
        motion_smoothness(np.zeros((2, 4, 4, 3), np.uint8), flow_warp(zero_flow))


def test_amt_without_its_file_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    assert MotionSmoothnessAmt().availability() == "weights missing: amt/amt-s.pth"


@pytest.fixture
def zero_amt(tmp_path, monkeypatch):
    """An amt-s.pth in the authors' layout whose weights are all zero: the network then returns
    the mean of its two frames (test_amt.py), a known interpolator behind the real loading path."""
    import json

    import torch

    from harmony_bench.weights import sha256_of
    from harmony_bench.metrics.video.amt import AMT

    path = tmp_path / "amt" / "amt-s.pth"
    path.parent.mkdir()
    torch.save({"state_dict": {k: torch.zeros_like(v) for k, v in AMT().state_dict().items()}}, path)
    (tmp_path / "m.json").write_text(json.dumps({"amt/amt-s.pth": sha256_of(path)}))
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(tmp_path / "m.json"))
    metric = MotionSmoothnessAmt()
    metric.setup()
    return metric


def test_amt_on_a_static_clip_is_smooth_up_to_truncation(zero_amt, synth):
    """Identical neighbours: the prediction is the frame up to float noise, and VBench's uint8
    truncation (not rounding) can drop a value just under an integer by one level. So MS lies
    within 1/255 of 1, and the real checkpoint (near identity on identical frames) behaves alike."""
    score = zero_amt.score(synth.clip(synth.static(n=5)), None)
    assert 1 - 1 / 255 <= score.values["MS"] <= 1.0
    assert score.details["scale"] == 1.0 and score.details["pairs"] == 2


def test_amt_linear_blend_matches_the_blend_and_beats_shuffled_frames(zero_amt, synth):
    frames = synth.blend(n=9)
    smooth = zero_amt.score(synth.clip(frames), None).values["MS"]
    jumbled = zero_amt.score(synth.clip(synth.shuffled(frames)), None).values["MS"]
    blend = motion_smoothness(frames, flow_warp(zero_flow)).values["MS"]  # rounded mean of neighbours
    assert abs(smooth - blend) <= 1 / 255  # truncation versus rounding: at most one level
    assert jumbled < smooth - 0.02


def test_official_ms_on_the_seeded_checkpoint_reproduces_the_authors_code(weights_env, synth):
    """The whole official path (weights folder, hash check, checkpoint in the authors' container,
    VBench's padding, scale and truncation) on the seeded AMT-S that data/amt_s_reference.npz was
    made with (make_amt_fixture.py: MCG-NKU/AMT 70f988f's network in VBench's
    motion_smoothness.py loop); MS must equal the reference's number, not just lie in [0, 1]."""
    from pathlib import Path

    ref = np.load(Path(__file__).parent / "data" / "amt_s_reference.npz")
    base = ref["base"]
    frames = np.stack([base[:, 3 * i : 3 * i + 136] for i in range(5)])  # as make_amt_fixture.py
    metric = MotionSmoothnessAmt()
    metric.setup()
    score = metric.score(synth.clip(frames), None)
    assert score.details["pairs"] == 2 and score.details["scale"] == 1.0
    assert score.values["MS"] == pytest.approx(float(ref["ms"]), abs=1e-6)
    assert abs(float(ref["ms"]) - 1.0) > 1e-3  # a value the checkpoint had to compute, not a bound
