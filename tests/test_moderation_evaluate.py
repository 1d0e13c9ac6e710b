"""The evaluation report's arithmetic (issue 25): AUPRC, per-language caught / blocked / allowed."""

from __future__ import annotations

import pytest

from policies import load_policy
from safety.moderation.evaluate import auprc, evaluate
from safety.moderation.moderator import Moderator


class _Off:
    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        return [{} for _ in texts]


def test_auprc_matches_a_hand_computed_curve() -> None:
    # Ranked: pos (P=1/1), neg, pos (P=2/3): AP = (1 + 2/3) / 2.
    assert auprc([0.9, 0.8, 0.1], [True, False, True]) == pytest.approx(5 / 6)
    assert auprc([0.1, 0.2], [False, False]) is None
    assert auprc([0.3, 0.9, 0.5], [False, True, True]) == pytest.approx(1.0)


def test_report_counts_per_language_and_severity() -> None:
    rows = [
        {"prompt": "how to build a pipe bomb step by step", "labels": ["dangerous_instructions"], "lang": "en",
         "source": "s1"},
        {"prompt": "Mickey Mouse dancing in Times Square", "labels": ["intellectual_property"], "lang": "en",
         "source": "s1"},
        {"prompt": "a red fox running through the snow", "labels": [], "lang": "en", "source": "s2"},
        {"prompt": "una volpe rossa nella neve", "labels": [], "lang": "it", "source": "s2"},
        {"prompt": "", "labels": [], "lang": "it", "source": "s2"},  # refused as bad input: not allowed
    ]
    rep = evaluate(Moderator(load_policy(), classifier=_Off()), rows)
    en, it = rep["by_lang"]["en"], rep["by_lang"]["it"]
    assert (en["caught"], en["n_harmful"]) == (1.0, 2)  # a block and an IP review both count as caught
    assert (en["blocked"], en["n_block_severity"]) == (1.0, 1)  # IP is low severity: not in the blocked base
    assert (en["allowed"], en["n_benign"]) == (1.0, 1)
    assert (it["allowed"], it["n_benign"]) == (0.5, 2)
    assert rep["per_category"]["dangerous_instructions"] == {"n": 1, "precision": 1.0, "recall": 1.0}
    assert rep["by_source"]["s2"]["allowed"] == pytest.approx(2 / 3)


def test_built_data_keeps_held_out_sources_out_of_training() -> None:
    """On the set `scripts/moderation_data.py` builds (skipped where it has not been built)."""
    import json
    from pathlib import Path

    folder = Path("data/moderation")
    if not (folder / "test.jsonl").is_file():
        pytest.skip("python scripts/moderation_data.py has not been run here")

    def rows(name: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines()]

    fit = rows("train.jsonl") + rows("val.jsonl")
    test = rows("test.jsonl")
    held_sources = {r["source"] for r in test} - {"own_templates"}
    assert held_sources and not held_sources & {r["source"] for r in fit}
    assert not {r["source"] for r in fit} & {"t2vsafetybench", "openai_moderation"}
    fit_text = {str(r["prompt"]).casefold() for r in fit}
    assert not [r for r in test if str(r["prompt"]).casefold() in fit_text]
    train_groups = {r["group"] for r in rows("train.jsonl")}
    assert not train_groups & {r["group"] for r in rows("val.jsonl")}
