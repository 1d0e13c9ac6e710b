"""safety.media: real MP4s through PyAV, and every kind of bad input refused with a MediaError."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from policies import load_policy
from safety.demo import demo_clip
from safety.errors import MediaError, MediaTooLargeError
from safety.media import Video, probe, read_video, resize_video, write_video
from tests.conftest import crafted_20000_header, make_video, mjpeg_avi, png_renamed_mp4


def test_round_trip_keeps_shape_fps_and_content(tmp_path: Path) -> None:
    # Smooth, camera-like content: saturated random blocks would mostly measure 4:2:0 chroma loss.
    video = demo_clip(seconds=16 / 12, width=96, height=64, fps=12)
    path = write_video(video, tmp_path / "rt.mp4", crf=12)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.fps) == (96, 64, 16, 12.0)
    assert info.codec == "h264"
    back = read_video(path)
    assert back.frames.shape == video.frames.shape
    err = np.abs(back.frames.astype(int) - video.frames.astype(int)).mean()
    assert err < 3, f"mean abs error {err} too high for CRF 12"
    # The decoder's picture types come along (the watermark reader weights frames by them).
    assert back.picture_types is not None and len(back.picture_types) == 16
    assert back.picture_types[0] == "I" and set(back.picture_types) <= {"I", "P", "B"}
    assert video.picture_types is None  # made in memory


def test_video_type_validates_its_frames() -> None:
    with pytest.raises(MediaError):
        Video(np.zeros((4, 8, 8), np.uint8), 24)
    with pytest.raises(MediaError):
        Video(np.zeros((4, 8, 8, 3), np.float32), 24)
    with pytest.raises(MediaError):
        Video(np.zeros((4, 8, 8, 3), np.uint8), 0)
    with pytest.raises(MediaError, match="picture types"):
        Video(np.zeros((4, 8, 8, 3), np.uint8), 24, "IPP")


def test_resize(tmp_path: Path) -> None:
    small = resize_video(make_video(), 48, 32)
    assert small.frames.shape[1:3] == (32, 48)


def test_max_frames_stops_early(mp4: Path) -> None:
    assert read_video(mp4, max_frames=3).num_frames == 3


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.mp4", b"", "empty file"),
        ("text.mp4", b"this is just some text, not a video\n" * 20, "not a readable video"),
        ("garbage.mp4", bytes(range(256)) * 64, "not a readable video"),
    ],
)
def test_bad_files_are_media_errors(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError, match=reason):
        probe(path)
    with pytest.raises(MediaError):
        read_video(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        read_video(tmp_path / "nope.mp4")


def test_png_renamed_mp4_is_not_a_video(tmp_path: Path) -> None:
    fake = png_renamed_mp4(tmp_path)
    assert fake.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(MediaError, match="'png_pipe' is not an accepted video container"):
        read_video(fake)


def test_truncated_mp4_without_index(tmp_path: Path, mp4: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = mp4.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError):
        read_video(cut)


def test_truncated_mp4_with_index_first_is_not_passed_off_as_whole(tmp_path: Path) -> None:
    video = make_video(frames=30)
    full = tmp_path / "faststart.mp4"
    with av.open(str(full), "w", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = video.width, video.height, "yuv420p"
        for f in video.frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        read_video(cut)


def test_crafted_header_claiming_20000x20000_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="frame size"):
        read_video(crafted_20000_header(tmp_path))


def test_real_oversized_stream_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.avi"
    mjpeg_avi(path, 4096, 2304)  # 9.4 MP > the default 8.3 MP limit
    with pytest.raises(MediaTooLargeError):
        probe(path)


def _limits(**changes: object):  # type: ignore[no-untyped-def]
    media = load_policy().pack.limits.media
    return media.model_copy(update=changes)


def test_limits_from_the_pack_are_enforced(mp4: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="bytes exceeds"):
        probe(mp4, _limits(max_bytes=100))
    with pytest.raises(MediaTooLargeError, match="frame size 96×64 exceeds"):
        probe(mp4, _limits(max_width=64))
    with pytest.raises(MediaTooLargeError, match="frames exceeds"):
        probe(mp4, _limits(max_frames=5))
    with pytest.raises(MediaTooLargeError, match="s exceeds"):
        probe(mp4, _limits(max_seconds=0.5))


def test_write_refuses_odd_sizes_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="even"):
        write_video(Video(np.zeros((2, 9, 10, 3), np.uint8), 10), tmp_path / "odd.mp4")
    with pytest.raises(MediaError, match="does not exist"):
        write_video(make_video(), tmp_path / "missing" / "x.mp4")


def test_write_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"previous content")
    with pytest.raises(MediaError):
        write_video(make_video(), target, crf=99)
    assert target.read_bytes() == b"previous content"
    assert not list(tmp_path.glob(".sealframe-*"))
