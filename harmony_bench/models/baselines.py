"""Sanity baselines that bracket the metrics: a still image with silence, and pure noise."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import write_clip
from harmony_bench.models.base import Capabilities, GeneratedClip, Model, register_model


def case_rng(case: Case, seed: int) -> np.random.Generator:
    """A generator that depends only on (case id, seed), so shards reproduce a full run."""
    return np.random.default_rng([seed, zlib.crc32(case.id.encode())])


def load_reference_image(case: Case, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    with Image.open(case.reference_image_path) as im:
        return np.asarray(im.convert("RGB").resize((size[1], size[0]), Image.BICUBIC))


@register_model("static")
class StaticModel(Model):
    """The reference image held still for the whole clip, with silence."""

    name = "static"
    capabilities = Capabilities(joint=True, languages=("en", "zh"))

    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        n = int(round(case.duration * self.fps))
        frames = np.repeat(load_reference_image(case, self.size)[None], n, axis=0)
        audio = np.zeros(int(case.duration * self.sample_rate), np.float32)
        path = write_clip(out_dir / f"{case.id}.mp4", frames, self.fps, audio, self.sample_rate)
        return GeneratedClip(path, path.with_suffix(".wav"))


@register_model("noise")
class NoiseModel(Model):
    """Uniform noise frames and white noise audio (seeded per case)."""

    name = "noise"
    capabilities = Capabilities(joint=True, languages=("en", "zh"))

    def generate(self, case: Case, seed: int, out_dir: Path) -> GeneratedClip:
        rng = case_rng(case, seed)
        n = int(round(case.duration * self.fps))
        frames = rng.integers(0, 256, size=(n, *self.size, 3), dtype=np.uint8)
        audio = (0.3 * rng.standard_normal(int(case.duration * self.sample_rate))).astype(np.float32)
        path = write_clip(out_dir / f"{case.id}.mp4", frames, self.fps, audio, self.sample_rate)
        return GeneratedClip(path, path.with_suffix(".wav"))
