"""Video in memory and on disk: `Video`, `probe`, `read_video`, `write_video` (PyAV, H.264).

Guarantees: nothing is decoded before the container headers have passed the policy pack's hard
limits (bytes, width, height, pixels, frames, seconds, container type); decoding re-checks every
frame against the same limits, so a header that lies cannot smuggle in a bigger stream. Every
failure is a `MediaError` with a one-line reason. Writes are atomic: the output path either holds
a complete file or is untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from policies import MediaLimits, load_policy
from safety.errors import MediaError, MediaTooLargeError

__all__ = [
    "DecodedFrame",
    "MediaInfo",
    "Video",
    "VideoWriter",
    "default_limits",
    "iter_frames",
    "probe",
    "read_video",
    "resize_video",
    "working_size",
    "write_video",
]

_FFMPEG_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, OSError, ValueError, EOFError)


@dataclass(frozen=True, eq=False)
class Video:
    """Decoded frames, uint8 RGB, shape (T, H, W, 3), at `fps` frames per second."""

    frames: np.ndarray
    fps: float
    picture_types: str | None = None
    """One letter per frame as the decoder reported it ("I", "P", "B", "?" for others) when the frames
    come from a compressed file (`read_video`); None for frames made or changed in memory."""

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            shape = getattr(f, "shape", None)
            dtype = getattr(f, "dtype", None)
            raise MediaError(f"Video frames must be uint8 T×H×W×3, got {dtype} {shape}")
        if f.shape[0] < 1 or f.shape[1] < 1 or f.shape[2] < 1:
            raise MediaError(f"Video must have at least one non-empty frame, got shape {f.shape}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise MediaError(f"Video fps must be a positive number, got {self.fps}")
        if self.picture_types is not None and len(self.picture_types) != f.shape[0]:
            raise MediaError(f"Video has {f.shape[0]} frames but {len(self.picture_types)} picture types")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class MediaInfo:
    """What the container headers say, before any frame is decoded."""

    path: Path
    bytes: int
    container: str
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    seconds: float


def default_limits() -> MediaLimits:
    """The media limits of the configured policy pack (the bundled default when unset)."""
    from safety.settings import get_settings

    return load_policy(get_settings().policy).pack.limits.media


def _check_file(path: Path, limits: MediaLimits) -> int:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path}: empty file")
    if size > limits.max_bytes:
        raise MediaTooLargeError(f"{path}: {size} bytes exceeds the limit of {limits.max_bytes} bytes")
    return size


def _check_frame_size(path: Path, width: int, height: int, limits: MediaLimits) -> None:
    if width <= 0 or height <= 0:
        # ffmpeg leaves the size at 0 when its probe refused the frame (max_pixels) or could not
        # make sense of a crafted header; either way there is nothing we may decode.
        raise MediaTooLargeError(
            f"{path}: video stream has no usable frame size (corrupt header, or above the "
            f"{limits.max_pixels}-pixel limit)"
        )
    if width > limits.max_width or height > limits.max_height or width * height > limits.max_pixels:
        raise MediaTooLargeError(
            f"{path}: frame size {width}×{height} exceeds the limit of "
            f"{limits.max_width}×{limits.max_height} ({limits.max_pixels} pixels)"
        )


def _open(path: Path, limits: MediaLimits) -> av.container.InputContainer:
    # ffmpeg would decode frames while probing the streams, inside av.open, before any check of
    # ours can run. `skip_frame=all` keeps that probe to the headers (a 720p probe drops from
    # ~80 ms to ~2 ms); `max_pixels` makes its decoders refuse a giant frame all the same.
    options = {"max_pixels": str(limits.max_pixels), "skip_frame": "all"}
    try:
        return av.open(str(path), mode="r", options=options)
    except _FFMPEG_ERRORS as exc:
        raise MediaError(f"{path}: not a readable video ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())


def _inspect(path: Path, size: int, container: av.container.InputContainer, limits: MediaLimits) -> MediaInfo:
    fmt_names = set(container.format.name.split(","))
    if not fmt_names & set(limits.containers):
        raise MediaError(f"{path}: {container.format.name!r} is not an accepted video container")
    if not container.streams.video:
        raise MediaError(f"{path}: no video stream")
    stream = container.streams.video[0]
    cc = stream.codec_context
    if cc is None:
        # PyAV gives no codec context when ffmpeg has no decoder for the stream's (corrupt) codec tag.
        raise MediaError(f"{path}: video stream has no usable decoder (unknown or corrupt codec)")
    _check_frame_size(path, int(cc.width or 0), int(cc.height or 0), limits)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        raise MediaError(f"{path}: video stream declares no usable frame rate")
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        seconds = 0.0
    frames = int(stream.frames) if stream.frames else round(seconds * fps)
    if seconds > limits.max_seconds:
        raise MediaTooLargeError(f"{path}: {seconds:.1f} s exceeds the limit of {limits.max_seconds:g} s")
    if frames > limits.max_frames:
        raise MediaTooLargeError(f"{path}: {frames} frames exceeds the limit of {limits.max_frames}")
    return MediaInfo(
        path=path,
        bytes=size,
        container=container.format.name,
        codec=cc.name,
        width=int(cc.width),
        height=int(cc.height),
        fps=fps,
        frames=frames,
        seconds=seconds,
    )


def probe(path: str | Path, limits: MediaLimits | None = None) -> MediaInfo:
    """Read and check the container headers of `path` without decoding a frame."""
    p = Path(path)
    lim = limits or default_limits()
    size = _check_file(p, lim)
    with _open(p, lim) as container:
        return _inspect(p, size, container, lim)


def read_video(
    path: str | Path,
    limits: MediaLimits | None = None,
    *,
    max_frames: int | None = None,
    max_pixels: int | None = None,
) -> Video:
    """Decode `path` to a `Video` after its headers passed `limits`.

    `max_frames` stops early (e.g. a detector that needs only the first N frames). `max_pixels`
    bounds the working resolution: each frame is scaled down (aspect kept) as it is decoded, so no
    more than one full-size frame is ever held and the result costs at most
    `max_frames × max_pixels × 3` bytes whatever the upload's resolution.
    """
    p = Path(path)
    lim = limits or default_limits()
    size = _check_file(p, lim)
    frames: list[np.ndarray] = []
    types: list[str] = []
    with _open(p, lim) as container:
        info = _inspect(p, size, container, lim)
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)  # exact only where the container indexes its samples
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "DEFAULT"  # the probe's skip_frame=all must not carry over
        want = min(lim.max_frames, max_frames) if max_frames else lim.max_frames
        width, height = working_size(info.width, info.height, max_pixels)
        try:
            for frame in container.decode(stream):
                if frame.width != info.width or frame.height != info.height:
                    # A stream may change size mid-way; never trust it beyond the limits.
                    _check_frame_size(p, frame.width, frame.height, lim)
                types.append(_picture_type(frame))
                if frame.width != width or frame.height != height:
                    # One swscale pass, scaled and converted: no full-size RGB copy in between.
                    frame = frame.reformat(width=width, height=height, format="rgb24",
                                           interpolation="AREA" if max_pixels else None)
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= want:
                    if max_frames is None:
                        raise MediaTooLargeError(f"{p}: more than {lim.max_frames} frames")
                    break
        except MediaError:
            raise
        except _FFMPEG_ERRORS as exc:
            if not frames:
                raise MediaError(f"{p}: corrupt video stream ({_why(exc)})") from None
            # A truncated tail still yields the frames before it; a report must not hide that.
            raise MediaError(f"{p}: corrupt or truncated video stream after frame {len(frames)}") from None
    if not frames:
        raise MediaError(f"{p}: video stream holds no decodable frame")
    if max_frames is None and declared and len(frames) < declared - 1:
        # ffmpeg stops quietly at a cut-off mdat; a partial clip must not pass for the whole one.
        raise MediaError(f"{p}: truncated video stream: decoded {len(frames)} of {declared} frames")
    return Video(np.stack(frames), info.fps, "".join(types))


def working_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """`width`×`height` scaled down (aspect kept, even sides) to at most `max_pixels`; unchanged when it fits."""
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    scale = (max_pixels / (width * height)) ** 0.5
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _picture_type(frame: av.VideoFrame) -> str:
    """"I", "P" or "B" (what the decoder says the frame was coded as), "?" otherwise."""
    try:
        return {1: "I", 2: "P", 3: "B"}.get(int(frame.pict_type), "?")
    except (TypeError, ValueError):
        return "?"


def resize_video(video: Video, width: int, height: int) -> Video:
    """Resize every frame with swscale (bicubic)."""
    if width < 2 or height < 2:
        raise MediaError(f"cannot resize to {width}×{height}")
    out = np.empty((video.num_frames, height, width, 3), np.uint8)
    for i, f in enumerate(video.frames):
        vf = av.VideoFrame.from_ndarray(f, format="rgb24")
        out[i] = vf.reformat(width=width, height=height, interpolation="BICUBIC").to_ndarray(format="rgb24")
    return Video(out, video.fps)


REPRODUCIBLE_X264 = "threads=1:mbtree=0"
"""libx264 options under which the same input always encodes to the same pixels: with mb-tree on,
this libx264 gives pixels about 1 level apart from run to run at CRF 28 (measured)."""


def write_video(video: Video, path: str | Path, crf: int = 20, preset: str = "medium",
                x264_params: str | None = None, faststart: bool = False) -> Path:
    """Encode `video` as H.264 yuv420p MP4 at `crf` and move it into place atomically.

    `x264_params` passes libx264 options through (e.g. `REPRODUCIBLE_X264`). `faststart` puts the
    `moov` box before `mdat`, so a partial download can still be parsed.
    """
    p = Path(path)
    if not 0 <= crf <= 51:
        raise MediaError(f"crf must be in [0, 51], got {crf}")
    if video.width % 2 or video.height % 2:
        raise MediaError(f"H.264 yuv420p needs even width and height, got {video.width}×{video.height}")
    if not p.parent.is_dir():
        raise MediaError(f"{p}: output folder {p.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=".sealframe-", suffix=".mp4", dir=p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        rate = Fraction(video.fps).limit_denominator(1001)
        movflags = {"movflags": "+faststart"} if faststart else None
        with av.open(str(tmp), mode="w", format="mp4", options=movflags) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width = video.width
            stream.height = video.height
            stream.pix_fmt = "yuv420p"
            options: dict[str, object] = {"crf": str(crf), "preset": preset}
            if x264_params:
                options["x264-params"] = x264_params
            stream.options = options
            for f in video.frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, p)
    except _FFMPEG_ERRORS as exc:
        raise MediaError(f"{p}: cannot write video ({_why(exc)})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return p


# ------------------------------------------------------------------------------------------------
# streaming: one frame at a time, memory independent of duration

_FULL_RANGE_LUMA = np.clip(np.rint((np.arange(256) - 16.0) * 255.0 / 219.0), 0, 255).astype(np.uint8)
"""Limited-range (16–235) Y to full range (0–255), what RGB → grey of the same frame gives."""


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: RGB (H, W, 3) or full-range luma (H, W), uint8, and its picture type."""

    image: np.ndarray
    picture_type: str
    index: int


def iter_frames(path: str | Path, limits: MediaLimits | None = None, *, luma: bool = False,
                max_frames: int | None = None, keep: Callable[[int], bool] | None = None,
                ) -> Iterator[DecodedFrame]:
    """Decode `path` frame by frame after its headers passed `limits` (the checks of `read_video`).

    `luma`: full-range luma straight from the Y plane (no colour conversion, a third of the bytes).
    `keep(i)`: frames for which it is false are decoded (later frames may depend on them) but not
    converted or yielded. Memory does not grow with the clip's length.
    """
    p = Path(path)
    lim = limits or default_limits()
    size = _check_file(p, lim)
    with _open(p, lim) as container:
        info = _inspect(p, size, container, lim)
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "DEFAULT"
        want = min(lim.max_frames, max_frames) if max_frames else lim.max_frames
        count = 0
        try:
            for frame in container.decode(stream):
                if frame.width != info.width or frame.height != info.height:
                    _check_frame_size(p, frame.width, frame.height, lim)
                    frame = frame.reformat(width=info.width, height=info.height)
                index = count
                count += 1
                if keep is None or keep(index):
                    yield DecodedFrame(_luma(frame) if luma else frame.to_ndarray(format="rgb24"),
                                       _picture_type(frame), index)
                if count >= want:
                    if max_frames is None:
                        raise MediaTooLargeError(f"{p}: more than {lim.max_frames} frames")
                    break
        except MediaError:
            raise
        except _FFMPEG_ERRORS as exc:
            if not count:
                raise MediaError(f"{p}: corrupt video stream ({_why(exc)})") from None
            raise MediaError(f"{p}: corrupt or truncated video stream after frame {count}") from None
    if not count:
        raise MediaError(f"{p}: video stream holds no decodable frame")
    if max_frames is None and declared and count < declared - 1:
        raise MediaError(f"{p}: truncated video stream: decoded {count} of {declared} frames")


def _luma(frame: av.VideoFrame) -> np.ndarray:
    if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
        return np.asarray(frame.to_ndarray(format="gray"))
    plane = frame.planes[0]
    y = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    if frame.format.name.startswith("yuvj") or str(getattr(frame, "color_range", "")) in ("2", "JPEG"):
        return np.ascontiguousarray(y)
    return np.asarray(_FULL_RANGE_LUMA[y])


class VideoWriter:
    """Encode frames one at a time as H.264 yuv420p MP4; the file appears at `path` atomically on
    `close()` (a writer left unclosed, or `abort()`ed, leaves `path` untouched)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, crf: int = 20,
                 preset: str = "medium", x264_params: str | None = None) -> None:
        self.path = Path(path)
        if not 0 <= crf <= 51:
            raise MediaError(f"crf must be in [0, 51], got {crf}")
        if width % 2 or height % 2:
            raise MediaError(f"H.264 yuv420p needs even width and height, got {width}×{height}")
        if not self.path.parent.is_dir():
            raise MediaError(f"{self.path}: output folder {self.path.parent} does not exist")
        fd, tmp_name = tempfile.mkstemp(prefix=".sealframe-", suffix=".mp4", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp_name)
        self.frames = 0
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
            stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            options: dict[str, object] = {"crf": str(crf), "preset": preset}
            if x264_params:
                options["x264-params"] = x264_params
            stream.options = options
            self._stream = stream
        except _FFMPEG_ERRORS as exc:
            self._tmp.unlink(missing_ok=True)
            raise MediaError(f"{self.path}: cannot write video ({_why(exc)})") from None

    def write(self, rgb: np.ndarray) -> None:
        try:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                self._container.mux(packet)
        except _FFMPEG_ERRORS as exc:
            self.abort()
            raise MediaError(f"{self.path}: cannot write video ({_why(exc)})") from None
        self.frames += 1

    def close(self) -> Path:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        except _FFMPEG_ERRORS as exc:
            raise MediaError(f"{self.path}: cannot write video ({_why(exc)})") from None
        finally:
            self._tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(*_FFMPEG_ERRORS):
            self._container.close()
        self._tmp.unlink(missing_ok=True)
