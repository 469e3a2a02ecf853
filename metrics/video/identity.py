"""ID, identity consistency: cosine between DINOv3 features of the case's reference image and of
every generated frame, averaged over frames (paper C.2).

The feature is the pooled output (the CLS token after the final layer norm) of DINOv3 ViT-L/16
(facebook/dinov3-vitl16-pretrain-lvd1689m). Verse-Bench takes a patch token instead, which looks
like an indexing slip; the CLS feature is the image-level descriptor DINO models are used for.
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from metrics.base import Metric, NotScorable, Output, ProtocolCard, Score
from metrics.registry import register
from metrics.video import manifest
from metrics.video.checkpoints import load_hf_folder
from metrics.video.frames import map_batches, pick_device, square_input

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DINOv3ViTImageProcessorFast defaults
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH = 8


def read_reference_image(case: Case) -> np.ndarray:
    from PIL import Image

    path = case.reference_image_path
    if not case.reference_image or not path.is_file():
        raise NotScorable(f"case {case.id}: reference image not found ({path})")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def mean_cosine(reference: np.ndarray, frames: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over frames of cos(reference, frame); returns (mean, per-frame cosines)."""
    ref = reference / np.linalg.norm(reference)
    fr = frames / np.linalg.norm(frames, axis=1, keepdims=True)
    cos = fr @ ref
    return float(cos.mean()), cos


@register("id@dinov3-vitl16")
class IdentityConsistency(Metric):
    key = "id@dinov3-vitl16"
    family = "ID"
    backend = "dinov3-vitl16"
    official = True
    version = "2"
    outputs = (Output("ID", "higher"),)
    needs = ("every frame, native rate", "the case's reference image")
    weights = (manifest.DINOV3_CONFIG, manifest.DINOV3_WEIGHTS)
    packages = ("transformers",)
    extra = "video"
    card = ProtocolCard(
        model="DINOv3 ViT-L/16 (distilled, LVD-1689M), transformers DINOv3ViTModel, pooled output "
              "(CLS token after the final norm)",
        checkpoint=f"{manifest.DINOV3_WEIGHTS.name} (facebook/dinov3-vitl16-pretrain-lvd1689m, gated)",
        preprocessing="reference image and every frame: bilinear antialiased resize of the float image "
                      "to 224x224 (aspect not kept, as DINOv3ViTImageProcessorFast), /255, ImageNet "
                      "mean/std normalisation",
        formula="ID = mean over frames of cos(f(reference), f(frame))",
        aggregation="per clip as above; per subset the mean over clips (cases without a reference "
                    "image are unscorable, not zero)",
        reference="paper appendix C.2; Verse-Bench's identity inferencer for the model variant",
        differences="CLS/pooled feature where Verse-Bench indexes a patch token; the paper does not "
                    "say which, so its exact values may differ.",
    )

    def load(self, paths: dict) -> None:
        from transformers import DINOv3ViTModel

        self.device = pick_device(self.device)
        self._model = load_hf_folder(DINOv3ViTModel, paths[manifest.DINOV3_CONFIG.name],
                                     paths[manifest.DINOV3_WEIGHTS.name]).to(self.device)
        self._side = self._model.config.image_size

    def features(self, images: np.ndarray) -> np.ndarray:
        import torch

        def run(batch: np.ndarray) -> np.ndarray:
            x = square_input(batch, self._side, "bilinear", IMAGENET_MEAN, IMAGENET_STD, self.device)
            with torch.inference_mode():
                return self._model(pixel_values=x).pooler_output.float().cpu().numpy()

        return map_batches(run, images, BATCH)

    def score(self, clip: Clip, case: Case) -> Score:
        ref = self.features(read_reference_image(case)[None])[0]
        value, cos = mean_cosine(ref, self.features(clip.stream()))
        return Score(values={"ID": value}, details={"frames": int(cos.size), "frame_min": float(cos.min())})
