"""S3FD face detector (Zhang et al., ICCV 2017) as syncnet_python's `detectors/s3fd/` runs it.

Native PyTorch with the reference's attribute names (`vgg`, `L2Norm3_3`, `extras`, `loc`,
`conf`, ...), so the published `sfd_face.pth` (a plain state dict) loads with strict key
matching. Detection follows `S3FD.detect_faces` with the arguments `run_pipeline.py` passes:
the RGB frame resized by 0.25 (cv2 bilinear), mean (123, 117, 104) subtracted per RGB channel,
one forward pass; priors of sizes 16-512 px on strides 4-128; boxes decoded with variances
(0.1, 0.2); per image the candidates scoring above 0.05 go through NMS at IoU 0.3 (the 5000
best considered, 750 kept); those above the confidence threshold (0.9) are scaled back to the
frame and go through a second NMS at IoU 0.1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SCALE = 0.25  # run_pipeline.py --facedet_scale
CONF_THRESHOLD = 0.9  # run_pipeline.py inference_video
RGB_MEAN = (123.0, 117.0, 104.0)  # the reference's BGR mean (104, 117, 123), applied to RGB channels
PRIOR_SIZES = (16, 32, 64, 128, 256, 512)
PRIOR_STEPS = (4, 8, 16, 32, 64, 128)
VARIANCES = (0.1, 0.2)
CANDIDATE_SCORE = 0.05  # box_utils.Detect conf_thresh
CANDIDATE_NMS = 0.3  # Detect nms_thresh
CANDIDATES_CONSIDERED = 5000  # Detect nms_top_k
CANDIDATES_KEPT = 750  # Detect top_k
FINAL_NMS = 0.1  # S3FD.detect_faces nms_(bboxes, 0.1)
# VGG16 layers: (in, out) per 3x3 conv, "M" a 2x2 max-pool ("C": ceil mode), as the reference's list
_VGG = ((3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), "C",
        (256, 512), (512, 512), (512, 512), "M", (512, 512), (512, 512), (512, 512), "M")
# (vgg index after which a source is taken, its L2Norm attribute, that norm's initial scale)
_NORMED_SOURCES = ((16, "L2Norm3_3", 10.0), (23, "L2Norm4_3", 8.0), (30, "L2Norm5_3", 5.0))
_HEAD_CHANNELS = (256, 512, 512, 1024, 512, 256)


class L2Norm(nn.Module):
    """Channel-wise L2 normalisation with a learned per-channel scale (SSD's conv4_3 norm)."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10
        return self.weight[None, :, None, None] * (x / norm)


def _vgg_layers() -> list[nn.Module]:
    layers: list[nn.Module] = []
    for spec in _VGG:
        if spec in ("M", "C"):
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=spec == "C"))
        else:
            layers += [nn.Conv2d(spec[0], spec[1], 3, 1, padding=1), nn.ReLU(inplace=True)]
    # fc6 / fc7 as convolutions: dilated 3x3, then 1x1
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(inplace=True),
               nn.Conv2d(1024, 1024, 1, 1), nn.ReLU(inplace=True)]
    return layers


class S3FDNet(nn.Module):
    """VGG16 + extra layers + six detection heads; returns per-prior box offsets and face scores."""

    def __init__(self):
        super().__init__()
        self.vgg = nn.ModuleList(_vgg_layers())
        for k, (_, name, scale) in enumerate(_NORMED_SOURCES):  # the first three heads read these
            setattr(self, name, L2Norm(_HEAD_CHANNELS[k], scale))
        self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1, 1), nn.Conv2d(256, 512, 3, 2, padding=1),
                                     nn.Conv2d(512, 128, 1, 1), nn.Conv2d(128, 256, 3, 2, padding=1)])
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in _HEAD_CHANNELS])
        # the first head scores 3 background classes and a face (max-out background, S3FD sec. 3.3)
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if k == 0 else 2, 3, 1, padding=1)
                                   for k, c in enumerate(_HEAD_CHANNELS)])

    def sources(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The six feature maps the heads read: conv3_3, conv4_3, conv5_3 (normalised), fc7, conv6_2, conv7_2."""
        out, start = [], 0
        for stop, name, _ in _NORMED_SOURCES:
            for layer in self.vgg[start:stop]:
                x = layer(x)
            out.append(getattr(self, name)(x))
            start = stop
        for layer in self.vgg[start:]:
            x = layer(x)
        out.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x))
            if k % 2 == 1:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        """(B, 3, H, W) mean-subtracted RGB -> loc (B, P, 4), face probability (B, P), feature map sizes."""
        locs, scores, sizes = [], [], []
        for k, src in enumerate(self.sources(x)):
            logits = self.conf[k](src)
            if k == 0:
                logits = torch.cat([logits[:, :3].max(dim=1, keepdim=True).values, logits[:, 3:]], dim=1)
            locs.append(self.loc[k](src).permute(0, 2, 3, 1).reshape(len(x), -1, 4))
            scores.append(logits.permute(0, 2, 3, 1).reshape(len(x), -1, 2).softmax(dim=-1)[..., 1])
            sizes.append((src.shape[2], src.shape[3]))
        return torch.cat(locs, 1), torch.cat(scores, 1), sizes


def prior_boxes(image_hw: tuple[int, int], sizes: list[tuple[int, int]]) -> torch.Tensor:
    """(P, 4) prior boxes (cx, cy, w, h), relative to the image, row-major per feature map."""
    h, w = image_hw
    rows = []
    for (fh, fw), step, size in zip(sizes, PRIOR_STEPS, PRIOR_SIZES):
        # the reference divides by (image size / step), in float64, before storing float32
        cy, cx = np.meshgrid((np.arange(fh) + 0.5) / (h / step), (np.arange(fw) + 0.5) / (w / step), indexing="ij")
        rows.append(np.stack([cx.ravel(), cy.ravel(), np.full(cx.size, size / w), np.full(cx.size, size / h)], 1))
    return torch.from_numpy(np.concatenate(rows)).float()


def decode(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """SSD box decoding: offsets (P, 4) against priors (cx, cy, w, h) -> corners (x1, y1, x2, y2)."""
    centre = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    size = priors[:, 2:] * torch.exp(loc[:, 2:] * VARIANCES[1])
    corner = centre - size / 2
    return torch.cat([corner, corner + size], 1)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, top_k: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, best first. A box is dropped when its IoU
    with a kept box exceeds `threshold`; only the `top_k` best-scoring boxes are considered.
    Areas are (x2 - x1) * (y2 - y1), without the +1 of pixel-inclusive variants."""
    order = np.argsort(-scores, kind="stable")[:top_k]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = iw * ih
        with np.errstate(invalid="ignore", divide="ignore"):  # a NaN IoU (overflowed box) drops the box, as in torch
            order = rest[inter / (area[i] + area[rest] - inter) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def candidates(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """box_utils.Detect: indices of the priors kept for one image, best first (scores over
    0.05, NMS at IoU 0.3 over the 5000 best, at most 750)."""
    above = np.flatnonzero(scores > CANDIDATE_SCORE)
    return above[nms(boxes[above], scores[above], CANDIDATE_NMS, CANDIDATES_CONSIDERED)][:CANDIDATES_KEPT]


def select(boxes: torch.Tensor, scores: np.ndarray, frame_hw: tuple[int, int], conf_threshold: float) -> np.ndarray:
    """S3FD.detect_faces after the network: (k, 5) rows x1, y1, x2, y2 (frame pixels), score.
    `boxes`: every prior's decoded box relative to the frame (float32, as the reference scales it)."""
    kept = candidates(boxes.numpy(), scores)
    kept = kept[scores[kept] > conf_threshold]
    h, w = frame_hw
    pixels = (boxes[kept] * torch.tensor([w, h, w, h], dtype=torch.float32)).numpy()
    found = np.concatenate([pixels, scores[kept, None]], 1).astype(np.float64)
    return found[nms(found[:, :4], found[:, 4], FINAL_NMS)]


class S3FD:
    """A loaded detector: `detect(frame)` gives the faces of one RGB frame as run_pipeline.py asks."""

    def __init__(self, net: S3FDNet, device: str = "cpu", scale: float = SCALE, conf_threshold: float = CONF_THRESHOLD):
        self.net = net.to(device).eval()
        self.device = device
        self.scale = scale
        self.conf_threshold = conf_threshold

    def network_input(self, frame: np.ndarray) -> torch.Tensor:
        """(1, 3, h, w) float32: the RGB frame resized by `scale` (cv2 bilinear), channel means removed."""
        import cv2

        small = cv2.resize(frame, dsize=(0, 0), fx=self.scale, fy=self.scale, interpolation=cv2.INTER_LINEAR)
        x = small.transpose(2, 0, 1).astype(np.float32) - np.asarray(RGB_MEAN, np.float32)[:, None, None]
        return torch.from_numpy(x)[None]

    def priors_scored(self, frame: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Every prior's decoded box (P, 4), relative to the frame, and its face probability (P,)."""
        x = self.network_input(frame)
        with torch.inference_mode():
            loc, score, sizes = self.net(x.to(self.device))
            return decode(loc[0].cpu(), prior_boxes(tuple(x.shape[2:]), sizes)), score[0].cpu().numpy()

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """(k, 5) faces of one (H, W, 3) uint8 RGB frame: x1, y1, x2, y2 in frame pixels, score."""
        boxes, scores = self.priors_scored(frame)
        return select(boxes, scores, frame.shape[:2], self.conf_threshold)

    def detect_frames(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.detect(frame) for frame in frames]


def load_s3fd(path: Path, device: str = "cpu") -> S3FD:
    """The detector from a `sfd_face.pth` state dict (tensors only: weights_only=True, strict keys)."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    net = S3FDNet()
    missing, unexpected = set(net.state_dict()) - set(state), set(state) - set(net.state_dict())
    if missing or unexpected:
        raise ValueError(f"{path}: not an S3FD state dict (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    net.load_state_dict(state)
    return S3FD(net, device)
