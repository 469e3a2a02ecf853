"""MUSIQ (Ke et al., ICCV 2021), native PyTorch, loading pyiqa's converted checkpoints as they are.

Parameter names follow the checkpoint files (pyiqa's port of the official TF model) so that
`load_state_dict` is strict. The architecture sizes are read from the checkpoint, which lets tests
build tiny random checkpoints in the same format; attention heads (6) cannot be read from shapes
and are fixed as in every published MUSIQ checkpoint.

Input pipeline (official preprocessing): the image in [-1, 1] is resized (bicubic, aspect kept)
to longer sides 224 and 384, and each version plus the original resolution is cut into 32x32
patches with TF "SAME" padding; each patch carries a hashed 2-D grid position, a scale index and
a validity mask. Resized scales are zero-padded (or cut) to ceil(L / 32)^2 patches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

HEADS = 6  # every published MUSIQ checkpoint
STEM_CHANNELS = 64  # ResNet token stem width, fixed by the architecture
MASK_FILL = -1e3  # the official model masks padded tokens with -1e3, not -inf


@dataclass(frozen=True)
class MusiqConfig:
    hidden: int = 384
    mlp_dim: int = 1152
    layers: int = 14
    grid: int = 10  # hashed spatial position grid (grid x grid)
    scales: int = 3  # resized scales + the original resolution
    num_classes: int = 1
    patch: int = 32
    longer_sides: tuple[int, ...] = (224, 384)

    @classmethod
    def from_state_dict(cls, sd: dict) -> "MusiqConfig":
        layers = len({k.split(".")[2] for k in sd if k.startswith("transformer_encoder.transformer.")})
        return cls(hidden=sd["embedding.weight"].shape[0],
                   mlp_dim=sd["transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight"].shape[0],
                   layers=layers,
                   grid=math.isqrt(sd["transformer_encoder.posembed_input.position_emb"].shape[1]),
                   scales=sd["transformer_encoder.scaleembed_input.scale_emb"].shape[0],
                   num_classes=sd["head.weight"].shape[0] if "head.weight" in sd else sd["head.0.weight"].shape[0])


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero padding equal to TensorFlow's "SAME" (extra pixel at the bottom/right)."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class StdConv(nn.Conv2d):
    """Conv with weight standardisation (BiT), SAME padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(same_pad(x, self.kernel_size[0], self.stride[0]), w, self.bias, self.stride)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.gn1 = StdConv(cin, cin, 1, bias=False), nn.GroupNorm(32, cin, eps=1e-4)
        self.conv2, self.gn2 = StdConv(cin, cin, 3, bias=False), nn.GroupNorm(32, cin, eps=1e-4)
        self.conv3, self.gn3 = StdConv(cin, cout, 1, bias=False), nn.GroupNorm(32, cout, eps=1e-4)
        self.conv_proj, self.gn_proj = StdConv(cin, cout, 1, bias=False), nn.GroupNorm(32, cout, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)))
        y = F.relu(self.gn2(self.conv2(y)))
        return F.relu(self.gn3(self.conv3(y)) + skip)


class Attention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = (proj(x).view(b, n, HEADS, c // HEADS).transpose(1, 2) for proj in (self.query, self.key, self.value))
        att = (q @ k.transpose(-2, -1)) * (c // HEADS) ** -0.5
        pair = mask[:, None, :, None] * mask[:, None, None, :]
        att = att.masked_fill(pair == 0, MASK_FILL).softmax(dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, mlp_dim: int):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(dim, eps=1e-6), Attention(dim)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class _Table(nn.Module):
    """A learned embedding table under the parameter name the checkpoint uses."""

    def __init__(self, name: str, *shape: int):
        super().__init__()
        self.name = name
        self.register_parameter(name, nn.Parameter(torch.zeros(*shape)))

    def lookup(self, index: torch.Tensor) -> torch.Tensor:
        table = getattr(self, self.name)
        return table.reshape(-1, table.shape[-1])[index]


class Encoder(nn.Module):
    def __init__(self, cfg: MusiqConfig):
        super().__init__()
        self.posembed_input = _Table("position_emb", 1, cfg.grid * cfg.grid, cfg.hidden)
        self.scaleembed_input = _Table("scale_emb", cfg.scales, cfg.hidden)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.hidden))
        self.encoder_norm = nn.LayerNorm(cfg.hidden, eps=1e-6)
        self.transformer = nn.ModuleDict({f"encoderblock_{i}": EncoderBlock(cfg.hidden, cfg.mlp_dim)
                                          for i in range(cfg.layers)})

    def forward(self, x, spatial, scale, mask) -> torch.Tensor:
        x = x + self.posembed_input.lookup(spatial) + self.scaleembed_input.lookup(scale)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for block in self.transformer.values():
            x = block(x, mask)
        return self.encoder_norm(x)


class Musiq(nn.Module):
    def __init__(self, cfg: MusiqConfig):
        super().__init__()
        self.cfg = cfg
        c = STEM_CHANNELS
        self.conv_root = StdConv(3, c, 7, 2, bias=False)
        self.gn_root = nn.GroupNorm(32, c, eps=1e-6)
        self.block1 = Bottleneck(c, 4 * c)
        self.embedding = nn.Linear(4 * c * (cfg.patch // 4) ** 2, cfg.hidden)
        self.transformer_encoder = Encoder(cfg)
        head = nn.Linear(cfg.hidden, cfg.num_classes)
        # 1-class checkpoints (KonIQ, SPAQ) store `head.*`; 10-class AVA ones a softmax Sequential.
        self.head = head if cfg.num_classes == 1 else nn.Sequential(head, nn.Softmax(dim=-1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 1] -> quality (B,) (mean opinion score scale of the checkpoint)."""
        patches, spatial, scale, mask = multiscale_patches(images * 2.0 - 1.0, self.cfg)
        b, n, _ = patches.shape
        p = self.cfg.patch
        x = patches.reshape(b * n, 3, p, p)
        x = F.relu(self.gn_root(self.conv_root(x)))
        x = self.block1(F.max_pool2d(same_pad(x, 3, 2), 3, 2))
        x = self.embedding(x.permute(0, 2, 3, 1).reshape(b, n, -1))  # TF channel-last flattening
        q = self.head(self.transformer_encoder(x, spatial, scale, mask)[:, 0])
        if self.cfg.num_classes == 1:
            return q[:, 0]
        return (q * torch.arange(1, self.cfg.num_classes + 1, device=q.device, dtype=q.dtype)).sum(-1)


def hashed_positions(grid: int, rows: int, cols: int) -> torch.Tensor:
    """Row-major (rows*cols,) indices into a grid x grid table, by nearest-neighbour hashing."""
    g = torch.arange(grid, dtype=torch.float32).view(1, 1, grid)
    r = F.interpolate(g, size=rows, mode="nearest").view(rows, 1)
    c = F.interpolate(g, size=cols, mode="nearest").view(1, cols)
    return (r * grid + c).reshape(-1).long()


def _patches_at(x: torch.Tensor, cfg: MusiqConfig, scale_id: int, max_len: int | None):
    b, _, h, w = x.shape
    p = cfg.patch
    tokens = F.unfold(same_pad(x, p, p), p, stride=p).transpose(1, 2)  # (B, n, 3*p*p)
    n = tokens.shape[1]
    spatial = hashed_positions(cfg.grid, math.ceil(h / p), math.ceil(w / p)).to(x.device).expand(b, n)
    scale = torch.full((b, n), scale_id, dtype=torch.long, device=x.device)
    mask = torch.ones((b, n), dtype=torch.long, device=x.device)  # long: F.pad has no bool
    if max_len is not None:  # zero-pad (masked, position 0, scale 0) or cut to max_len
        extra = max(0, max_len - n)
        tokens = F.pad(tokens, (0, 0, 0, extra))[:, :max_len]
        spatial, scale, mask = (F.pad(t, (0, extra))[:, :max_len] for t in (spatial, scale, mask))
    return tokens, spatial, scale, mask


def multiscale_patches(x: torch.Tensor, cfg: MusiqConfig):
    """(B, 3, H, W) in [-1, 1] -> patches (B, N, 3*p*p), spatial, scale and 0/1 mask (B, N)."""
    h, w = x.shape[-2:]
    parts = []
    for scale_id, side in enumerate(sorted(cfg.longer_sides)):
        ratio = side / max(h, w)
        resized = F.interpolate(x, size=(round(h * ratio), round(w * ratio)), mode="bicubic", align_corners=False)
        parts.append(_patches_at(resized, cfg, scale_id, math.ceil(side / cfg.patch) ** 2))
    parts.append(_patches_at(x, cfg, len(cfg.longer_sides), None))
    return tuple(torch.cat(t, dim=1) for t in zip(*parts))
