"""AQ against the publisher's own code, aesthetic-predictor-v2-5 (discus0434, PyPI 2024.12.18.1):
`convert_v2_5_from_siglip` loads the same random-weight files our metric loads. The package is not
in requirements.lock (it would add accelerate and psutil to the environment for one test), so the
test runs where it is installed and is reported skipped, with that reason, elsewhere."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from harmony_bench.metrics.registry import get_metric
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.aq import SIGLIP_MEAN, SIGLIP_STD
from harmony_bench.metrics.video.frames import square_input

aesthetic_predictor = pytest.importorskip(
    "aesthetic_predictor_v2_5", reason="aesthetic-predictor-v2-5 not installed (CI's locks carry it): "
                                       "pip install aesthetic-predictor-v2-5==2024.12.18.1 to run")


def test_the_publishers_predictor_scores_frames_as_ours(weights_env, tmp_path):
    import torch
    from PIL import Image

    metric = get_metric("aq@siglip-v2.5")()
    metric.setup()
    side = metric._side
    encoder = tmp_path / "siglip"  # the SigLIP folder, plus the processor settings its release carries
    shutil.copytree((weights_env / manifest.SIGLIP_CONFIG.name).parent, encoder)
    aesthetic_predictor.AestheticPredictorV2_5Processor(size={"height": side, "width": side}).save_pretrained(encoder)
    model, processor = aesthetic_predictor.convert_v2_5_from_siglip(
        str(weights_env / manifest.AESTHETIC_HEAD.name), encoder_model_name=str(encoder))
    model = model.float()  # the head file holds bfloat16 tensors; our metric runs float32 (see its card)

    frames = np.random.default_rng(2).integers(0, 256, (3, 48, 80, 3), dtype=np.uint8)
    ours = metric.frame_scores(frames)
    pixels = processor(images=[Image.fromarray(f) for f in frames], return_tensors="pt").pixel_values
    with torch.inference_mode():
        theirs = model(pixel_values=pixels).logits[:, 0].numpy()
        same_input = model(pixel_values=square_input(frames, side, "bicubic", SIGLIP_MEAN, SIGLIP_STD,
                                                     quantise=True)).logits[:, 0].numpy()
    # the network and head: equal on equal input
    np.testing.assert_allclose(ours, same_input, rtol=0, atol=1e-5)
    # the resize: PIL's bicubic in the reference, torch's antialiased bicubic here, within a grey level or two
    ours_pixels = square_input(frames, side, "bicubic", SIGLIP_MEAN, SIGLIP_STD, quantise=True)
    assert float((ours_pixels - pixels).abs().mean()) * 127.5 < 2.0
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=0.05 * float(np.ptp(ours) + 1e-3) + 1e-3)
