"""DD, dynamic degree: is there enough motion in the clip (VBench's protocol, paper Tables 2-6).

Per clip: frames sampled at about 8 fps; per consecutive pair the mean of the top 5% flow
magnitudes; the clip is dynamic when at least round(4 * n_frames / 16) pairs exceed
6 * min(H, W) / 256 pixels (VBench 45e79ec; the max(1, 8 / fps) factor of VBench 11abda9, July
2024, is gone from the current code). The paper value is 1.0 (dynamic) or 0.0, so a
subset mean is the fraction of dynamic clips. "DD-motion" keeps the continuous evidence: the
mean top-5% magnitude over pairs divided by that threshold (1.0 = at the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from harmony_bench.cases import Case
from harmony_bench.media import Clip
from harmony_bench.metrics.base import VIDEO_ONLY, Batching, Metric, NotScorable, Output, ProtocolCard, Score
from harmony_bench.metrics.registry import register
from harmony_bench.metrics.video import manifest
from harmony_bench.metrics.video.flow import (FLOW_SIDE, FlowFn, farneback_flow, load_raft, raft_flow_fn,
                                             top_fraction_magnitude)
from harmony_bench.metrics.video.frames import chunks, peek, per_chunk, pick_device, vbench_interval

PAIRS_PER_CHUNK = 8  # frame pairs whose flows are held at once by default (fewer for large frames)


@dataclass(frozen=True)
class DynamicVerdict:
    dynamic: bool
    motion: float  # mean top-5% magnitude / threshold
    threshold: float  # pixels
    required: int  # pairs that must exceed the threshold
    pair_scores: list[float]  # top-5% magnitude per sampled pair, pixels

    def as_score(self, interval: int) -> Score:
        return Score(values={"DD": float(self.dynamic), "DD-motion": self.motion},
                     details={"threshold_px": self.threshold, "pairs_required": self.required,
                              "pairs_above": int(sum(s > self.threshold for s in self.pair_scores)),
                              "frame_interval": interval,
                              "pair_top5_px": [round(s, 4) for s in self.pair_scores]})


def dd_threshold(height: int, width: int) -> float:
    """VBench set_params: 6 px per 256 px of the shorter side of the (unpadded) frame."""
    return 6.0 * min(height, width) / 256.0


def dd_required_pairs(n_frames: int) -> int:
    """VBench set_params: round(4 * count / 16) with count = sampled frames (Python rounding)."""
    return round(4 * (n_frames / 16.0))


def judge_motion(pair_scores: list[float], height: int, width: int, n_frames: int) -> DynamicVerdict:
    thr = dd_threshold(height, width)
    need = dd_required_pairs(n_frames)
    above = sum(s > thr for s in pair_scores)
    # VBench's check_move returns True as soon as count >= need after a pair, so with need == 0
    # any clip with one pair or more is dynamic; kept for fidelity.
    return DynamicVerdict(dynamic=bool(pair_scores) and above >= need, motion=float(np.mean(pair_scores)) / thr,
                          threshold=thr, required=need, pair_scores=[float(s) for s in pair_scores])


def dynamic_degree(sampled: Iterable[np.ndarray], fps: float, flow_fn: FlowFn,
                   pairs: int = PAIRS_PER_CHUNK) -> DynamicVerdict:
    """`sampled`: the frames VBench keeps (`vbench_sample`), in one array or streamed; their
    consecutive pairs go through the flow a chunk of `pairs` at a time (`per_chunk`)."""
    first, sampled = peek(sampled)
    if first is None:
        raise NotScorable("no frames")
    scores = []
    for chunk in chunks(sampled, per_chunk(first, pairs) + 1, overlap=1):
        scores += [top_fraction_magnitude(f) for f in flow_fn(chunk[:-1], chunk[1:])]
    if not scores:
        raise NotScorable("1 frame sampled at ~8 fps; need 2")
    return judge_motion(scores, first.shape[0], first.shape[1], len(scores) + 1)


_OUTPUTS = (Output("DD", "higher"), Output("DD-motion", "higher", paper=False))
_AGGREGATION = ("per clip 1.0 if dynamic else 0.0 (DD) and mean top-5% magnitude / threshold (DD-motion); "
                "per subset the mean over clips, i.e. the fraction of dynamic clips")
_FORMULA = ("pair score = mean of the top int(0.05*H*W) flow magnitudes; threshold = 6 * min(H, W) / 256 "
            "(no frame-rate factor); dynamic if #pairs above threshold >= round(4 * n_sampled / 16)")
_SAMPLING = "native-resolution frames, every round(fps/8)-th frame starting at frame 0 (VBench extract_frame)"


@register("dd@raft")
class DynamicDegreeRaft(Metric):
    key = "dd@raft"
    family = "DD"
    backend = "raft"
    official = True
    version = "2"  # v2: no max(1, 8/fps) threshold factor; refuses degenerate input
    outputs = _OUTPUTS
    needs = ("frames at native resolution, ~8 fps",)
    requires = VIDEO_ONLY  # reads no audio
    weights = (manifest.RAFT_THINGS,)
    # a chunk of pairs is one RAFT forward pass; 2 on the CPU: the batches of two of earlier versions
    batching = Batching("frame pair", cpu=2, cuda=32)
    card = ProtocolCard(
        model="RAFT (large), torchvision.models.optical_flow.raft_large, 20 refinement iterations",
        checkpoint=f"{manifest.RAFT_THINGS.name}: the RAFT authors' 'things' weights as ported by torchvision",
        preprocessing=f"{_SAMPLING}; RGB scaled to [-1, 1]; replicate-padded to a multiple of 8 (RAFT "
                      "InputPadder, sintel mode), sides under 128 px padded up to 128 (RAFT's minimum); flow scored at "
                      "the padded size as VBench does",
        formula=_FORMULA,
        aggregation=_AGGREGATION,
        reference="VBench 45e79ec vbench/dynamic_degree.py (DynamicDegree.infer, get_frames, set_params, "
                  "check_move)",
        differences="Frames come from PyAV rather than OpenCV's decoder (same pixels up to decoder "
                    "colour conversion). torchvision's RAFT port instead of the authors' code (same "
                    "weights). Matches the paper's DD column, which reads as a fraction of dynamic clips. "
                    "VBench between 11abda9 and its multi-GPU rewrite (July 2024) multiplied the threshold "
                    "by max(1, 8/fps); the current code, followed here, does not (v1 of this metric did).",
        precision="float32, as VBench 45e79ec (RAFT with mixed_precision=False)",
        known_answer="none published on a single input: torchvision documents only data-set figures for these "
                     "weights (end-point error on Sintel and KITTI train), which need the data sets",
    )

    def load(self, paths: dict) -> None:
        self.device = pick_device(self.device)
        self._raft = load_raft(paths[manifest.RAFT_THINGS.name], self.device)

    def score(self, clip: Clip, case: Case) -> Score:
        flow = raft_flow_fn(self._raft, self.device, self.batch_size, keep_padding=True)
        return dynamic_degree(clip.stream(every=vbench_interval(clip.fps)), clip.fps, flow,
                              self.batch_size).as_score(vbench_interval(clip.fps))


@register("dd@farneback")
class DynamicDegreeFarneback(Metric):
    key = "dd@farneback"
    family = "DD"
    backend = "farneback"
    official = False
    version = "3"  # v3: flow on frames downscaled to a 128 px shorter side (v2: native size, 5 levels)
    outputs = _OUTPUTS
    needs = ("frames at native resolution, ~8 fps",)
    requires = VIDEO_ONLY  # reads no audio
    card = ProtocolCard(
        model="none (classical): OpenCV Farneback dense optical flow "
              "(pyr_scale 0.5, 3 levels, window 15, 3 iterations, poly_n 5, sigma 1.2)",
        checkpoint="none",
        preprocessing=f"{_SAMPLING}; grey-scale (OpenCV RGB2GRAY), area-downscaled to a shorter side of "
                      f"{FLOW_SIDE} px (never upscaled); flow scaled back to pixels of the native frame, "
                      "top 5% taken over the working-size flow field (the same fraction of the frame)",
        formula=_FORMULA,
        aggregation=_AGGREGATION,
        reference="VBench vbench/dynamic_degree.py protocol with a classical flow in place of RAFT",
        differences="Offline variant, not the paper's number: the thresholds were set for RAFT; "
                    "Farneback underestimates large or textureless motion, so borderline clips can "
                    "flip. Never compare with dd@raft columns. The flow runs at a 128 px shorter side "
                    "(14x cheaper than at 480x832): the threshold, 6 px per 256 px, is a motion of "
                    "2.3% of the frame, which the working size resolves to 3 px. On true motion it "
                    "agrees with native-size Farneback to 2% (tests/metrics/video/test_flow.py); on "
                    "appearance changes that are not motion (a square flashing white) it reads larger "
                    "false motion (60-80 px per pair against 13-17 px at native size on the clip of "
                    "benchmarks/bench_offline_tier.py), so flashing clips are judged dynamic more often "
                    "than by v2.",
        precision="none (classical): OpenCV Farneback flow in float32",
    )

    def score(self, clip: Clip, case: Case) -> Score:
        return dynamic_degree(clip.stream(every=vbench_interval(clip.fps)), clip.fps,
                              farneback_flow).as_score(vbench_interval(clip.fps))
