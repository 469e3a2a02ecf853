"""Fixtures for the reference model: a micro configuration and a toy data source, all on CPU."""

from __future__ import annotations

import pytest
import torch

from harmony_model.config import (AudioBranchConfig, CaptionConfig, CodecConfig, HarmonyConfig, SampleConfig, Stage,
                                  TrainConfig, VideoBranchConfig)
from harmony_model.losses import Latents
from harmony_model.model import HarmonyModel


def micro_config(**interaction) -> HarmonyConfig:
    """Every mechanism of the tiny configuration at the smallest sizes: 2 layers of width 32, 16x16."""
    cfg = HarmonyConfig(
        video=VideoBranchConfig(dim=32, heads=2, layers=2, ffn_dim=64, text_dim=32, freq_dim=32),
        audio=AudioBranchConfig(dim=32, heads=2, ffn_dim=64, text_dim=32, freq_dim=32, transcript_max_len=16),
        caption=CaptionConfig(max_len=16, layers=1, heads=2),
        codec=CodecConfig(height=16, width=16, ref_audio_seconds=0.25),
        train=TrainConfig(stages=(Stage("audio", 2, trainable=("audio.",)), Stage("joint", 2)), batch_size=2,
                          log_every=1, checkpoint_every=2, ema_decay=0.9),
        sample=SampleConfig(steps=3),
    )
    for key, value in interaction.items():
        setattr(cfg.interaction, key, value)
    return cfg


def randomise_interactions(model: HarmonyModel, seed: int = 0) -> None:
    """Give the zero-initialised interaction outputs weights, so their effect is visible."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("interactions.") and ".to_out." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


class ToySource:
    """Random clips of `seconds` at the config's rates; a flash and a click share a random time."""

    def __init__(self, cfg: HarmonyConfig, seconds: float = 0.5):
        self.codec, self.seconds = cfg.codec, seconds

    def sample_batch(self, batch_size: int, generator: torch.Generator, **options) -> dict:
        c = self.codec
        frames, samples = int(self.seconds * c.fps), int(self.seconds * c.sample_rate)
        video = torch.full((batch_size, frames, 3, c.height, c.width), -0.5)
        audio = 0.01 * torch.randn(batch_size, samples, generator=generator)
        for b in range(batch_size):
            f = int(torch.randint(1, frames, (1,), generator=generator))
            video[b, f] = 0.8
            start = int(f / c.fps * c.sample_rate)
            audio[b, start : start + 400] += 0.5
        return {"video": video, "audio": audio, "ref_audio": audio[:, : samples // 2].clone(),
                "video_caption": ["a flash"] * batch_size, "audio_caption": ["a click"] * batch_size,
                "transcript": ["tick"] * batch_size}


def make_source(cfg: HarmonyConfig, **kwargs) -> ToySource:
    return ToySource(cfg, **kwargs)


@pytest.fixture
def cfg() -> HarmonyConfig:
    return micro_config()


@pytest.fixture
def model(cfg) -> HarmonyModel:
    torch.manual_seed(0)
    return HarmonyModel(cfg).eval()


@pytest.fixture
def latents() -> Latents:
    g = torch.Generator().manual_seed(1)
    return Latents(torch.randn(2, 48, 4, 4, 4, generator=g), torch.randn(2, 15, 128, generator=g),
                   torch.randn(2, 7, 128, generator=g))
