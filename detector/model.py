"""The synthetic-video detector network: N frames of a clip in, one logit for P(synthetic) out.

Three parts, each a small module:

* **Frame backbone** — the vision tower of a model made by `open_clip.create_model` (a small
  ViT config shipped in `detector/configs/`, or any open_clip architecture); weights from a local
  file when the user has one, else random and trained from scratch. Nothing is downloaded.
* **Forensic branch** — generators upsample (transposed convolutions, nearest/bilinear
  upsampling in VAE decoders and patch un-embedding), which leaves correlations between
  neighbouring pixels that camera sensors do not. NPR (Tan et al., CVPR 2024) exposes them as the
  residual `x − up(down(x))`; a small CNN reads that residual. Beside it, a fixed 8×8 block DCT of
  the luma gives log-magnitude spectral statistics (spectral peaks of upsampling, missing
  high-frequency energy).
* **Temporal aggregation** — D3 (Zheng et al., 2024) observed that second-order temporal
  differences of frame features separate real from generated motion; tokens built from each
  frame embedding with its first and second differences pass one attention block and are
  attention-pooled; the volatility (std over time) of the second differences is a feature too.

The model takes float frames in [0, 1], shape (B, T, 3, H, W), any T ≥ 3 and any even H, W (the
backbone resizes to its own input size inside the graph), so one ONNX export serves every clip
shape. Calibration (Platt scaling `sigmoid(a·logit + b)`) is a pair of buffers, so the exported
graph returns calibrated probabilities.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

CONFIG_DIR = Path(__file__).parent / "configs"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class DetectorConfig:
    """Architecture of one detector; named configs live in `DETECTOR_CONFIGS`."""

    backbone: str = "sealframe-vit-t16"  # an open_clip model name (ours in detector/configs/ or a built-in)
    backbone_dim: int = 96  # the open_clip config's embed_dim
    backbone_image_size: int = 96  # frames are resized to this inside the graph
    forensic_channels: tuple[int, ...] = (8, 16, 32, 32)
    dct_block: int = 8
    dim: int = 96
    heads: int = 4
    dropout: float = 0.1
    frames: int = 8  # frames per window the default was trained on (the graph accepts any T ≥ 3)
    size: int = 96  # square crop side the default was trained on (the graph accepts any even H, W)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["forensic_channels"] = list(self.forensic_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectorConfig:
        d = dict(d)
        if "forensic_channels" in d:
            d["forensic_channels"] = tuple(d["forensic_channels"])
        return cls(**d)


DETECTOR_CONFIGS: dict[str, DetectorConfig] = {
    "sealframe-det-t": DetectorConfig(),
    # For tests: builds in milliseconds, same graph.
    "sealframe-det-test": DetectorConfig(
        backbone="sealframe-vit-test", backbone_dim=16, backbone_image_size=32,
        forensic_channels=(4, 8), dim=16, heads=2, frames=4, size=32,
    ),
}


class _RandomInitNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


def create_backbone(name: str, weights: str | Path | None = None) -> nn.Module:
    """The vision tower of `open_clip.create_model(name)`; `weights` is a local open_clip checkpoint.

    The text tower is built (open_clip makes whole CLIP models) and dropped at once.
    """
    import open_clip  # type: ignore[import-untyped]

    if str(CONFIG_DIR) not in {str(p) for p in open_clip.factory._MODEL_CONFIG_PATHS}:
        open_clip.add_model_config(CONFIG_DIR)
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"backbone weights {weights} not found (only local files are used)")
    root = logging.getLogger()
    quiet = _RandomInitNotice()  # random init is the intended default, not a warning
    root.addFilter(quiet)
    try:
        clip = open_clip.create_model(
            name,
            pretrained=str(weights) if weights is not None else None,
            pretrained_image=False,
            pretrained_text=False,
            device="cpu",
        )
    finally:
        root.removeFilter(quiet)
    return clip.visual  # type: ignore[no-any-return]


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """Neighbouring-pixel residual `x − up(down(x))` with nearest sampling (x: N×C×H×W, even H, W)."""
    down = F.interpolate(x, scale_factor=0.5, mode="nearest")
    return x - F.interpolate(down, scale_factor=2.0, mode="nearest")


def dct_basis(n: int) -> torch.Tensor:
    """The n×n 2-D DCT-II basis as n² conv filters (n²×1×n×n), orthonormal."""
    k = torch.arange(n, dtype=torch.float64)
    c = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))  # [freq, pos]
    c[0] *= 1 / math.sqrt(2)
    c *= math.sqrt(2 / n)
    basis = c[:, None, :, None] * c[None, :, None, :]  # [u, v, y, x]
    return basis.reshape(n * n, 1, n, n).float()


class ForensicBranch(nn.Module):
    """NPR residual → small strided CNN → mean-pooled features, plus block-DCT log spectrum of luma."""

    dct: torch.Tensor
    luma: torch.Tensor

    def __init__(self, channels: tuple[int, ...], dct_block: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GELU(), nn.Conv2d(c, c, 3, padding=1), nn.GELU()]
            c_in = c
        self.cnn = nn.Sequential(*layers)
        self.dct_block = dct_block
        self.register_buffer("dct", dct_basis(dct_block), persistent=False)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)
        self.dct_norm = nn.LayerNorm(dct_block * dct_block)
        self.out_dim = c_in + dct_block * dct_block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Residuals are ~1e-2 in [0, 1] units; scale them to O(1) for the first convolution.
        r = self.cnn(npr_residual(x) * 20.0).mean(dim=(2, 3))
        y = (x * self.luma).sum(dim=1, keepdim=True) * 255.0
        coeff = F.conv2d(y, self.dct, stride=self.dct_block)  # N × n² × H/n × W/n
        spec = torch.log(coeff.abs() + 1.0).mean(dim=(2, 3))
        return torch.cat([r, self.dct_norm(spec)], dim=1)


class AttentionBlock(nn.Module):
    """Pre-norm self-attention over the time axis, then an MLP (no fused kernels: exports cleanly)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        att = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.mlp(self.norm2(x)))  # type: ignore[no-any-return]


class TemporalHead(nn.Module):
    """D3-style tokens (f_t, Δf_t, Δ²f_t) → attention block → attention pooling → logit."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.token = nn.Sequential(nn.Linear(3 * dim, dim), nn.GELU())
        self.block = AttentionBlock(dim, heads, dropout)
        self.pool_score = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, 1))
        self.head = nn.Sequential(
            nn.LayerNorm(3 * dim), nn.Dropout(dropout), nn.Linear(3 * dim, dim), nn.GELU(), nn.Linear(dim, 1)
        )

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        d1 = f[:, 1:] - f[:, :-1]
        d2 = d1[:, 1:] - d1[:, :-1]
        tokens = self.block(self.token(torch.cat([f[:, 2:], d1[:, 1:], d2], dim=-1)))
        w = torch.softmax(self.pool_score(tokens), dim=1)
        pooled = (w * tokens).sum(dim=1)
        volatility = d2.std(dim=1, correction=0)  # D3's measure: how erratic the second-order motion is
        return self.head(torch.cat([pooled, f.mean(dim=1), volatility], dim=-1)).squeeze(-1)  # type: ignore[no-any-return]


class SyntheticVideoDetector(nn.Module):
    """(B, T, 3, H, W) frames in [0, 1] → logit of P(synthetic); `probability` applies calibration."""

    mean: torch.Tensor
    std: torch.Tensor
    calib_a: torch.Tensor
    calib_b: torch.Tensor

    def __init__(self, config: DetectorConfig, backbone_weights: str | Path | None = None) -> None:
        super().__init__()
        self.config = config
        self.backbone = create_backbone(config.backbone, backbone_weights)
        self.forensic = ForensicBranch(config.forensic_channels, config.dct_block)
        in_dim = config.backbone_dim + self.forensic.out_dim
        self.frame_proj = nn.Sequential(nn.Linear(in_dim, config.dim), nn.LayerNorm(config.dim))
        self.temporal = TemporalHead(config.dim, config.heads, config.dropout)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        # Platt scaling, fitted on the validation split after training.
        self.register_buffer("calib_a", torch.ones(()))
        self.register_buffer("calib_b", torch.zeros(()))
        self._init_weights()

    def _init_weights(self) -> None:
        """Explicit init of everything outside the backbone (open_clip inits its own tower)."""
        for mod in (self.forensic, self.frame_proj, self.temporal):
            for m in mod.modules():
                if isinstance(m, nn.Linear | nn.Conv2d):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
        final = self.temporal.head[-1]
        assert isinstance(final, nn.Linear)
        nn.init.zeros_(final.weight)  # start at logit 0: P = 0.5 for every clip

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) → (B, T, dim)."""
        b, t, c, h, w = x.shape
        frames = x.reshape(b * t, c, h, w)
        s = self.config.backbone_image_size
        small = F.interpolate(frames, size=(s, s), mode="bilinear", align_corners=False, antialias=False)
        sem = self.backbone((small - self.mean) / self.std)
        feats = torch.cat([sem, self.forensic(frames)], dim=1)
        return self.frame_proj(feats).reshape(b, t, -1)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.frame_features(x))  # type: ignore[no-any-return]

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.calib_a * self.forward(x) + self.calib_b)


class CalibratedDetector(nn.Module):
    """The export wrapper: frames → calibrated P(synthetic), shape (B,)."""

    def __init__(self, model: SyntheticVideoDetector) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.probability(frames)


@dataclass
class ModelInfo:
    """What a weights file says about itself (stored in safetensors metadata)."""

    name: str
    config: DetectorConfig
    extra: dict[str, Any] = field(default_factory=dict)


def build_detector(
    name_or_config: str | DetectorConfig, backbone_weights: str | Path | None = None
) -> SyntheticVideoDetector:
    cfg = DETECTOR_CONFIGS[name_or_config] if isinstance(name_or_config, str) else name_or_config
    return SyntheticVideoDetector(cfg, backbone_weights)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
