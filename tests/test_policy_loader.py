"""The policy pack loader: schema validation with the YAML line named, and the fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import DEFAULT_POLICY_PATH, PolicyLoadError, load_policy


def test_default_pack_loads_and_is_fingerprinted() -> None:
    loaded = load_policy()
    assert loaded.path == DEFAULT_POLICY_PATH.resolve()
    name, rest = loaded.fingerprint.split("@", 1)
    version, digest = rest.split("#", 1)
    assert (name, version) == (loaded.pack.name, loaded.pack.version)
    assert len(digest) == 12 and loaded.sha256.startswith(digest)


def test_fingerprint_changes_with_any_byte(tmp_path: Path) -> None:
    copy = tmp_path / "p.yaml"
    copy.write_bytes(DEFAULT_POLICY_PATH.read_bytes() + b"\n# a comment\n")
    assert load_policy(copy).sha256 != load_policy().sha256


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_POLICY_PATH.read_text()
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_invalid_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "max_width: 3840", "max_width: -5")
    with pytest.raises(PolicyLoadError, match=rf"line {_line_of(path, 'max_width: -5')}: limits.media.max_width"):
        load_policy(path)


def test_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "    max_frames: 18000", "    max_frame: 18000")
    with pytest.raises(PolicyLoadError, match=rf"line {_line_of(path, 'max_frame: 18000')}: .*max_frame"):
        load_policy(path)


def test_missing_file_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n  version: : :\n")
    with pytest.raises(PolicyLoadError, match="not valid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(PolicyLoadError, match="mapping"):
        load_policy(listy)
