"""Evaluate the exported detector on held-out uploads, clean and after platform degradation.

    python -m detector.evaluate [--card detector/weights/card.yaml] [--data runs/detector/recipe/test]

The test folder holds MP4 uploads and an `index.csv` (file, label, family, source); every
synthetic family in it was never seen in training (families are split whole). Scores come from
the ONNX runtime exactly as `sealframe detect` computes them. Reported per condition — `clean`,
and `crf28_half` (0.5× resize, then H.264 CRF 28) — for all families together and for each
synthetic family against all real clips: AUC, AP, accuracy at the card's threshold, TPR at 1 %
and 5 % FPR.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from detector.metrics import summary
from detector.runtime import DEFAULT_CARD, Detector
from safety.media import Video, read_video, resize_video, write_video


def degrade(video: Video, scale: float = 0.5, crf: int = 28) -> Video:
    """The acceptance attack: resize by `scale`, then H.264 at `crf`, decoded again."""
    w = max(16, int(video.width * scale) // 2 * 2)
    h = max(16, int(video.height * scale) // 2 * 2)
    with tempfile.TemporaryDirectory(prefix="sealframe-eval-") as tmp:
        path = write_video(resize_video(video, w, h), Path(tmp) / "d.mp4", crf=crf)
        return read_video(path)


def _table(y: np.ndarray, s: np.ndarray, fam: np.ndarray, threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {"all": summary(y, s, threshold), "families": {}}
    for f in sorted(map(str, set(fam[y == 1]))):
        keep = (y == 0) | (fam == f)
        out["families"][f] = summary(y[keep], s[keep], threshold)
    return out


def evaluate_folder(folder: str | Path, card: str | Path | None = None, batch: int = 32) -> dict[str, Any]:
    folder = Path(folder)
    det = Detector.from_card(card or DEFAULT_CARD)
    with open(folder / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    y = np.array([int(r["label"]) for r in rows])
    fam = np.array([r["family"] for r in rows])
    clean, degraded = [], []
    for i in range(0, len(rows), batch):
        videos = [det.read(folder / r["file"]) for r in rows[i : i + batch]]
        clean += [s.score for s in det.score_videos(videos)]
        degraded += [s.score for s in det.score_videos([degrade(v) for v in videos])]
    return {
        "model": det.model_id,
        "threshold": det.threshold,
        "clips": len(rows),
        "clean": _table(y, np.array(clean), fam, det.threshold),
        "crf28_half": _table(y, np.array(degraded), fam, det.threshold),
    }


def format_table(result: dict[str, Any]) -> str:
    head = f"{'condition':<11s} {'family':<14s} {'real':>5s} {'synth':>5s} {'AUC':>6s} {'AP':>6s} {'acc':>6s} " \
           f"{'TPR@1%':>7s} {'TPR@5%':>7s}"
    lines = [f"model {result['model']}  threshold {result['threshold']:.4f}  clips {result['clips']}", head,
             "-" * len(head)]
    for cond in ("clean", "crf28_half"):
        t = result[cond]
        for name, m in [("all", t["all"]), *t["families"].items()]:
            lines.append(
                f"{cond:<11s} {name:<14s} {m['n_real']:>5d} {m['n_synthetic']:>5d} {m['auc']:>6.3f} {m['ap']:>6.3f} "
                f"{m['accuracy']:>6.3f} {m['tpr_at_1pct_fpr']:>7.3f} {m['tpr_at_5pct_fpr']:>7.3f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD)
    ap.add_argument("--data", type=Path, default=Path("runs/detector/recipe/test"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    result = evaluate_folder(args.data, args.card)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
