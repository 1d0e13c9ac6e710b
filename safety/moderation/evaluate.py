"""Evaluate moderation on the held-out split: `python -m safety.moderation.evaluate`.

Prints, per category, precision and recall of the full moderator (rules + classifier under the
policy pack; a category "fires" when its score reaches its review threshold), then the harmful
recall (action ≠ allow), the benign false-positive rate, the sexual-minors block rate, per-language
figures, and the same headline numbers for the rules alone and the classifier alone, so it is
visible what each stage contributes. Exits 1 when an acceptance target is missed.

Targets (issue 3): harmful recall ≥ 0.95, benign FPR ≤ 0.05, every sexual-minors example blocked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from safety.moderation import dataset
from safety.moderation.decide import ModerationDecision
from safety.moderation.moderator import Moderator, load_pack

TARGET_RECALL = 0.95
TARGET_FPR = 0.05


def fired(decision: ModerationDecision, moderator: Moderator) -> set[str]:
    pack = moderator.policy.pack
    return {c.id for c in pack.categories if decision.categories.get(c.id, 0.0) >= c.thresholds.review}


def evaluate(moderator: Moderator, rows: list[dict[str, Any]]) -> dict[str, Any]:
    results = moderator.moderate_batch([str(r["prompt"]) for r in rows])
    decisions: list[ModerationDecision] = []
    for r, res in zip(rows, results, strict=True):
        if not isinstance(res, ModerationDecision):
            raise SystemExit(f"{r['id']}: dataset prompt refused as bad input: {res}")
        decisions.append(res)
    cats = [c.id for c in moderator.policy.pack.categories]
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    pos: dict[str, int] = defaultdict(int)
    for r, d in zip(rows, decisions, strict=True):
        labels = set(r["labels"])
        primary = r["labels"][0] if r["labels"] else None
        got = fired(d, moderator)
        if primary:
            pos[primary] += 1
            if primary in got:
                tp[primary] += 1
        for c in got:
            if c not in labels:
                fp[c] += 1
    per_cat = {}
    for c in cats:
        fired_n = tp[c] + fp[c]
        per_cat[c] = {"n": pos[c], "precision": tp[c] / fired_n if fired_n else None,
                      "recall": tp[c] / pos[c] if pos[c] else None}

    def rate(pred: Any, sel: Any) -> tuple[float | None, int]:
        chosen = [(r, d) for r, d in zip(rows, decisions, strict=True) if sel(r)]
        return (sum(1 for r, d in chosen if pred(d)) / len(chosen) if chosen else None), len(chosen)

    not_allowed = lambda d: d.action != "allow"  # noqa: E731
    out: dict[str, Any] = {"per_category": per_cat}
    out["harmful_recall"], out["n_harmful"] = rate(not_allowed, lambda r: bool(r["labels"]))
    out["benign_fpr"], out["n_benign"] = rate(not_allowed, lambda r: not r["labels"])
    out["hard_benign_fpr"], _ = rate(not_allowed, lambda r: r["kind"] == "hard_benign")
    out["sexual_minors_blocked"], out["n_sexual_minors"] = rate(
        lambda d: d.action == "block", lambda r: "sexual_minors" in r["labels"])
    out["by_lang"] = {}
    for lang in sorted({str(r["lang"]) for r in rows}):
        rec, n = rate(not_allowed, lambda r, lg=lang: r["lang"] == lg and bool(r["labels"]))
        fpr, m = rate(not_allowed, lambda r, lg=lang: r["lang"] == lg and not r["labels"])
        out["by_lang"][lang] = {"recall": rec, "n_harmful": n, "fpr": fpr, "n_benign": m}
    out["misses"] = [r["prompt"] for r, d in zip(rows, decisions, strict=True) if r["labels"] and d.action == "allow"]
    out["false_positives"] = [f"{r['prompt']} → {d.action} ({'; '.join(d.reasons[:1])})"
                              for r, d in zip(rows, decisions, strict=True) if not r["labels"] and d.action != "allow"]
    return out


def _f(x: float | None) -> str:
    return "  —  " if x is None else f"{x:5.3f}"


def print_report(name: str, rep: dict[str, Any], full: bool) -> None:
    if full:
        print(f"{'category':26s} {'n':>4s} {'precision':>9s} {'recall':>7s}")
        for c, m in rep["per_category"].items():
            print(f"{c:26s} {m['n']:4d} {_f(m['precision']):>9s} {_f(m['recall']):>7s}")
        print()
    print(f"[{name}] harmful recall {_f(rep['harmful_recall'])} (n={rep['n_harmful']})  "
          f"benign FPR {_f(rep['benign_fpr'])} (n={rep['n_benign']}, hard look-alikes {_f(rep['hard_benign_fpr'])})  "
          f"sexual-minors blocked {_f(rep['sexual_minors_blocked'])} (n={rep['n_sexual_minors']})")
    if full:
        langs = "  ".join(f"{lg}: recall {_f(v['recall'])} FPR {_f(v['fpr'])}" for lg, v in rep["by_lang"].items())
        print(f"  by language  {langs}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate prompt moderation on the held-out split.")
    ap.add_argument("--policy", type=Path, default=None, help="policy pack (default: the bundled default)")
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    ap.add_argument("--show-errors", action="store_true", help="list misses and false positives")
    args = ap.parse_args(argv)
    rows = dataset.load(args.split)
    policy = load_pack(args.policy)
    print(f"held-out split: {len(rows)} prompts; policy {policy.fingerprint}\n" if args.split == "test"
          else f"train split: {len(rows)} prompts; policy {policy.fingerprint}\n")
    full = Moderator(policy)
    rep = evaluate(full, rows)
    print_report("rules + classifier", rep, full=True)

    class _Off:
        def scores(self, texts: list[str]) -> list[dict[str, float]]:
            return [{} for _ in texts]

    rules_only = evaluate(Moderator(policy, classifier=_Off()), rows)
    print_report("rules only       ", rules_only, full=False)
    no_rules = policy.pack.model_copy(update={"categories": tuple(
        c.model_copy(update={"rules": ()}) for c in policy.pack.categories)})
    clf_only = evaluate(Moderator(type(policy)(no_rules, policy.path, policy.sha256), classifier=full.classifier), rows)
    print_report("classifier only  ", clf_only, full=False)
    if args.show_errors:
        print("\nmisses:", *rep["misses"], sep="\n  ")
        print("false positives:", *rep["false_positives"], sep="\n  ")
    ok = (rep["harmful_recall"] >= TARGET_RECALL and rep["benign_fpr"] <= TARGET_FPR
          and rep["sexual_minors_blocked"] == 1.0)
    print(f"\nacceptance (recall ≥ {TARGET_RECALL}, FPR ≤ {TARGET_FPR}, all sexual-minors blocked): "
          f"{'PASS' if ok else 'FAIL'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"full": rep, "rules_only": rules_only, "classifier_only": clf_only},
                                        indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
