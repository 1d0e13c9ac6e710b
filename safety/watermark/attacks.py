"""Transforms that platforms (or adversaries) apply to uploads: the benchmark's attack suite.

Each attack is a named `Video → Video` callable; `compose` chains them. Photometric attacks follow
torchvision's definitions (brightness multiplies, contrast blends with the mean grey, gamma maps
x ↦ 255·(x/255)^γ). Codec attacks really encode and decode (libx264, libvpx-vp9, libsvtav1 through
PyAV). The engine never imports this module (its codec trial uses `transcode`).

`standard_attacks` is the original list (its "0.5×" scales down and back up; codecs at full size).
`realistic_attacks` is what platforms do to a copy: true downscales (the copy stays small),
bitrate-capped encodes, VP9 and AV1, frame-rate conversion with and without blending, portrait and
square reframes, short trims, a clip inside a longer video and a screen-recording chain.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from safety.media import REPRODUCIBLE_X264, Video, read_video, resize_video
from safety.watermark.transcode import OWN_FILE_LIMITS, even, h264_round_trip, rescale_round_trip


@dataclass(frozen=True)
class Attack:
    name: str
    fn: Callable[[Video], Video]
    applies: Callable[[Video], bool] | None = None
    """Whether the attack means anything for this clip (e.g. "to 360p" only for taller clips)."""

    def __call__(self, video: Video) -> Video:
        return self.fn(video)

    def applies_to(self, video: Video) -> bool:
        return self.applies is None or self.applies(video)


def identity() -> Attack:
    return Attack("none", lambda v: v)


def h264(crf: int, preset: str = "medium", reproducible: bool = False, x264_params: str | None = None) -> Attack:
    """Encode and decode with libx264. `reproducible`: one thread and no mb-tree, so the same input
    always gives the same pixels (with mb-tree on, this libx264 differs by ~1 level from run to run).
    `x264_params` passes other libx264 options instead."""

    params = REPRODUCIBLE_X264 if reproducible else x264_params
    return Attack(f"h264 crf{crf}", lambda v: h264_round_trip(v, crf, preset, params))


def rescale(factor: float) -> Attack:
    """Downscale by `factor` and back to the original size (what a re-upload at lower quality does)."""

    return Attack(f"scale {factor:g}x", lambda v: rescale_round_trip(v, factor))


def crop(fraction: float, where: str = "centre") -> Attack:
    """Cut `fraction` of the width and of the height away (centre or top-left corner), resize back."""

    def run(v: Video) -> Video:
        cw, ch = round(v.width * (1 - fraction)), round(v.height * (1 - fraction))
        x0, y0 = ((v.width - cw) // 2, (v.height - ch) // 2) if where == "centre" else (0, 0)
        cut = Video(np.ascontiguousarray(v.frames[:, y0 : y0 + ch, x0 : x0 + cw]), v.fps)
        return resize_video(cut, v.width, v.height)

    return Attack(f"crop {fraction:.0%} {where}", run)


def _pointwise(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Attack:
    def run(v: Video) -> Video:
        out = fn(v.frames.astype(np.float32))
        return Video(np.clip(np.rint(out), 0, 255).astype(np.uint8), v.fps)

    return Attack(name, run)


def brightness(factor: float) -> Attack:
    return _pointwise(f"brightness {factor - 1:+.0%}", lambda x: x * factor)


def contrast(factor: float) -> Attack:
    def fn(x: np.ndarray) -> np.ndarray:
        grey = (x @ np.array([0.299, 0.587, 0.114], np.float32)).mean(axis=(1, 2), keepdims=True)[..., None]
        return np.asarray((x - grey) * factor + grey, np.float32)

    return _pointwise(f"contrast {factor - 1:+.0%}", fn)


def gamma(g: float) -> Attack:
    return _pointwise(f"gamma {g:g}", lambda x: 255.0 * (x / 255.0) ** g)


def noise(sigma: float, seed: int = 0) -> Attack:
    def fn(x: np.ndarray) -> np.ndarray:
        return x + np.random.default_rng(seed).normal(0.0, sigma, x.shape).astype(np.float32)

    return _pointwise(f"noise σ={sigma:g}", fn)


def drop_frames(keep_every: int = 2) -> Attack:
    def run(v: Video) -> Video:
        return Video(np.ascontiguousarray(v.frames[::keep_every]), v.fps / keep_every)

    return Attack(f"fps /{keep_every}", run)


def trim(seconds: float = 1.0) -> Attack:
    """Keep only the middle `seconds`."""

    def run(v: Video) -> Video:
        n = max(1, min(v.num_frames, round(seconds * v.fps)))
        start = (v.num_frames - n) // 2
        return Video(np.ascontiguousarray(v.frames[start : start + n]), v.fps)

    return Attack(f"trim middle {seconds:g}s", run)


def hflip() -> Attack:
    return Attack("hflip", lambda v: Video(np.ascontiguousarray(v.frames[:, :, ::-1]), v.fps))


def compose(*attacks: Attack, name: str | None = None) -> Attack:
    def run(v: Video) -> Video:
        for a in attacks:
            v = a(v)
        return v

    return Attack(name or " + ".join(a.name for a in attacks), run)


def standard_attacks() -> list[Attack]:
    """The attack list of issue 4, in table order."""
    return [
        identity(),
        h264(23),
        h264(28),
        h264(35),
        rescale(0.5),
        rescale(0.25),
        crop(0.10, "centre"),
        crop(0.10, "corner"),
        crop(0.25, "centre"),
        crop(0.25, "corner"),
        brightness(1.25),
        brightness(0.75),
        contrast(1.25),
        contrast(0.75),
        gamma(0.7),
        gamma(1.4),
        noise(5.0),
        drop_frames(2),
        trim(1.0),
        hflip(),
        compose(h264(28), rescale(0.5), brightness(1.15), name="h264 crf28 + scale 0.5x + brightness +15%"),
    ]


# ------------------------------------------------------------------------------------------------
# realistic: what platforms do to a copy

CODECS = {"h264": "libx264", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
"""The encoders PyAV's bundled FFmpeg offers here for each family (decoders: h264, libvpx-vp9, libdav1d)."""

PLATFORM_BPP = {"h264": 0.055, "vp9": 0.035, "av1": 0.030}
"""Bits per pixel per frame of a typical platform rendition: H.264 1.5 Mb/s, VP9 0.97 Mb/s, AV1
0.83 Mb/s at 1280×720, 30 frames/s (streaming sites' 720p ladders); smaller copies scale with area."""

_ENCODER_OPTIONS: dict[str, dict[str, str]] = {
    "h264": {"preset": "medium"},
    "vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    "av1": {"preset": "8"},
}
"""Encoder speed settings: VP9 and AV1 at their fast settings (a platform's slower ones spend the
same bits better, so these copies are, if anything, worse than a platform's)."""


def encode(video: Video, family: str = "h264", *, crf: int | None = None, bpp: float | None = None,
           width: int | None = None, height: int | None = None) -> Video:
    """`video` (resized to width × height when given, true size: no upscale back) encoded with the
    `family`'s encoder at `crf` or at `bpp` bits per pixel per frame (average bit rate), decoded."""
    if width is not None and height is not None and (width, height) != (video.width, video.height):
        video = resize_video(video, even(width), even(height))
    elif video.width % 2 or video.height % 2:
        video = resize_video(video, even(video.width), even(video.height))
    options = dict(_ENCODER_OPTIONS[family])
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration banner otherwise
    rate = Fraction(video.fps).limit_denominator(1001)
    with tempfile.TemporaryDirectory(prefix="sealframe-attack-") as tmp:
        path = Path(tmp) / "a.mp4"
        with av.open(str(path), mode="w", format="mp4") as container:
            stream = container.add_stream(CODECS[family], rate=rate)
            assert isinstance(stream, av.video.stream.VideoStream)
            stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
            if bpp is not None:
                stream.bit_rate = max(16_000, round(bpp * video.width * video.height * video.fps))
            elif crf is not None:
                options["crf"] = str(crf)
                if family == "vp9":
                    options["b"] = "0"
            stream.options = dict(options)
            for f in video.frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return read_video(path, OWN_FILE_LIMITS)


def _short_side_above(side: int) -> Callable[[Video], bool]:
    return lambda v: min(v.width, v.height) > side


def _to_short_side(v: Video, side: int) -> tuple[int, int]:
    k = side / min(v.width, v.height)
    return even(v.width * k), even(v.height * k)


def true_downscale(factor: float, crf: int = 28, family: str = "h264") -> Attack:
    """Scaled by `factor` and encoded there: the copy stays small (no upscale back)."""

    def run(v: Video) -> Video:
        return encode(v, family, crf=crf, width=even(v.width * factor), height=even(v.height * factor))

    return Attack(f"true {factor:g}x {family} crf{crf}", run)


def to_lines(side: int, crf: int | None = 28, family: str = "h264", bpp: float | None = None) -> Attack:
    """A `side`p rendition (shorter side → `side`, true size) at `crf` or at a platform bit rate;
    only for clips whose shorter side is larger."""

    def run(v: Video) -> Video:
        w, h = _to_short_side(v, side)
        return encode(v, family, crf=None if bpp else crf, bpp=bpp, width=w, height=h)

    how = f"{bpp:g} bpp" if bpp else f"crf{crf}"
    return Attack(f"{side}p {family} {how}", run, _short_side_above(side))


def platform(family: str = "h264") -> Attack:
    """Same size, the platform bit rate of `family` (`PLATFORM_BPP`)."""
    bpp = PLATFORM_BPP[family]
    return Attack(f"{family} {bpp:g} bpp", lambda v: encode(v, family, bpp=bpp))


def fps_change(target: float, blend: bool = False) -> Attack:
    """Resampled to `target` frames/s: nearest frame, or (`blend`) each output frame the linear
    blend of the two source frames around its time (FFmpeg's framerate filter)."""

    def run(v: Video) -> Video:
        n = max(1, int(v.num_frames * target / v.fps))
        t = np.arange(n) * v.fps / target
        if not blend:
            idx = np.minimum(np.rint(t).astype(int), v.num_frames - 1)
            return Video(np.ascontiguousarray(v.frames[idx]), target)
        out = np.empty((n, *v.frames.shape[1:]), np.uint8)
        for k, tk in enumerate(t):
            i = min(int(tk), v.num_frames - 1)
            j, a = min(i + 1, v.num_frames - 1), float(tk - int(tk))
            out[k] = cv2.addWeighted(v.frames[i], 1.0 - a, v.frames[j], a, 0.0)
        return Video(out, target)

    return Attack(f"fps {target:g}{' blend' if blend else ''}", run)


def reframe(aspect_w: int, aspect_h: int) -> Attack:
    """The centre of the frame cut to aspect_w:aspect_h at full height (or width), kept at that size."""

    def run(v: Video) -> Video:
        w = min(v.width, even(v.height * aspect_w / aspect_h))
        h = min(v.height, even(w * aspect_h / aspect_w))
        x0, y0 = (v.width - w) // 2, (v.height - h) // 2
        return Video(np.ascontiguousarray(v.frames[:, y0 : y0 + h, x0 : x0 + w]), v.fps)

    return Attack(f"reframe {aspect_w}:{aspect_h}", run)


def inside(host: Video, before: float = 2.0, after: float = 2.0) -> Attack:
    """The clip placed inside a longer unmarked video: `before` s of `host` (resized to the clip),
    the clip, `after` s more of `host` (looped when short)."""

    def run(v: Video) -> Video:
        h = host if (host.width, host.height) == (v.width, v.height) else resize_video(host, v.width, v.height)
        nb, na = round(before * v.fps), round(after * v.fps)
        idx = np.arange(nb + na) % h.num_frames
        frames = np.concatenate([h.frames[idx[:nb]], v.frames, h.frames[idx[nb:]]])
        return Video(frames, v.fps)

    return Attack(f"inside +{before:g}s/+{after:g}s", run)


def screen_recording(scale: float = 0.8, g: float = 0.9, blur: float = 0.7, crf: int = 26) -> Attack:
    """A screen capture of the clip played in a window: true downscale, display gamma, the capture's
    slight blur, H.264 at `crf`."""

    def run(v: Video) -> Video:
        w, h = even(v.width * scale), even(v.height * scale)
        small = resize_video(v, w, h)
        lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** g), 0, 255).astype(np.uint8)
        frames = np.stack([cv2.GaussianBlur(cv2.LUT(f, lut), (0, 0), blur) for f in small.frames])
        return encode(Video(frames, v.fps), "h264", crf=crf)

    return Attack(f"screen rec {scale:g}x γ{g:g} blur{blur:g} crf{crf}", run)


def realistic_attacks(host: Video | None = None) -> list[Attack]:
    """The issue-24 suite, target attacks first. `host`: the unmarked video for `inside`."""
    out = [
        true_downscale(0.5, 28),
        true_downscale(0.5, 23),
        to_lines(480, 28),
        to_lines(360, 28),
        to_lines(360, 23),
        to_lines(720, bpp=PLATFORM_BPP["h264"]),
        to_lines(360, bpp=PLATFORM_BPP["h264"]),
        platform("h264"),
        platform("vp9"),
        platform("av1"),
        to_lines(360, family="vp9", bpp=PLATFORM_BPP["vp9"]),
        fps_change(24.0),
        fps_change(24.0, blend=True),
        fps_change(25.0),
        fps_change(25.0, blend=True),
        trim(2.0),
        trim(1.0),
        compose(brightness(1.15), true_downscale(0.5, 28), name="true 0.5x crf28 + brightness +15%"),
        compose(reframe(9, 16), h264(23), name="reframe 9:16 + h264 crf23"),
        compose(reframe(1, 1), h264(23), name="reframe 1:1 + h264 crf23"),
        true_downscale(0.25, 28),
        h264(35),
        screen_recording(),
    ]
    if host is not None:
        out.append(compose(inside(host), h264(23), name="inside a longer video + h264 crf23"))
    return out
