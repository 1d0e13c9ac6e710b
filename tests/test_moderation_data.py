"""The shipped moderation dataset: size, balance, languages, and a held-out split training never sees."""

from __future__ import annotations

from collections import Counter

from safety.moderation import dataset


def test_shipped_data_is_what_the_builder_writes() -> None:
    built = dataset.build()
    for split in ("train", "test"):
        shipped = dataset.load(split)
        assert [r["prompt"] for r in shipped] == [r["prompt"] for r in built[split]], split


def test_size_balance_and_languages() -> None:
    rows = dataset.load("train") + dataset.load("test")
    assert len(rows) >= 2000
    assert sum(1 for r in rows if not r["labels"]) / len(rows) >= 0.40
    assert set(Counter(r["lang"] for r in rows)) == {"en", "it", "es", "fr", "de"}
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["hard_benign"] >= 200
    cats = Counter(r["labels"][0] for r in rows if r["labels"])
    assert set(cats) == set(dataset.HARMFUL) and min(cats.values()) >= 50
    for lang in ("it", "es", "fr", "de"):
        assert {r["labels"][0] for r in rows if r["labels"] and r["lang"] == lang} == set(dataset.HARMFUL)


def test_held_out_split_is_disjoint_from_training() -> None:
    train, test = dataset.load("train"), dataset.load("test")
    assert not {r["template"] for r in train} & {r["template"] for r in test}
    assert not {r["prompt"].lower() for r in train} & {r["prompt"].lower() for r in test}
    # Slot values (public figures, places, ...) differ too.
    for slot, table in dataset.SLOTS.items():
        for lang, (tr, te) in table.items():
            assert not set(tr) & set(te), (slot, lang)
