"""Policy packs: versioned YAML data, validated on load and fingerprinted.

`load_policy()` returns a `LoadedPolicy`: the validated `PolicyPack` plus the sha256 of the file,
so every decision can record exactly which pack made it (`name@version#sha256-prefix`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.schema import Category, Limits, MediaLimits, PolicyPack, RequestLimits, Thresholds

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Category",
    "Limits",
    "LoadedPolicy",
    "MediaLimits",
    "PolicyLoadError",
    "PolicyPack",
    "RequestLimits",
    "Thresholds",
    "load_policy",
]

DEFAULT_POLICY_PATH = Path(__file__).with_name("default.yaml")


class PolicyLoadError(ValueError):
    """A pack could not be read or is invalid; the message names the file and line."""


@dataclass(frozen=True)
class LoadedPolicy:
    pack: PolicyPack
    path: Path
    sha256: str

    @property
    def fingerprint(self) -> str:
        """`name@version#sha256-prefix`, recorded with every decision."""
        return f"{self.pack.name}@{self.pack.version}#{self.sha256[:12]}"


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line number."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


_CACHE: dict[Path, tuple[tuple[int, int], LoadedPolicy]] = {}


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Read, validate and fingerprint a policy pack (the bundled default when `path` is None).

    Packs are cached by path, modification time and size: every request consults the pack, and
    validating a large one costs milliseconds; an edited file is read again.
    """
    p = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        st = p.stat()
    except OSError as exc:
        raise PolicyLoadError(f"cannot read policy pack {p}: {exc.strerror or exc}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(p)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loaded = _load_uncached(p)
    _CACHE[p] = (stamp, loaded)
    return loaded


def _load_uncached(p: Path) -> LoadedPolicy:
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PolicyLoadError(f"cannot read policy pack {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyLoadError(f"{p}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PolicyLoadError(f"{p}: a policy pack must be a YAML mapping")
    try:
        pack = PolicyPack.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key also makes its intended field "missing"; the typo is the line to show.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        line = _line_of(root, loc)
        dotted = ".".join(str(x) for x in loc) or "(top level)"
        extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PolicyLoadError(f"{p}: line {line}: {dotted}: {err['msg']}{extra}") from None
    return LoadedPolicy(pack=pack, path=p.resolve(), sha256=hashlib.sha256(raw).hexdigest())
