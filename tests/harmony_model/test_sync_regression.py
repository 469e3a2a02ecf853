"""The model and the Trainer learn audio-visual sync on easy data (issue 16, point 0).

One full-frame flash and one click at the same random frame (conftest.ToySource), 1 s at 8 fps,
8x8 px: a short training must put the generated click at the generated flash far more often than
chance (each clip's frames scored with another clip's audio). If this fails, a null ablation
result is a defect of the model or the Trainer, not a matter of budget.
"""

import numpy as np
import pytest
import torch

from harmony_model.config import Stage
from tests.harmony_model.conftest import ToySource, micro_config

pytestmark = pytest.mark.slow

STEPS, BATCH, CLIPS = 300, 32, 24


def flash_click_config():
    cfg = micro_config()
    cfg.codec.height = cfg.codec.width = 8
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
    folder = train(cfg, ToySource(cfg, seconds=1.0), tmp_path_factory.mktemp("flash-click"), progress=False)
    pipe = HarmonyPipeline.from_pretrained(folder)
    dark = np.full((8, 8, 3), 64, np.uint8)  # ToySource's frames at rest (-0.5)
    request = GenerationRequest("a flash", "a click", "tick", dark, np.zeros(4000, np.float32), duration=1.0)
    sample = SampleConfig(steps=12, guidance="none")
    return [pipe.generate(request, seed=s, sample=sample) for s in range(CLIPS)]


def flash_click_error(out, wave) -> float:
    from harmony_model.synthav.timing import measure

    frame0 = out.frames[0]
    return measure(out.frames, out.fps, wave, out.sample_rate, frame0, {"flash": (0, 0, 1, 1)}, {"flash": "flash"},
                   skip=1).error


def test_flash_and_click_are_generated_together_beyond_chance(generated):
    errors = np.array([flash_click_error(o, o.audio) for o in generated])
    chance = np.array([flash_click_error(o, generated[(i + 1) % CLIPS].audio) for i, o in enumerate(generated)])
    assert errors.mean() < 0.5 * chance.mean(), (errors.mean(), chance.mean())
    assert (errors < 0.5 / 8).mean() > (chance < 0.5 / 8).mean() + 0.3, (errors, chance)
