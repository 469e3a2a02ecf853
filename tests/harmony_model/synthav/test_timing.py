import numpy as np
import pytest

from harmony_model.synthav.generator import generate, split_seeds
from harmony_model.synthav.timing import audio_activity, measure_against, region_mask, shift_audio


@pytest.fixture(scope="module")
def clips():
    return [generate(s) for s in split_seeds("val", 24)]


def test_true_timing_measures_near_zero(clips):
    errors = [measure_against(c, c.frames, c.audio).error for c in clips]
    assert np.median(errors) < 0.05


def test_shifted_audio_measures_the_shift(clips):
    # an independent reference: the shift we applied ourselves
    offsets = [measure_against(c, c.frames, shift_audio(c.audio, c.sample_rate, 0.25)).offset for c in clips]
    assert abs(np.median(offsets) - 0.25) < 0.06
    early = [measure_against(c, c.frames, shift_audio(c.audio, c.sample_rate, -0.25)).offset for c in clips]
    assert abs(np.median(early) + 0.25) < 0.06


def test_correlation_separates_true_from_mismatched(clips):
    true = [measure_against(c, c.frames, c.audio).corr0 for c in clips]
    other = [measure_against(c, c.frames, clips[(i + 1) % len(clips)].audio).corr0 for i, c in enumerate(clips)]
    assert np.mean(true) > np.mean(other) + 0.4


def test_onset_and_mask_helpers():
    sr, fps = 16000, 8
    wave = np.zeros(sr)
    wave[int(0.5 * sr):int(0.6 * sr)] = 0.5
    onset = audio_activity(wave, sr, fps, 8)
    assert int(np.argmax(onset)) == 4
    mask = region_mask((10, 10), {"a": (0.0, 0.0, 0.5, 0.2)})
    assert mask.sum() == 10 and mask[:2, :5].all()
