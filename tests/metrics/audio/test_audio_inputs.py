"""What the audio metrics receive: 16 kHz mono from any common rate and from stereo, and a cheap
registration that lists every audio metric without importing heavy packages."""

import subprocess
import sys

import numpy as np
import pytest

from harmony_bench.metrics.audio.audiobox import windows
from harmony_bench.metrics.base import ALL_SUBSETS, SPEECH_SUBSETS
from harmony_bench.metrics.registry import get_metric

SR = 16_000


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resampling_to_16k_keeps_length_pitch_and_level(tone_clip, rate):
    clip = tone_clip(seconds=2.0, sample_rate=rate, freq=1000.0)
    audio = clip.audio_at(SR)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.shape[0] - 2 * SR) <= 1
    spectrum = np.abs(np.fft.rfft(audio[SR // 4 : -SR // 4]))
    assert np.fft.rfftfreq(audio.shape[0] - SR // 2, 1 / SR)[spectrum.argmax()] == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(audio[SR // 4 : -SR // 4] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


def test_stereo_is_mixed_to_mono(tone_clip):
    clip = tone_clip(seconds=1.0, sample_rate=44_100, channels=2)  # right channel at half level
    mono = clip.audio_at(SR)
    reference = tone_clip(seconds=1.0, sample_rate=44_100).audio_at(SR)
    assert np.allclose(mono, 0.75 * reference, atol=1e-5)


def test_window_count_after_resampling(tone_clip):
    assert len(windows(tone_clip(seconds=23.0, sample_rate=22_050, channels=2).audio_at(SR).shape[0])) == 3


@pytest.mark.parametrize("key, outputs, subsets, official", [
    ("audiobox@aesthetics", ["PQ", "PC", "CE", "CU"], ALL_SUBSETS, True),
    ("wer@whisper-large-v3", ["WER", "WER-words"], SPEECH_SUBSETS, True),
    ("wer@whisper-large-v3+whisper-norm", ["WER", "WER-words"], SPEECH_SUBSETS, True),
    ("wer@faster-whisper-tiny.en", ["WER", "WER-words"], SPEECH_SUBSETS, False),
    ("ib@imagebind-huge", ["IB-A", "IB"], ALL_SUBSETS, True),
])
def test_registered_metrics(key, outputs, subsets, official):
    cls = get_metric(key)
    assert cls.key == key and [o.name for o in cls.outputs] == outputs
    assert cls.subsets == subsets and cls.official is official
    assert cls.card.formula and cls.card.differences and cls.needs


def test_listing_imports_no_heavy_package():
    code = ("import sys, harmony_bench.metrics.audio; "
            "print(sorted(m for m in ('torch', 'whisper', 'imagebind', 'audiobox_aesthetics', "
            "'faster_whisper', 'jiwer', 'zhconv') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_random_weights_cover_every_official_audio_backend(random_weights):
    import json

    from harmony_bench.metrics.registry import METRICS

    folder, manifest = random_weights
    table = json.loads(manifest.read_text())
    needed = {wf.name for key in METRICS.names() if key.split("@")[0] in ("audiobox", "wer", "ib")
              for wf in get_metric(key).weights}
    assert needed == set(table) and all((folder / name).is_file() for name in needed)
