"""Building blocks shared by both branches and the interaction module.

Module and parameter names follow diffusers' Wan port (to_q/to_k/to_v/to_out.0, norm_q/norm_k,
ffn.net.0.proj/ffn.net.2, condition_embedder.*) so that Wan2.2 checkpoints load by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_sinusoid(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[cos | sin] embedding of timesteps (diffusers `Timesteps(flip_sin_to_cos=True, shift=0)`)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_angles(positions: torch.Tensor, dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin (..., N, dim) for real-valued positions; each frequency repeated for its pair.

    Positions may be fractional: that is how audio frames get the video timeline (Eq. 5 preamble).
    """
    freqs = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64, device=positions.device)[: dim // 2] / dim)
    angles = positions.double()[..., None] * freqs
    return angles.cos().repeat_interleave(2, -1), angles.sin().repeat_interleave(2, -1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs of x (B, N, H, D) by angles broadcast as (B|1, N, 1, D), in float32.

    The pair (x1, x2) times (cos + i sin) as one complex product, as Wan does: the same products
    and sums as x1 cos - x2 sin, x1 sin + x2 cos, in one pass over x instead of six.
    """
    rotation = torch.complex(cos[..., 0::2].float(), sin[..., 1::2].float())
    pairs = torch.view_as_complex(x.float().contiguous().unflatten(-1, (-1, 2)))
    return torch.view_as_real(pairs * rotation).flatten(-2).type_as(x)


class Attention(nn.Module):
    """Multi-head attention with RMS-normalised queries and keys across heads (Wan's qk-norm).

    `kv_dim` differs from `dim` when the keys come from the other branch.
    """

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, eps: float = 1e-6):
        super().__init__()
        self.heads = heads
        kv_dim = kv_dim or dim
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(kv_dim, dim)
        self.to_v = nn.Linear(kv_dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.norm_q = nn.RMSNorm(dim, eps=eps)
        self.norm_k = nn.RMSNorm(dim, eps=eps)

    def project(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Queries from x, keys/values from context, each (B, N, H, D)."""
        q = self.norm_q(self.to_q(x)).unflatten(2, (self.heads, -1))
        k = self.norm_k(self.to_k(context)).unflatten(2, (self.heads, -1))
        v = self.to_v(context).unflatten(2, (self.heads, -1))
        return q, k, v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                rope_q: tuple[torch.Tensor, torch.Tensor] | None = None,
                rope_k: tuple[torch.Tensor, torch.Tensor] | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self.project(x, x if context is None else context)
        if rope_q is not None:
            q = apply_rope(q, *rope_q)
        if rope_k is not None:
            k = apply_rope(k, *rope_k)
        return self.to_out[0](attend(q, k, v, mask))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
           mask: "torch.Tensor | BandMask | None" = None) -> torch.Tensor:
    """SDPA on (B, N, H, D) tensors; `mask` (Nq, Nk) bool, True = may attend. Returns (B, Nq, H*D)."""
    if isinstance(mask, BandMask):
        return mask.attend(q, k, v)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2).flatten(2)


class BandMask:
    """A mask whose allowed keys lie in a narrow band (GLDI's windows: each frame sees its neighbours).

    Queries go in runs of `run` consecutive rows; each run reads only the span of keys that any of
    its rows may see, with the exact per-row mask inside that span. The keys outside get weight
    exactly 0 under the dense mask as well, so the result is masked SDPA's up to float rounding,
    at a fraction of the cost (5 s at 12 fps: 960 video tokens read ~16 of 312 audio latents).
    """

    RUNS = (8, 16, 32, 64)
    RUN_OVERHEAD = 256  # the cost of one more run, in query-key pairs (measured on a CPU core)

    def __init__(self, dense: torch.Tensor):
        self.dense = dense
        self.run, self.index, self.allowed = min((self._plan(run) for run in self.RUNS), key=self._cost)

    def _plan(self, run: int) -> tuple[int, torch.Tensor, torch.Tensor]:
        nq, nk = self.dense.shape
        # padded rows repeat the last row (a row that sees nothing would put NaN into the gradients
        # of every key, even with its output cut)
        rows = torch.cat([self.dense, self.dense[-1:].expand(-nq % run, nk)])
        runs = rows.view(-1, run, nk)
        seen = runs.any(1)  # (G, Nk)
        first = seen.int().argmax(1)
        span = nk - seen.flip(1).int().argmax(1) - first
        width = max(1, int(span.max()))
        slots = torch.arange(width, device=rows.device)
        index = (first[:, None] + slots).clamp(max=nk - 1)  # (G, L)
        allowed = runs.gather(2, index[:, None].expand(-1, run, -1)) & (slots < span[:, None])[:, None]
        return run, index, allowed  # allowed (G, run, L)

    def _cost(self, plan: tuple[int, torch.Tensor, torch.Tensor]) -> int:
        run, index, _ = plan
        return index.shape[0] * (run * index.shape[1] + self.RUN_OVERHEAD)

    @property
    def worthwhile(self) -> bool:
        return self._cost((self.run, self.index, self.allowed)) < self.dense.numel() // 2

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, nq, h, d = q.shape
        runs = self.index.shape[0]
        q = F.pad(q, (0, 0, 0, 0, 0, runs * self.run - nq))

        def spans(x: torch.Tensor) -> torch.Tensor:  # (B, Nk, H, D) -> (B * G, H, L, D)
            return x[:, self.index].permute(0, 1, 3, 2, 4).flatten(0, 1)

        q = q.view(b, runs, self.run, h, d).permute(0, 1, 3, 2, 4).flatten(0, 1)
        mask = self.allowed[:, None].repeat(b, 1, 1, 1)
        out = F.scaled_dot_product_attention(q, spans(k), spans(v), attn_mask=mask)
        return out.unflatten(0, (b, runs)).permute(0, 1, 3, 2, 4).reshape(b, runs * self.run, h * d)[:, :nq]


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


class _GeluProj(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _gelu_tanh(self.proj(x))


class FeedForward(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        # index 1 is diffusers' dropout slot: kept so that checkpoint keys (net.0 / net.2) line up
        self.net = nn.Sequential(_GeluProj(dim, inner), nn.Identity(), nn.Linear(inner, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TwoLayerMLP(nn.Module):
    """linear_1 -> activation -> linear_2: diffusers' TimestepEmbedding (SiLU) and
    PixArtAlphaTextProjection (tanh GELU) share these parameter names."""

    def __init__(self, in_dim: int, dim: int, activation):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.activation(self.linear_1(x)))


class ConditionEmbedder(nn.Module):
    """Timestep -> (temb, 6 modulation vectors), and caption features -> model width (Wan)."""

    def __init__(self, dim: int, freq_dim: int, text_dim: int, modulations: int = 6):
        super().__init__()
        self.freq_dim = freq_dim
        self.time_embedder = TwoLayerMLP(freq_dim, dim, F.silu)
        self.time_proj = nn.Linear(dim, dim * modulations)
        self.text_embedder = TwoLayerMLP(text_dim, dim, _gelu_tanh)

    def time(self, timestep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """timestep (B,) or (B, N) in [0, 1000] -> temb (..., dim), modulation (..., 6, dim)."""
        # per-token timesteps take few distinct values (reference tokens at 0, the rest at t):
        # embed each value once and gather, which gives the same numbers at a fraction of the cost
        values, index = torch.unique(timestep, return_inverse=True)
        dtype = self.time_embedder.linear_1.weight.dtype
        temb = self.time_embedder(timestep_sinusoid(values, self.freq_dim).to(dtype))
        proj = self.time_proj(F.silu(temb)).unflatten(-1, (-1, temb.shape[-1]))
        return temb[index], proj[index]

    def forward(self, timestep: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return *self.time(timestep), self.text_embedder(text.to(self.text_embedder.linear_1.weight.dtype))


def modulate(x: torch.Tensor, norm: nn.Module, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return norm(x.float()) * (1 + scale) + shift


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the parameter dtype (as Wan keeps its norms)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).to(x.dtype)


def layer_norm(dim: int, eps: float, affine: bool = False) -> FP32LayerNorm:
    return FP32LayerNorm(dim, eps=eps, elementwise_affine=affine)
