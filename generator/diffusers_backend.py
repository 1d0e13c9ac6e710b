"""Real open text-to-video models (Wan, LTX-Video, CogVideoX) through diffusers, from a local folder.

    SEALFRAME_GENERATOR=wan:/models/Wan2.1-T2V-1.3B-Diffusers   (or ltx:/…, cogvideox:/…)

Needs the optional extra (`pip install sealframe[diffusers]`). Nothing is downloaded: the pipeline
loads with `local_files_only=True` and the hub switched off. The model card's weights hash is the
sha256 over the folder's weight files (names and contents, in sorted order), computed once on first
use because real checkpoints are many gigabytes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generator.base import GenerationRequest, ModelCard
from policies import RequestLimits
from safety.errors import BadInputError, ModelError
from safety.media import Video


@dataclass(frozen=True)
class BackendSpec:
    """What differs between the wrapped pipelines: class, frame-count rule, size multiple, fps."""

    pipeline: str
    frame_step: int  # valid frame counts are frame_step·k + 1
    size_multiple: int
    fps: float


BACKENDS: dict[str, BackendSpec] = {
    "wan": BackendSpec("WanPipeline", 4, 16, 16.0),
    "ltx": BackendSpec("LTXPipeline", 8, 32, 24.0),
    "cogvideox": BackendSpec("CogVideoXPipeline", 8, 16, 8.0),
}


def folder_sha256(folder: Path) -> str:
    """sha256 over every weight file under `folder` (relative name, then bytes), in sorted order."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".safetensors", ".bin", ".json"))
    for p in files:
        h.update(str(p.relative_to(folder)).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def pipeline_frames(kind: str, frames: int) -> int:
    """The smallest frame count the pipeline accepts that is ≥ `frames` (output is trimmed back)."""
    step = BACKENDS[kind].frame_step
    k = max(0, -(-(frames - 1) // step))
    return step * k + 1


@dataclass
class DiffusersGenerator:
    """A diffusers text-to-video pipeline behind the `VideoGenerator` protocol."""

    kind: str
    pipe: Any
    folder: Path | None = None
    device: str = "cpu"
    limits: RequestLimits | None = None  # None: the default policy pack's request limits
    _card: ModelCard | None = field(default=None, repr=False)

    @classmethod
    def from_local(cls, kind: str, folder: Path, device: str = "cpu", dtype: Any = None) -> DiffusersGenerator:
        if kind not in BACKENDS:
            raise ModelError(f"unknown diffusers backend {kind!r}: use one of {', '.join(BACKENDS)}")
        folder = Path(folder)
        if not (folder / "model_index.json").is_file():
            raise ModelError(f"{folder} is not a diffusers pipeline folder (no model_index.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import diffusers
        except ImportError:
            raise ModelError("the diffusers backend needs the extra: pip install 'sealframe[diffusers]'") from None
        pipe_cls = getattr(diffusers, BACKENDS[kind].pipeline)
        kwargs: dict[str, Any] = {"local_files_only": True}
        if dtype is not None:
            kwargs["torch_dtype"] = dtype
        try:
            pipe = pipe_cls.from_pretrained(str(folder), **kwargs)
        except Exception as exc:  # diffusers raises many types; all mean "cannot load this folder"
            raise ModelError(f"cannot load {BACKENDS[kind].pipeline} from {folder}: {exc}") from None
        pipe.set_progress_bar_config(disable=True)
        return cls(kind, pipe.to(device), folder, device)

    @property
    def card(self) -> ModelCard:
        if self._card is None:
            sha = folder_sha256(self.folder) if self.folder else "unknown"
            name = self.folder.name if self.folder else self.kind
            self._card = ModelCard(id=f"{self.kind}:{name}", version=getattr(self.pipe, "_diffusers_version", "?")
                                   or "?", weights_sha256=sha,
                                   training_data=f"see the upstream model card of {name}",
                                   license="see the upstream model card")
        return self._card

    def generate(self, request: GenerationRequest) -> Video:
        import torch

        request.validate(self.limits)
        spec = BACKENDS[self.kind]
        if request.height % spec.size_multiple or request.width % spec.size_multiple:
            raise BadInputError(f"{self.kind} needs height and width in multiples of {spec.size_multiple}, "
                                f"got {request.height}×{request.width}")
        gen = torch.Generator(device="cpu").manual_seed(request.seed)
        out = self.pipe(prompt=request.prompt, negative_prompt=request.negative_prompt or None,
                        num_frames=pipeline_frames(self.kind, request.frames), height=request.height,
                        width=request.width, num_inference_steps=request.steps,
                        guidance_scale=request.guidance, generator=gen, output_type="np")
        frames = np.asarray(out.frames[0])[: request.frames]
        if frames.dtype != np.uint8:
            frames = (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)
        return Video(np.ascontiguousarray(frames), spec.fps)
