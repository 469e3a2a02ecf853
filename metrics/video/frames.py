"""Frame preparation shared by the video metrics: sampling, resizing and batching in one place.

Every function takes the clip's decoded uint8 frames (T, H, W, 3), in one array or streamed one
frame at a time (`Clip.stream`), and returns what a protocol feeds its network, so two backends
of one metric see identical pixels. Streamed frames are stacked a chunk at a time, never whole.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

import numpy as np


def pick_device(requested: str = "cpu") -> str:
    """`requested`, except "auto": CUDA when present, CPU otherwise."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def vbench_interval(fps: float) -> int:
    """VBench dynamic_degree's frame step: keep every round(fps / 8)-th frame (about 8 fps)."""
    return max(1, round(fps / 8.0))


def vbench_sample(frames: np.ndarray, fps: float) -> np.ndarray:
    """Frames 0, k, 2k, ... with k = vbench_interval(fps), as VBench's `extract_frame`."""
    return frames[:: vbench_interval(fps)]


def writable(frames: np.ndarray) -> np.ndarray:
    """A C-contiguous writable view or copy: torch.from_numpy warns on read-only arrays."""
    return np.require(frames, requirements=["C", "W"])


def to_tensor(frames: np.ndarray, device: str = "cpu"):
    """(T, H, W, 3) uint8 -> (T, 3, H, W) float32 in [0, 1]."""
    import torch

    x = torch.from_numpy(writable(frames)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def normalise(x, mean: tuple[float, ...], std: tuple[float, ...]):
    """Per-channel (x - mean) / std on a (B, 3, H, W) tensor."""
    import torch

    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def resize(x, size: tuple[int, int], mode: str = "bilinear", antialias: bool = True):
    """Resize a (B, 3, H, W) float tensor to size=(h, w); a no-op when already that size."""
    import torch.nn.functional as F

    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode=mode, antialias=antialias, align_corners=False)


def cap_longer_side(x, limit: int):
    """VBench imaging_quality 'longer' rule: if max(H, W) > limit, scale so the longer side is
    `limit`, new size int(scale * h) x int(scale * w) (truncated), bilinear without antialiasing
    on the float frames, as VBench's transforms.Resize(..., antialias=False) on its float tensor."""
    h, w = x.shape[-2:]
    if max(h, w) <= limit:
        return x
    scale = limit / max(h, w)
    return resize(x, (int(scale * h), int(scale * w)), antialias=False)


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def chunks(frames: Iterable[np.ndarray], size: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """Stacks of `size` consecutive frames, each beginning with the last `overlap` frames of the
    one before (the last stack may be shorter; one holding only those repeated frames is not made)."""
    held: list[np.ndarray] = []
    for frame in frames:
        held.append(frame)
        if len(held) == size:
            yield np.stack(held)
            held = held[size - overlap :]
    if len(held) > overlap:
        yield np.stack(held)


FRAME_PIXELS = 480 * 832  # a batch size counts frames of up to this many pixels; larger ones count more


def per_chunk(first: np.ndarray, most: int) -> int:
    """How many frames (or frame pairs) to process at once, given the first frame: `most` for
    frames up to 480x832, proportionally fewer for larger ones so that memory stays bounded; even
    when above 1, so that the offline RAFT interpolator's batches of two group the same frames as
    when the whole clip went through at once."""
    n = min(most, most * FRAME_PIXELS // (first.shape[0] * first.shape[1]))
    return n - n % 2 if n > 1 else 1


def peek(frames: Iterable[np.ndarray]) -> tuple[np.ndarray | None, Iterator[np.ndarray]]:
    """(first frame or None, all the frames again, the first included)."""
    it = iter(frames)
    first = next(it, None)
    return first, (it if first is None else itertools.chain([first], it))


def map_batches(fn: Callable, frames: Iterable[np.ndarray], batch_size: int) -> np.ndarray:
    """Apply `fn` (uint8 frames -> 1-D or 2-D numpy array) to consecutive batches of `batch_size`
    frames (fewer for frames above 480x832, as `per_chunk`), the last one shorter; concatenate."""
    first, frames = peek(frames)
    size = batch_size if first is None else per_chunk(first, batch_size)
    return np.concatenate([fn(batch) for batch in chunks(frames, size)], axis=0)


def square_input(frames: np.ndarray, side: int, mode: str, mean: tuple[float, ...], std: tuple[float, ...],
                 device: str = "cpu", quantise: bool = False):
    """uint8 frames -> normalised (B, 3, side, side) network input, antialiased resize.

    `quantise` rounds the resized image to uint8 levels first, as a PIL-based processor does
    (SigLIP's); Hugging Face "fast" processors (DINOv3's) resize floats and do not."""
    x = to_tensor(frames, device) * 255.0
    x = resize(x, (side, side), mode=mode)
    if quantise:
        x = x.round().clamp(0, 255)
    return normalise(x / 255.0, mean, std)
