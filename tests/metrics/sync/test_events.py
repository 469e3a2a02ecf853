"""The event-sync signals and search (metrics/sync/events.py) on inputs with known answers."""

import numpy as np
import pytest

from harmony_bench.metrics.sync.events import (ENVELOPE_RATE, SIZE, _moments, audio_onset_envelope, lag_search,
                                               visual_cues)


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_a_sound_raises_the_envelope_at_its_own_millisecond(sample_rate):
    audio = np.random.default_rng(0).normal(0, 1e-3, sample_rate)  # steady noise: no onset
    start = int(0.5123 * sample_rate)
    audio[start : start + sample_rate // 50] += np.random.default_rng(1).normal(0, 0.3, sample_rate // 50)
    env = audio_onset_envelope(audio, sample_rate)
    assert len(env) == pytest.approx(ENVELOPE_RATE, abs=2)
    # trailing windows: not early by half a window; the Hann taper reads it up to 2 ms late
    assert 0 <= int(np.argmax(env)) - 512 <= 2
    assert env[:11].max() == 0.0  # the track starting is not an onset


def _frames(n: int, draw) -> np.ndarray:
    frames = np.full((n, 48, 64, 3), 40, np.uint8)
    for t in range(n):
        draw(frames[t], t)
    return frames


def test_a_flash_is_a_brightening_onset_at_its_first_frame_and_no_impact():
    def draw(img, t):
        if 7 <= t < 9:
            img[10:20, 10:20] = 220

    cues = visual_cues(iter(_frames(20, draw)), 24.0)
    assert int(np.argmax(cues.onsets)) == 7 and cues.onsets[9] == 0.0  # switching off is no onset
    assert cues.times[7] == pytest.approx(7 / 24)
    assert cues.impacts.max() == pytest.approx(0.0, abs=1e-9)  # all net brightness: not motion


def test_a_square_that_reverses_is_an_impact_where_it_turns_and_steady_motion_is_none():
    turn = 12  # x = 5 + 2 t up to frame 12, then back

    def draw(img, t):
        x = 5 + 2 * (t if t <= turn else 2 * turn - t)
        img[20:28, x : x + 8] = 200

    cues = visual_cues(iter(_frames(24, draw)), 30.0)
    assert int(np.argmax(cues.impacts)) == turn
    steady = np.r_[cues.impacts[2 : turn - 1], cues.impacts[turn + 2 : -2]]
    assert steady.max() < 0.05 * cues.impacts[turn]
    assert cues.onsets.max() < 0.05 * 160 * 64 / (48 * 64)  # motion brightens and darkens alike: no onset


def test_moments_by_hand():
    grey = np.zeros((2, SIZE, SIZE), np.float32)
    grey[0, 10, 40] = 64.0  # one pixel at x = 40, y = 10
    grey[1] = 5.0  # a uniform picture has its moment at the centre
    centre = (SIZE - 1) / 2
    expected = 64.0 * np.array([40 - centre, 10 - centre]) / SIZE**2
    np.testing.assert_allclose(_moments(grey), [expected, [0.0, 0.0]], atol=1e-12)


def _envelope_with_onsets(onsets_s: np.ndarray, seconds: float = 4.0) -> np.ndarray:
    env = np.zeros(int(seconds * ENVELOPE_RATE))
    env[np.round(onsets_s * ENVELOPE_RATE).astype(int)] = 100.0
    return env


def test_lag_search_finds_a_sub_frame_offset_and_measures_its_peak():
    fps = 24.0
    frames = np.array([10, 19, 33, 41, 58, 70])
    times, weights = np.arange(96) / fps, np.zeros(96)
    weights[frames] = 1.0
    s = lag_search(times, weights, _envelope_with_onsets(frames / fps + 0.0231), fps, 1.0)
    assert s.offset_s == pytest.approx(0.023, abs=0.0015)  # half a frame is 21 ms: off the frame grid
    assert s.rival < 0.4  # an irregular pattern fits at one lag only
    # the envelope is smoothed by a Gaussian of half a frame: its full width at half height is
    # 2.355 sigma = 1.18 frames (a little less once the fit's median is taken off)
    assert s.width_frames == pytest.approx(1.18, abs=0.1)


def test_lag_search_on_a_periodic_pattern_has_a_rival_as_good_as_the_peak():
    fps = 30.0
    frames = np.arange(6, 110, 8)
    times, weights = np.arange(120) / fps, np.zeros(120)
    weights[frames] = 1.0
    s = lag_search(times, weights, _envelope_with_onsets(frames / fps + 3 / fps), fps, 1.0)
    assert s.rival > 0.85
