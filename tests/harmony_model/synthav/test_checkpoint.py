"""The shipped checkpoint (harmony_model/checkpoints/tiny): loads, is trained, and is checked for sync."""

import numpy as np
import pytest
import torch

from harmony_model.synthav.checkpoint import SHIPPED

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe():
    from harmony_model.pipeline import HarmonyPipeline

    torch.set_num_threads(1)
    return HarmonyPipeline.from_pretrained(SHIPPED)


def _val_loss(model, cfg, tmp_path) -> float:
    from harmony_model.pretrained import build_codecs
    from harmony_model.losses import Noise, cts_loss
    from harmony_model.synthav.source import make_source
    from harmony_model.train import encode_batch

    gen = torch.Generator().manual_seed(0)
    batch = make_source(cfg, count=8, split="val", cache_dir=str(tmp_path)).sample_batch(8, gen)
    lat = encode_batch(batch, *build_codecs(cfg.codec))
    cond = model.encode_conditions(batch["video_caption"], batch["audio_caption"], batch["transcript"])
    with torch.no_grad():
        return float(cts_loss(model, lat, cond, Noise.draw(lat, cfg.train.shift, gen), 0.0, 0.0).joint)


def test_checkpoint_denoises_validation_clips_better_than_untrained(pipe, tmp_path):
    from harmony_model.model import HarmonyModel

    torch.manual_seed(0)
    untrained = HarmonyModel(pipe.cfg).eval()
    trained, fresh = _val_loss(pipe.model, pipe.cfg, tmp_path), _val_loss(untrained, pipe.cfg, tmp_path)
    assert trained < 0.75 * fresh, (trained, fresh)


@pytest.fixture(scope="module")
def generated(pipe):
    from harmony_model.config import SampleConfig
    from harmony_model.synthav.ablation import request_for, synthav_config
    from harmony_model.synthav.generator import generate, split_seeds

    clips = [generate(s, config=synthav_config(pipe.cfg)) for s in split_seeds("test", 12)]
    sample = SampleConfig(steps=10, guidance="sync", s_v=3.0, s_a=2.0)
    return [(c, pipe.generate(request_for(c), seed=c.seed, sample=sample)) for c in clips]


def test_generated_clips_have_the_codec_shape(generated):
    c, out = generated[0]
    assert out.frames.shape == c.frames.shape and out.frames.dtype == np.uint8
    assert out.audio.shape[0] == pytest.approx(len(c.audio), abs=512)
    assert np.isfinite(out.audio).all() and np.abs(out.audio).max() > 1e-3


def test_generated_clips_are_in_sync(generated):
    from harmony_model.synthav.timing import measure_against, shift_audio

    aligned = [measure_against(c, out.frames, out.audio).corr0 for c, out in generated]
    shifted = [measure_against(c, out.frames, shift_audio(out.audio, out.sample_rate, d)).corr0
               for c, out in generated for d in (-0.375, -0.25, 0.25, 0.375)]
    assert np.mean(aligned) > np.mean(shifted) + 0.1, (np.mean(aligned), np.mean(shifted))
