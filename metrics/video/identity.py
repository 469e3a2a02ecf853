"""ID, identity consistency: cosine between DINOv3 features of the case's reference image and of
every generated frame, averaged over frames (paper C.2).

Which DINOv3 feature: the paper says only "DINOv3 feature similarity". Its metric suite is
Verse-Bench's (UniVerse-1's benchmark) item for item: aesthetic-predictor-v2-5 on SigLIP, MUSIQ,
RAFT, DINOv3 ViT-L/16 *pretrain-lvd1689m*, AudioBox-Aesthetics, Whisper WER, SyncNet, Synchformer,
and its ID is Verse-Bench's evaluate_dinov3_video (reference image against every frame, mean
cosine). Verse-Bench's DinoV3Inferencer takes `pipeline("image-feature-extraction")(image)[0][-2]`:
the second-to-last token of the final-norm last_hidden_state, i.e. a patch token (row 13, column
12 of the 14 x 14 grid at 224 px, after the CLS and 4 register tokens). So the paper's numbers
most likely come from that token, and the official backend (id@dinov3-vitl16) takes it. The CLS
feature, the image-level descriptor DINO models are meant for, is the variant id@dinov3-vitl16-cls.
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import VIDEO_ONLY, Batching, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.checkpoints import load_hf_folder
from harmony_bench.metrics.video.frames import map_batches, pick_device, square_input

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DINOv3ViTImageProcessorFast defaults
IMAGENET_STD = (0.229, 0.224, 0.225)
VERSE_BENCH_TOKEN = -2  # Verse-Bench dino/dinov3_inferencer.py: features[0][-2]


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


_PREPROCESSING = ("reference image and every frame: bilinear antialiased resize of the float image to 224x224 "
                  "(aspect not kept, as DINOv3ViTImageProcessorFast), /255, ImageNet mean/std normalisation")
_AGGREGATION = ("per clip as above; per subset the mean over clips (cases without a reference image are "
                "unscorable, not zero)")


@register("id@dinov3-vitl16")
class IdentityConsistency(Metric):
    key = "id@dinov3-vitl16"
    family = "ID"
    backend = "dinov3-vitl16"
    official = True
    version = "2"  # v2: Verse-Bench's token [-2] of last_hidden_state (v1: the pooled CLS feature); refuses degenerate input
    outputs = (Output("ID", "higher"),)
    needs = ("every frame, native rate", "the case's reference image")
    requires = VIDEO_ONLY  # reads no audio
    weights = (manifest.DINOV3_CONFIG, manifest.DINOV3_WEIGHTS)
    packages = ("transformers",)
    extra = "video"
    batching = Batching("frame", cpu=8, cuda=64)
    token: int | None = VERSE_BENCH_TOKEN  # index into last_hidden_state; None: the pooled CLS output
    card = ProtocolCard(
        model="DINOv3 ViT-L/16 (distilled, LVD-1689M), transformers DINOv3ViTModel; feature = token -2 of "
              "the final-norm last_hidden_state (a patch token near the bottom-right corner)",
        checkpoint=f"{manifest.DINOV3_WEIGHTS.name} (facebook/dinov3-vitl16-pretrain-lvd1689m, gated)",
        preprocessing=_PREPROCESSING,
        formula="ID = mean over frames of cos(f(reference), f(frame))",
        aggregation=_AGGREGATION,
        reference="Dorniwang/Verse-Bench 5645a09 dino/dinov3_inferencer.py (DinoV3Inferencer.get_feature, "
                  "infer_feature) and calculate_metrics.py evaluate_dinov3_video; paper appendix C.2",
        differences="Follows Verse-Bench's token choice on purpose, as the paper's metric suite is Verse-Bench's "
                    "(see the module docstring); that token describes one image region, not the whole image, "
                    "so id@dinov3-vitl16-cls gives the image-level reading. Verse-Bench goes through "
                    "transformers' pipeline with PIL frames; the same processor steps are applied to the "
                    "decoded frames here.",
        precision="float32, as Verse-Bench's transformers pipeline (default dtype, no torch_dtype given)",
        known_answer="none published: the DINOv3 release and model card give no output values for a pinned input",
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
                out = self._model(pixel_values=x)
            feat = out.pooler_output if self.token is None else out.last_hidden_state[:, self.token]
            return feat.float().cpu().numpy()

        return map_batches(run, images, self.batch_size)

    def score(self, clip: Clip, case: Case) -> Score:
        ref = self.features(read_reference_image(case)[None])[0]
        value, cos = mean_cosine(ref, self.features(clip.stream()))
        return Score(values={"ID": value}, details={"frames": int(cos.size), "frame_min": float(cos.min())})


@register("id@dinov3-vitl16-cls")
class IdentityConsistencyCls(IdentityConsistency):
    key = "id@dinov3-vitl16-cls"
    backend = "dinov3-vitl16-cls"
    official = False
    version = "1"
    token = None
    card = ProtocolCard(
        model="DINOv3 ViT-L/16 (distilled, LVD-1689M), transformers DINOv3ViTModel, pooled output (CLS token "
              "after the final norm)",
        checkpoint=IdentityConsistency.card.checkpoint,
        preprocessing=_PREPROCESSING,
        formula="ID = mean over frames of cos(f(reference), f(frame))",
        aggregation=_AGGREGATION,
        reference="paper appendix C.2 (its wording); Verse-Bench for the model variant",
        differences="The image-level CLS feature instead of Verse-Bench's token -2, which the paper's values "
                    "most likely used: numbers differ from id@dinov3-vitl16, never mix the two in one column.",
        precision="float32, as id@dinov3-vitl16",
    )
