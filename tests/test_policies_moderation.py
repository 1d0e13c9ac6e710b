"""Policy packs' moderation part: the taxonomy is complete, invalid packs are refused with the line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import DEFAULT_POLICY_PATH, PolicyLoadError, load_policy

STRICT = DEFAULT_POLICY_PATH.with_name("strict.yaml")
REQUIRED = {
    "sexual_minors", "real_person_sexual", "explicit_sexual", "public_figure_deception", "election_misinformation",
    "fabricated_evidence", "violent_extremism", "graphic_violence", "self_harm", "hate_harassment",
    "dangerous_instructions", "intellectual_property",
}  # fmt: skip


@pytest.mark.parametrize("path", [DEFAULT_POLICY_PATH, STRICT])
def test_packs_hold_the_whole_taxonomy(path: Path) -> None:
    pack = load_policy(path).pack
    assert {c.id for c in pack.categories} == REQUIRED
    for c in pack.categories:
        assert c.definition.strip() and c.examples and c.rules, c.id
        assert 0.0 <= c.thresholds.review <= c.thresholds.block <= 1.0
    assert pack.moderation.on_error in ("review", "block")
    assert "sexual_minors" in pack.moderation.zero_tolerance
    assert len(pack.signals["public_figure"].terms) >= 50


def test_default_reviews_ip_and_strict_blocks_it() -> None:
    d, s = load_policy().pack, load_policy(STRICT).pack
    assert d.category("intellectual_property").max_action == "review"
    assert s.category("intellectual_property").max_action == "block"
    assert any(s.category(c).thresholds.block < d.category(c).thresholds.block for c in REQUIRED)
    assert load_policy().fingerprint != load_policy(STRICT).fingerprint


def _broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the default pack with one edit, and the 1-based line of the edit."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    at = text.index(old)
    path = tmp_path / "pack.yaml"
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return path, text[:at].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  zero_tolerance: [sexual_minors]", "  zero_tolerance: [sexual_minorz]", "unknown category 'sexual_minorz'"),
        ("all_of: [minor, sexual], score: 1.0}", "all_of: [minor, sexyal], score: 1.0}", "unknown signal 'sexyal'"),
        ("    thresholds: {review: 0.45, block: 0.6}", "    thresholds: {review: 0.45, block: 1.5}",
         "less than or equal to 1"),
        ("  - id: explicit_sexual", "  - id: sexual_minors", "duplicate category id 'sexual_minors'"),
        ("    max_action: review", "    max_action: shrug", "Input should be"),
    ],
)
def test_invalid_packs_are_refused_with_the_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    path, line = _broken(tmp_path, old, new)
    with pytest.raises(PolicyLoadError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert f"line {line}:" in str(err.value), str(err.value)


def test_bad_pattern_is_refused(tmp_path: Path) -> None:
    path, _ = _broken(tmp_path, "    patterns: ['\\b(?:un|una", "    patterns: ['(unclosed', '\\b(?:un|una")
    with pytest.raises(PolicyLoadError, match="does not compile"):
        load_policy(path)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path, line = _broken(tmp_path, "  on_error: block", "  on_eror: block")
    with pytest.raises(PolicyLoadError, match=f"line {line}:.*on_eror"):
        load_policy(path)


def test_rule_cannot_depend_on_its_own_category(tmp_path: Path) -> None:
    old = "with_categories: [explicit_sexual], score: 1.0}\n  - id: real_person_sexual"
    path, _ = _broken(tmp_path, old, old.replace("[explicit_sexual]", "[sexual_minors]"))
    with pytest.raises(PolicyLoadError, match="cannot depend on its own category"):
        load_policy(path)
