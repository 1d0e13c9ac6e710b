"""The attack suite: each realistic attack does what its name says, and the engine never imports it."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from safety.media import Video
from safety.watermark import attacks as A


@pytest.fixture(scope="module")
def clip() -> Video:
    """30 frames/s, 2 s of a smooth texture panning right (640×360)."""
    base = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8), (0, 0), 3)
    return Video(np.stack([np.roll(base, 2 * t, axis=1) for t in range(60)]), 30.0)


def test_engine_does_not_import_the_attack_suite() -> None:
    code = ("import sys, safety.watermark, safety.watermark.engine, safety.watermark.profiles; "
            "sys.exit(int('safety.watermark.attacks' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_true_downscale_keeps_the_copy_small(clip: Video) -> None:
    out = A.true_downscale(0.5, 28)(clip)
    assert (out.width, out.height, out.num_frames) == (320, 180, 60)
    assert not A.to_lines(360, 28).applies_to(clip)  # already 360 lines: nothing to scale down
    taller = Video(np.ascontiguousarray(np.repeat(np.repeat(clip.frames[:4], 2, 1), 2, 2)), 30.0)  # 1280×720
    assert A.to_lines(360, 28).applies_to(taller)
    assert A.to_lines(360, 28)(taller).frames.shape == (4, 360, 640, 3)


@pytest.mark.parametrize("family", ["vp9", "av1"])
def test_vp9_and_av1_really_encode(clip: Video, family: str) -> None:
    short = Video(clip.frames[:12], clip.fps)
    out = A.platform(family)(short)
    assert out.frames.shape == short.frames.shape
    diff = float(np.abs(out.frames.astype(np.int16) - short.frames).mean())
    assert 0.2 < diff < 12.0  # lossy, but the picture is still there


def test_frame_rate_change_with_and_without_blending(clip: Video) -> None:
    plain, blended = A.fps_change(24.0)(clip), A.fps_change(24.0, blend=True)(clip)
    assert plain.fps == blended.fps == 24.0 and plain.num_frames == blended.num_frames == 48
    # Output frame 1 sits at source time 1.25: nearest is frame 1, the blend is 3:1 of frames 1 and 2.
    assert np.array_equal(plain.frames[1], clip.frames[1])
    expected = cv2.addWeighted(clip.frames[1], 0.75, clip.frames[2], 0.25, 0.0)
    assert np.array_equal(blended.frames[1], expected)


def test_reframes_cut_the_centre(clip: Video) -> None:
    portrait, square = A.reframe(9, 16)(clip), A.reframe(1, 1)(clip)
    assert (portrait.width, portrait.height) == (202, 360) and (square.width, square.height) == (360, 360)
    assert np.array_equal(square.frames[0], clip.frames[0, :, 140:500])


def test_inside_a_longer_video(clip: Video) -> None:
    host = Video(np.zeros((10, 90, 160, 3), np.uint8), 30.0)
    out = A.inside(host, before=1.0, after=2.0)(clip)
    assert out.num_frames == 30 + 60 + 60
    assert np.array_equal(out.frames[30:90], clip.frames) and not out.frames[:30].any() and not out.frames[90:].any()


def test_screen_recording_chain(clip: Video) -> None:
    out = A.screen_recording()(Video(clip.frames[:8], clip.fps))
    assert (out.width, out.height, out.num_frames) == (512, 288, 8)
