"""AQ, aesthetic quality: aesthetic-predictor-v2-5 on every frame, clip score = mean / 10.

The predictor is SigLIP so400m-patch14-384's vision tower, its pooled output L2-normalised, then
an MLP head (hidden -> 1024 -> 128 -> 64 -> 16 -> 1, dropout between, inactive at eval) trained
to rate images 1-10 (discus0434/aesthetic-predictor-v2-5, paper reference [48]).
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import VIDEO_ONLY, Batching, Metric, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.checkpoints import CheckpointError, load_hf_folder, load_into, load_state_dict
from harmony_bench.metrics.video.frames import map_batches, pick_device, square_input

SIGLIP_MEAN = SIGLIP_STD = (0.5, 0.5, 0.5)  # SiglipImageProcessor for so400m-patch14-384
HEAD_LINEAR_INDICES = (0, 2, 4, 6, 8)  # nn.Sequential positions of the Linear layers (dropouts between)


def build_head(state: dict, path):
    """The scoring head with sizes read from its state dict (keys scoring_head.{0,2,4,6,8}.*)."""
    import torch.nn as nn

    dims = [state[f"scoring_head.{i}.weight"].shape[1] for i in HEAD_LINEAR_INDICES if f"scoring_head.{i}.weight" in state]
    if len(dims) != len(HEAD_LINEAR_INDICES):
        raise CheckpointError(f"{path}: expected keys scoring_head.{{0,2,4,6,8}}.weight, found {sorted(state)[:6]}")
    layers = []
    for i, d_in in enumerate(dims):
        d_out = dims[i + 1] if i + 1 < len(dims) else 1
        layers.append(nn.Linear(d_in, d_out))
        if i + 1 < len(dims):
            layers.append(nn.Dropout(0.0))  # the reference's dropouts (0.5, 0.2) are off at eval
    head = nn.Module()
    head.scoring_head = nn.Sequential(*layers)
    load_into(head, state, path)
    return head.eval()


@register("aq@siglip-v2.5")
class AestheticQuality(Metric):
    key = "aq@siglip-v2.5"
    family = "AQ"
    backend = "siglip-v2.5"
    official = True
    version = "2"
    outputs = (Output("AQ", "higher"),)
    needs = ("every frame, native rate",)
    requires = VIDEO_ONLY  # reads no audio
    weights = (manifest.SIGLIP_CONFIG, manifest.SIGLIP_WEIGHTS, manifest.AESTHETIC_HEAD)
    packages = ("transformers",)
    extra = "video"
    batching = Batching("frame", cpu=8, cuda=64)
    card = ProtocolCard(
        model="aesthetic-predictor-v2-5: SigLIP so400m-patch14-384 vision tower (transformers "
              "SiglipVisionModel, float32) + MLP head on the L2-normalised pooled output",
        checkpoint=f"{manifest.SIGLIP_WEIGHTS.name} (google/siglip-so400m-patch14-384) and "
                   f"{manifest.AESTHETIC_HEAD.name} (discus0434/aesthetic-predictor-v2-5)",
        preprocessing="every frame; bicubic antialiased resize to 384x384 (aspect not kept, as "
                      "SiglipImageProcessor), rounded to uint8 levels, /255, normalised mean 0.5 std 0.5",
        formula="per frame score in [1, 10] (the head's output); clip AQ = mean over frames / 10",
        aggregation="per clip as above; per subset the mean over clips",
        reference="discus0434/aesthetic-predictor-v2-5 3125a9e src/aesthetic_predictor_v2_5/siglip_v2_5.py "
                  "(convert_v2_5_from_siglip), as Verse-Bench 5645a09 aesthetic/aesthetic_inferencer.py calls it",
        differences="Resize in torch (bicubic, antialias) rather than PIL: sub-level pixel differences. "
                    "float32 rather than the reference example's bfloat16. The paper names the "
                    "predictor but not the frame sampling; every frame is the issue's reading.",
        precision=("float32 (SigLIP and head; the head file's bfloat16 tensors are cast up on loading). The reference, "
                   "Verse-Bench's AestheticInferencer, casts model and pixels to bfloat16 on CUDA; kept at "
                   "float32: bfloat16 keeps 8 significant bits and moves the score, and equality could not "
                   "be shown without the real weights and a GPU"),
        known_answer="none published: discus0434/aesthetic-predictor-v2-5's README shows scores only drawn into an "
                     "image (assets/example.png), with no input and value pinned as text",
    )

    def load(self, paths: dict) -> None:
        from transformers import SiglipVisionModel

        self.device = pick_device(self.device)
        self._siglip = load_hf_folder(SiglipVisionModel, paths[manifest.SIGLIP_CONFIG.name],
                                      paths[manifest.SIGLIP_WEIGHTS.name]).to(self.device)
        head_path = paths[manifest.AESTHETIC_HEAD.name]
        self._head = build_head(load_state_dict(head_path), head_path).to(self.device)
        hidden = self._siglip.config.hidden_size
        if self._head.scoring_head[0].in_features != hidden:
            raise CheckpointError(f"{head_path}: head expects {self._head.scoring_head[0].in_features}-d "
                                  f"features, SigLIP gives {hidden}")
        self._side = self._siglip.config.image_size

    def frame_scores(self, frames: np.ndarray) -> np.ndarray:
        import torch

        def run(batch: np.ndarray) -> np.ndarray:
            x = square_input(batch, self._side, "bicubic", SIGLIP_MEAN, SIGLIP_STD, self.device, quantise=True)
            with torch.inference_mode():
                emb = self._siglip(pixel_values=x).pooler_output
                emb = emb / emb.norm(dim=-1, keepdim=True)
                return self._head.scoring_head(emb)[:, 0].cpu().numpy()

        return map_batches(run, frames, self.batch_size)

    def score(self, clip: Clip, case: Case) -> Score:
        s = self.frame_scores(clip.stream())
        return Score(values={"AQ": float(s.mean()) / 10.0},
                     details={"frames": int(s.size), "frame_min": float(s.min()), "frame_max": float(s.max())})
