"""The model and the Trainer learn audio-visual sync on easy data (issue 16, point 0).

One full-frame flash and one click at the same random frame (conftest.ToySource), 1 s at 8 fps,
8x8 px, 300 steps of batch 32 (about 80 s of one CPU thread with sampling): the generated click
must sit at the generated flash far more often than chance (each clip's frames scored with
another clip's audio). If this fails, a null ablation result is a defect of the model or the
Trainer, not a matter of budget. This is the curriculum's first stage ("single", one isolated
event) in its easiest form.
"""

import numpy as np
import pytest
import torch

from harmony_model.config import Stage, tiny
from tests.harmony_model.conftest import ToySource

pytestmark = pytest.mark.slow

STEPS, BATCH, CLIPS = 300, 32, 24


class FlashClick(ToySource):
    """ToySource whose reference audio is background noise only: ToySource's is the start of the
    clip's own audio, which gives the click time away whenever the click comes early."""

    def sample_batch(self, batch_size: int, generator: torch.Generator, **options) -> dict:
        batch = super().sample_batch(batch_size, generator, **options)
        samples = int(self.codec.ref_audio_seconds * self.codec.sample_rate)
        batch["ref_audio"] = 0.01 * torch.randn(batch_size, samples, generator=generator)
        return batch


def flash_click_config():
    """The tiny model (every token fits through its width) at 8x8 px, two paired layers."""
    cfg = tiny()
    cfg.codec.height = cfg.codec.width = 8
    cfg.codec.ref_audio_seconds = 0.25
    cfg.video.layers = 2
    cfg.caption.max_len, cfg.caption.layers, cfg.audio.transcript_max_len = 16, 1, 16
    cfg.train.stages = (Stage("single-events", STEPS, 0.0, 0.0),)
    cfg.train.batch_size, cfg.train.lr = BATCH, 2e-3
    cfg.train.log_every = cfg.train.checkpoint_every = STEPS
    cfg.train.ema_decay = 0.99
    return cfg


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from harmony_model.config import SampleConfig
    from harmony_model.pipeline import GenerationRequest, HarmonyPipeline
    from harmony_model.train import train

    torch.set_num_threads(1)
    cfg = flash_click_config()
    folder = train(cfg, FlashClick(cfg, seconds=1.0), tmp_path_factory.mktemp("flash-click"), progress=False)
    pipe = HarmonyPipeline.from_pretrained(folder)
    dark = np.full((8, 8, 3), 64, np.uint8)  # ToySource's frames at rest (-0.5)
    quiet = 0.01 * np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    request = GenerationRequest("a flash", "a click", "tick", dark, quiet, duration=1.0)
    sample = SampleConfig(steps=12, guidance="none")
    return [pipe.generate(request, seed=s, sample=sample) for s in range(CLIPS)]


def flash_click_error(out, wave) -> float:
    from harmony_model.synthav.timing import measure

    frame0 = out.frames[0]
    return measure(out.frames, out.fps, wave, out.sample_rate, frame0, {"flash": (0, 0, 1, 1)}, {"flash": "flash"},
                   skip=1).error


def test_every_generated_clip_flashes(generated):
    brightest = np.array([o.frames[1:].mean(axis=(1, 2, 3)).max() for o in generated])
    assert (brightest > 150).all(), brightest  # frames at rest are 64, a flash 229


def test_flash_and_click_are_generated_together_beyond_chance(generated):
    """Measured at 300 steps: error 0.066 s and 50% exact to the frame, against 0.217 s and 17% for
    the same frames with another clip's audio (a clip-independent habit would score the same)."""
    errors = np.array([flash_click_error(o, o.audio) for o in generated])
    chance = np.array([flash_click_error(o, generated[(i + 1) % CLIPS].audio) for i, o in enumerate(generated)])
    assert errors.mean() < 0.5 * chance.mean(), (errors.mean(), chance.mean())
    assert (errors < 0.5 / 8).mean() > (chance < 0.5 / 8).mean() + 0.25, (errors, chance)
