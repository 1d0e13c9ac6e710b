"""Rectified-flow objective (velocity prediction), kept apart from the network and the sampler.

Convention: x_t = (1 - t)·x_0 + t·ε with t ∈ [0, 1], data at t = 0 and Gaussian noise at t = 1;
the network predicts the velocity v = ε - x_0, so dx/dt = v and sampling integrates from 1 to 0.
Training times are drawn logit-normal (as SD3), which spends the steps on the middle of the path
where the velocity is hardest to predict.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sample_times(batch: int, generator: torch.Generator | None = None, mean: float = 0.0, std: float = 1.0,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Logit-normal times in (0, 1)."""
    z = torch.randn(batch, generator=generator) * std + mean
    return torch.sigmoid(z).to(device)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    tb = t.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - tb) * x0 + tb * noise


def flow_loss(velocity: VelocityFn, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error between predicted and true velocity at random times.

    `velocity(x_t, t)` closes over the conditioning, so the objective knows nothing of text or model.
    """
    noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    t = sample_times(x0.shape[0], generator, device=x0.device)
    pred = velocity(interpolate(x0, noise, t), t)
    return F.mse_loss(pred.float(), (noise - x0).float())
