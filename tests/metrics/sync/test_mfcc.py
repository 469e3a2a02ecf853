import numpy as np

from harmony_bench.metrics.sync.mfcc import mel_filterbank, mfcc, to_int16_scale

# python_speech_features 0.6 `mfcc(sig, 16000)` of the chirp below, rows 0, 5 and 10 (generated
# once with that library, the one syncnet_python uses; rounded to 1e-8).
CHIRP_REFERENCE = np.array([
    [18.63377971, 28.33094376, 17.91537379, 7.62101853, -3.64774093, -14.35409679, -21.23983151,
     -24.8552859, -23.60813057, -19.39651224, -12.43878542, -5.78823731, -0.35803554],
    [20.03604353, 23.26904323, -0.60290657, -22.91067882, -34.05081855, -28.66191037, -9.51186072,
     10.54515708, 21.66996398, 18.82821815, 7.12036276, -6.19195536, -13.40372715],
    [20.85845124, 17.98275824, -16.47073429, -34.50705919, -21.20347896, 10.22712526, 30.72028736,
     21.31022024, -5.15897545, -23.24021538, -17.62501081, 0.54408547, 12.90697075],
])


def chirp() -> np.ndarray:
    t = np.arange(2000) / 16000
    return np.round(10000 * np.sin(2 * np.pi * (200 * t + 3000 * t * t)))


def test_mfcc_matches_python_speech_features_known_answer():
    feats = mfcc(chirp())
    assert feats.shape == (11, 13)  # 1 + ceil((2000 - 400) / 160) frames, last one zero-padded
    np.testing.assert_allclose(feats[[0, 5, 10]], CHIRP_REFERENCE, atol=1e-6)


def test_mfcc_rate_is_100_hz_and_four_per_video_frame():
    one_second = np.zeros(16000)
    one_second[::97] = 1000.0
    assert mfcc(one_second).shape == (99, 13)  # 1 + ceil((16000 - 400) / 160)


def test_mfcc_of_silence_is_finite():
    feats = mfcc(np.zeros(3200))
    assert np.isfinite(feats).all()
    assert np.allclose(feats[:, 0], np.log(np.finfo(float).eps))


def test_filterbank_triangles_peak_at_one_and_cover_the_band():
    bank = mel_filterbank()
    assert bank.shape == (26, 257)
    assert np.all(bank.max(axis=1) <= 1.0 + 1e-12) and np.all(bank.max(axis=1) > 0.5)
    centres = bank.argmax(axis=1)
    assert np.all(np.diff(centres) > 0)


def test_int16_scale_rounds_and_clips_like_a_pcm_s16_wav():
    x = np.array([0.0, 0.5, -1.0, 1.0, 2.0], dtype=np.float32)
    assert to_int16_scale(x).tolist() == [0.0, 16384.0, -32768.0, 32767.0, 32767.0]
