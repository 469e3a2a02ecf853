"""IQ, imaging quality: MUSIQ per frame, score / 100, mean over frames (paper Tables 2-6).

Two protocols circulate and do not agree: VBench's (SPAQ checkpoint, frames whose longer side
exceeds 512 scaled down to 512) and pyiqa's default `musiq` metric as Verse-Bench uses it (KonIQ
checkpoint, frames as they are). The paper cites VBench for its video metrics, so the SPAQ one is
the official backend; the KonIQ one is selectable and stored under its own key.
"""

from __future__ import annotations

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.weights import WeightFile
from harmony_bench.metrics.base import VIDEO_ONLY, Batching, Metric, Output, ProtocolCard, Score
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.checkpoints import CheckpointError, load_into, load_state_dict
from harmony_bench.metrics.video.frames import cap_longer_side, map_batches, pick_device, writable
from harmony_bench.metrics.registry import register


def load_musiq(path, device: str):
    from harmony_bench.metrics.video.musiq import Musiq, MusiqConfig

    state = load_state_dict(path)
    try:
        cfg = MusiqConfig.from_state_dict(state)
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"{path}: not a MUSIQ checkpoint (no {exc})") from exc
    model = Musiq(cfg)
    load_into(model, state, path)
    return model.eval().to(device)


def musiq_frame_scores(model, frames: np.ndarray, device: str, longer_cap: int | None, batch_size: int) -> np.ndarray:
    """Per-frame MUSIQ scores (checkpoint scale, 0-100) for uint8 frames, `batch_size` frames a pass."""
    import torch

    def run(batch: np.ndarray) -> np.ndarray:
        # float 0-255 frames, as VBench's torch.Tensor(frames): the resize is never re-quantised
        x = torch.from_numpy(writable(batch)).to(device).permute(0, 3, 1, 2).float()
        if longer_cap is not None:
            x = cap_longer_side(x, longer_cap)
        with torch.inference_mode():
            return model(x / 255.0).cpu().numpy()

    return map_batches(run, frames, batch_size)


class _ImagingQuality(Metric):
    family = "IQ"
    version = "2"  # v2: cap without antialiasing, not re-quantised (v1: antialiased, rounded to uint8); refuses degenerate input
    outputs = (Output("IQ", "higher"),)
    needs = ("every frame, native rate",)
    requires = VIDEO_ONLY  # reads no audio
    batching = Batching("frame", cpu=8, cuda=32)  # MUSIQ sees the frame itself: up to 512 px on the longer side
    checkpoint: WeightFile
    longer_cap: int | None

    def load(self, paths: dict) -> None:
        self.device = pick_device(self.device)
        self._model = load_musiq(paths[self.checkpoint.name], self.device)

    def score(self, clip: Clip, case: Case) -> Score:
        s = musiq_frame_scores(self._model, clip.stream(), self.device, self.longer_cap, self.batch_size)
        return Score(values={"IQ": float(s.mean()) / 100.0},
                     details={"frames": int(s.size), "frame_min": float(s.min()) / 100.0,
                              "frame_max": float(s.max()) / 100.0, "checkpoint": self.checkpoint.name})


_MODEL = "MUSIQ (multi-scale image quality transformer), native PyTorch port of pyiqa's architecture"
_FORMULA = "per frame MUSIQ score (0-100); clip IQ = mean over frames / 100"
_AGG = "per clip the mean over all frames / 100; per subset the mean over clips"


@register("iq@musiq-spaq")
class ImagingQualitySpaq(_ImagingQuality):
    key = "iq@musiq-spaq"
    backend = "musiq-spaq"
    official = True
    checkpoint = manifest.MUSIQ_SPAQ
    weights = (manifest.MUSIQ_SPAQ,)
    longer_cap = 512
    card = ProtocolCard(
        model=_MODEL,
        checkpoint=f"{manifest.MUSIQ_SPAQ.name} (pyiqa musiq_spaq_ckpt, as VBench)",
        preprocessing="every frame as float 0-255; if the longer side > 512, bilinear resize without "
                      "antialiasing so it is 512 (size int(s*h) x int(s*w)), not re-quantised; /255; "
                      "MUSIQ's own multi-scale patching (longer sides 224 and 384, bicubic, plus the frame "
                      "itself, 32 px patches)",
        formula=_FORMULA,
        aggregation=_AGG,
        reference="VBench 45e79ec vbench/imaging_quality.py (transform, preprocess mode 'longer': "
                  "transforms.Resize(..., antialias=False) on load_video's float tensor, commit ee896a9 "
                  "'add antialias in transform.Resize'); pyiqa musiq_arch.py",
        differences="None in the pixels MUSIQ sees for the same decoded frames. Frames are decoded by the "
                    "harness (PyAV) rather than VBench's decord, which can differ by a few levels on some "
                    "streams.",
        precision="float32, as VBench 45e79ec (pyiqa MUSIQ, no autocast)",
        known_answer="published: official MUSIQ-SPAQ scores of five TID2013 images, chaofengc/IQA-PyTorch 01ae427 "
                     "ResultsCalibra/results_official.csv, within pyiqa's atol 1e-2, rtol 3e-2 (harmony-bench "
                     "weights check)",
    )


@register("iq@musiq-koniq")
class ImagingQualityKoniq(_ImagingQuality):
    key = "iq@musiq-koniq"
    backend = "musiq-koniq"
    official = False  # a plausible alternative reading of the paper, not the chosen official one
    checkpoint = manifest.MUSIQ_KONIQ
    weights = (manifest.MUSIQ_KONIQ,)
    longer_cap = None
    card = ProtocolCard(
        model=_MODEL,
        checkpoint=f"{manifest.MUSIQ_KONIQ.name} (pyiqa's default `musiq` metric)",
        preprocessing="every frame at native resolution, /255; MUSIQ's own multi-scale patching",
        formula=_FORMULA,
        aggregation=_AGG,
        reference="pyiqa create_metric('musiq') as Verse-Bench's imaging quality uses it",
        differences="Different checkpoint (KonIQ-10k) and no resize: values differ systematically from "
                    "iq@musiq-spaq, never mix the two in one column.",
        precision="float32, as pyiqa",
        known_answer="published: official MUSIQ-KonIQ scores of five TID2013 images, chaofengc/IQA-PyTorch 01ae427 "
                     "ResultsCalibra/results_official.csv (row musiq), within pyiqa's atol 1e-2, rtol 3e-2 "
                     "(harmony-bench weights check)",
    )
