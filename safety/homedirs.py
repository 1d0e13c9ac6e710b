"""The home folder and its data folders are private to the service's user (0700).

`$SEALFRAME_HOME` holds the keys, the database (prompts, key hashes), sealed assets, uploads and
work files. `private_home` creates the home and its data folders with mode 0700 and tightens
folders made before this rule; `private_dirs` creates nested folders 0700 at every level (a plain
`mkdir(parents=True, mode=...)` applies the mode to the last level only). Files inside are made
0600 where they are created (database, keys, artifacts through mkstemp, uploads).
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safety.settings import Settings

DATA_FOLDERS = ("keys", "artifacts", "uploads", "work")
MODE = 0o700


def private_dirs(path: Path) -> None:
    """Create `path` and any missing parents with mode 0700 (existing folders are left as they are)."""
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        with suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=MODE)


def private_home(settings: Settings) -> None:
    """Create the home and its data folders 0700; take group and other bits off ones that exist.

    Never adds a permission: a key folder its owner made read-only (0500) stays read-only.
    """
    home = settings.home
    for folder in (home, *(home / name for name in DATA_FOLDERS)):
        if folder == home / "artifacts" and settings.artifacts:
            continue  # a configured artifact store is the operator's to set up
        private_dirs(folder)
        with suppress(OSError):  # made by another user, or on a read-only mount (a key folder)
            mode = folder.stat().st_mode & 0o777
            if mode & ~MODE:
                folder.chmod(mode & MODE)
