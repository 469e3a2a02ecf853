"""Optical flow for the motion metrics: RAFT (torchvision, local weights) and OpenCV Farneback.

A flow function maps two aligned uint8 frame stacks (N, H, W, 3) to flows (N, H, W, 2) in pixels,
first frame -> second frame, channel 0 = x. Both backends share the statistics below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from harmony_bench.metrics.video.checkpoints import load_into, load_state_dict
from harmony_bench.metrics.video.frames import batches, writable

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

RAFT_ITERS = 20  # VBench dynamic_degree runs RAFT with iters=20 (torchvision's default is 12)


def load_raft(path: Path, device: str = "cpu"):
    """torchvision's raft_large filled from a local state-dict file (C_T_V1: the RAFT authors'
    "things" weights, ported by torchvision)."""
    from torchvision.models.optical_flow import raft_large

    model = raft_large(weights=None, progress=False)
    load_into(model, load_state_dict(path), path)
    return model.eval().to(device)


RAFT_MIN_SIDE = 128  # torchvision's correlation pyramid needs feature maps of at least 16 cells


def pad_to_8(x):
    """Replicate-pad (B, C, H, W) so H and W divide by 8, split evenly, as RAFT's InputPadder;
    sides under RAFT_MIN_SIDE are padded up to it (VBench's RAFT cannot run on those at all)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = max((-h) % 8, RAFT_MIN_SIDE - h), max((-w) % 8, RAFT_MIN_SIDE - w)
    if ph == pw == 0:
        return x
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], mode="replicate")


def raft_flow_fn(model, device: str = "cpu", batch_size: int = 2, keep_padding: bool = False) -> FlowFn:
    """A FlowFn running `model` on frames padded to a multiple of 8, `batch_size` pairs a forward
    pass. `keep_padding` returns the flow at the padded size, as VBench's dynamic degree scores
    it; otherwise it is cropped back."""
    import torch

    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[1:3]
        out = []
        with torch.inference_mode():
            for s in batches(len(a), batch_size):
                x1, x2 = (pad_to_8(_to_raft_input(f[s], device)) for f in (a, b))
                fl = model(x1, x2, num_flow_updates=RAFT_ITERS)[-1].permute(0, 2, 3, 1).cpu().numpy()
                out.append(fl if keep_padding else _crop_centre(fl, h, w))
        return np.concatenate(out, axis=0)

    return flow


def _crop_centre(flow: np.ndarray, h: int, w: int) -> np.ndarray:
    """Undo pad_to_8 on (N, H', W', 2) flows."""
    top, left = (flow.shape[1] - h) // 2, (flow.shape[2] - w) // 2
    return flow[:, top : top + h, left : left + w]


def _to_raft_input(frames: np.ndarray, device: str):
    """uint8 RGB -> [-1, 1] (torchvision RAFT expects what the original RAFT computed inside)."""
    import torch

    x = torch.from_numpy(writable(frames)).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


# Farneback settings: OpenCV's documented example values, with 5 pyramid levels so that
# displacements of tens of pixels (the DD threshold is 6 px per 256 px of frame) are reachable.
FARNEBACK = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    out = []
    for f1, f2 in zip(a, b):
        g1, g2 = (cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (f1, f2))
        out.append(cv2.calcOpticalFlowFarneback(g1, g2, None, **FARNEBACK))
    return np.stack(out).astype(np.float32)


def top_fraction_magnitude(flow: np.ndarray, fraction: float = 0.05) -> float:
    """Mean of the largest `fraction` of per-pixel flow magnitudes of one (H, W, 2) flow
    (VBench: the top int(H*W*0.05) values)."""
    mag = np.hypot(flow[..., 0], flow[..., 1]).ravel()
    k = max(1, int(mag.size * fraction))
    return float(np.partition(mag, mag.size - k)[-k:].mean())


def warp(frames: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = frames(x + flow(x)), bilinear, border replicated. float32 out."""
    import cv2

    h, w = frames.shape[1:3]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.stack([cv2.remap(f.astype(np.float32), gx + fl[..., 0], gy + fl[..., 1], cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE) for f, fl in zip(frames, flow)])


def interpolate_midpoint(a: np.ndarray, b: np.ndarray, flow_fn: FlowFn) -> np.ndarray:
    """Frames halfway between a and b by bidirectional flow warping (Super SloMo's linear
    approximation of the flows from t = 0.5: F_t0 = (F_10 - F_01) / 4, F_t1 = -F_t0)."""
    f_ab, f_ba = flow_fn(a, b), flow_fn(b, a)
    f_ta = 0.25 * (f_ba - f_ab)
    mid = 0.5 * (warp(a, f_ta) + warp(b, -f_ta))
    return np.clip(np.rint(mid), 0, 255).astype(np.uint8)
