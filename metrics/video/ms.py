"""MS, motion smoothness (VBench's definition, paper Tables 2-6).

The even frames (0, 2, 4, ...) are interpolated at t = 0.5 and each prediction is compared with
the real odd frame between them: MS = (255 - mean |predicted - real|) / 255, over all pixels,
channels and pairs. The official backend interpolates with AMT-S as VBench does (native port in
metrics/video/amt.py, VBench's padding, scale rule and uint8 truncation); the two others
interpolate by bidirectional optical-flow warping and are not comparable with the paper.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import VIDEO_ONLY, Batching, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.flow import (FLOW_SIDE, FlowFn, farneback_flow, interpolate_midpoint, load_raft,
                                             raft_flow_fn)
from harmony_bench.metrics.video.frames import chunks, peek, per_chunk, pick_device, to_tensor

PAIRS_PER_BATCH = 8  # default; bounds memory: each pair holds two float warps of a full frame (fewer for large frames)

# (frames a, frames b) uint8 (B, H, W, 3) -> the uint8 frames halfway between them
Interpolator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def flow_warp(flow_fn: FlowFn) -> Interpolator:
    return partial(interpolate_midpoint, flow_fn=flow_fn)


def motion_smoothness(frames: Iterable[np.ndarray], interpolate: Interpolator, pairs: int = PAIRS_PER_BATCH) -> Score:
    """`frames` in one array or streamed: they go through in chunks of 2k + 1 frames (k = `pairs`,
    fewer for large frames, as `per_chunk`), each chunk's last even frame starting the next; a
    chunk's pairs are one call of `interpolate`."""
    import cv2

    first, frames = peek(frames)
    pairs = per_chunk(first, pairs) if first is not None else 1
    diffs = []
    for chunk in chunks(frames, 2 * pairs + 1, overlap=1):
        even, odd = chunk[0::2], chunk[1::2]
        n = min(len(even) - 1, len(odd))
        if n:
            pred = interpolate(even[:n], even[1 : n + 1])
            # |a - b| of uint8 frames is exact in uint8, and float64 sums of integers are exact:
            # the int16 copies this replaces gave the same means at three times the memory
            diffs.extend(float(cv2.absdiff(p, o).mean()) for p, o in zip(pred, odd[:n]))
    if not diffs:
        raise NotScorable("fewer than 3 frames: motion smoothness needs at least 3")
    # Frames share one size, so the mean of per-frame means is VBench's mean over everything.
    mad = float(np.mean(diffs))
    return Score(values={"MS": (255.0 - mad) / 255.0},
                 details={"pairs": len(diffs), "mean_abs_diff": mad, "worst_pair": int(np.argmax(diffs))})


_OUTPUTS = (Output("MS", "higher"),)
_PRE = ("all frames at native rate and resolution; even frames interpolated pairwise at t = 0.5 by "
        "warping both neighbours along flows approximated from the two pair flows (Super SloMo: "
        "F_t0 = (F_10 - F_01)/4, F_t1 = -F_t0), bilinear, border replicated, mean of the two warps, "
        "rounded to uint8")
_FORMULA = "MS = (255 - mean |interpolated - real odd frame|) / 255"
_AGG = "per clip as above; per subset the mean over clips"
_REF = "VBench 45e79ec vbench/motion_smoothness.py (MotionSmoothness.motion_score, vfi_score; last changed in 24f9d2a)"


@register("ms@raft")
class MotionSmoothnessRaft(Metric):
    key = "ms@raft"
    family = "MS"
    backend = "raft"
    official = False  # the paper's number comes from AMT-S (through VBench)
    version = "2"
    outputs = _OUTPUTS
    needs = ("frames at native rate and resolution",)
    requires = VIDEO_ONLY  # reads no audio
    weights = (manifest.RAFT_THINGS,)
    card = ProtocolCard(
        model="RAFT (large) optical flow, 20 iterations, driving a flow-warp interpolator",
        checkpoint=f"{manifest.RAFT_THINGS.name} (shared with dd@raft)",
        preprocessing=_PRE,
        formula=_FORMULA,
        aggregation=_AGG,
        reference=_REF,
        differences="VBench interpolates with AMT-S (a learned interpolator with occlusion-aware "
                    "multi-flow blending); this linear flow warp has no occlusion reasoning, so "
                    "predictions are worse around occlusions and MS reads lower than the paper's "
                    "values for the same clip (the paper's 0.98-0.99 range). Rankings of smooth "
                    "versus jittery clips agree in kind, not in value: not shown beside the paper.",
        precision="float32 (RAFT flow and the warps); no reference network to match",
    )

    def load(self, paths: dict) -> None:
        self.device = pick_device(self.device)
        self._flow = raft_flow_fn(load_raft(paths[manifest.RAFT_THINGS.name], self.device), self.device)

    def score(self, clip: Clip, case: Case) -> Score:
        return motion_smoothness(clip.stream(), flow_warp(self._flow))


@register("ms@farneback")
class MotionSmoothnessFarneback(Metric):
    key = "ms@farneback"
    family = "MS"
    backend = "farneback"
    official = False
    version = "3"  # v3: flow on frames downscaled to a 128 px shorter side (v2: native size, 5 levels)
    outputs = _OUTPUTS
    needs = ("frames at native rate and resolution",)
    requires = VIDEO_ONLY  # reads no audio
    card = ProtocolCard(
        model="none (classical): OpenCV Farneback optical flow (pyr_scale 0.5, 3 levels, window 15, "
              "3 iterations, poly_n 5, sigma 1.2) driving a flow-warp interpolator",
        checkpoint="none",
        preprocessing=f"{_PRE}; the flows are computed on grey frames area-downscaled to a shorter side "
                      f"of {FLOW_SIDE} px (never upscaled), combined at that size and resized bilinearly "
                      "to the frame; warping and comparison at native resolution",
        formula=_FORMULA,
        aggregation=_AGG,
        reference=_REF,
        differences="Offline variant: classical flow and a linear warp in place of AMT-S; values are "
                    "lower than AMT-S's on real motion and not comparable with the paper's MS column. "
                    "The flow's working size (128 px shorter side, 7x cheaper for the whole metric at "
                    "480x832) smooths motion boundaries: objects under about 4 native px move with "
                    "their surroundings. On true motion MS equals native-size Farneback's to 1e-4 "
                    "(tests/metrics/video/test_flow.py); around flashes and cuts the false flow is "
                    "larger and MS lower (0.9923 against 0.9972 on the clip of "
                    "benchmarks/bench_offline_tier.py).",
        precision="none (classical): OpenCV flow and warps in float32",
    )

    def score(self, clip: Clip, case: Case) -> Score:
        return motion_smoothness(clip.stream(), flow_warp(farneback_flow))


# --- the official backend: AMT-S as VBench runs it (vbench/motion_smoothness.py) ---

AMT_MIN_CELLS = 8  # the padded side, in units of the padding divisor; see amt_padding


def vbench_scale(h: int, w: int, gpu_memory: int | None) -> tuple[float, int]:
    """(scale factor, padding divisor) of VBench's `MotionSmoothness`: on CUDA it shrinks the
    network's working resolution for large frames on small GPUs (anchors 1024 x 512 pixels,
    1500 MiB per anchor, 2500 MiB reserved); on CPU (`gpu_memory` None) it never does. The
    float operations are VBench's, in its order, so the floor lands where it lands there."""
    if gpu_memory is None:
        resolution, memory, bias, available = 8192 * 8192, 1, 0, 1
    else:
        resolution, memory, bias, available = 1024 * 512, 1500 * 1024**2, 2500 * 1024**2, gpu_memory
    scale = resolution / (h * w) * np.sqrt((available - bias) / memory)
    scale = 1 if scale > 1 else scale
    scale = 1 / np.floor(1 / np.sqrt(scale) * 16) * 16
    return float(scale), int(16 / scale)


def amt_padding(h: int, w: int, divisor: int) -> list[int]:
    """[left, right, top, bottom] replicate padding: up to a multiple of `divisor`, split as
    AMT's InputPadder (utils/utils.py). Sides under 8 divisors are padded up to that: AMT-S's
    4-level correlation pyramid needs 1/8-resolution maps of 16 cells or more (with fewer, its
    coarsest level is one cell wide and the reference code returns NaN)."""
    ph = max(-h % divisor, AMT_MIN_CELLS * divisor - h)
    pw = max(-w % divisor, AMT_MIN_CELLS * divisor - w)
    return [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]


def gpu_memory(device: str) -> int | None:
    import torch

    return torch.cuda.get_device_properties(device).total_memory if device.startswith("cuda") else None


def amt_interpolator(model, device: str, scale: float, divisor: int) -> Interpolator:
    """VBench's per-pair step on all the given pairs in one forward pass: frames to float in
    [0, 1], replicate-padded, AMT at t = 0.5 with its scale factor, unpadded, then
    (x * 255).clip(0, 255) truncated to uint8 (`tensor2img`). VBench feeds one pair at a time;
    every AMT operation is per sample, so a batch gives the same frames up to float rounding
    (the batch size: `MotionSmoothnessAmt.batching`; the correlation volume of each pair grows
    with its pixel count squared)."""
    import torch
    import torch.nn.functional as F

    def interpolate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[1:3]
        left, right, top, bottom = pad = amt_padding(h, w, divisor)
        t0, t1 = (F.pad(to_tensor(x, device), pad, mode="replicate") for x in (a, b))
        with torch.inference_mode():
            mid = model(t0, t1, 0.5, scale)[..., top : top + h, left : left + w]
        return (mid * 255.0).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    return interpolate


@register("ms@amt-s")
class MotionSmoothnessAmt(Metric):
    key = "ms@amt-s"
    family = "MS"
    backend = "amt-s"
    official = True
    version = "2"
    outputs = _OUTPUTS
    needs = ("frames at native rate and resolution",)
    requires = VIDEO_ONLY  # reads no audio
    weights = (manifest.AMT_S,)
    batching = Batching("frame pair", cpu=1, cuda=16)  # 1 on the CPU: VBench's own pair at a time
    card = ProtocolCard(
        model="AMT-S (Li et al., CVPR 2023) frame interpolator, native port (metrics/video/amt.py) of "
              "the authors' code vendored by VBench; equivalence on a seeded checkpoint: "
              "tests/metrics/video/test_amt.py",
        checkpoint=f"{manifest.AMT_S.name} (sha256 {manifest.AMT_S.sha256}, the file VBench downloads), "
                   "loaded with strict keys from its 'state_dict'",
        preprocessing="all decoded frames; the even ones (0, 2, 4, ...) as float RGB in [0, 1], "
                      "replicate-padded to a multiple of 16 / scale (split evenly, AMT's InputPadder); "
                      "each consecutive pair interpolated at t = 0.5 in float32, cropped back and "
                      "quantised as VBench's tensor2img: (x * 255) clipped to [0, 255], truncated to uint8. "
                      "scale = 1 on CPU; on CUDA VBench's rule from frame size and GPU memory (< 1 only for "
                      "large frames on small GPUs); the scale used is stored per clip",
        formula=_FORMULA,
        aggregation=_AGG,
        reference=_REF + "; vbench/third_party/amt = MCG-NKU/AMT 70f988f (networks/AMT-S.py, utils/utils.py)",
        differences="Frames are decoded with PyAV (VBench: OpenCV; both FFmpeg). Sides under 8 x 16 px "
                    "(128 at scale 1) are replicate-padded up to it, where VBench's AMT-S returns NaN. "
                    "Otherwise none: same network, weights, padding, scale rule, t, quantisation and formula.",
        precision="float32, as VBench 45e79ec (AMT-S without autocast)",
        known_answer="none published: MCG-NKU/AMT's demo writes interpolated frames and prints no values to "
                     "compare with",
    )

    def load(self, paths: dict) -> None:
        from harmony_bench.metrics.video.amt import load_amt

        self.device = pick_device(self.device)
        self._model = load_amt(Path(paths[manifest.AMT_S.name]), self.device)

    def score(self, clip: Clip, case: Case) -> Score:
        scale, divisor = vbench_scale(clip.height, clip.width, gpu_memory(self.device))
        score = motion_smoothness(clip.stream(), amt_interpolator(self._model, self.device, scale, divisor),
                                  self.batch_size)
        score.details["scale"] = scale
        return score
