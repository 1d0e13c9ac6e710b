"""STDiTGenerator: the built-in model behind the `VideoGenerator` protocol.

prompt → frozen MiniLM → guided rectified-flow sampling of a pixel-space clip → uint8 `Video`.
The negative prompt (empty by default) is the unconditional side of classifier-free guidance.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from generator.base import GenerationRequest, ModelCard
from generator.stdit.conditioning import TextCondition, encode_text
from generator.stdit.model import STDiT
from generator.stdit.sampler import SamplerConfig, guided, sample
from policies import RequestLimits
from safety.errors import BadInputError
from safety.media import Video

FPS = 8.0


class ClipNoise:
    """Each clip's noise stream (CPU generators seeded by the clip's seed): the starting noise, then
    the fresh noise of stochastic sampler steps, so a clip depends on its prompt and seed alone, never
    on its batch."""

    def __init__(self, seeds: list[int], shape: tuple[int, ...], device: torch.device | str = "cpu") -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.shape, self.device = shape, device

    def __call__(self) -> torch.Tensor:
        return torch.stack([torch.randn(self.shape, generator=g) for g in self.generators]).to(self.device)


@torch.no_grad()
def generate_clips(model: STDiT, prompts: list[str], seeds: list[int], frames: int, height: int, width: int,
                   steps: int = 20, guidance: float = 4.0, negative_prompts: list[str] | None = None,
                   sampler: SamplerConfig | None = None, pixels: bool = True) -> np.ndarray:
    """Sample a batch: uint8 array (B, T, H, W, 3). Each clip depends only on its prompt and seed.
    `steps` overrides `sampler.steps` (default sampler: plain Euler, constant guidance). `pixels=False`:
    the model-space float32 clips (B, C, T, H, W) instead."""
    dev = next(model.parameters()).device
    cfg = model.config
    if frames % cfg.patch_t or height % cfg.patch_h or width % cfg.patch_w:
        raise BadInputError(f"frames must be a multiple of {cfg.patch_t} and height/width multiples of "
                            f"{cfg.patch_h}/{cfg.patch_w} for this model, got {frames}×{height}×{width}")
    negatives = negative_prompts or [""] * len(prompts)
    cond = TextCondition.concat(encode_text(prompts), encode_text(negatives)).to(dev)
    config = replace(sampler or SamplerConfig(), steps=steps)
    try:
        config.validate()
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    streams = ClipNoise(seeds, (cfg.channels, frames, height, width), dev)
    noise = streams()
    n = len(prompts)

    def both(x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = model.velocity(torch.cat([x, x]), torch.cat([t, t]), cond.states, cond.mask, cond.pooled).float()
        return v[:n], v[n:]

    if guidance == 1.0 and (config.early_scale == 1.0 or config.early_t >= 1.0):
        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return model.velocity(x, t, cond.states[:n], cond.mask[:n], cond.pooled[:n]).float()
    else:
        velocity = guided(both, guidance, config.early_scale, config.early_t)
    x = sample(velocity, noise, config, step_noise=streams)
    return to_pixels(x) if pixels else x.float().cpu().numpy()


def to_pixels(x: torch.Tensor) -> np.ndarray:
    """Model-space clips (B, C, T, H, W) in [-1, 1] → uint8 frames (B, T, H, W, C)."""
    pixels = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 4, 1).cpu().numpy()


@dataclass
class STDiTGenerator:
    """The built-in generator. Build it with `generator.registry.load_generator()`."""

    model: STDiT
    model_card: ModelCard
    sampler: SamplerConfig = field(default_factory=SamplerConfig)  # the card's; steps come from the request
    limits: RequestLimits | None = None  # None: the default policy pack's request limits

    @property
    def card(self) -> ModelCard:
        return self.model_card

    def generate(self, request: GenerationRequest) -> Video:
        request.validate(self.limits)
        clip = generate_clips(self.model, [request.prompt], [request.seed], request.frames, request.height,
                              request.width, request.steps, request.guidance, [request.negative_prompt],
                              sampler=self.sampler)[0]
        return Video(clip, FPS)

    @staticmethod
    def weights_dir() -> Path:
        return Path(__file__).resolve().parent.parent / "weights"
