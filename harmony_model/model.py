"""The Harmony dual-branch model: video DiT + audio MM-DiT, coupled by GLDI at every layer.

Inputs are latents (the codecs live in harmony_model/codecs.py) and separate noise levels for the
two branches, sigma_v and sigma_a in [0, 1] (timestep = 1000 sigma): sigma_a = 0 is the
audio-driven task and sigma_v = 0 the video-driven task of Cross-Task Synergy (section 3.2).
The output is the flow-matching velocity of both latents.

Weights are saved as `model.safetensors` beside `config.json` (`save_pretrained` /
`from_pretrained`). A T5 caption encoder (paper scale) is frozen, external and never saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from harmony_model.audio_branch import AudioBranch
from harmony_model.config import HarmonyConfig
from harmony_model.interaction import InteractionGeometry, InteractionLayer
from harmony_model.text import LearnedCaptionEncoder, byte_tokens
from harmony_model.video_branch import WanVideoBranch

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


@dataclass
class Conditions:
    """Encoded text conditions of a batch."""

    video_text: torch.Tensor  # (B, L, text_dim) video caption features
    audio_text: torch.Tensor  # (B, L, text_dim) audio caption features (e_prompt)
    transcript_ids: torch.Tensor  # (B, Ls) transcript bytes (e_speech is computed inside)

    def repeat(self, n: int) -> "Conditions":
        """The batch stacked n times (one copy per task / guidance pass)."""
        return Conditions(*(t.repeat(n, *([1] * (t.ndim - 1))) for t in
                            (self.video_text, self.audio_text, self.transcript_ids)))

    @staticmethod
    def cat(parts: list["Conditions"]) -> "Conditions":
        return Conditions(*(torch.cat(ts) for ts in zip(*((p.video_text, p.audio_text, p.transcript_ids)
                                                          for p in parts))))


@dataclass
class AVOutput:
    video: torch.Tensor  # (B, C, F, H, W) velocity of the video latent
    audio: torch.Tensor  # (B, Ta, C) velocity of the target audio latent


class HarmonyModel(nn.Module):
    def __init__(self, cfg: HarmonyConfig):
        super().__init__()
        if cfg.audio.text_dim != cfg.video.text_dim:
            raise ValueError("video and audio branches must read the same caption features (text_dim)")
        self.cfg = cfg
        self.video = WanVideoBranch(cfg.video)
        self.audio = AudioBranch(cfg.audio, cfg.layers)
        ic = cfg.interaction
        self.interactions = nn.ModuleList(
            [InteractionLayer(ic, cfg.video.dim, cfg.audio.dim, cfg.audio.heads, cfg.video.eps)
             for _ in range(cfg.layers)]) if ic.mode != "none" else None
        c = cfg.caption
        self.caption_encoder: nn.Module | None = (
            LearnedCaptionEncoder(cfg.video.text_dim, c.layers, c.heads, c.max_len) if c.kind == "learned" else None)
        self.external_caption_encoder = None  # a frozen T5 (paper scale), attached by pretrained.load_t5
        self._geometries: dict[tuple, InteractionGeometry] = {}

    # ---- conditions -------------------------------------------------------------------------
    def encode_conditions(self, video_captions: list[str], audio_captions: list[str],
                          transcripts: list[str]) -> Conditions:
        encoder = self.caption_encoder or self.external_caption_encoder
        if encoder is None:
            raise RuntimeError("caption kind 't5' needs harmony_model.pretrained.load_t5(model) first")
        ids = byte_tokens(transcripts, self.cfg.audio.transcript_max_len).to(self.device)
        return Conditions(encoder(video_captions), encoder(audio_captions), ids)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ---- forward ----------------------------------------------------------------------------
    def forward(self, video_latent: torch.Tensor, audio_latent: torch.Tensor, ref_audio_latent: torch.Tensor,
                sigma_v: torch.Tensor, sigma_a: torch.Tensor, cond: Conditions) -> AVOutput:
        """video_latent (B, C, F, H, W) whose frame 0 is the clean reference image; audio_latent
        (B, Ta, C); ref_audio_latent (B, R, C) clean; sigma_v, sigma_a (B,) noise levels."""
        dtype = self.video.patch_embedding.weight.dtype  # bfloat16 at paper scale
        video_latent, audio_latent, ref_audio_latent = (x.to(dtype) for x in
                                                        (video_latent, audio_latent, ref_audio_latent))
        sigma_v, sigma_a = sigma_v.to(video_latent.device), sigma_a.to(video_latent.device)
        # 1. timesteps: Wan2.2 TI2V gives the reference-image frame t = 0, the rest t_v
        tokens_per_frame = (video_latent.shape[3] // self.cfg.video.patch_size[1]) * \
                           (video_latent.shape[4] // self.cfg.video.patch_size[2])
        frames = video_latent.shape[2] // self.cfg.video.patch_size[0]
        t_v = (1000 * sigma_v)[:, None].repeat(1, frames * tokens_per_frame)
        t_v[:, :tokens_per_frame] = 0
        t_a = 1000 * sigma_a
        # 2. embed both branches
        vt = self.video.embed(video_latent, t_v, cond.video_text)
        at = self.audio.embed(ref_audio_latent, audio_latent, t_a, cond.transcript_ids, cond.audio_text)
        geometry = self.geometry(vt.frame_of_token, frames, audio_latent.shape[1])
        # 3. paired layers: video block, audio block, then the interaction (Eq. 5-7)
        for i in range(self.cfg.layers):
            vt.x = self.video.run_block(i, vt)
            at.x, at.ctx = self.audio.run_block(i, at)
            if self.interactions is not None:
                r = at.ref_len
                vt.x, a, ref = self.interactions[i](vt.x, at.x[:, r:], at.x[:, :r], geometry)
                at.x = torch.cat([ref, a], 1)
        # 4. velocities
        return AVOutput(self.video.unembed(vt.x, vt), self.audio.unembed(at.x, at))

    def geometry(self, frame_of_token: torch.Tensor, video_frames: int, audio_frames: int) -> InteractionGeometry:
        """The interaction's positions and masks, built once per clip shape (sampling reuses them
        at every step)."""
        ic = self.cfg.interaction
        # frame_of_token is frame-major (VideoTokens), so its length and the frame count fix it
        key = (len(frame_of_token), video_frames, audio_frames, str(frame_of_token.device),
               ic.mode, ic.rope_align, ic.window)
        if key not in self._geometries:
            self._geometries = {key: InteractionGeometry(ic, frame_of_token, video_frames, audio_frames)}
        return self._geometries[key]

    # ---- persistence ------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.cfg.save(folder / CONFIG_NAME)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()
                 if not k.startswith("external_caption_encoder.")}
        save_file(state, str(folder / WEIGHTS_NAME))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | torch.device = "cpu") -> "HarmonyModel":
        from safetensors.torch import load_file

        folder = Path(folder)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"checkpoint file missing: {folder / name}")
        model = cls(HarmonyConfig.load(folder / CONFIG_NAME))
        model.load_state_dict(load_file(str(folder / WEIGHTS_NAME)), strict=True)
        return model.to(device).eval()
