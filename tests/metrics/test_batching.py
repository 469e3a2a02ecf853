"""Batch size changes speed and memory, never a value: every official metric with a batch to size
scores the same clip alike one input at a time, with a batch that leaves a short last batch, and
with one batch larger than the clip's whole input (metrics/base.py `Batching`).

Tiny random weights in the official formats (RAFT, AMT-S and SyncNet at full size); clips of a few
small frames, built here. Tolerance: float32 rounding. A batched convolution or matrix product may
block its sums differently from a single-input one, so an output can move by a few units in the
last place (about 1e-7 relative). Measured on CPU, the largest change of any value is 2.2e-6 of it
(IQ, whose random-weight value is 5.7e-5; Sync-C, a difference of two distances near 6.8, moves by
1.1e-6 of itself); most values do not move at all. TOL is relative, 1e-5, with 1e-9 absolute for
values at zero. Dropping an input or mis-ordering a batch (mutations tried) moved them by 6e-4 to
0.65 of themselves (MS, IB-A, AQ, Sync-C, IQ, ID); DeSync, a grid offset blind to small changes,
has its features compared on their own.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.registry import all_metric_keys, get_metric

TOL = dict(rel=1e-5, abs=1e-9)
SR = 16_000


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random RGB (blurred noise): something for flow and interpolation to follow."""
    import cv2

    noise = np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 2.0) * 3 - 255, 0, 255).astype(np.uint8)


def moving(n: int, h: int = 64, w: int = 64, step: int = 3, fps: float = 24.0, seconds: float | None = None) -> Clip:
    """n frames of a texture sliding right, with low noise as audio (`seconds` long, else the video's)."""
    base = texture(h, w + step * n, seed=1)
    frames = np.stack([base[:, i * step : i * step + w] for i in range(n)])
    samples = int((seconds or n / fps) * SR)
    audio = (0.1 * np.random.default_rng(2).standard_normal(samples)).astype(np.float32)
    return Clip(frames=frames, fps=fps, audio=audio, sample_rate=SR)


def talking_face(seconds: float) -> Clip:
    """A drawn face whose mouth follows the loudness of bursts of noise (mediapipe finds it)."""
    from harmony_model.synthav import render

    rng = np.random.default_rng(3)
    n = int(seconds * 25)
    opening = np.clip(np.abs(np.sin(np.arange(n) * 0.7)) + 0.2 * rng.standard_normal(n), 0, 1)
    frames = np.stack([render.draw_face(160, float(a)) for a in opening])
    audio = (0.2 * np.repeat(opening, SR // 25) * rng.standard_normal(n * SR // 25)).astype(np.float32)
    return Clip(frames=frames, fps=25, audio=audio, sample_rate=SR)


@pytest.fixture
def reference_case(tmp_path) -> Case:
    from PIL import Image

    Image.fromarray(texture(64, 64, seed=1)).save(tmp_path / "ref.png")
    return Case(id="b-001", subset="ambient", video_caption="a sliding texture", audio_caption="a hiss",
                reference_image="ref.png", reference_audio="ref.wav", root=tmp_path)


# key -> (clip builder, batch sizes: 1, one leaving a short last batch, one above the clip's inputs)
CASES = {
    "aq@siglip-v2.5": (lambda: moving(7), (1, 2, 16)),  # 7 frames
    "iq@musiq-spaq": (lambda: moving(7), (1, 2, 16)),
    "id@dinov3-vitl16": (lambda: moving(7), (1, 2, 16)),
    "dd@raft": (lambda: moving(10), (1, 2, 16)),  # 4 frames kept at ~8 fps: 3 pairs
    "ms@amt-s": (lambda: moving(11), (1, 2, 16)),  # 6 even frames: 5 pairs
    # 3 audio clips; 4 frames at 0.5 fps: 9 video clips
    "ib@imagebind-huge": (lambda: moving(170, seconds=7.0), (1, 2, 16)),
    "audiobox@aesthetics": (lambda: moving(2, seconds=25.0), (1, 2, 8)),  # three 10 s windows, the last partial
    "syncnet@v2": (lambda: talking_face(0.6), (1, 4, 16)),  # 10 windows
    "desync@synchformer": (lambda: moving(150, fps=25.0), (1, 5, 32)),  # 17 segments
}
# a 0.6 s face track (the protocol asks 4 s): few windows to embed; faces from mediapipe, as random
# S3FD weights find none (the batch size only reaches the SyncNet embedding)
SETTINGS = {"syncnet@v2": {"min_track": 15, "face_stage": "blazeface"}}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """One folder of random-weight files for every official backend, and its manifest."""
    from harmony_bench.metrics.audio import testing as audio
    from harmony_bench.metrics.sync import testing as sync
    from harmony_bench.metrics.video import testing as video

    folder = tmp_path_factory.mktemp("weights")
    table = {**video.write_random_weights(folder), **audio.write_random_weights(folder),
             **sync.write_random_weights(folder)}
    (folder / "manifest.json").write_text(json.dumps(table))
    return folder


@pytest.fixture
def weights_env(weights, monkeypatch):
    monkeypatch.setenv("HARMONY_BENCH_WEIGHTS", str(weights))
    monkeypatch.setenv("HARMONY_BENCH_MANIFEST", str(weights / "manifest.json"))


def scores_by_batch_size(key: str, clip: Clip, case: Case, sizes: tuple[int, ...]) -> dict[int, dict[str, float]]:
    metric = get_metric(key)(**SETTINGS.get(key, {}))
    metric.setup()
    out = {}
    for size in sizes:
        metric.batch_size = size
        out[size] = metric.score(clip, case).values
    return out


@pytest.mark.parametrize("key", sorted(CASES))
def test_batch_size_changes_no_value(key, weights_env, reference_case):
    if key == "syncnet@v2":  # its face tracks come from mediapipe
        pytest.importorskip("mediapipe", reason="needs the [offline] extra (mediapipe; it pins numpy<2)")
    build, sizes = CASES[key]
    clip = build()
    case = dataclasses.replace(reference_case, duration=min(clip.duration, clip.audio_duration))
    by_size = scores_by_batch_size(key, clip, case, sizes)
    one = by_size[1]
    for size, values in by_size.items():
        assert values.keys() == one.keys()
        for name, value in values.items():
            assert value == pytest.approx(one[name], **TOL), (key, name, size)


def test_every_official_metric_with_a_batch_is_covered_here():
    official = {k for k in all_metric_keys() if get_metric(k).official}
    batched = {k for k in official if get_metric(k).batching is not None}
    assert batched == set(CASES)
    assert official - batched == {"wer@whisper-large-v3", "wer@whisper-large-v3+whisper-norm"}  # one 30 s window


def test_batch_size_defaults_to_the_devices_and_refuses_nonsense():
    metric = get_metric("aq@siglip-v2.5")()
    assert metric.batch_size == metric.batching.cpu
    metric.device = "cuda:1"
    assert metric.batch_size == metric.batching.cuda
    metric.batch_size = 3
    assert metric.batch_size == 3
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            metric.batch_size = bad
    with pytest.raises(AttributeError, match="no batch to size"):
        get_metric("wer@whisper-large-v3")().batch_size = 4


def test_desync_features_do_not_depend_on_the_batch(weights_env):
    """DeSync's value is an offset on a 0.2 s grid, blind to small changes: its segment features
    are compared as well."""
    import torch

    from harmony_bench.metrics.sync.desync import audio_segments, video_segments

    metric = get_metric("desync@synchformer")()
    metric.setup()
    clip = moving(150, fps=25.0)
    inputs = [(metric.model.extract_vfeats, video_segments(clip.video_at(25), list(range(17)))),
              (metric.model.extract_afeats, audio_segments(clip.audio_at(SR), list(range(17))))]
    with torch.inference_mode():
        for extract, segments in inputs:
            metric.batch_size = 1
            one = metric.segment_features(extract, segments)
            assert one.shape[:2] == (1, 17)
            for size in (5, 32):
                metric.batch_size = size
                assert torch.allclose(metric.segment_features(extract, segments), one, rtol=1e-5, atol=1e-6), size
