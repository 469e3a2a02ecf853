"""Our AudioBox and ImageBind code against the publishers' own code, run here where their
packages install (requirements.lock: audiobox_aesthetics 0.0.4, imagebind-unofficial 0.1.1 with
pytorchvideo 0.1.5): the same random weights or the same audio through both."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from harmony_bench.media import read_clip
from harmony_bench.metrics.audio.audiobox import AUDIOBOX_CONFIG, AXES, AudioboxAesthetics
from harmony_bench.metrics.audio.imagebind import audio_input, crop_offsets, video_input


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    import soundfile as sf

    sf.write(path, audio, sample_rate, subtype="FLOAT")
    return path


def _read_wav(path, **_):
    """torchaudio.load as the reference calls it, on soundfile: torchaudio 2.9+ reads files only
    through TorchCodec, which is not installed here."""
    import soundfile as sf
    import torch

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(audio.T.copy()), sr


# -- AudioBox --------------------------------------------------------------------------------
def test_the_package_predictor_gives_our_values_on_the_same_random_weights(weights_env, tmp_path, tone_clip,
                                                                            make_case):
    """audiobox_aesthetics' AesPredictor.forward (its resampling, mono mix, 10 s windows, masks
    and weighting) on a checkpoint.pt holding the weights our metric loads."""
    import torch
    from audiobox_aesthetics.infer import AesPredictor
    from audiobox_aesthetics.model.aes import AesMultiOutput

    from harmony_bench.metrics.audio.audiobox import MODEL_FIELDS, _encoder_config, _encoder_overrides
    from harmony_bench.metrics.audio.testing import TINY_WAVLM

    metric = AudioboxAesthetics()
    metric.setup()
    config = json.loads((weights_env / AUDIOBOX_CONFIG.name).read_text())
    checkpoint = tmp_path / "checkpoint.pt"  # the package's training-checkpoint layout
    torch.save({"state_dict": {f"model.{k}": v for k, v in metric.model.state_dict().items()},
                "model_cfg": {k: config.get(k, getattr(AesMultiOutput, k)) for k in MODEL_FIELDS},
                "target_transform": config["target_transform"]}, checkpoint)
    with _encoder_config(_encoder_overrides(TINY_WAVLM)):  # the tiny encoder the test weights have
        predictor = AesPredictor(checkpoint_pth=str(checkpoint), precision="32")

    clip = tone_clip(seconds=23.0, sample_rate=44_100, channels=2)  # three windows, the last 3 s
    ours = metric.score(clip, make_case(subset="ambient", audio_caption="a tone")).values
    theirs = predictor.forward([{"path": torch.from_numpy(clip.audio.T.copy()), "sample_rate": 44_100}])[0]
    assert set(theirs) == set(AXES)
    for axis in AXES:
        assert ours[axis] == pytest.approx(theirs[axis], abs=1e-5), axis
    assert len({round(v, 3) for v in ours.values()}) > 1  # four heads, four values: not a constant


# -- ImageBind -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def imagebind_data():
    """imagebind.data as published. Importing it needs two stand-ins, for names that moved after
    it was written: `pkg_resources` (gone from setuptools; data.py uses it only to find the BPE
    file) and `torchvision.transforms.functional_tensor` (imported by pytorchvideo 0.1.5; renamed
    `_functional_tensor` in torchvision 0.17). The functions tested run unchanged."""
    import torchvision.transforms._functional_tensor as functional_tensor

    def resource_filename(package: str, resource: str) -> str:
        return str(Path(importlib.util.find_spec(package).submodule_search_locations[0]) / resource)

    stand_ins = {"pkg_resources": types.SimpleNamespace(resource_filename=resource_filename),
                 "torchvision.transforms.functional_tensor": functional_tensor}
    with pytest.MonkeyPatch.context() as mp:
        for name, module in stand_ins.items():
            if importlib.util.find_spec(name.split(".")[0]) is None or name not in sys.modules:
                mp.setitem(sys.modules, name, module)
        import imagebind.data

        yield imagebind.data


@pytest.mark.parametrize("seconds, sample_rate", [(5.3, 16_000), (3.1, 44_100), (1.5, 16_000)])
def test_audio_input_equals_imagebinds_loader(imagebind_data, tmp_path, monkeypatch, seconds, sample_rate):
    monkeypatch.setattr(imagebind_data.torchaudio, "load", _read_wav)
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = (0.3 * np.sin(2 * np.pi * (300 + 400 * t) * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    path = _write_wav(tmp_path / "a.wav", audio, sample_rate)
    theirs = imagebind_data.load_and_transform_audio_data([str(path)], "cpu")[0]
    clip = read_clip(_write_wav(tmp_path / "b.wav", audio, sample_rate))
    ours = audio_input(clip.audio_at(16_000))
    assert ours.shape == theirs.shape == (3, 1, 128, 204)
    assert float((ours - theirs).abs().max()) < 1e-5


@pytest.mark.parametrize("hw", [(224, 300), (320, 224)])
def test_video_crops_and_normalisation_equal_imagebinds(imagebind_data, hw):
    """After the short-side resize (av-benchmark's, tested in test_imagebind.py; a no-op here, the
    short side being 224 already): ImageBind's NormalizeVideo and SpatialCrop(224, 3) on every
    2-frame clip, as av-benchmark's ib_data.py applies them."""
    import torch

    frames = np.random.default_rng(6).integers(0, 256, (4, *hw, 3), dtype=np.uint8)
    ours = video_input(frames)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0  # (T, C, H, W)
    normalise = imagebind_data.NormalizeVideo(mean=(0.48145466, 0.4578275, 0.40821073),
                                              std=(0.26862954, 0.26130258, 0.27577711))
    pairs = [normalise(x[i : i + 2].permute(1, 0, 2, 3)) for i in range(len(frames) - 1)]  # (C, 2, H, W) each
    theirs = imagebind_data.SpatialCrop(224, num_crops=3)(pairs)  # pair-major: pair 0's three crops, ...
    crop_major = [theirs[3 * i + c] for c in range(3) for i in range(len(pairs))]
    assert ours.shape == (9, 3, 2, 224, 224)
    assert float((ours - torch.stack(crop_major)).abs().max()) < 1e-6
    assert len({tuple(o) for o in crop_offsets(*hw)}) == 3  # three distinct crops were compared
