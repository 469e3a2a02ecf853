"""AQ and ID: per-clip aggregation and the identity known answer, on tiny random backbones."""

from __future__ import annotations

import numpy as np
import pytest

from harmony_bench.metrics.base import NotScorable
from harmony_bench.metrics.registry import get_metric
from harmony_bench.metrics.video.identity import mean_cosine


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


def test_id_features_match_verse_benchs_pipeline_token(weights_env, synth, tmp_path):
    """The reference's own code path: transformers' image-feature-extraction pipeline on the
    DINOv3 folder (with the release's preprocessor settings: 224 -> here the tiny model's 64 px,
    bilinear, rescale, ImageNet mean/std), output[0][-2], as Verse-Bench's DinoV3Inferencer; same
    seeded random weights, same image. The CLS variant must match the pipeline's pooled output."""
    import json
    import shutil

    from PIL import Image
    from transformers import pipeline

    folder = tmp_path / "dinov3"
    shutil.copytree(weights_env / "dinov3-vitl16-pretrain-lvd1689m", folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "DINOv3ViTImageProcessorFast", "do_resize": True, "size": {"height": 64, "width": 64},
        "resample": 2, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    extractor = pipeline(model=str(folder), task="image-feature-extraction")
    image = synth.texture()  # 64 x 96: the resize to 64 x 64 is exercised
    reference = np.array(extractor(Image.fromarray(image))[0][-2])
    pooled = np.array(extractor(Image.fromarray(image), pool=True)[0])

    official, cls = get_metric("id@dinov3-vitl16")(), get_metric("id@dinov3-vitl16-cls")()
    official.setup(), cls.setup()
    assert official.official and not cls.official
    assert np.allclose(official.features(image[None])[0], reference, atol=1e-4)
    assert np.allclose(cls.features(image[None])[0], pooled, atol=1e-4)
    assert not np.allclose(reference, pooled, atol=1e-2)
