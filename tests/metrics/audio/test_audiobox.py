"""AudioBox-Aesthetics: window counts and weights, and the loader on a tiny random model in the
release format (config.json + model.safetensors)."""

import json

import numpy as np
import pytest

from harmony_bench.metrics.audio.audiobox import AXES, AudioboxAesthetics, Window, load_aesthetics, weighted_mean, windows
from harmony_bench.metrics.base import MetricUnavailable, NotScorable

SR = 16_000


@pytest.mark.parametrize("seconds, expected", [
    (3, [Window(0, 3 * SR, 0.3)]),
    (10, [Window(0, 10 * SR, 1.0)]),
    (23, [Window(0, 10 * SR, 1.0), Window(10 * SR, 10 * SR, 1.0), Window(20 * SR, 3 * SR, 0.3)]),
])
def test_window_counts_and_weights(seconds, expected):
    assert windows(seconds * SR) == expected


def test_no_audio_no_windows():
    assert windows(0) == []


def test_weighted_mean_downweights_the_padded_window():
    assert weighted_mean(np.array([1.0, 2.0, 3.0]), [1.0, 1.0, 0.3]) == pytest.approx((1 + 2 + 0.9) / 2.3)


def test_missing_weights_are_named(empty_weights):
    metric = AudioboxAesthetics()
    assert metric.availability() == "weights missing: audiobox-aesthetics/model.safetensors"
    with pytest.raises(MetricUnavailable):
        metric.setup()


def test_outputs_follow_the_paper_arrows():
    assert [(o.name, o.direction) for o in AudioboxAesthetics.outputs] == [
        ("PQ", "higher"), ("PC", "lower"), ("CE", "higher"), ("CU", "higher")]


def test_score_equals_weighted_window_predictions(weights_env, tone_clip, make_case):
    import torch

    metric = AudioboxAesthetics()
    metric.setup()
    assert ".arch.json=" in metric.weights_sha256  # the small architecture is on record
    clip = tone_clip(seconds=23.0, sample_rate=44_100, channels=2)
    s = metric.score(clip, make_case(subset="ambient", audio_caption="a tone"))
    assert s.details == {"windows": 3, "window_weights": [1.0, 1.0, pytest.approx(0.3)]}

    # independent recomputation: each window on its own, padded with a mask, then weighted
    audio = torch.from_numpy(clip.audio_at(SR))
    preds = []
    for start, length in ((0, 10 * SR), (10 * SR, 10 * SR), (20 * SR, 3 * SR)):
        wav = torch.zeros(1, 1, 10 * SR)
        wav[0, 0, :length] = audio[start : start + length]
        mask = torch.zeros_like(wav, dtype=torch.bool)
        mask[..., :length] = True
        with torch.inference_mode():
            preds.append(metric.model({"wav": wav, "mask": mask}))
    for axis in AXES:
        raw = np.array([float(p[axis]) for p in preds]) * 1.5 + 5.5  # the test config's target_transform
        assert s.values[axis] == pytest.approx(weighted_mean(raw, [1.0, 1.0, 0.3]), abs=1e-4)
        assert isinstance(s.values[axis], float)


def test_empty_audio_is_not_scorable(weights_env, tone_clip, make_case):
    metric = AudioboxAesthetics()
    metric.setup()
    clip = tone_clip(seconds=1.0)
    clip.audio = clip.audio[:0]
    with pytest.raises(NotScorable):
        metric.score(clip, make_case())


def test_config_without_target_transform_is_refused(weights_env, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"nth_layer": 2}))
    with pytest.raises(ValueError, match="target_transform"):
        load_aesthetics(weights_env / "audiobox-aesthetics/model.safetensors", config)


@pytest.mark.parametrize("override", [
    {"conv_feature_layers": "[(512, 10, 5)] + [__import__('os').getpid()]"},  # text would reach eval
    {"conv_feature_layers": [[16, 10, "5"]]},
    {"extractor_mode": "layer_norm"},  # not an allowed setting
])
def test_architecture_override_accepts_only_known_integer_settings(weights_env, tmp_path, override):
    import shutil

    for name in ("model.safetensors", "config.json"):
        shutil.copy(weights_env / "audiobox-aesthetics" / name, tmp_path / name)
    (tmp_path / "model.safetensors.arch.json").write_text(json.dumps(override))
    with pytest.raises(ValueError):
        load_aesthetics(tmp_path / "model.safetensors", tmp_path / "config.json")
