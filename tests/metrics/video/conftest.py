"""Fixtures for the video metric tests: synthetic clips with known answers, a case with a
reference image, and a weights folder of random-weight files in the official formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harmony_bench.cases import Case
from harmony_bench.media import Clip

FPS = 24.0
SIZE = 64


def texture(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (blurred noise): trackable by optical flow."""
    import cv2

    noise = np.random.default_rng(seed).uniform(0, 255, (size, size, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def make_clip(frames: np.ndarray, fps: float = FPS) -> Clip:
    return Clip(frames=np.ascontiguousarray(frames), fps=fps, audio=np.zeros((int(len(frames) / fps * 16000), 1),
                                                                               np.float32), sample_rate=16000)


def static_frames(n: int = 24) -> np.ndarray:
    return np.repeat(texture()[None], n, axis=0)


def translating_frames(n: int = 24, step: int = 4) -> np.ndarray:
    """The texture shifted right by `step` pixels per frame (wrapping)."""
    base = texture()
    return np.stack([np.roll(base, i * step, axis=1) for i in range(n)])


def blend_frames(n: int = 24) -> np.ndarray:
    """Frames linearly cross-fading between two textures: every frame is the mean of its two
    neighbours, so a perfect midpoint interpolator reproduces the odd frames."""
    a, b = texture(seed=1).astype(np.float32), texture(seed=2).astype(np.float32)
    w = np.linspace(0.0, 1.0, n)[:, None, None, None]
    return np.rint((1 - w) * a + w * b).astype(np.uint8)


def shuffled(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    return frames[np.random.default_rng(seed).permutation(len(frames))]


@pytest.fixture
def case_with_reference(tmp_path) -> Case:
    from PIL import Image

    Image.fromarray(texture()).save(tmp_path / "ref.png")
    # the clips here are a few frames long: a case of two frames' duration, or the base refuses them as too short
    return Case(id="t-001", subset="ambient", video_caption="a texture", reference_image="ref.png",
                reference_audio="ref.wav", duration=2 / FPS, root=tmp_path)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> tuple[Path, Path]:
    """(weights folder, manifest JSON) holding random-weight files for every official backend."""
    from harmony_bench.metrics.video.testing import write_random_weights

    folder = tmp_path_factory.mktemp("weights")
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(write_random_weights(folder)))
    return folder, manifest


@pytest.fixture
def weights_env(random_weights, monkeypatch) -> Path:
    folder, manifest = random_weights
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(folder))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(manifest))
    return folder


@pytest.fixture
def synth():
    """The synthetic clip builders above, as a fixture (tests import nothing from conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(texture=texture, clip=make_clip, static=static_frames, translating=translating_frames,
                           blend=blend_frames, shuffled=shuffled, fps=FPS)
