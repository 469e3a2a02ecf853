"""Flow matching in Wan's convention, the Euler sampler, and the guidance rule.

x_sigma = (1 - sigma) x0 + sigma eps, velocity target eps - x0, model timestep 1000 sigma.
Shifted sigmas: sigma' = s sigma / (1 + (s - 1) sigma) (shift 5 in training and sampling, App. B).
The sampler is a pure function of its arguments: no step counter is carried between calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def shift_sigmas(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * sigma / (1 + (shift - 1) * sigma)


def noisy(x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """x_sigma with sigma (B,) broadcast over the remaining dimensions."""
    s = sigma.view(-1, *([1] * (x0.ndim - 1)))
    return (1 - s) * x0 + s * eps


@dataclass(frozen=True)
class FlowMatchEulerSampler:
    shift: float = 5.0

    def sigmas(self, steps: int) -> torch.Tensor:
        """steps + 1 noise levels from 1 down to 0: shift(linspace(1, 0, steps + 1)[:steps]), then 0."""
        base = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)[:steps]
        return torch.cat([shift_sigmas(base, self.shift), torch.zeros(1, dtype=torch.float64)]).float()

    def timesteps(self, steps: int) -> torch.Tensor:
        return 1000 * self.sigmas(steps)[:-1]

    @staticmethod
    def step(velocity: torch.Tensor, sample: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
        """One Euler step of dx/dsigma = v from sigma to sigma_next."""
        return sample + (sigma_next - sigma) * velocity


def guide(positive: torch.Tensor, negative: torch.Tensor, scale: float) -> torch.Tensor:
    """negative + scale (positive - negative): Eq. 8 with the unconditional negative, Eq. 9 with the
    muted-audio driven prediction, Eq. 10 with the static-video driven prediction."""
    return negative + scale * (positive - negative)
