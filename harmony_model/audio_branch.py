"""Audio branch: an MM-DiT (Eq. 2) over concat(z'_a,t, e_speech, e_prompt).

Two token streams share one joint attention per block, each with its own weights (SD3's MM-DiT):
the latent stream [reference-audio latent z_r | noisy audio latent z_a,t] and the text stream
[transcript tokens e_speech | audio-caption tokens e_prompt]. The latent stream is modulated per
token: reference tokens are clean (t = 0), target tokens carry t_a; the text stream is modulated
by t_a. RoPE positions run along the latent stream; transcript tokens are placed from the start
of the target (as F5-TTS aligns characters with frames); caption tokens get no rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from harmony_model.config import AudioBranchConfig
from harmony_model.layers import (Attention, ConditionEmbedder, FeedForward, apply_rope, attend, layer_norm,
                                  modulate, rope_angles)
from harmony_model.text import TranscriptEncoder


@dataclass
class AudioTokens:
    x: torch.Tensor  # (B, R + Ta, dim): reference tokens then target tokens
    ctx: torch.Tensor  # (B, Ls + Lp, dim): transcript then caption tokens
    temb: torch.Tensor  # (B, R + Ta, dim)
    modulation: torch.Tensor  # (B, R + Ta, 6, dim)
    ctx_modulation: torch.Tensor  # (B, 6, dim)
    rope: tuple[torch.Tensor, torch.Tensor]  # over the joint sequence, (1, N, 1, head_dim)
    ref_len: int


class MMDiTBlock(nn.Module):
    def __init__(self, cfg: AudioBranchConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = layer_norm(d, cfg.eps)
        self.norm1_context = layer_norm(d, cfg.eps)
        self.attn = Attention(d, cfg.heads, eps=cfg.eps)
        self.attn_context = Attention(d, cfg.heads, eps=cfg.eps)
        self.norm2 = layer_norm(d, cfg.eps)
        self.norm2_context = layer_norm(d, cfg.eps)
        self.ffn = FeedForward(d, cfg.ffn_dim)
        self.ffn_context = FeedForward(d, cfg.ffn_dim)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, d) / d**0.5)
        self.context_scale_shift_table = nn.Parameter(torch.randn(1, 6, d) / d**0.5)

    def forward(self, tok: AudioTokens) -> tuple[torch.Tensor, torch.Tensor]:
        x, c = tok.x, tok.ctx
        shift, scale, gate, f_shift, f_scale, f_gate = (self.scale_shift_table[None] + tok.modulation).unbind(2)
        c_mod = (self.context_scale_shift_table + tok.ctx_modulation)[:, :, None]  # (B, 6, 1, d)
        cs, cc, cg, cf_shift, cf_scale, cf_gate = c_mod.unbind(1)
        # 1. joint attention over [latents | text] (Eq. 2), each stream with its own projections
        hx = modulate(x, self.norm1, shift, scale).type_as(x)
        hc = modulate(c, self.norm1_context, cs, cc).type_as(c)
        qx, kx, vx = self.attn.project(hx, hx)
        qc, kc, vc = self.attn_context.project(hc, hc)
        q, k, v = torch.cat([qx, qc], 1), torch.cat([kx, kc], 1), torch.cat([vx, vc], 1)
        out = attend(apply_rope(q, *tok.rope), apply_rope(k, *tok.rope), v)
        n = x.shape[1]
        x = x + self.attn.to_out[0](out[:, :n]) * gate
        c = c + self.attn_context.to_out[0](out[:, n:]) * cg
        # 2. feed-forward per stream
        x = x + self.ffn(modulate(x, self.norm2, f_shift, f_scale).type_as(x)) * f_gate
        c = c + self.ffn_context(modulate(c, self.norm2_context, cf_shift, cf_scale).type_as(c)) * cf_gate
        return x, c


class AudioBranch(nn.Module):
    def __init__(self, cfg: AudioBranchConfig, layers: int):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.proj_in = nn.Linear(cfg.latent_channels, d)
        self.condition_embedder = ConditionEmbedder(d, cfg.freq_dim, cfg.text_dim)
        self.transcript_encoder = TranscriptEncoder(cfg.transcript_vocab, d, cfg.transcript_convnext_layers,
                                                    cfg.transcript_max_len)
        self.blocks = nn.ModuleList([MMDiTBlock(cfg) for _ in range(layers)])
        self.norm_out = layer_norm(d, cfg.eps)
        self.proj_out = nn.Linear(d, cfg.latent_channels)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, d) / d**0.5)

    def embed(self, ref: torch.Tensor, target: torch.Tensor, timestep: torch.Tensor,
              transcript_ids: torch.Tensor, caption: torch.Tensor) -> AudioTokens:
        """ref (B, R, C) clean, target (B, Ta, C) noisy, timestep (B,) in [0, 1000] for the target,
        transcript_ids (B, Ls), caption (B, Lp, text_dim)."""
        r, ta = ref.shape[1], target.shape[1]
        x = self.proj_in(torch.cat([ref, target], 1))
        per_token = torch.cat([timestep.new_zeros(len(timestep), r), timestep[:, None].expand(-1, ta)], 1)
        temb, modulation, prompt = self.condition_embedder(per_token, caption)
        _, ctx_modulation = self.condition_embedder.time(timestep)
        speech = self.transcript_encoder(transcript_ids)
        ctx = torch.cat([speech, prompt], 1)
        positions = torch.cat([torch.arange(r + ta), r + torch.arange(speech.shape[1]),
                               torch.zeros(prompt.shape[1])]).to(x.device)
        cos, sin = rope_angles(positions, self.cfg.dim // self.cfg.heads)
        rope = (cos.float()[None, :, None], sin.float()[None, :, None])
        return AudioTokens(x, ctx, temb, modulation, ctx_modulation, rope, r)

    def run_block(self, i: int, tok: AudioTokens) -> tuple[torch.Tensor, torch.Tensor]:
        return self.blocks[i](tok)

    def unembed(self, x: torch.Tensor, tok: AudioTokens) -> torch.Tensor:
        """Velocity of the target latent only (B, Ta, C); the reference tokens are context."""
        shift, scale = (self.scale_shift_table[None] + tok.temb[:, :, None]).unbind(2)
        out = self.proj_out(modulate(x, self.norm_out, shift, scale).type_as(x))
        return out[:, tok.ref_len:]
