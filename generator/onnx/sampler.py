"""The built-in generator without torch: the STDiT network through onnxruntime, sampled in numpy.

The same computation as `generator.stdit.pipeline.generate_clips`, step for step:

* text: MiniLM token states, their mask and mean (`encode_text`), from `text_encoder`;
* noise: torch's CPU generator stream for each clip's seed (`noise.TorchNormal`), so a prompt and
  seed give the same clip as the torch path;
* times: `timesteps` (torch's float32 linspace, then the shift), Euler/Heun steps and the stochastic
  band of `SamplerConfig`, classifier-free guidance as `guided`;
* the network: `velocity` of the exported graph, with the grid geometry (`geometry`) as inputs.

What differs is float arithmetic order (onnxruntime's kernels against torch's), measured in
`tests/test_generator_onnx.py` and docs/generator.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from generator.base import GenerationRequest, ModelCard
from generator.onnx.noise import TorchNormal
from generator.stdit.sampler import SamplerConfig
from policies import RequestLimits
from safety.errors import BadInputError, ModelError
from safety.media import Video

FPS = 8.0
F32 = np.float32


# -- grid geometry (generator.stdit.model.rope_2d / rope_1d / abs_position_features) ----------------------
def _rope_angles(positions: np.ndarray, dim: int, theta: float = 100.0) -> np.ndarray:
    freqs = (F32(theta) ** (-np.arange(0, dim, 2, dtype=F32) / F32(dim))).astype(F32)
    return positions.astype(F32)[:, None] * freqs[None, :]


def geometry(head_dim: int, grid: tuple[int, int, int], bands: int = 8) -> tuple[np.ndarray, ...]:
    """Spatial RoPE cos/sin, temporal RoPE cos/sin and the position features for a token grid."""
    gt, gh, gw = grid
    rows, cols = np.repeat(np.arange(gh), gw), np.tile(np.arange(gw), gh)
    ang_s = np.concatenate([_rope_angles(rows, head_dim // 2), _rope_angles(cols, head_dim // 2)], axis=1)
    ang_t = _rope_angles(np.arange(gt), head_dim)
    axes = [((np.arange(n, dtype=F32) + F32(0.5)) / F32(n)).astype(F32) for n in grid]
    tt, yy, xx = np.meshgrid(*axes, indexing="ij")
    k = (np.arange(1, bands + 1, dtype=F32) * F32(np.pi)).astype(F32)
    feats = [f(u.reshape(-1, 1) * k) for u in (tt, yy, xx) for f in (np.sin, np.cos)]
    out = (np.cos(ang_s), np.sin(ang_s), np.cos(ang_t), np.sin(ang_t), np.concatenate(feats, axis=1))
    return tuple(np.ascontiguousarray(a, dtype=F32) for a in out)


# -- the sampler (generator.stdit.sampler) ---------------------------------------------------------------
def _linspace(start: float, end: float, steps: int) -> np.ndarray:
    """torch.linspace in float32: the first half counted from `start`, the second from `end`."""
    if steps == 1:
        return np.array([start], F32)
    step = (F32(end) - F32(start)) / F32(steps - 1)
    i = np.arange(steps)
    half = steps // 2
    return np.where(i < half, F32(start) + step * i.astype(F32),
                    F32(end) - step * (steps - i - 1).astype(F32)).astype(F32)


def timesteps(steps: int, shift: float = 1.0) -> np.ndarray:
    t = _linspace(1.0, 0.0, steps + 1)
    return (F32(shift) * t / (F32(1) + F32(shift - 1) * t)).astype(F32)


Velocity = Callable[[np.ndarray, np.ndarray], np.ndarray]


def sample(velocity: Velocity, noise: np.ndarray, config: SamplerConfig,
           step_noise: Callable[[], np.ndarray] | None = None,
           on_step: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Integrate dx/dt = velocity(x, t) from t = 1 (x = noise) to t = 0 (as the torch `sample`)."""
    config.validate()
    ts = timesteps(config.steps, config.shift)
    x = noise.astype(F32)
    for i in range(config.steps):
        t0, t1 = float(ts[i]), float(ts[i + 1])
        tb = np.full((x.shape[0],), t0, F32)
        v = velocity(x, tb)
        if t1 > 0 and config.stochastic_at(t0):
            if step_noise is None:
                raise ValueError("stochastic steps need a noise stream")
            x0, eps = x - F32(t0) * v, x + F32(1 - t0) * v
            r = config.eta * (1 - ((1 - t0) * t1 / ((1 - t1) * t0)) ** 2) ** 0.5
            eps = F32((1 - r * r) ** 0.5) * eps + F32(r) * step_noise()
            x = (F32(1 - t1) * x0 + F32(t1) * eps).astype(F32)
        else:
            x_next = x + F32(t1 - t0) * v
            if config.method == "heun" and t1 > 0:
                v2 = velocity(x_next, np.full_like(tb, t1))
                x_next = x + F32(t1 - t0) * F32(0.5) * (v + v2)
            x = x_next.astype(F32)
        if on_step is not None:
            on_step(i + 1, config.steps)
    return x


def guided(both: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], scale: float,
           early_scale: float = 1.0, early_t: float = 1.0) -> Velocity:
    """Classifier-free guidance, as `generator.stdit.sampler.guided`."""

    def fn(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        vc, vu = both(x, t)
        g = np.where(t > early_t, F32(scale * early_scale), F32(scale)).astype(F32).reshape(-1, *([1] * (vc.ndim - 1)))
        return (vu + g * (vc - vu)).astype(F32)

    return fn


def to_pixels(x: np.ndarray) -> np.ndarray:
    """(B, C, T, H, W) in [-1, 1] → uint8 (B, T, H, W, C), as the torch `to_pixels` (round half to even)."""
    pixels = np.round((np.clip(x, -1, 1) + F32(1)) * F32(127.5)).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 4, 1))


# -- the network ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextCondition:
    states: np.ndarray  # (B, L, 384) float32
    mask: np.ndarray  # (B, L) int64
    pooled: np.ndarray  # (B, 384) float32

    @staticmethod
    def concat(a: TextCondition, b: TextCondition) -> TextCondition:
        n = max(a.states.shape[1], b.states.shape[1])

        def pad(c: TextCondition) -> tuple[np.ndarray, np.ndarray]:
            extra = n - c.states.shape[1]
            return (np.pad(c.states, ((0, 0), (0, extra), (0, 0))), np.pad(c.mask, ((0, 0), (0, extra))))

        (sa, ma), (sb, mb) = pad(a), pad(b)
        return TextCondition(np.concatenate([sa, sb]), np.concatenate([ma, mb]), np.concatenate([a.pooled, b.pooled]))

    @staticmethod
    def from_states(states: np.ndarray, mask: np.ndarray) -> TextCondition:
        m = mask[..., None].astype(F32)
        pooled = (states * m).sum(1) / np.maximum(m.sum(1), 1.0)
        return TextCondition(states.astype(F32), mask.astype(np.int64), pooled.astype(F32))


TextEncoder = Callable[[list[str]], TextCondition]


@dataclass
class OnnxSTDiT:
    """The exported network: `velocity(x, t, cond)` for clips (B, C, T, H, W)."""

    path: Path
    architecture: dict[str, Any]
    threads: int = 0
    session: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt graph
            msg = " ".join(str(exc).split())[:200]
            raise ModelError(f"cannot load generator graph {self.path.name}: {msg}") from None

    def patch(self) -> tuple[int, int, int]:
        a = self.architecture
        return int(a["patch_t"]), int(a["patch_h"]), int(a["patch_w"])

    def velocity(self, x: np.ndarray, t: np.ndarray, cond: TextCondition, geo: tuple[np.ndarray, ...]) -> np.ndarray:
        feeds = {"x": np.ascontiguousarray(x, F32), "t": np.ascontiguousarray(t, F32), "text": cond.states,
                 "text_mask": cond.mask, "pooled": cond.pooled}
        feeds.update(zip(("rope_s_cos", "rope_s_sin", "rope_t_cos", "rope_t_sin", "feats"), geo, strict=True))
        return np.asarray(self.session.run(["velocity"], feeds)[0], dtype=F32)


def generate_clips(net: OnnxSTDiT, encode: TextEncoder, prompts: list[str], seeds: list[int], frames: int,
                   height: int, width: int, steps: int = 20, guidance: float = 4.0,
                   negative_prompts: list[str] | None = None, sampler: SamplerConfig | None = None,
                   on_step: Callable[[int, int], None] | None = None,
                   cond: TextCondition | None = None, pixels: bool = True) -> np.ndarray:
    """Sample a batch: uint8 (B, T, H, W, 3), as the torch `generate_clips` (`cond`: given conditioning,
    conditional then unconditional halves, instead of encoding the prompts; `pixels=False`: the
    model-space float32 clips (B, C, T, H, W))."""
    pt, ph, pw = net.patch()
    if frames % pt or height % ph or width % pw:
        raise BadInputError(f"frames must be a multiple of {pt} and height/width multiples of "
                            f"{ph}/{pw} for this model, got {frames}×{height}×{width}")
    if cond is None:
        negatives = negative_prompts or [""] * len(prompts)
        cond = TextCondition.concat(encode(prompts), encode(negatives))
    config = replace(sampler or SamplerConfig(), steps=steps)
    try:
        config.validate()
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    a = net.architecture
    shape = (int(a["channels"]), frames, height, width)
    geo = geometry(int(a["hidden"]) // int(a["heads"]), (frames // pt, height // ph, width // pw))
    streams = [TorchNormal(s) for s in seeds]

    def draw() -> np.ndarray:
        return np.stack([s.randn(shape) for s in streams])

    noise = draw()
    n = len(prompts)

    if guidance == 1.0 and (config.early_scale == 1.0 or config.early_t >= 1.0):
        half = TextCondition(cond.states[:n], cond.mask[:n], cond.pooled[:n])

        def velocity(x: np.ndarray, t: np.ndarray) -> np.ndarray:
            return net.velocity(x, t, half, geo)
    else:
        def both(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            v = net.velocity(np.concatenate([x, x]), np.concatenate([t, t]), cond, geo)
            return v[:n], v[n:]

        velocity = guided(both, guidance, config.early_scale, config.early_t)
    x = sample(velocity, noise, config, step_noise=draw, on_step=on_step)
    return to_pixels(x) if pixels else x


@dataclass
class OnnxSTDiTGenerator:
    """The built-in generator on onnxruntime (no torch). Build it with `generator.registry.load_generator()`."""

    net: OnnxSTDiT
    encode: TextEncoder
    model_card: ModelCard
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    limits: RequestLimits | None = None

    @property
    def card(self) -> ModelCard:
        return self.model_card

    def generate(self, request: GenerationRequest) -> Video:
        from safety.progress import report

        request.validate(self.limits)
        clip = generate_clips(self.net, self.encode, [request.prompt], [request.seed], request.frames,
                              request.height, request.width, request.steps, request.guidance,
                              [request.negative_prompt], sampler=self.sampler,
                              on_step=lambda i, n: report("sampling", i, n))[0]
        report("sampled; checking, watermarking and signing", request.steps, request.steps)
        return Video(clip, FPS)
