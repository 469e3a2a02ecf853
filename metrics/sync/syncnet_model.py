"""SyncNet v2 (Chung & Zisserman, "Out of time", ACCV 2016 workshop), native PyTorch.

The layer layout and attribute names follow joonson/syncnet_python's `SyncNetModel.S`, so the
official `syncnet_v2.model` (a plain state dict: "netcnnaud.0.weight", ...) loads with strict key
matching. Inputs: lip stream (B, 3, 5, 224, 224) BGR pixel values 0-255, no normalisation;
audio stream (B, 1, 13, 20) MFCC (20 frames at 100 Hz = the same 0.2 s as the 5 video frames).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

EMBED_DIM = 1024
VIDEO_FRAMES = 5  # 0.2 s at 25 fps
MFCC_FRAMES = 20  # 0.2 s at 100 Hz
CROP = 224


def _conv2d(cin: int, cout: int, kernel, padding) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=kernel, stride=1, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _conv3d(cin: int, cout: int, kernel, stride=1, padding=0) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, kernel_size=kernel, stride=stride, padding=padding), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]


def _head(dim_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, dim_out))


class SyncNetV2(nn.Module):
    """Two-stream embedding network; the Sync metrics compare the two streams' L2 distances."""

    def __init__(self, embed_dim: int = EMBED_DIM):
        super().__init__()
        # Sequential indices must match the official file: a max-pool or ReLU occupies an index.
        self.netcnnaud = nn.Sequential(
            *_conv2d(1, 64, 3, 1), nn.MaxPool2d(kernel_size=1, stride=1),
            *_conv2d(64, 192, 3, 1), nn.MaxPool2d(kernel_size=3, stride=(1, 2)),
            *_conv2d(192, 384, 3, 1),
            *_conv2d(384, 256, 3, 1),
            *_conv2d(256, 256, 3, 1), nn.MaxPool2d(kernel_size=3, stride=2),
            *_conv2d(256, 512, (5, 4), 0),
        )
        self.netfcaud = _head(embed_dim)
        self.netfclip = _head(embed_dim)
        self.netcnnlip = nn.Sequential(
            *_conv3d(3, 96, (5, 7, 7), stride=(1, 2, 2)), nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)),
            *_conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv3d(256, 512, (1, 6, 6)),
        )

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCC -> (B, embed_dim)."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR 0-255 -> (B, embed_dim)."""
        return self.netfclip(self.netcnnlip(frames).flatten(1))


def load_syncnet(path: Path, device: str = "cpu") -> SyncNetV2:
    """Build SyncNet v2 from the official state-dict file (tensors only: weights_only=True)."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    model = SyncNetV2()
    expected = model.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    # files saved before PyTorch 0.4.1 carry no BatchNorm batch counters; nothing else may differ
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise ValueError(f"{path}: not a SyncNet v2 state dict (missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]})")
    model.load_state_dict(state, strict=not missing)
    return model.to(device).eval()
