"""Optical flow for the motion metrics: RAFT (torchvision, local weights) and OpenCV Farneback.

A flow function maps two aligned uint8 frame stacks (N, H, W, 3) to flows (N, h, w, 2) in pixels
of the frames, first frame -> second frame, channel 0 = x. RAFT's flows have the frames' size;
Farneback's stay at its smaller working size (h, w) <= (H, W), and consumers that need a flow per
pixel resize them (`resize_flow`). Both backends share the statistics below.
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


# Farneback settings: OpenCV's documented example values (window 15, 3 iterations, poly_n 5,
# sigma 1.2), run on frames whose shorter side is FLOW_SIDE: the variants need the motion of
# regions, not of single pixels, and the flow costs 14x less than at 480x832. Three pyramid
# levels at 128 px reach displacements of about a quarter of the frame between two frames.
FLOW_SIDE = 128
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A FlowFn: Farneback on grey frames area-downscaled to a shorter side of FLOW_SIDE (never
    upscaled); the flows stay at that working size, in pixels of the native frame."""
    (ga, gb), to_native = _working_grey(a, b)
    return _farneback(ga, gb, to_native)


def farneback_both_ways(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(farneback_flow(a, b), farneback_flow(b, a)), each frame converted once."""
    (ga, gb), to_native = _working_grey(a, b)
    return _farneback(ga, gb, to_native), _farneback(gb, ga, to_native)


farneback_flow.both_ways = farneback_both_ways  # interpolate_midpoint takes both directions at once


def _working_grey(*stacks: np.ndarray) -> tuple[list[list[np.ndarray]], np.ndarray]:
    import cv2

    h, w = stacks[0].shape[1:3]
    k = min(1.0, FLOW_SIDE / min(h, w))
    size = (max(1, round(w * k)), max(1, round(h * k)))  # OpenCV's (width, height)
    grey = [[cv2.resize(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
             for f in frames] for frames in stacks]
    return grey, np.array([w / size[0], h / size[1]], np.float32)


def _farneback(first: list[np.ndarray], second: list[np.ndarray], to_native: np.ndarray) -> np.ndarray:
    import cv2

    return np.stack([cv2.calcOpticalFlowFarneback(g1, g2, None, **FARNEBACK) * to_native
                     for g1, g2 in zip(first, second)]).astype(np.float32, copy=False)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """One (h, w, 2) flow field bilinearly resized to (height, width); its values are already in
    pixels of that size, so they are kept."""
    import cv2

    if flow.shape[:2] == (height, width):
        return flow
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)


def top_fraction_magnitude(flow: np.ndarray, fraction: float = 0.05) -> float:
    """Mean of the largest `fraction` of per-pixel flow magnitudes of one (H, W, 2) flow
    (VBench: the top int(H*W*0.05) values)."""
    mag = np.hypot(flow[..., 0], flow[..., 1]).ravel()
    k = max(1, int(mag.size * fraction))
    return float(np.partition(mag, mag.size - k)[-k:].mean())


def warp(frames: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(x) = frames(x + flow(x)), bilinear, border replicated. float32 out."""
    return np.stack([_warp_rows(f, fl, 0) for f, fl in zip(frames, flow)])


WARP_ROWS = 128  # output rows warped at once: a 3840-wide strip's maps and float source are ~10 MB


def _warp_rows(frame: np.ndarray, flow: np.ndarray, top: int) -> np.ndarray:
    """Rows top .. top + len(flow) of the backward warp of `frame` along `flow` (the flow of those
    rows), float32. Only the source rows the maps reach are converted to float: remap reads
    rows floor(y) and floor(y) + 1 (y rounded to 1/32 first), so a crop from floor(min y) to
    floor(max y) + 2 holds them, and shifting y by a whole row is exact in float32 (the values
    and their rounding to 1/32 move by that row alone): the result equals the whole frame's."""
    import cv2

    height, width = frame.shape[:2]
    map_x = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0]
    map_y = np.arange(top, top + flow.shape[0], dtype=np.float32)[:, None] + flow[..., 1]
    first = int(np.clip(np.floor(map_y.min()), 0, height - 1))
    end = int(np.clip(np.floor(map_y.max()) + 3, first + 1, height))
    if first:
        map_y -= first
    return cv2.remap(frame[first:end].astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def interpolate_midpoint(a: np.ndarray, b: np.ndarray, flow_fn: FlowFn) -> np.ndarray:
    """Frames halfway between a and b by bidirectional flow warping (Super SloMo's linear
    approximation of the flows from t = 0.5: F_t0 = (F_10 - F_01) / 4, F_t1 = -F_t0). Flows
    at a working size are combined first and resized once: resizing is linear, so this equals
    resizing each flow, at half the cost. One pair, and WARP_ROWS output rows, at a time bound
    the float copies (a 3840x2160 frame is 100 MB in float32)."""
    both_ways = getattr(flow_fn, "both_ways", None)
    f_ab, f_ba = both_ways(a, b) if both_ways else (flow_fn(a, b), flow_fn(b, a))
    out = np.empty_like(a)
    for i in range(len(a)):
        f_ta = resize_flow(0.25 * (f_ba[i] - f_ab[i]), *a.shape[1:3])
        for top in range(0, a.shape[1], WARP_ROWS):
            rows = slice(top, top + WARP_ROWS)
            mid = 0.5 * (_warp_rows(a[i], f_ta[rows], top) + _warp_rows(b[i], -f_ta[rows], top))
            out[i, rows] = np.clip(np.rint(mid), 0, 255)
    return out
