"""Codecs: pixels and waveforms <-> latents, behind one interface per modality.

Weight-free codecs for the tiny configuration:
- video: pixel-unshuffle by `unshuffle` per frame (4 -> 48 channels, as Wan2.2's VAE has), no
  temporal stride; latent rate = fps.
- audio: normalised log-mel frames, `stack` adjacent frames per latent (16 kHz, hop 256, x2 ->
  31.25 Hz, MMAudio's 16 kHz latent rate); decoded by a mel pseudo-inverse and Griffin-Lim with a
  fixed initial phase (deterministic).
The Wan2.2 VAE and an MMAudio-style VAE adapter live in harmony_model/pretrained.py and
harmony_model/audio_vae.py; `pretrained.build_codecs` picks among all of them.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from harmony_model.config import CodecConfig

LOG_MEL_MEAN, LOG_MEL_STD = -5.0, 2.5  # fixed normalisation of natural-log mel magnitudes
LOG_FLOOR = 1e-5


class VideoCodec(Protocol):
    latent_rate: float  # latent frames per second

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, F, 3, H, W) in [-1, 1] -> (B, C, T, h, w)."""

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, C, T, h, w) -> (B, F, 3, H, W) in [-1, 1]."""

    def latent_frames(self, num_frames: int) -> int: ...


class AudioCodec(Protocol):
    latent_rate: float
    sample_rate: int

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) mono in [-1, 1] -> (B, T, C)."""

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, N)."""

    def latent_frames(self, num_samples: int) -> int: ...


class PixelUnshuffleVideoCodec:
    def __init__(self, cfg: CodecConfig):
        self.factor = cfg.unshuffle
        self.latent_rate = cfg.fps

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        b, f = frames.shape[:2]
        z = F.pixel_unshuffle(frames.flatten(0, 1), self.factor)
        return z.unflatten(0, (b, f)).transpose(1, 2).contiguous()

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        b, _, t = latent.shape[:3]
        x = F.pixel_shuffle(latent.transpose(1, 2).flatten(0, 1), self.factor)
        return x.unflatten(0, (b, t)).clamp(-1, 1)

    def latent_frames(self, num_frames: int) -> int:
        return num_frames


class MelInverter:
    """Mel magnitudes -> waveform: mel pseudo-inverse, then Griffin-Lim with momentum from a fixed
    zero phase (weight-free and deterministic)."""

    def __init__(self, fbank: torch.Tensor, n_fft: int, hop: int, iters: int = 32):
        self.fb_pinv = torch.linalg.pinv(fbank)  # fbank (freq, mels)
        self.n_fft, self.hop, self.iters = n_fft, hop, iters
        self.window = torch.hann_window(n_fft)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, frames, mels) magnitudes -> (B, frames * hop) in [-1, 1]."""
        frames = mel.shape[1]
        spec = torch.einsum("btm,mf->bft", mel.float(), self.fb_pinv.to(mel.device)).clamp_min(0)
        # a centred STFT of (frames - 1) * hop samples has exactly `frames` columns; the last hop is padded
        wave = AF.griffinlim(spec, self.window.to(mel.device), self.n_fft, self.hop, self.n_fft, 1.0,
                             self.iters, 0.99, (frames - 1) * self.hop, False)
        return F.pad(wave, (0, self.hop)).clamp(-1, 1)


class LogMelAudioCodec:
    def __init__(self, cfg: CodecConfig, griffin_lim_iters: int = 32):
        self.sample_rate, self.n_fft, self.hop, self.stack = cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.stack
        self.latent_rate = cfg.sample_rate / cfg.hop / cfg.stack
        self.fb = AF.melscale_fbanks(cfg.n_fft // 2 + 1, 0.0, cfg.sample_rate / 2, cfg.n_mels, cfg.sample_rate,
                                     norm="slaney", mel_scale="slaney")  # (freq, mels)
        self.window = torch.hann_window(cfg.n_fft)
        self.invert = MelInverter(self.fb, cfg.n_fft, cfg.hop, griffin_lim_iters)

    def latent_frames(self, num_samples: int) -> int:
        return num_samples // self.hop // self.stack

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        frames = self.latent_frames(wave.shape[-1]) * self.stack
        spec = torch.stft(wave.float(), self.n_fft, self.hop, window=self.window.to(wave.device),
                          center=True, return_complex=True).abs()[..., :frames]  # (B, freq, frames)
        mel = torch.einsum("bft,fm->btm", spec, self.fb.to(wave.device))
        z = (torch.log(mel.clamp_min(LOG_FLOOR)) - LOG_MEL_MEAN) / LOG_MEL_STD
        return z.reshape(z.shape[0], -1, self.stack * z.shape[-1])  # stack adjacent frames

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        b, t, _ = latent.shape
        return self.invert(torch.exp(latent.reshape(b, t * self.stack, -1).float() * LOG_MEL_STD + LOG_MEL_MEAN))
