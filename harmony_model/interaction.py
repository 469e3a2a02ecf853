"""Global-Local Decoupled Interaction (section 3.3), one instance between each pair of blocks.

- Local: RoPE-aligned frame-wise cross-attention in both directions (Eq. 5-6). Audio latent j
  gets the temporal RoPE position j * Tv/Ta (the video timeline) when `rope_align` is on, plain j
  when off. Each video frame attends only to audio frames whose time lies within `window` video
  frames of its own, and each audio frame only to the video frames within the same distance
  (band masks in one SDPA call, which equals Eq. 5's per-frame loop; on long clips each run of
  queries reads only the keys of its band, layers.BandMask).
- Global: the reference-audio latent queries every video token (Eq. 7); the updated z_r is what
  the audio branch prepends in the next block.
- `mode="global"` is the Ovi-like baseline of Table 3: full cross-attention both ways, no window.

The output projections start at zero, so an untrained interaction leaves both branches as they are
(the video branch stays exactly Wan at initialisation).
"""

from __future__ import annotations

import torch
from torch import nn

from harmony_model.config import InteractionConfig
from harmony_model.layers import Attention, BandMask, rope_angles


def window_mask(video_frames: int, audio_frames: int, window: float) -> torch.Tensor:
    """(Tv, Ta) bool: True where audio frame j lies within `window` video frames of video frame i,
    measured on the video timeline (audio time j * Tv/Ta)."""
    audio_time = torch.arange(audio_frames, dtype=torch.float64) * (video_frames / audio_frames)
    video_time = torch.arange(video_frames, dtype=torch.float64)
    return (audio_time[None, :] - video_time[:, None]).abs() <= window + 1e-9


def audio_positions(video_frames: int, audio_frames: int, rope_align: bool) -> torch.Tensor:
    """Temporal RoPE positions of the audio latents: j * Tv/Ta aligned, else j."""
    j = torch.arange(audio_frames, dtype=torch.float64)
    return j * (video_frames / audio_frames) if rope_align else j


class CrossModalAttention(nn.Module):
    """Pre-normed cross-attention from one modality to the other, with temporal RoPE and a mask."""

    def __init__(self, dim: int, context_dim: int, heads: int, eps: float = 1e-6, rope: bool = True):
        super().__init__()
        self.heads, self.use_rope = heads, rope
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.norm_context = nn.LayerNorm(context_dim, eps=eps)
        self.attn = Attention(dim, heads, kv_dim=context_dim, eps=eps)
        nn.init.zeros_(self.attn.to_out[0].weight)
        nn.init.zeros_(self.attn.to_out[0].bias)

    def forward(self, x: torch.Tensor, x_time: "Positions | None", context: torch.Tensor,
                context_time: "Positions | None", mask: "torch.Tensor | BandMask | None") -> torch.Tensor:
        """The residual update Delta x (Eq. 5); x_time (Nq,), context_time (Nk,) temporal positions."""
        rope_q = rope_k = None
        if self.use_rope:
            head_dim = x.shape[-1] // self.heads
            rope_q, rope_k = x_time.rope(head_dim), context_time.rope(head_dim)
        return self.attn(self.norm(x), self.norm_context(context), rope_q, rope_k, mask)


class Positions:
    """Temporal positions of one token sequence, with their RoPE tables computed once per head size."""

    def __init__(self, time: torch.Tensor):
        self.time = time
        self._tables: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def rope(self, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        if head_dim not in self._tables:
            cos, sin = rope_angles(self.time, head_dim)
            self._tables[head_dim] = cos.float()[None, :, None], sin.float()[None, :, None]
        return self._tables[head_dim]


class InteractionLayer(nn.Module):
    def __init__(self, cfg: InteractionConfig, video_dim: int, audio_dim: int, heads: int, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        self.a2v = CrossModalAttention(video_dim, audio_dim, heads, eps)
        self.v2a = CrossModalAttention(audio_dim, video_dim, heads, eps)
        self.style = CrossModalAttention(audio_dim, video_dim, heads, eps, rope=False) if cfg.global_style else None

    def forward(self, v: torch.Tensor, a: torch.Tensor, r: torch.Tensor, geometry: "InteractionGeometry"
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """v (B, Nv, Dv) video tokens, a (B, Ta, Da) target audio, r (B, R, Da) reference audio.
        Returns the updated (v, a, r) (Eq. 6 and Eq. 7); both directions read the same inputs."""
        g = geometry
        dv = self.a2v(v, g.video_time, a, g.audio_time, g.video_to_audio)
        da = self.v2a(a, g.audio_time, v, g.video_time, g.audio_to_video)
        if self.style is not None and r.shape[1] > 0:
            r = r + self.style(r, None, v, None, None)
        return v + dv, a + da, r


def band_or_dense(mask: torch.Tensor) -> "BandMask | torch.Tensor":
    """The window mask as a BandMask where that reads fewer keys (long clips), else as it is."""
    band = BandMask(mask)
    return band if band.worthwhile else mask


class InteractionGeometry:
    """Positions and masks of one forward pass, shared by every interaction layer."""

    def __init__(self, cfg: InteractionConfig, frame_of_token: torch.Tensor, video_frames: int, audio_frames: int):
        device = frame_of_token.device
        self.video_time = Positions(frame_of_token.double())
        self.audio_time = Positions(audio_positions(video_frames, audio_frames, cfg.rope_align).to(device))
        if cfg.mode == "gldi":
            frames = window_mask(video_frames, audio_frames, cfg.window).to(device)
            if not (frames.any(0).all() and frames.any(1).all()):
                raise ValueError(f"interaction window {cfg.window} leaves frames with nothing to attend to "
                                 f"({video_frames} video / {audio_frames} audio latents); use window >= 0.5")
            dense = frames[frame_of_token]  # (Nv, Ta)
            self.video_to_audio, self.audio_to_video = (band_or_dense(m) for m in (dense, dense.T.contiguous()))
        else:
            self.video_to_audio = self.audio_to_video = None
