"""Memory per upload is bounded: verification decodes at a working resolution, whatever the upload's size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.load import write_clip
from safety.media import read_video, working_size
from safety.verify import VERIFY_FRAMES, VERIFY_PIXELS

# Runs the CLI and prints the process's own peak RSS (VmHWM: a fresh address space after exec,
# unlike ru_maxrss, which keeps the forking parent's peak).
PEAK_RSS_WRAPPER = """
import atexit, sys
atexit.register(lambda: print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0], file=sys.stderr))
from safety.cli import main
main(sys.argv[1:])
"""


def write_large_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """The load benchmark's moving gradient (encoded frame by frame), at CRF 35."""
    return write_clip(path, width, height, frames, crf=35)


def test_working_size_keeps_aspect_and_bound() -> None:
    assert working_size(640, 360, VERIFY_PIXELS) == (640, 360)
    w, h = working_size(3840, 2160, VERIFY_PIXELS)
    assert (w, h) == (1280, 720)
    w, h = working_size(1000, 7000, 100_000)
    assert w * h <= 100_000 and w % 2 == 0 and h % 2 == 0 and abs(h / w - 7) < 0.1


def test_read_video_scales_while_decoding(tmp_path: Path) -> None:
    clip = write_large_clip(tmp_path / "hd.mp4", 1920, 1080, 6)
    small = read_video(clip, max_frames=VERIFY_FRAMES, max_pixels=VERIFY_PIXELS)
    assert small.frames.shape == (6, 720, 1280, 3)
    full = read_video(clip)
    assert full.frames.shape == (6, 1080, 1920, 3)
    # The scaled frames are the full ones made smaller, not something else.
    a = small.frames.astype(np.float32).mean(axis=(1, 2))
    b = full.frames.astype(np.float32).mean(axis=(1, 2))
    assert np.abs(a - b).max() < 2.0


@pytest.mark.slow
def test_cli_verify_of_a_4k_clip_stays_small(tmp_path: Path) -> None:
    # 12 frames of 3840×2160 decode to 300 MB of RGB; held whole and then stacked: 600 MB more than
    # the ~450 MB that a verification at the working resolution peaks at.
    clip = write_large_clip(tmp_path / "uhd.mp4", 3840, 2160, 12)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, "verify", str(clip), "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '"verdict"' in proc.stdout
    peak_mb = int(proc.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024
    assert peak_mb < 800, f"sealframe verify peaked at {peak_mb:.0f} MB"
