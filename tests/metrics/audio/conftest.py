"""Fixtures for the audio metric tests: synthetic clips, cases, and a folder of tiny random weights
in the official checkpoint formats (harmony_bench.metrics.audio.testing)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harmony_bench.cases import Case
from harmony_bench.media import Clip


def tone_clip(seconds: float = 5.0, sample_rate: int = 16_000, channels: int = 1, fps: float = 24.0,
              size: tuple[int, int] = (48, 64), freq: float = 440.0) -> Clip:
    n = int(round(seconds * sample_rate))
    mono = (0.3 * np.sin(2 * np.pi * freq * np.arange(n) / sample_rate)).astype(np.float32)
    audio = np.stack([mono * (1.0 - 0.5 * c) for c in range(channels)], axis=1)
    frames = np.random.default_rng(0).integers(0, 256, (max(1, int(seconds * fps)), *size, 3), dtype=np.uint8)
    return Clip(frames=frames, fps=fps, audio=audio, sample_rate=sample_rate)


def make_case(subset: str = "speech", **fields) -> Case:
    # 1 s: the test clips are 1-2 s long, and the base refuses clips much shorter than their case
    base = {"id": f"{subset}-test", "subset": subset, "video_caption": "a man is speaking",
            "reference_image": "ref.png", "reference_audio": "ref.wav", "duration": 1.0}
    return Case(**{**base, **fields})


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """(folder, manifest path) holding tiny random weights for every official audio backend."""
    from harmony_bench.metrics.audio.testing import write_random_weights

    folder = tmp_path_factory.mktemp("audio-weights")
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(write_random_weights(folder)))
    return folder, manifest


@pytest.fixture
def weights_env(random_weights, monkeypatch):
    folder, manifest = random_weights
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(folder))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(manifest))
    return folder


@pytest.fixture
def empty_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(tmp_path))
    monkeypatch.delenv("HARMONY_BENCH_MANIFEST", raising=False)
    return tmp_path


@pytest.fixture(name="tone_clip")
def tone_clip_factory():
    return tone_clip


@pytest.fixture(name="make_case")
def make_case_factory():
    return make_case
