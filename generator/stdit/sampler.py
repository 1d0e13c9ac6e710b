"""Euler / Heun integration of the rectified-flow ODE from noise (t = 1) to data (t = 0).

The sampler sees only a velocity function; classifier-free guidance is composed here from two
network calls (one batch: conditional and unconditional halves), so the network stays unaware of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 20
    method: str = "euler"  # "euler" or "heun"
    shift: float = 1.0  # > 1 spends more steps near the noise end (SD3's timestep shift)


def timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 times from 1 down to 0."""
    t = torch.linspace(1.0, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)


@torch.no_grad()
def sample(velocity: VelocityFn, noise: torch.Tensor, config: SamplerConfig) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 1 (x = noise) to t = 0."""
    if config.steps < 1:
        raise ValueError("the sampler needs at least one step")
    if config.method not in ("euler", "heun"):
        raise ValueError(f"unknown sampling method {config.method!r}")
    ts = timesteps(config.steps, config.shift)
    x = noise
    for i in range(config.steps):
        t0, t1 = float(ts[i]), float(ts[i + 1])
        tb = torch.full((x.shape[0],), t0, device=x.device)
        v = velocity(x, tb)
        x_next = x + (t1 - t0) * v
        if config.method == "heun" and t1 > 0:
            v2 = velocity(x_next, torch.full_like(tb, t1))
            x_next = x + (t1 - t0) * 0.5 * (v + v2)
        x = x_next
    return x


def guided(velocity_cond_uncond: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
           scale: float) -> VelocityFn:
    """Classifier-free guidance: v = v_uncond + scale · (v_cond - v_uncond)."""

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        vc, vu = velocity_cond_uncond(x, t)
        return vu + scale * (vc - vu)

    return fn
