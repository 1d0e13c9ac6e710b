"""Score uploads with the exported detector: onnxruntime, CUDA when present, else CPU.

Guarantees: weights are loaded only when their sha256 matches the model card (else `ModelError`);
videos are read through `safety.media.read_video`, so every upload obeys the policy pack's media
limits and bad input is a `MediaError` (exit 4), never a crash. A video is scored on up to
`max_windows` windows of `frames` consecutive frames spread over its first `max_read` frames,
each resized (short side → `size`) and centre-cropped exactly as in training; the score is the
mean calibrated probability over its windows. Windows of several uploads share one batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detector.types import DetectorScore
from safety.errors import MediaError, ModelError
from safety.media import Video, read_video, resize_video

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CARD = WEIGHTS_DIR / "card.yaml"
CARD_ENV = "SEALFRAME_DETECTOR_CARD"

Backend = Callable[[np.ndarray], np.ndarray]  # (B, T, 3, H, W) float32 in [0, 1] → (B,) probabilities


class Sampling(BaseModel):
    """How frames are taken from a video; part of the card because training used the same."""

    model_config = ConfigDict(frozen=True)

    frames: int = Field(ge=3)
    size: int = Field(ge=8)
    stride: int = Field(default=1, ge=1)
    max_windows: int = Field(default=4, ge=1)
    max_read: int = Field(default=128, ge=3)


class OperatingPoint(BaseModel):
    """What the threshold means, measured: real camera clips flagged, unseen generators caught."""

    model_config = ConfigDict(frozen=True)

    fpr: float = Field(ge=0.0, le=1.0)
    unseen_tpr: float = Field(ge=0.0, le=1.0)
    unseen_tpr_degraded: float | None = Field(default=None, ge=0.0, le=1.0)
    note: str = ""


class DetectorCard(BaseModel):
    """The facts the runtime needs from `card.yaml`; the rest of the card is for people."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    threshold: float = Field(ge=0.0, le=1.0)
    sampling: Sampling
    operating_point: OperatingPoint | None = None

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"


def load_card(path: str | Path) -> DetectorCard:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"detector card {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"detector card {p} is not valid YAML: {exc}") from None
    try:
        return DetectorCard.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ModelError(f"detector card {p}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def verified_weights(card: DetectorCard, card_path: str | Path) -> Path:
    """The weights file the card names, after its sha256 matched; `ModelError` otherwise."""
    from generator.hashing import sha256_file

    path = Path(card_path).parent / card.file
    if not path.is_file():
        raise ModelError(f"detector weights {path} not found (train with `python -m detector.train`)")
    digest = sha256_file(path)
    if digest != card.sha256:
        raise ModelError(
            f"detector weights {path}: sha256 {digest[:16]}… does not match the card's {card.sha256[:16]}…"
        )
    return path


def select_providers(prefer: Sequence[str] | None = None) -> list[str]:
    """CUDAExecutionProvider first when this onnxruntime build has it, CPU always last."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    wanted = list(prefer) if prefer else ["CUDAExecutionProvider", "CPUExecutionProvider"]
    chosen = [p for p in wanted if p in available and p != "CPUExecutionProvider"]
    return [*chosen, "CPUExecutionProvider"]


class OnnxBackend:
    """An onnxruntime session over the exported graph."""

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=select_providers(providers))
        except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt graph
            raise ModelError(f"cannot load detector graph {path}: {' '.join(str(exc).split())[:200]}") from None
        self.providers: list[str] = list(self.session.get_providers())

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run(["score"], {"frames": np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)


def torch_backend(model: Any) -> Backend:
    """The same contract over a torch `SyntheticVideoDetector` (for parity checks and benchmarks)."""
    import torch

    model.eval()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = model.probability(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))).numpy()
            return out

    return run


def window_indices(num_frames: int, s: Sampling) -> list[np.ndarray]:
    """Frame indices of each window: evenly spread starts; a short video is played back and forth."""
    span = (s.frames - 1) * s.stride + 1
    n = min(num_frames, s.max_read)
    if n >= span:
        k = min(s.max_windows, (n - span) // span + 1)
        starts = np.unique(np.linspace(0, n - span, k).round().astype(int))
        return [st + np.arange(s.frames) * s.stride for st in starts]
    if n == 1:
        return [np.zeros(s.frames, dtype=int)]
    cycle = np.concatenate([np.arange(n), np.arange(n - 2, 0, -1)])  # 0 1 2 1 0 1 2 …
    return [cycle[(np.arange(s.frames) * s.stride) % len(cycle)]]


def square_crop(video: Video, size: int, top: float = 0.5, left: float = 0.5) -> np.ndarray:
    """Resize so the short side is `size` (bicubic), then crop `size`×`size`; (T, size, size, 3) uint8."""
    h, w = video.height, video.width
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    frames = video.frames if (nh, nw) == (h, w) else resize_video(video, nw, nh).frames
    y0, x0 = round((nh - size) * top), round((nw - size) * left)
    return frames[:, y0 : y0 + size, x0 : x0 + size]


def to_batch(windows: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 (T, H, W, 3) windows → float32 (B, T, 3, H, W) in [0, 1]."""
    x = np.stack(windows).astype(np.float32) / 255.0
    return np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))


def video_windows(video: Video, s: Sampling) -> list[np.ndarray]:
    idx = window_indices(video.num_frames, s)
    used = np.unique(np.concatenate(idx))
    crop = square_crop(Video(video.frames[used], video.fps), s.size)
    pos = {int(f): i for i, f in enumerate(used)}
    return [crop[[pos[int(f)] for f in w]] for w in idx]


class Detector:
    """Loaded weights + sampling; `score_videos` batches the windows of many uploads together."""

    def __init__(self, backend: Backend, sampling: Sampling, threshold: float, model_id: str,
                 batch_size: int = 16, operating_point: OperatingPoint | None = None) -> None:
        self.backend = backend
        self.sampling = sampling
        self.threshold = threshold
        self.model_id = model_id
        self.batch_size = batch_size
        self.operating_point = operating_point
        self.providers: list[str] = list(getattr(backend, "providers", ["torch"]))

    @classmethod
    def from_card(cls, card_path: str | Path | None = None, providers: Sequence[str] | None = None,
                  batch_size: int = 16, threads: int | None = None) -> Detector:
        path = Path(card_path or os.environ.get(CARD_ENV) or DEFAULT_CARD)
        if not path.is_file():
            raise ModelError(f"no detector card at {path} (train with `python -m detector.train`)")
        card = load_card(path)
        backend = OnnxBackend(verified_weights(card, path), providers, threads)
        det = cls(backend, card.sampling, card.threshold, card.model_id, batch_size, card.operating_point)
        det.providers = backend.providers
        return det

    def score_videos(self, videos: Sequence[Video]) -> list[DetectorScore]:
        owners: list[int] = []
        windows: list[np.ndarray] = []
        for i, v in enumerate(videos):
            if min(v.height, v.width) < 2:
                raise MediaError(f"video {i}: {v.width}×{v.height} is too small to score")
            ws = video_windows(v, self.sampling)
            windows += ws
            owners += [i] * len(ws)
        probs = np.concatenate(
            [self.backend(to_batch(windows[j : j + self.batch_size])) for j in range(0, len(windows), self.batch_size)]
        ) if windows else np.zeros(0, np.float32)
        if not np.all(np.isfinite(probs)):
            raise ModelError("detector returned a non-finite score")
        own = np.asarray(owners)
        op = self.operating_point
        fig = {"fpr": op.fpr, "unseen_tpr": op.unseen_tpr} if op is not None else {}
        out = []
        for i in range(len(videos)):
            p = probs[own == i]
            out.append(DetectorScore(score=float(np.clip(p.mean(), 0.0, 1.0)), threshold=self.threshold,
                                     model=self.model_id, windows=len(p), **fig))
        return out

    def score_video(self, video: Video) -> DetectorScore:
        return self.score_videos([video])[0]

    def read(self, path: str | Path, limits: Any = None) -> Video:
        """Decode only what scoring needs, through the media limits."""
        return read_video(path, limits, max_frames=self.sampling.max_read)

    def score_paths(self, paths: Sequence[str | Path], limits: Any = None) -> list[DetectorScore]:
        return self.score_videos([self.read(p, limits) for p in paths])

    def score_path(self, path: str | Path, limits: Any = None) -> DetectorScore:
        return self.score_paths([path], limits)[0]


@lru_cache(maxsize=2)
def _default(card: str) -> Detector:
    return Detector.from_card(card)


def default_detector() -> Detector:
    """The committed default (or `$SEALFRAME_DETECTOR_CARD`), loaded once per process."""
    return _default(str(os.environ.get(CARD_ENV) or DEFAULT_CARD))


def card_figures(card_path: str | Path | None = None) -> dict[str, Any]:
    """The default card's headline figures (threshold, operating point, held-out results) for displays."""
    path = Path(card_path or os.environ.get(CARD_ENV) or DEFAULT_CARD)
    card = load_card(path)
    extra = card.model_extra or {}
    op = card.operating_point
    return {"model": card.model_id, "threshold": card.threshold,
            "fpr": op.fpr if op else None, "unseen_tpr": op.unseen_tpr if op else None,
            "unseen_tpr_degraded": op.unseen_tpr_degraded if op else None,
            "heldout": extra.get("heldout_summary")}


def detect(path: str | Path, limits: Any = None) -> DetectorScore:
    """Score one video file with the default detector."""
    return default_detector().score_path(path, limits)
