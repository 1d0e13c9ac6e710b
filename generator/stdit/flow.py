"""Rectified-flow objective (velocity prediction), kept apart from the network and the sampler.

Convention: x_t = (1 - t)·x_0 + t·ε with t ∈ [0, 1], data at t = 0 and Gaussian noise at t = 1;
the network predicts the velocity v = ε - x_0, so dx/dt = v and sampling integrates from 1 to 0.
Training times are drawn logit-normal (as SD3), which spends the steps on the middle of the path
where the velocity is hardest to predict; a positive mean shifts them toward noise (JiT's
noise shift), where layout, colour and motion are decided.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


TOP_BAND = 0.97
"""Lower edge of the band at the noise end that `top` samples uniformly."""

HIGH_DECADES = (1.0, 4.0)
"""`high` draws 1 - t log-uniformly in [1e-4, 1e-1]: where a 16×64×64 clip's layout is decided."""


def sample_times(batch: int, generator: torch.Generator | None = None, mean: float = 0.0, std: float = 1.0,
                 top: float = 0.0, one: float = 0.0, high: float = 0.0,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Logit-normal times in (0, 1); a share `top` of them uniform in [TOP_BAND, 1] instead.

    Why the band: the sampler starts at pure noise (t = 1), but a logit-normal almost never draws
    t > 0.99, and below that a 16×64×64 clip still reveals its background and layout through the
    noise (196 608 values average the noise away). A network trained only there learns to read the
    scene from x_t and ignores the text, and from pure noise it draws the grey mean scene. The band
    teaches what the text alone implies (cf. Lin et al. 2024 on zero terminal SNR).

    The band is still too low for layout: at t = 0.99 the x0 error of the v0.3.0 network is a third
    of its error at t = 1 (MSE 0.062 vs 0.176 on 96 clips): x_t already shows where the object is,
    so "left" never has to be learnt from the text. `high` spreads a share over 1 - t in [1e-4, 1e-1]
    log-uniformly and `one` puts a share at exactly t = 1, where only the text (and position) can help.
    """
    z = torch.randn(batch, generator=generator) * std + mean
    t = torch.sigmoid(z)
    if top > 0:
        pick = torch.rand(batch, generator=generator) < top
        band = TOP_BAND + (1 - TOP_BAND) * torch.rand(batch, generator=generator)
        t = torch.where(pick, band, t)
    if high > 0:
        pick = torch.rand(batch, generator=generator) < high
        lo, hi = HIGH_DECADES
        near = 1 - 10 ** -(lo + (hi - lo) * torch.rand(batch, generator=generator))
        t = torch.where(pick, near, t)
    if one > 0:
        t = torch.where(torch.rand(batch, generator=generator) < one, torch.ones_like(t), t)
    return t.to(device)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    tb = t.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1 - tb) * x0 + tb * noise


def flow_loss(velocity: VelocityFn, x0: torch.Tensor, generator: torch.Generator | None = None,
              t_mean: float = 0.0, t_std: float = 1.0, t_top: float = 0.0, t_one: float = 0.0,
              t_high: float = 0.0, signal: torch.Tensor | None = None, signal_mask: torch.Tensor | None = None,
              signal_band: tuple[float, float] = (0.6, 1.0)) -> torch.Tensor:
    """Mean squared error between predicted and true velocity at random times.

    `velocity(x_t, t)` closes over the conditioning, so the objective knows nothing of text or model.

    `signal` / `signal_mask` (optional): for the clips where the mask is set, x_t is built from
    `signal` instead of x0 (a corrupted clip, e.g. the same scene with other shapes), at a time drawn
    uniformly from `signal_band`, and the target is still the velocity toward the true x0:
    v = (x_t - x0) / t = ε - x0 + (1 - t)/t · (signal - x0), which is ε - x0 where signal = x0.
    """
    noise = torch.randn(x0.shape, generator=generator).to(x0.device, x0.dtype)
    t = sample_times(x0.shape[0], generator, mean=t_mean, std=t_std, top=t_top, one=t_one, high=t_high,
                     device=x0.device)
    source = x0
    if signal is not None and signal_mask is not None:
        lo, hi = signal_band
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"signal_band {signal_band} must lie in (0, 1]")
        band = (lo + (hi - lo) * torch.rand(x0.shape[0], generator=generator)).to(x0.device)
        mask = signal_mask.to(x0.device).bool()
        t = torch.where(mask, band, t)
        source = torch.where(mask.view(-1, *([1] * (x0.dim() - 1))), signal.to(x0.dtype), x0)
    x_t = interpolate(source, noise, t)
    tb = t.view(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    target = noise - x0 + (1 - tb) / tb.clamp(min=1e-3) * (source - x0)
    return F.mse_loss(velocity(x_t, t).float(), target.float())
