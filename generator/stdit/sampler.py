"""Euler / Heun integration of the rectified-flow ODE from noise (t = 1) to data (t = 0).

The sampler sees only a velocity function; classifier-free guidance is composed here from two
network calls (one batch: conditional and unconditional halves), so the network stays unaware of it.

Optionally the Euler steps inside a band of times are stochastic (`eta` > 0, DDIM's η on the flow's
path x_t = (1 - t)·x0 + t·ε): a step from t to t' < t splits x_t into its predicted clean clip
x0 = x - t·v and noise ε = x + (1 - t)·v and lands on x_t' = (1 - t')·x0 + t'·(√(1 - r²)·ε + r·z)
with fresh noise z and r = η·√(1 - ρ²), ρ = (1 - t)·t' / ((1 - t')·t). With η = 1 that is the posterior
q(x_t' | x_t, x0) of the Markov diffusion with the same marginals (ancestral sampling, the discretised
reverse SDE); with η = 0 the step is exactly Euler's, and r shrinks with the step, so more steps
converge to the same distribution (tested on a two-point mixture). Why: the deterministic path keeps
whatever blob its first steps drew; fresh noise in the middle of the path lets the network correct it
(docs/generator.md, item 7).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it runs: `SamplerConfig` serves the torch-free sampler too
    import torch

VelocityFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class SamplerConfig:
    """How a clip is sampled, apart from the guidance scale (which the request sets). A model card's
    `sampler` section holds these fields (`from_card`)."""

    steps: int = 20
    method: str = "euler"  # "euler" or "heun"
    shift: float = 1.0  # > 1 spends more steps near the noise end (SD3's timestep shift)
    eta: float = 0.0  # stochasticity of the steps in the band: 1 = ancestral (reverse SDE), 0 = the plain ODE
    eta_band: tuple[float, float] = (0.2, 0.85)  # steps starting at a time inside (lo, hi) are stochastic
    early_scale: float = 1.0  # guidance × this at times above early_t (`guided`); 1 = constant guidance
    early_t: float = 1.0

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError("the sampler needs at least one step")
        if self.method not in ("euler", "heun"):
            raise ValueError(f"unknown sampling method {self.method!r}")
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {self.eta}")
        if self.eta > 0 and self.method != "euler":
            raise ValueError("stochastic steps (eta > 0) are defined for the euler method only")
        if self.early_scale < 0:
            raise ValueError(f"early_scale must be >= 0, got {self.early_scale}")

    def stochastic_at(self, t: float) -> bool:
        lo, hi = self.eta_band
        return self.eta > 0 and lo < t < hi

    @classmethod
    def from_card(cls, section: Mapping[str, Any]) -> SamplerConfig:
        """The settings a card's `sampler` section names (unnamed ones keep their defaults)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in section.items() if k in known}
        if "eta_band" in values:
            lo, hi = values["eta_band"]
            values["eta_band"] = (float(lo), float(hi))
        return cls(**values)

    def to_card(self) -> dict[str, Any]:
        return {**asdict(self), "eta_band": list(self.eta_band)}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SamplerConfig:
        """The settings of `add_arguments`' options."""
        return cls(steps=args.steps, shift=args.shift, eta=args.eta, eta_band=(args.eta_band[0], args.eta_band[1]),
                   early_scale=args.early_scale, early_t=args.early_t)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The sampler's command-line options (`SamplerConfig.from_args` reads them back)."""
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--shift", type=float, default=1.0, help="> 1 spends more steps near the noise end")
    ap.add_argument("--eta", type=float, default=0.0,
                    help="stochasticity of the steps in --eta-band (1: ancestral; 0: the plain Euler ODE)")
    ap.add_argument("--eta-band", type=float, nargs=2, default=(0.2, 0.85), metavar=("LO", "HI"),
                    help="steps starting at a time inside (LO, HI) are stochastic")
    ap.add_argument("--early-scale", type=float, default=1.0,
                    help="guidance × this for the first steps, at times above --early-t (1: constant guidance)")
    ap.add_argument("--early-t", type=float, default=1.0)


StepNoise = Callable[[], "torch.Tensor"]
"""Fresh unit Gaussian noise shaped like the batch (drawn per clip, so a clip depends on its seed alone)."""


def timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 times from 1 down to 0."""
    import torch

    t = torch.linspace(1.0, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)


def sample(velocity: VelocityFn, noise: torch.Tensor, config: SamplerConfig,
           step_noise: StepNoise | None = None) -> torch.Tensor:
    """Integrate dx/dt = velocity(x, t) from t = 1 (x = noise) to t = 0.

    With `config.eta` > 0, steps inside `config.eta_band` renew that share of the noise, drawn from
    `step_noise` (default: the global torch generator)."""
    import torch

    with torch.no_grad():
        return _sample(velocity, noise, config, step_noise)


def _sample(velocity: VelocityFn, noise: torch.Tensor, config: SamplerConfig,
            step_noise: StepNoise | None = None) -> torch.Tensor:
    import torch

    config.validate()
    draw = step_noise or (lambda: torch.randn_like(noise))
    ts = timesteps(config.steps, config.shift)
    x = noise
    for i in range(config.steps):
        t0, t1 = float(ts[i]), float(ts[i + 1])
        tb = torch.full((x.shape[0],), t0, device=x.device)
        v = velocity(x, tb)
        if t1 > 0 and config.stochastic_at(t0):
            x0, eps = x - t0 * v, x + (1 - t0) * v
            r = config.eta * (1 - ((1 - t0) * t1 / ((1 - t1) * t0)) ** 2) ** 0.5
            eps = (1 - r * r) ** 0.5 * eps + r * draw().to(x.device, x.dtype)
            x = (1 - t1) * x0 + t1 * eps
            continue
        x_next = x + (t1 - t0) * v
        if config.method == "heun" and t1 > 0:
            v2 = velocity(x_next, torch.full_like(tb, t1))
            x_next = x + (t1 - t0) * 0.5 * (v + v2)
        x = x_next
    return x


def guided(velocity_cond_uncond: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
           scale: float, early_scale: float = 1.0, early_t: float = 1.0) -> VelocityFn:
    """Classifier-free guidance: v = v_uncond + g · (v_cond - v_uncond), with g = `scale`, or
    `early_scale` × `scale` at times above `early_t` (the first steps from noise).

    Why a weaker start: at t ≈ 1 the guided prediction of the clean clip is the caption's mean scene
    pushed g times away from the unconditional one, and with g = 4 that saturates into a sharp disk
    whatever the shape word; the path then keeps the disk (docs/generator.md, item 7). Guidance in a
    limited interval is Kynkäänniemi et al. 2024's finding for images too."""

    import torch

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        vc, vu = velocity_cond_uncond(x, t)
        g = torch.where(t > early_t, scale * early_scale, scale).to(vc.dtype).view(-1, *([1] * (vc.dim() - 1)))
        return vu + g * (vc - vu)

    return fn
