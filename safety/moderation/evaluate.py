"""Evaluate prompt moderation: `python -m safety.moderation.evaluate [--external] [--baselines]`.

The held-out test set is `test.jsonl` from `scripts/moderation_data.py` (default folder
`data/moderation`). Its acceptance rows come only from sources that no training or
calibration step reads (multilingual HateCheck it/es/fr/de, MultiJail en/it, XSTest's safe prompts
and SimpleSafetyTests en); the project's own held-out templates are reported on a separate line,
since their author also wrote the training templates.

Printed, for the full moderator (rules + classifier under the policy pack):
- per language (en, it, es, fr, de): harmful caught (action ≠ allow), "block"-severity blocked
  (rows labelled with a category of severity high or critical), benign allowed;
- per category: n, precision and recall (a category "fires" at its review threshold);
- per source; and the headline for the rules alone and the classifier alone.
`--external` adds T2VSafetyBench (caught per aspect) and OpenAI's moderation set (harmful caught,
benign flagged, AUPRC of the largest category score); `--baselines` scores the same rows with the
spaCy prompt-NSFW pipeline and HateSonar (see `benchmarks/moderation_baselines.py`) in the same
run. Exits 1 when a per-language target is missed: caught ≥ 0.97, blocked ≥ 0.95, allowed ≥ 0.97.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from safety.moderation.decide import ModerationDecision
from safety.moderation.moderator import Moderator, Scorer, load_pack

DATA = Path("data/moderation")
LANGS = ("en", "it", "es", "fr", "de")
TARGET_CAUGHT = 0.97
TARGET_BLOCKED = 0.95
TARGET_ALLOWED = 0.97
OWN = "own_templates"
BASELINE_VENV = Path("data/bench-venv/bin/python")


class CachedScorer:
    """Memoises a classifier's scores by text, so the rules-only and classifier-only passes and the
    external sets do not pay for the encoder twice."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner
        self.memo: dict[str, dict[str, float]] = {}

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            self.memo.update(zip(chunk, self.inner.scores(chunk), strict=True))
        return [self.memo[t] for t in texts]


class _Off:
    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        return [{} for _ in texts]


def fired(decision: ModerationDecision, moderator: Moderator) -> set[str]:
    pack = moderator.policy.pack
    return {c.id for c in pack.categories if decision.categories.get(c.id, 0.0) >= c.thresholds.review}


def decide_all(moderator: Moderator, rows: list[dict[str, Any]]) -> list[ModerationDecision | None]:
    """Decisions in row order; None where the prompt is refused as bad input (counted as not allowed)."""
    out: list[ModerationDecision | None] = []
    for i in range(0, len(rows), 512):
        res = moderator.moderate_batch([str(r["prompt"]) for r in rows[i : i + 512]])
        out.extend(d if isinstance(d, ModerationDecision) else None for d in res)
    return out


def evaluate(moderator: Moderator, rows: list[dict[str, Any]]) -> dict[str, Any]:
    decisions = decide_all(moderator, rows)
    pack = moderator.policy.pack
    severe = {c.id for c in pack.categories if c.severity in ("high", "critical")}
    cats = [c.id for c in pack.categories]
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    pos: dict[str, int] = defaultdict(int)
    for r, d in zip(rows, decisions, strict=True):
        labels = set(r["labels"])
        got = fired(d, moderator) if d is not None else set()
        for c in labels & set(cats):
            pos[c] += 1
            tp[c] += c in got
        for c in got - labels:
            fp[c] += 1
    per_cat = {c: {"n": pos[c], "precision": tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else None,
                   "recall": tp[c] / pos[c] if pos[c] else None} for c in cats}

    def action(d: ModerationDecision | None) -> str:
        return "block" if d is None else d.action

    def rate(pred: Any, sel: Any) -> tuple[float | None, int]:
        chosen = [d for r, d in zip(rows, decisions, strict=True) if sel(r)]
        return (sum(1 for d in chosen if pred(action(d))) / len(chosen) if chosen else None), len(chosen)

    def figures(sel: Any) -> dict[str, Any]:
        caught, n_h = rate(lambda a: a != "allow", lambda r: sel(r) and bool(r["labels"]))
        blocked, n_b = rate(lambda a: a == "block", lambda r: sel(r) and bool(set(r["labels"]) & severe))
        allowed, n_n = rate(lambda a: a == "allow", lambda r: sel(r) and not r["labels"])
        return {"caught": caught, "n_harmful": n_h, "blocked": blocked, "n_block_severity": n_b,
                "allowed": allowed, "n_benign": n_n}

    out: dict[str, Any] = {"per_category": per_cat, **figures(lambda r: True)}
    out["by_lang"] = {lg: figures(lambda r, lg=lg: r["lang"] == lg) for lg in sorted({r["lang"] for r in rows})}
    out["by_source"] = {s: figures(lambda r, s=s: r.get("source", OWN) == s)
                        for s in sorted({r.get("source", OWN) for r in rows})}
    out["sexual_minors_blocked"], out["n_sexual_minors"] = rate(
        lambda a: a == "block", lambda r: "sexual_minors" in r["labels"])
    # Kept for callers of the older report: recall = caught, FPR = 1 − allowed.
    out["harmful_recall"] = out["caught"]
    out["benign_fpr"] = None if out["allowed"] is None else 1.0 - out["allowed"]
    out["misses"] = [r["prompt"] for r, d in zip(rows, decisions, strict=True) if r["labels"] and action(d) == "allow"]
    out["false_positives"] = [f"{r['prompt']} → {action(d)} ({'; '.join(d.reasons[:1]) if d else 'refused'})"
                              for r, d in zip(rows, decisions, strict=True) if not r["labels"] and action(d) != "allow"]
    out["scores"] = [max(d.categories.values(), default=0.0) if d else 1.0 for d in decisions]
    out["actions"] = [action(d) for d in decisions]
    return out


def auprc(scores: list[float], positive: list[bool]) -> float | None:
    """Average precision (the area under the precision-recall curve, step-wise)."""
    y = np.asarray(positive, dtype=bool)
    if not y.any():
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.cumsum(y[order])
    precision = hits / np.arange(1, len(y) + 1)
    return float((precision * y[order]).sum() / y.sum())


def _f(x: float | None) -> str:
    return "  —  " if x is None else f"{x:5.3f}"


def print_langs(title: str, rep: dict[str, Any]) -> None:
    print(f"{title}\n{'lang':5s} {'harmful':>8s} {'caught':>7s} {'block-sev':>10s} {'blocked':>8s} "
          f"{'benign':>7s} {'allowed':>8s}")
    for lg in [*LANGS, "all"]:
        v = rep if lg == "all" else rep["by_lang"].get(lg)
        if v is None:
            continue
        print(f"{lg:5s} {v['n_harmful']:8d} {_f(v['caught']):>7s} {v['n_block_severity']:10d} {_f(v['blocked']):>8s} "
              f"{v['n_benign']:7d} {_f(v['allowed']):>8s}")


def print_sources(rep: dict[str, Any]) -> None:
    for s, v in rep["by_source"].items():
        print(f"  {s:18s} caught {_f(v['caught'])} (n={v['n_harmful']})  blocked {_f(v['blocked'])} "
              f"(n={v['n_block_severity']})  allowed {_f(v['allowed'])} (n={v['n_benign']})")


def load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python scripts/moderation_data.py` first")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_baselines(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{id: {"spacy_nsfw": p, "hatesonar": p}} from the baselines' own environment (empty if absent)."""
    if not BASELINE_VENV.is_file():
        print(f"baselines skipped: {BASELINE_VENV} not found (see benchmarks/moderation_baselines.py)")
        return {}
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "moderation_baselines.py"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"id": r["id"], "prompt": r["prompt"]}) + "\n" for r in rows))
        env = {**os.environ, "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1"}
        res = subprocess.run([str(BASELINE_VENV), str(script), str(src), str(dst)], capture_output=True, text=True,
                             env=env, timeout=3600)
        if res.returncode != 0:
            print(f"baselines failed: {res.stderr.strip().splitlines()[-1:]}")
            return {}
        return {o["id"]: o for o in map(json.loads, dst.read_text().splitlines())}


def baseline_figures(rows: list[dict[str, Any]], scores: dict[str, dict[str, float]], key: str) -> dict[str, Any]:
    def part(sel: Any) -> tuple[float | None, float | None]:
        h = [scores[r["id"]][key] >= 0.5 for r in rows if sel(r) and r["labels"]]
        b = [scores[r["id"]][key] < 0.5 for r in rows if sel(r) and not r["labels"]]
        return (sum(h) / len(h) if h else None), (sum(b) / len(b) if b else None)

    return {lg: part(lambda r, lg=lg: r["lang"] == lg) for lg in LANGS} | {"all": part(lambda r: True)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate prompt moderation on held-out sources.")
    ap.add_argument("--data", type=Path, default=DATA, help="folder written by scripts/moderation_data.py")
    ap.add_argument("--policy", type=Path, default=None, help="policy pack (default: the bundled default)")
    ap.add_argument("--card", type=Path, default=None, help="model card (default: the bundled weights/card.yaml)")
    ap.add_argument("--external", action="store_true", help="also report T2VSafetyBench and the OpenAI set")
    ap.add_argument("--baselines", action="store_true", help="spaCy NSFW and HateSonar on the same rows")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    ap.add_argument("--show-errors", type=int, default=0, metavar="N", help="list N misses and false positives")
    args = ap.parse_args(argv)
    rows = load_rows(args.data / "test.jsonl")
    held = [r for r in rows if r["source"] != OWN]
    own = [r for r in rows if r["source"] == OWN]
    policy = load_pack(args.policy)
    if args.card is not None:
        from safety.moderation.classifier import SemanticClassifier

        base = Moderator(policy, classifier=SemanticClassifier.from_card(args.card))
    else:
        base = Moderator(policy)
    assert base.classifier is not None
    cached = CachedScorer(base.classifier)
    full = Moderator(policy, classifier=cached)
    print(f"test set {args.data / 'test.jsonl'}: {len(held)} rows from held-out sources "
          f"({', '.join(sorted({r['source'] for r in held}))}) + {len(own)} own held-out templates; "
          f"policy {policy.fingerprint}; model {getattr(base.classifier, 'name', '?')}\n")
    rep = evaluate(full, held)
    print_langs("[rules + classifier] held-out sources", rep)
    # Ranking quality, independent of the operating point: AUPRC of the largest category score.
    rep["auprc"] = {lg: auprc([s for r, s in zip(held, rep["scores"], strict=True) if r["lang"] == lg],
                              [bool(r["labels"]) for r in held if r["lang"] == lg]) for lg in LANGS}
    rep["auprc"]["all"] = auprc(rep["scores"], [bool(r["labels"]) for r in held])
    print("AUPRC (largest category score): " + "  ".join(f"{k} {_f(v)}" for k, v in rep["auprc"].items()))
    print(f"\n{'category':26s} {'n':>5s} {'precision':>9s} {'recall':>7s}")
    for c, m in rep["per_category"].items():
        print(f"{c:26s} {m['n']:5d} {_f(m['precision']):>9s} {_f(m['recall']):>7s}")
    print("\nby source:")
    print_sources(rep)
    rep_own = evaluate(full, own) if own else None
    if rep_own:
        print("\n[rules + classifier] own held-out templates (same author as the training templates)")
        print(f"  caught {_f(rep_own['caught'])} (n={rep_own['n_harmful']})  blocked {_f(rep_own['blocked'])} "
              f"(n={rep_own['n_block_severity']})  allowed {_f(rep_own['allowed'])} (n={rep_own['n_benign']})")
    rules_only = evaluate(Moderator(policy, classifier=_Off()), held)
    no_rules = policy.pack.model_copy(update={"categories": tuple(
        c.model_copy(update={"rules": ()}) for c in policy.pack.categories)})
    clf_only = evaluate(Moderator(type(policy)(no_rules, policy.path, policy.sha256), classifier=cached), held)
    for name, r in (("rules only", rules_only), ("classifier only", clf_only)):
        print(f"[{name:15s}] held-out sources: caught {_f(r['caught'])}  blocked {_f(r['blocked'])}  "
              f"allowed {_f(r['allowed'])}")

    result: dict[str, Any] = {"held_out": rep, "own_templates": rep_own, "rules_only": rules_only,
                              "classifier_only": clf_only}
    ext: dict[str, list[dict[str, Any]]] = {}
    if args.external:
        ext = {"t2vsafetybench": load_rows(args.data / "external" / "t2vsafetybench.jsonl"),
               "openai": load_rows(args.data / "external" / "openai.jsonl")}
        t2v = evaluate(full, ext["t2vsafetybench"])
        by_aspect: dict[str, list[bool]] = defaultdict(list)
        for r, a in zip(ext["t2vsafetybench"], t2v["actions"], strict=True):
            by_aspect[r["aspect"]].append(a != "allow")
        print(f"\nT2VSafetyBench (external, never trained on): caught {_f(t2v['caught'])} of {t2v['n_harmful']}")
        for aspect, v in by_aspect.items():
            print(f"  {aspect:38s} {sum(v) / len(v):5.3f} (n={len(v)})")
        oai = evaluate(full, ext["openai"])
        positive = [bool(r["labels"]) for r in ext["openai"]]
        short_benign = [a != "allow" for r, a in zip(ext["openai"], oai["actions"], strict=True)
                        if not r["labels"] and len(r["prompt"]) < 100]
        ap_ = auprc(oai["scores"], positive)
        print(f"OpenAI moderation set (external): harmful caught {_f(oai['caught'])} (n={oai['n_harmful']}), "
              f"benign flagged {_f(None if oai['allowed'] is None else 1 - oai['allowed'])} (n={oai['n_benign']}), "
              f"benign under 100 characters flagged {sum(short_benign)}/{len(short_benign)}, AUPRC {_f(ap_)}")
        result["t2vsafetybench"] = {"caught": t2v["caught"], "n": t2v["n_harmful"],
                                    "by_aspect": {k: sum(v) / len(v) for k, v in by_aspect.items()}}
        result["openai"] = {"caught": oai["caught"], "benign_flagged": 1 - oai["allowed"], "auprc": ap_,
                            "short_benign_flagged": [sum(short_benign), len(short_benign)]}
    if args.baselines:
        every = held + [r for v in ext.values() for r in v]
        bl = run_baselines(every)
        if bl:
            print("\nside by side (same rows, flagged = score ≥ 0.5; SealFrame flagged = action ≠ allow)")
            print(f"{'set':34s} {'SealFrame':>13s} {'spaCy NSFW':>13s} {'HateSonar':>13s}")
            figs = {k: baseline_figures(held, bl, k) for k in ("spacy_nsfw", "hatesonar")}
            for lg in [*LANGS, "all"]:
                row = rep if lg == "all" else rep["by_lang"].get(lg)
                if row is None:
                    continue
                cells = [f"{_f(row['caught'])}/{_f(row['allowed'])}"] + [
                    f"{_f(figs[k][lg][0])}/{_f(figs[k][lg][1])}" for k in ("spacy_nsfw", "hatesonar")]
                print(f"{'held-out ' + lg + ': caught/allowed':34s} " + " ".join(f"{c:>13s}" for c in cells))
            result["baselines"] = {"held_out": figs}
            if ext:
                t2v_rows, oai_rows = ext["t2vsafetybench"], ext["openai"]
                cells = [_f(result["t2vsafetybench"]["caught"])]
                oai_cells = [f"{_f(result['openai']['benign_flagged'])}/{_f(result['openai']['auprc'])}"]
                for k in ("spacy_nsfw", "hatesonar"):
                    cells.append(_f(sum(bl[r["id"]][k] >= 0.5 for r in t2v_rows) / len(t2v_rows)))
                    ben = [bl[r["id"]][k] >= 0.5 for r in oai_rows if not r["labels"]]
                    ap_k = auprc([bl[r["id"]][k] for r in oai_rows], [bool(r["labels"]) for r in oai_rows])
                    oai_cells.append(f"{_f(sum(ben) / len(ben))}/{_f(ap_k)}")
                print(f"{'T2VSafetyBench: caught':34s} " + " ".join(f"{c:>13s}" for c in cells))
                print(f"{'OpenAI set: benign flagged/AUPRC':34s} " + " ".join(f"{c:>13s}" for c in oai_cells))
    if args.show_errors:
        print("\nmisses:", *rep["misses"][: args.show_errors], sep="\n  ")
        print("false positives:", *rep["false_positives"][: args.show_errors], sep="\n  ")
    ok = all((v["caught"] is None or v["caught"] >= TARGET_CAUGHT)
             and (v["blocked"] is None or v["blocked"] >= TARGET_BLOCKED)
             and (v["allowed"] is None or v["allowed"] >= TARGET_ALLOWED)
             for lg, v in rep["by_lang"].items() if lg in LANGS)
    print(f"\nacceptance per language (caught ≥ {TARGET_CAUGHT}, blocked ≥ {TARGET_BLOCKED}, allowed ≥ "
          f"{TARGET_ALLOWED}, held-out sources): {'PASS' if ok else 'FAIL'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        for r in result.values():
            if isinstance(r, dict):
                r.pop("scores", None)
                r.pop("actions", None)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
