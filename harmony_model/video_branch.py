"""Video branch: a Wan2.2-TI2V-style DiT (patchify, 3D RoPE, per-token adaLN, caption cross-attention).

Parameter names equal diffusers' `WanTransformer3DModel`, so `load_state_dict` takes a Wan2.2
checkpoint in diffusers format unchanged (harmony_model/pretrained.py; checked against diffusers in
tests/harmony_model/test_wan_equivalence.py). The Harmony model runs `embed`, the blocks (with
the interaction module between them) and `unembed` itself; `forward` is the plain Wan forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from harmony_model.config import VideoBranchConfig
from harmony_model.layers import Attention, ConditionEmbedder, FeedForward, layer_norm, modulate, rope_angles


@dataclass
class VideoTokens:
    x: torch.Tensor  # (B, N, dim) tokens, frame-major
    temb: torch.Tensor  # (B, N, dim) per-token timestep embedding
    modulation: torch.Tensor  # (B, N, 6, dim)
    context: torch.Tensor  # (B, L, dim) projected caption
    rope: tuple[torch.Tensor, torch.Tensor]  # (1, N, 1, head_dim) each
    grid: tuple[int, int, int]  # latent frames, patch rows, patch columns
    frame_of_token: torch.Tensor  # (N,) latent frame index of each token


class WanBlock(nn.Module):
    def __init__(self, cfg: VideoBranchConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = layer_norm(d, cfg.eps)
        self.attn1 = Attention(d, cfg.heads, eps=cfg.eps)
        self.attn2 = Attention(d, cfg.heads, eps=cfg.eps)
        self.norm2 = layer_norm(d, cfg.eps, affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.ffn = FeedForward(d, cfg.ffn_dim)
        self.norm3 = layer_norm(d, cfg.eps)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, d) / d**0.5)

    def forward(self, x: torch.Tensor, context: torch.Tensor, modulation: torch.Tensor,
                rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        shift, scale, gate, c_shift, c_scale, c_gate = (self.scale_shift_table[None] + modulation.float()).unbind(2)
        # 1. self-attention with 3D RoPE
        h = modulate(x, self.norm1, shift, scale).type_as(x)
        x = (x.float() + self.attn1(h, rope_q=rope, rope_k=rope) * gate).type_as(x)
        # 2. caption cross-attention
        x = x + self.attn2(self.norm2(x.float()).type_as(x), context)
        # 3. feed-forward
        h = modulate(x, self.norm3, c_shift, c_scale).type_as(x)
        return (x.float() + self.ffn(h).float() * c_gate).type_as(x)


class WanVideoBranch(nn.Module):
    def __init__(self, cfg: VideoBranchConfig):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.dim, cfg.patch_size
        self.patch_embedding = nn.Conv3d(cfg.in_channels, d, kernel_size=p, stride=p)
        self.condition_embedder = ConditionEmbedder(d, cfg.freq_dim, cfg.text_dim)
        self.blocks = nn.ModuleList([WanBlock(cfg) for _ in range(cfg.layers)])
        self.norm_out = layer_norm(d, cfg.eps)
        self.proj_out = nn.Linear(d, cfg.in_channels * p[0] * p[1] * p[2])
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, d) / d**0.5)

    @property
    def head_dim(self) -> int:
        return self.cfg.dim // self.cfg.heads

    def rope(self, grid: tuple[int, int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """3D RoPE: the head dim splits into t / h / w parts (Wan: h = w = 2 * (head_dim // 6))."""
        f, h, w = grid
        hw_dim = 2 * (self.head_dim // 6)
        t_dim = self.head_dim - 2 * hw_dim
        axes = torch.meshgrid(*(torch.arange(n, device=device) for n in grid), indexing="ij")
        parts = [rope_angles(a.flatten(), dim) for a, dim in zip(axes, (t_dim, hw_dim, hw_dim))]
        cos = torch.cat([c for c, _ in parts], -1).float()
        sin = torch.cat([s for _, s in parts], -1).float()
        return cos[None, :, None], sin[None, :, None]

    def embed(self, latent: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor) -> VideoTokens:
        """latent (B, C, F, H, W); timestep (B,) or per token (B, N); text (B, L, text_dim)."""
        x = self.patch_embedding(latent)
        grid = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        if timestep.ndim == 1:
            timestep = timestep[:, None].expand(-1, x.shape[1])
        temb, modulation, context = self.condition_embedder(timestep, text)
        frame_of_token = torch.arange(grid[0], device=x.device).repeat_interleave(grid[1] * grid[2])
        return VideoTokens(x, temb, modulation, context, self.rope(grid, x.device), grid, frame_of_token)

    def run_block(self, i: int, tok: VideoTokens) -> torch.Tensor:
        return self.blocks[i](tok.x, tok.context, tok.modulation, tok.rope)

    def unembed(self, x: torch.Tensor, tok: VideoTokens) -> torch.Tensor:
        """Final adaLN, projection and unpatchify back to (B, C, F, H, W)."""
        shift, scale = (self.scale_shift_table[None] + tok.temb[:, :, None]).unbind(2)
        x = self.proj_out(modulate(x, self.norm_out, shift, scale).type_as(x))
        f, h, w = tok.grid
        pt, ph, pw = self.cfg.patch_size
        x = x.reshape(x.shape[0], f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(x.shape[0], x.shape[1], f * pt, h * ph, w * pw)

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Wan alone (no interaction): the velocity for `latent`."""
        tok = self.embed(latent, timestep, text)
        for i in range(len(self.blocks)):
            tok.x = self.run_block(i, tok)
        return self.unembed(tok.x, tok)
