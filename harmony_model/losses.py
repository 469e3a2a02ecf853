"""Cross-Task Synergy loss (Eq. 3-4), the three tasks in one batched forward.

joint:         both latents at the same noise level sigma      -> video + audio loss
audio-driven:  video at sigma, audio clean (t_a = 0)           -> video loss only (weight lambda_v)
video-driven:  video clean (t_v = 0), audio at sigma           -> audio loss only (weight lambda_a)
The reference-image latent frame is always clean and never scored (Wan2.2 TI2V).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harmony_model.flow import noisy, shift_sigmas
from harmony_model.model import Conditions, HarmonyModel


@dataclass
class Latents:
    video: torch.Tensor  # (B, C, F, h, w); frame 0 is the reference image
    audio: torch.Tensor  # (B, Ta, C)
    ref_audio: torch.Tensor  # (B, R, C)


@dataclass
class Noise:
    sigma: torch.Tensor  # (B,) shifted noise levels
    video: torch.Tensor
    audio: torch.Tensor

    @staticmethod
    def draw(lat: Latents, shift: float, generator: torch.Generator | None = None) -> "Noise":
        b = lat.video.shape[0]
        sigma = shift_sigmas(torch.rand(b, generator=generator), shift).to(lat.video.device)
        eps_v = torch.randn(lat.video.shape, generator=generator).to(lat.video.device)
        eps_a = torch.randn(lat.audio.shape, generator=generator).to(lat.audio.device)
        return Noise(sigma, eps_v, eps_a)


@dataclass
class CTSLoss:
    total: torch.Tensor
    joint: torch.Tensor
    audio_driven: torch.Tensor | None
    video_driven: torch.Tensor | None

    def as_dict(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items() if v is not None}


def video_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred[:, :, 1:] - target[:, :, 1:]).pow(2).mean()  # frame 0 is the given image


def audio_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).pow(2).mean()


def task_inputs(lat: Latents, noise: Noise, task: str) -> tuple[torch.Tensor, ...]:
    """(video_latent, audio_latent, sigma_v, sigma_a) of one task of Eq. 4."""
    x_v = noisy(lat.video, noise.video, noise.sigma)
    x_v[:, :, :1] = lat.video[:, :, :1]
    x_a = noisy(lat.audio, noise.audio, noise.sigma)
    zero = torch.zeros_like(noise.sigma)
    if task == "joint":
        return x_v, x_a, noise.sigma, noise.sigma
    if task == "audio_driven":
        return x_v, lat.audio, noise.sigma, zero
    if task == "video_driven":
        return lat.video, x_a, zero, noise.sigma
    raise ValueError(f"unknown task {task!r}")


def cts_loss(model: HarmonyModel, lat: Latents, cond: Conditions, noise: Noise,
             lambda_v: float, lambda_a: float) -> CTSLoss:
    """L = L_joint + lambda_v L_driven^audio + lambda_a L_driven^video (Eq. 3); a zero weight drops
    that task from the batch (lambda_v = lambda_a = 0 is plain joint training, Eq. 1)."""
    tasks = ["joint"] + (["audio_driven"] if lambda_v else []) + (["video_driven"] if lambda_a else [])
    parts = [task_inputs(lat, noise, t) for t in tasks]
    n = len(tasks)
    v_in, a_in, sv, sa = (torch.cat([p[i] for p in parts]) for i in range(4))
    out = model(v_in, a_in, lat.ref_audio.repeat(n, 1, 1), sv, sa, cond.repeat(n))
    target_v, target_a = noise.video - lat.video, noise.audio - lat.audio
    pred_v, pred_a = out.video.chunk(n), out.audio.chunk(n)
    joint = video_mse(pred_v[0], target_v) + audio_mse(pred_a[0], target_a)
    total, ad, vd = joint, None, None
    if lambda_v:
        ad = video_mse(pred_v[tasks.index("audio_driven")], target_v)
        total = total + lambda_v * ad
    if lambda_a:
        vd = audio_mse(pred_a[tasks.index("video_driven")], target_a)
        total = total + lambda_a * vd
    return CTSLoss(total, joint, ad, vd)
