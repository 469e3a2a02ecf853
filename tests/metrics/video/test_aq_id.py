"""AQ and ID: per-clip aggregation and the identity known answer, on tiny random backbones."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.base import NotScorable
from metrics.registry import get_metric
from metrics.video.identity import mean_cosine


def test_aq_is_mean_of_frame_scores_over_10(weights_env, synth):
    metric = get_metric("aq@siglip-v2.5")()
    metric.setup()
    frames = synth.translating(n=3, step=5)
    one_by_one = np.array([metric.frame_scores(f[None])[0] for f in frames])
    assert len(set(np.round(one_by_one, 6))) == 3  # frames differ, so do their scores
    assert metric.score(synth.clip(frames), None).values["AQ"] == pytest.approx(one_by_one.mean() / 10, rel=1e-5)


def test_identical_frames_give_identity_one(weights_env, synth, case_with_reference):
    metric = get_metric("id@dinov3-vitl16")()
    metric.setup()
    frames = np.repeat(synth.texture()[None], 3, axis=0)  # the reference image itself, three times
    assert metric.score(synth.clip(frames), case_with_reference).values["ID"] == pytest.approx(1.0, abs=1e-5)
    other = metric.score(synth.clip(synth.shuffled(synth.blend(n=3))), case_with_reference).values["ID"]
    assert other < 1.0 - 1e-4


def test_missing_reference_image_is_unscorable(weights_env, synth, case_with_reference):
    (case_with_reference.root / case_with_reference.reference_image).unlink()
    metric = get_metric("id@dinov3-vitl16")()
    metric.setup()
    with pytest.raises(NotScorable, match="reference image"):
        metric.score(synth.clip(synth.static(n=2)), case_with_reference)


def test_mean_cosine_matches_hand_computation():
    ref = np.array([1.0, 0.0])
    frames = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    value, cos = mean_cosine(ref, frames)
    assert cos.tolist() == pytest.approx([1.0, 0.0, 2 ** -0.5])
    assert value == pytest.approx((1.0 + 0.0 + 2 ** -0.5) / 3)
