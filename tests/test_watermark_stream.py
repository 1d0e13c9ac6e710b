"""Streaming embed/extract from files, luma decoding, and verification's sampling across a long video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from safety.errors import WatermarkError
from safety.media import Video, VideoWriter, iter_frames, read_video, write_video
from safety.watermark import embed, extract
from safety.watermark.engine import embed_frames, grid_candidates, layout
from safety.watermark.stream import (
    HEAD_FRAMES,
    TOP_WINDOWS,
    WINDOW_FRAMES,
    _FileFrames,
    embed_file,
    extract_file,
    extract_sampled,
    streams,
    window_starts,
)
from tests.test_watermark import KEY, PAYLOAD, textured_clip


class _Collect:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())

    def abort(self) -> None:
        self.frames.clear()


@pytest.fixture(scope="module")
def src_480(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = textured_clip(frames=10, width=854 // 2 * 2, height=480, seed=4, pan=2.0)
    return write_video(clip, tmp_path_factory.mktemp("wm") / "src480.mp4", crf=16)


def test_file_streaming_marks_exactly_as_embed(src_480: Path) -> None:
    video = read_video(src_480)
    assert streams(video.width, video.height)
    lay = layout(KEY, grid_candidates(video.width, video.height)[0])
    writer = embed_frames(_FileFrames(src_480, _limits()), PAYLOAD, lay, _config(), _Collect)
    assert isinstance(writer, _Collect)
    assert np.array_equal(np.stack(writer.frames), embed(video, PAYLOAD, KEY).frames)


def test_embed_file_then_extract_file(src_480: Path, tmp_path: Path) -> None:
    done = embed_file(src_480, tmp_path / "m.mp4", PAYLOAD, KEY)
    assert done.streamed and done.frames == 10 and (done.width, done.height) == (854, 480)
    r = extract_file(done.output, KEY)
    assert r.found and r.payload == PAYLOAD and r.frames == 10
    assert not extract_file(src_480, KEY).found


def test_too_flat_file_fails_closed_and_writes_nothing(tmp_path: Path) -> None:
    black = write_video(Video(np.zeros((4, 480, 640, 3), np.uint8), 24.0), tmp_path / "black.mp4")
    with pytest.raises(WatermarkError, match="too flat"):
        embed_file(black, tmp_path / "o.mp4", PAYLOAD, KEY)
    assert not (tmp_path / "o.mp4").exists() and not list(tmp_path.glob(".sealframe-*"))


def test_luma_decode_is_the_grey_of_the_rgb_decode(src_480: Path) -> None:
    grey = [cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY) for f in iter_frames(src_480, _limits())]
    luma = [f.image for f in iter_frames(src_480, _limits(), luma=True)]
    diff = np.stack(grey).astype(np.int16) - np.stack(luma)
    # The same picture: swscale's fixed-point RGB conversion leaves the RGB grey ~1.3 levels lower.
    assert luma[0].shape == (480, 854) and abs(float(diff.mean())) < 2.0 and float(diff.std()) < 0.8


def test_windows_cover_every_segment_of_three_seconds() -> None:
    total, fps = 60 * 30, 30.0
    starts = window_starts(total, fps)
    assert 1 < len(starts) <= 40
    segment = round(3.0 * fps)
    for first in range(0, total - segment + 1):
        assert any(first <= s and s + WINDOW_FRAMES <= first + segment for s in starts), first
    assert window_starts(HEAD_FRAMES, fps) == []


@pytest.mark.slow
def test_marked_segment_inside_a_longer_video_is_found(tmp_path: Path) -> None:
    """3 s marked in the middle of 12 s (640×480, 24 frames/s), written frame by frame."""
    fps, total = 24.0, 12 * 24
    middle = range(round(fps * 5), round(fps * 8))
    rng = np.random.default_rng(9)
    base = cv2.GaussianBlur(rng.normal(128, 40, (480, 900, 3)).astype(np.float32), (0, 0), 2.0)
    base = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)

    def frame(t: int) -> np.ndarray:
        return np.ascontiguousarray(base[:, t % 260 : t % 260 + 640])

    marked = embed(Video(np.stack([frame(t) for t in middle]), fps), PAYLOAD, KEY)
    host = VideoWriter(tmp_path / "host.mp4", 640, 480, fps, crf=18, preset="veryfast")
    long = VideoWriter(tmp_path / "long.mp4", 640, 480, fps, crf=18, preset="veryfast")
    for t in range(total):
        host.write(frame(t))
        long.write(marked.frames[t - middle.start] if t in middle else frame(t))
    host_path, long_path = host.close(), long.close()
    assert not extract(read_video(long_path, max_frames=HEAD_FRAMES), KEY).found  # what verify read before
    got = extract_sampled(long_path, KEY)
    assert got.result.found and got.result.payload == PAYLOAD and got.reads == 1 + TOP_WINDOWS
    assert got.window is not None and middle.start <= got.window[0] and got.window[1] < middle.stop
    unmarked = extract_sampled(host_path, KEY)
    assert not unmarked.result.found and unmarked.result.p_value > 1e-6


def _limits():  # type: ignore[no-untyped-def]
    from safety.media import default_limits

    return default_limits()


def _config():  # type: ignore[no-untyped-def]
    from safety.watermark import DEFAULT_CONFIG

    return DEFAULT_CONFIG
