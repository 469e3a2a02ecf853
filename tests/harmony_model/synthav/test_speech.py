import numpy as np
import pytest

from harmony_model.synthav.speech import SpeechError, envelope, speak


def test_speak_is_deterministic_and_resampled():
    a, sr = speak("hello there", voice="en-us", sample_rate=16000)
    b, _ = speak("hello there", voice="en-us", sample_rate=16000)
    assert sr == 16000 and a.dtype == np.float32 and a.ndim == 1
    assert np.array_equal(a, b)
    assert 0.3 < len(a) / sr < 3.0
    assert np.abs(a).max() > 0.1


def test_voices_and_mandarin_differ():
    en, _ = speak("hello there", voice="en-us")
    female, _ = speak("hello there", voice="en-us+f3")
    zh, sr = speak("你好，今天天气很好", voice="cmn")
    assert len(zh) / sr > 0.8
    n = min(len(en), len(female))
    assert not np.allclose(en[:n], female[:n])


def test_bad_voice_raises():
    with pytest.raises(SpeechError):
        speak("hello", voice="no-such-voice-xx")


def test_envelope_follows_loudness():
    sr, fps = 16000, 25
    t = np.arange(sr) / sr
    wave = np.where((t >= 0.4) & (t < 0.6), 0.5 * np.sin(2 * np.pi * 220 * t), 0.0)
    env = envelope(wave, sr, fps, smooth=0.0)
    assert env.shape == (25,)
    assert env[12] == pytest.approx(1.0, abs=1e-3)  # frame 12 covers 0.48-0.52 s
    assert env[:9].max() == 0.0 and env[16:].max() == 0.0


def test_envelope_of_speech_has_closures():
    wave, sr = speak("The quick brown fox jumps over the lazy dog")
    env = envelope(wave, sr, 24)
    assert env.max() == pytest.approx(1.0, abs=0.05)
    assert (env < 0.3).mean() > 0.05  # the mouth closes between syllables and at the ends
