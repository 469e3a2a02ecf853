"""Synchformer (Iashin et al., ICASSP 2024) in plain PyTorch, for DeSync.

The module and parameter names follow the checkpoint `synchformer_state_dict.pth` that
av-benchmark loads, so that file loads strictly. Layout:

- `vfeat_extractor`: a Motionformer-style video ViT (divided time-then-space attention) over
  16-frame 224 px segments cut into 2x16x16 tubelets (8 x 14 x 14 tokens), then a transformer
  layer with its own CLS token that pools the 196 patches of each of the 8 time steps.
- `afeat_extractor`: an Audio Spectrogram Transformer (as transformers' `ASTModel`, written out; 16x16 patches,
  stride 10) over a 128 x 66 log-mel segment (12 x 6 tokens + CLS + distillation), then a layer
  that pools the 12 frequency rows of each of the 6 time steps.
- `transformer`: a small pre-norm encoder over [OFF, video tokens, MOD, audio tokens] of a
  14-segment window; the OFF token's output is classified over 21 offsets.

`SynchformerConfig()` is the official size; smaller widths and depths exist for tests. The
token geometry is fixed by DeSync's preprocessing, so only widths, depths and heads vary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

IMAGE_SIZE, PATCH, TUBELET = 224, 16, 2
SEGMENT_FRAMES = 16
TIME_STEPS = SEGMENT_FRAMES // TUBELET  # video tokens per segment after spatial pooling
GRID = IMAGE_SIZE // PATCH  # 14 x 14 patches per frame
N_MELS, MEL_FRAMES, AUDIO_STRIDE = 128, 66, 10
FREQ_ROWS = (N_MELS - PATCH) // AUDIO_STRIDE + 1  # 12
AUDIO_STEPS = (MEL_FRAMES - PATCH) // AUDIO_STRIDE + 1  # 6
AST_LN_EPS = 1e-12  # transformers' ASTConfig default, which av-benchmark keeps
WINDOW_SEGMENTS = 14
N_CLASSES = 21


@dataclass(frozen=True)
class SynchformerConfig:
    dim: int = 768
    video_depth: int = 12
    video_heads: int = 12
    audio_depth: int = 12
    audio_heads: int = 12
    sync_depth: int = 3
    sync_heads: int = 8

    @classmethod
    def tiny(cls) -> "SynchformerConfig":
        return cls(dim=32, video_depth=1, video_heads=2, audio_depth=1, audio_heads=2, sync_depth=1, sync_heads=2)

    def to_dict(self) -> dict:
        return asdict(self)


# --- shared: a transformer layer that prepends a learned CLS token and returns its output ---

class ClsPoolingLayer(nn.TransformerEncoderLayer):
    """Pre-norm encoder layer (GELU, eps 1e-6) pooling a sequence into its CLS token."""

    def __init__(self, dim: int, heads: int):
        super().__init__(d_model=dim, nhead=heads, dim_feedforward=4 * dim, dropout=0.0, activation="gelu",
                         layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, L, D) -> (N, D)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return super().forward(x)[:, 0]


# --- video: Motionformer with divided space-time attention ---

class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DividedAttention(nn.Module):
    """Attention within groups of patch tokens (one time step, or one spatial position); the CLS
    token attends to every token and is a key/value of every group."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, over_time: bool) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        cls_out = F.scaled_dot_product_attention(q[:, :, :1], k, v)  # (b, h, 1, hd)
        grouped = [self._group(t[:, :, 1:], over_time) for t in (q, k, v)]  # (b, h, groups, len, hd)
        groups = grouped[0].shape[2]
        # every group also sees the CLS key and value
        gq, gk, gv = (g.flatten(1, 2) for g in grouped)
        gk, gv = (torch.cat((c[:, :, :1].repeat_interleave(groups, dim=1), g), dim=2) for c, g in ((k, gk), (v, gv)))
        out = F.scaled_dot_product_attention(gq, gk, gv).unflatten(1, grouped[0].shape[1:3])
        out = torch.cat((cls_out, self._ungroup(out, over_time)), dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))

    @staticmethod
    def _group(t: torch.Tensor, over_time: bool) -> torch.Tensor:
        b, h, n, hd = t.shape
        t = t.reshape(b, h, TIME_STEPS, n // TIME_STEPS, hd)  # tokens are ordered (time, patch)
        return t.transpose(2, 3) if over_time else t

    @staticmethod
    def _ungroup(t: torch.Tensor, over_time: bool) -> torch.Tensor:
        if over_time:
            t = t.transpose(2, 3)
        return t.flatten(2, 3)


class DividedSpaceTimeBlock(nn.Module):
    """Time attention, then space attention, then the MLP, each pre-norm and residual."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(dim, eps=1e-6) for _ in range(3))
        self.attn, self.timeattn = DividedAttention(dim, heads), DividedAttention(dim, heads)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.timeattn(self.norm3(x), over_time=True)
        x = x + self.attn(self.norm1(x), over_time=False)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.proj = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, ...) -> (N, tokens, D)
        return self.proj(x).flatten(2).transpose(1, 2)


class VideoFeatures(nn.Module):
    """(B, S, 3, 16, 224, 224) in [-1, 1] -> (B, S, 8, D): one feature per tubelet time step."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d = cfg.dim
        # the 2-D patch embedding is unused but part of the checkpoint
        self.patch_embed = PatchEmbed(nn.Conv2d(3, d, PATCH, stride=PATCH))
        self.patch_embed_3d = PatchEmbed(nn.Conv3d(3, d, (TUBELET, PATCH, PATCH), stride=(TUBELET, PATCH, PATCH)))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, GRID * GRID + 1, d))
        self.temp_embed = nn.Parameter(torch.zeros(1, TIME_STEPS, d))
        for p in (self.cls_token, self.pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(d, cfg.video_heads) for _ in range(cfg.video_depth))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.spatial_attn_agg = ClsPoolingLayer(d, cfg.video_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[:2]
        x = self.patch_embed_3d(x.flatten(0, 1))  # (BS, 8 * 196, D), ordered (time, patch)
        # separable position: a spatial embedding per patch plus a temporal one per time step
        pos = self.pos_embed[:, 1:].repeat(1, TIME_STEPS, 1) + self.temp_embed.repeat_interleave(GRID * GRID, dim=1)
        x = torch.cat((self.cls_token.expand(len(x), -1, -1) + self.pos_embed[:, :1], x + pos), dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x[:, 1:])
        pooled = self.spatial_attn_agg(x.reshape(len(x) * TIME_STEPS, GRID * GRID, -1))
        return pooled.view(b, s, TIME_STEPS, -1)


# --- audio: Audio Spectrogram Transformer ---

class ASTEmbeddings(nn.Module):
    """CLS and distillation tokens, then 16x16 patches of the (frequency, time) mel image, plus
    learned positions."""

    def __init__(self, dim: int, n_patches: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, n_patches + 2, dim))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(1, dim, PATCH, stride=AUDIO_STRIDE)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embeddings.projection(mel.unsqueeze(1).transpose(2, 3)).flatten(2).transpose(1, 2)
        b = len(mel)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.distillation_token.expand(b, -1, -1), patches], 1)
        return tokens + self.position_embeddings


class ASTLayer(nn.Module):
    """A pre-norm ViT layer, its modules named as transformers' AST layer names them (the names
    the published state dict carries)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.attention = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.attention, name, nn.Linear(dim, dim))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, 4 * dim)
        self.output = nn.Module()
        self.output.dense = nn.Linear(4 * dim, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=AST_LN_EPS)
        self.layernorm_after = nn.LayerNorm(dim, eps=AST_LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.layernorm_before(x)
        att = self.attention.attention
        q, k, v = (f(h).view(b, n, self.heads, d // self.heads).transpose(1, 2) for f in (att.query, att.key, att.value))
        ctx = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.attention.output.dense(ctx)
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))


class AST(nn.Module):
    """Audio Spectrogram Transformer (Gong et al. 2021), as av-benchmark builds it through
    transformers' `ASTModel`: written out here so that DeSync needs no transformers and loads the
    published state dict whatever names a transformers release gives its modules."""

    def __init__(self, dim: int, depth: int, heads: int):
        super().__init__()
        n_patches = FREQ_ROWS * AUDIO_STEPS
        self.embeddings = ASTEmbeddings(dim, n_patches)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(ASTLayer(dim, heads) for _ in range(depth))
        self.layernorm = nn.LayerNorm(dim, eps=AST_LN_EPS)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(N, time, frequency) log-mel -> (N, 2 + patches, dim) last hidden state."""
        x = self.embeddings(mel)
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


class AudioFeatures(nn.Module):
    """(B, S, 66, 128) log-mel (time, frequency) -> (B, S, 6, D): one feature per time step."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.ast = AST(cfg.dim, cfg.audio_depth, cfg.audio_heads)
        self.freq_attn_agg = ClsPoolingLayer(cfg.dim, cfg.audio_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[:2]
        tokens = self.ast(x.flatten(0, 1))[:, 2:]  # drop CLS, distillation
        # tokens are ordered (frequency row, time step); pool the rows of each time step
        tokens = tokens.unflatten(1, (FREQ_ROWS, AUDIO_STEPS)).transpose(1, 2)
        pooled = self.freq_attn_agg(tokens.flatten(0, 1))
        return pooled.view(b, s, AUDIO_STEPS, -1)


# --- the synchronisation classifier ---

class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.key, self.query, self.value, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (f(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for f in (self.query, self.key, self.value))
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class LearnedPositions(nn.Module):
    def __init__(self, length: int, dim: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.randn(1, length, dim))


class SyncTransformer(nn.Module):
    """Logits over the 21 offsets from a window's video and audio tokens."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        d = cfg.dim
        self.vis_in_lnorm, self.aud_in_lnorm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.OFF_tok = nn.Parameter(torch.randn(1, 1, d))
        self.MOD_tok = nn.Parameter(torch.randn(1, 1, d))
        self.pos_emb_cfg = LearnedPositions(2 + WINDOW_SEGMENTS * (TIME_STEPS + AUDIO_STEPS), d)
        self.blocks = nn.Sequential(*(Block(d, cfg.sync_heads) for _ in range(cfg.sync_depth)))
        self.ln_f = nn.LayerNorm(d)
        self.off_head = nn.Linear(d, N_CLASSES)

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        b = v.shape[0]
        x = torch.cat((self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(v),
                       self.MOD_tok.expand(b, -1, -1), self.aud_in_lnorm(a)), dim=1)
        x = self.ln_f(self.blocks(x + self.pos_emb_cfg.pos_emb))
        return self.off_head(x[:, 0])


class Synchformer(nn.Module):
    """The interface DeSync uses: `extract_vfeats`, `extract_afeats`, `compare_v_a`."""

    def __init__(self, cfg: SynchformerConfig | None = None):
        super().__init__()
        self.cfg = cfg or SynchformerConfig()
        self.vfeat_extractor = VideoFeatures(self.cfg)
        self.afeat_extractor = AudioFeatures(self.cfg)
        self.vproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.aproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.transformer = SyncTransformer(self.cfg)

    def extract_vfeats(self, vis: torch.Tensor) -> torch.Tensor:
        """(B, S, 16, 3, 224, 224) -> (B, S, 8, D)."""
        return self.vfeat_extractor(vis.transpose(2, 3))

    def extract_afeats(self, aud: torch.Tensor) -> torch.Tensor:
        """(B, S, 1, 128, 66) -> (B, S, 6, D)."""
        return self.afeat_extractor(aud.squeeze(2).transpose(2, 3))

    def compare_v_a(self, vis: torch.Tensor, aud: torch.Tensor) -> torch.Tensor:
        """(B, 14, 8, D) video and (B, 14, 6, D) audio features -> (B, 21) offset logits."""
        return self.transformer(self.vproj(vis).flatten(1, 2), self.aproj(aud).flatten(1, 2))
