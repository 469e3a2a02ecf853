"""Farneback at its working size: true motion is measured in native pixels as at native size."""

import numpy as np
import pytest

from harmony_bench.metrics.video.dd import dynamic_degree
from harmony_bench.metrics.video.flow import FARNEBACK, FLOW_SIDE, _warp_rows, farneback_flow
from harmony_bench.metrics.video.ms import flow_warp, motion_smoothness

HEIGHT, WIDTH = 480, 832  # the paper's clips


def panning(step: int, n: int) -> np.ndarray:
    """A 480x832 window sliding right over a smooth random texture by `step` px per frame:
    the content moves left by exactly `step` native pixels between frames."""
    import cv2

    noise = np.random.default_rng(0).uniform(0, 255, (HEIGHT, WIDTH + step * n, 3)).astype(np.float32)
    texture = np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)
    return np.stack([texture[:, step * i : step * i + WIDTH] for i in range(n)])


def native_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The same Farneback on the full-size frames, with the 5 levels v2 used there."""
    import cv2

    grey = [[cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in x] for x in (a, b)]
    return np.stack([cv2.calcOpticalFlowFarneback(g1, g2, None, **{**FARNEBACK, "levels": 5}) for g1, g2 in zip(*grey)])


@pytest.mark.parametrize("step", [2, 6])
def test_flow_at_the_working_size_is_in_native_pixels(step):
    frames = panning(step, 2)
    flow = farneback_flow(frames[:1], frames[1:])
    assert flow.shape == (1, FLOW_SIDE, round(WIDTH * FLOW_SIDE / HEIGHT), 2)
    assert np.median(flow[0, ..., 0]) == pytest.approx(-step, abs=0.1)
    assert abs(np.median(flow[0, ..., 1])) < 0.1


def test_small_frames_are_never_upscaled():
    frames = panning(2, 2)[:, :96, :160]
    assert farneback_flow(frames[:1], frames[1:]).shape == (1, 96, 160, 2)


def test_motion_smoothness_equals_the_native_size_flow_on_true_motion():
    frames = panning(2, 9)
    working = motion_smoothness(frames, flow_warp(farneback_flow)).values["MS"]
    native = motion_smoothness(frames, flow_warp(native_flow)).values["MS"]
    still = motion_smoothness(frames, flow_warp(lambda a, b: np.zeros((*a.shape[:3], 2), np.float32))).values["MS"]
    assert working == pytest.approx(native, abs=1e-4)  # measured 0.99987 and 0.99988
    assert working - still > 0.03  # the warp is what interpolates: without it 0.965


@pytest.mark.parametrize("step, dynamic", [(2, False), (6, True)])
def test_dynamic_degree_at_the_working_size_on_known_motion(step, dynamic):
    # 24 fps sampled every 3rd frame: 3 * step px per pair against 6 * 480 / 256 = 11.25 px
    frames = panning(step, 24)[::3]
    verdict = dynamic_degree(frames, 24.0, farneback_flow)
    assert verdict.dynamic is dynamic
    # the top 5% of a uniform motion field: the motion plus the upper tail of the estimation error
    assert verdict.motion == pytest.approx(3 * step / 11.25, rel=0.05)
    assert verdict.motion == pytest.approx(dynamic_degree(frames, 24.0, native_flow).motion, rel=0.03)


@pytest.mark.parametrize("scale", [0.5, 30.0, 400.0])  # sub-pixel, large, and mostly off the frame
def test_warping_in_strips_equals_warping_the_whole_frame(scale):
    """The strips convert only the source rows their maps reach; the result must be the whole
    frame's remap to the bit, borders included."""
    import cv2

    from harmony_bench.metrics.video.flow import WARP_ROWS, warp

    rng = np.random.default_rng(int(scale))
    h, w = 2 * WARP_ROWS + 37, 203
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    flow = (rng.standard_normal((h, w, 2)) * scale + rng.uniform(-scale, scale, 2)).astype(np.float32)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    whole = cv2.remap(frame.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(warp(frame[None], flow[None])[0], whole)
    strips = np.concatenate([_warp_rows(frame, flow[t : t + WARP_ROWS], t) for t in range(0, h, WARP_ROWS)])
    np.testing.assert_array_equal(strips, whole)
