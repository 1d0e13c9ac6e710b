"""The real-generator detector: feature graph, head parity, protocol pieces, wording of a low score."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from detector.head import Head, fold_metrics, logo, reliability, sample_weights, stats
from detector.lite import FRAME_DIM, LiteDetector, forensic_features, load_head, temporal_stats
from detector.types import DetectorScore, describe

ROOT = Path(__file__).resolve().parents[1]


def _data_script():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("detector_data", ROOT / "scripts" / "detector_data.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["detector_data"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def lite() -> LiteDetector:
    return LiteDetector(size=64).eval()


def test_frame_features_shape_and_pretrained_weights(lite: LiteDetector) -> None:
    x = torch.rand(2, 4, 3, 64, 64)
    with torch.inference_mode():
        f = lite.features(x)
    assert f.shape == (2, 4, FRAME_DIM) and torch.isfinite(f).all()
    # The ImageNet weights are loaded (a random init has BN running stats at exactly 0 and 1).
    assert float(lite.frames.net._bn0.running_var.std()) > 0.01


def test_forensic_features_see_nearest_upsampling() -> None:
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.random((1, 3, 64, 64), dtype=np.float32))
    up = torch.nn.functional.interpolate(noise[:, :, ::2, ::2], scale_factor=2.0, mode="nearest")
    fn, fu = forensic_features(noise)[0], forensic_features(up)[0]
    # The NPR residual of a 2x nearest upsampling is 0 at every grid position; on noise it is spread evenly.
    assert float(fu[:4].abs().sum()) < 1e-4
    assert torch.allclose(fn[:4], torch.full((4,), 0.25), atol=0.03)
    assert float(fu[68]) < float(fn[68])  # less fine-scale high-pass energy after upsampling


def test_head_in_the_graph_matches_the_fitted_head(lite: LiteDetector, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((6, 4, 3, 64, 64), dtype=np.float32))
    with torch.inference_mode():
        feats = lite.features(x).numpy()
    s = stats(feats)
    y = np.array([0, 1, 0, 1, 0, 1])
    head = Head(c=1.0).fit(s, y, np.ones(6))
    np.savez(tmp_path / "h.npz", mu=head.mu, sigma=head.sigma, weight=head.weight, bias=head.bias,
             platt=np.array([0.7, -0.2]))
    model = load_head(LiteDetector(size=64).eval(), tmp_path / "h.npz")
    with torch.inference_mode():
        got = model(x).numpy()
    want = 1 / (1 + np.exp(-(0.7 * head.logit(s) - 0.2)))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_temporal_stats_d3_volatility() -> None:
    steady = torch.arange(8, dtype=torch.float32).reshape(1, 8, 1).expand(1, 8, 3)  # constant velocity
    jerky = steady + torch.tensor([0, 1, 0, 1, 0, 1, 0, 1], dtype=torch.float32).reshape(1, 8, 1)
    s, j = temporal_stats(steady), temporal_stats(jerky)
    assert float(s[0, 9:].max()) < 1e-3  # std of Δ² of a constant velocity is 0
    assert float(j[0, 9:].min()) > 1.0


def test_sample_weights_balance_generators_and_classes() -> None:
    y = np.array([1] * 10 + [1] * 2 + [0] * 4)
    g = np.array(["a"] * 10 + ["b"] * 2 + ["r"] * 4)
    w = sample_weights(y, g)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    assert w[g == "a"].sum() == pytest.approx(w[g == "b"].sum())


def test_logo_never_trains_on_the_left_out_generator() -> None:
    # g0 and g2 lie at +6 along axis 0 and 1, g1 at -6 along axis 0. A head that never saw g1 learns
    # "more axis 0 = synthetic" from g0 and scores g1 below the real clips (AUC near 0); had g1 been
    # in its training set, the weight on axis 0 would cancel and g1's AUC would sit near 0.5.
    rng = np.random.default_rng(2)
    n, dim = 12, 6
    rows, clean = [], []
    for g, axis, shift in (("g0", 0, 6.0), ("g1", 0, -6.0), ("g2", 1, 6.0)):
        for _ in range(n):
            v = rng.normal(0, 1, dim)
            v[axis] += shift
            clean.append(v)
            rows.append({"label": "1", "generator": g, "source": g, "role": "train", "split": "fit"})
    for i in range(40):
        clean.append(rng.normal(0, 1, dim))
        rows.append({"label": "0", "generator": "real", "source": f"r{i}", "role": "train",
                     "split": "calib" if i % 2 else "fit"})
    x = np.array(clean)
    d = {"rows": rows, "clean": x, "crf28_half": x, "present": np.ones(len(rows), bool),
         "y": np.array([int(r["label"]) for r in rows]), "gen": np.array([r["generator"] for r in rows]),
         "source": np.array([r["source"] for r in rows]), "role": np.array([r["role"] for r in rows]),
         "split": np.array([r["split"] for r in rows])}
    res = logo(d, c=1.0)
    assert res["generators"] == ["g0", "g1", "g2"]
    assert res["folds"]["g1"]["clean"]["auc"] < 0.2
    assert res["folds"]["g2"]["clean"]["auc"] < 0.9  # nothing in training points along axis 1


def test_metrics_and_reliability() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    m = fold_metrics(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    assert m["auc"] == 1.0 and m["tpr_at_5pct_fpr"] == 1.0
    ece, table = reliability(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 1, 0, 0]))
    assert ece == pytest.approx(0.1) and sum(r["n"] for r in table) == 4


def test_a_low_score_is_never_reassurance() -> None:
    low = describe(0.05, 0.8, 0.01, 0.34)
    assert "no detector evidence either way" in low and "34%" in low and "1% false alarms" in low
    assert "ok" not in low.split() and "no synthetic signal" not in low
    high = DetectorScore(score=0.9, threshold=0.8, model="m@1", fpr=0.01, unseen_tpr=0.34)
    assert high.flagged and "likely synthetic" in high.meaning and "1%" in high.meaning
    unknown = describe(0.1, 0.8, None, None)
    assert "no detector evidence either way" in unknown and "no measured operating point" in unknown


def test_verify_reason_carries_the_meaning() -> None:
    from safety.provenance.report import ProvenanceReport
    from safety.verify import DetectorSignal, WatermarkSignal, decide

    prov = ProvenanceReport(state="absent")
    det = DetectorSignal(status="ok", score=0.1, threshold=0.8, model="m@1",
                         meaning=describe(0.1, 0.8, 0.01, 0.34))
    verdict, _, reasons = decide(prov, WatermarkSignal(found=False), None, det)
    assert verdict == "no_signals"
    assert any("no detector evidence either way" in r for r in reasons)


def test_data_rules_hold_out_the_named_sources_and_skip_control_maps() -> None:
    dd = _data_script()
    roles = {s.repo: s.role for s in dd.SOURCES}
    for repo in ("Vchitect/LaVie", "Vchitect/SEINE", "hotshotco/Hotshot-XL", "THUDM/CogVideo", "ali-vilab/VGen"):
        assert roles[repo] == "heldout"
    assert {"pd-extendedview", "forensics-samples-files", "node-opencv", "kphotoalbum",
            "python-nbsphinx-doc"} <= set(dd.HELDOUT_DEBS)
    ad = next(s for s in dd.SOURCES if s.repo == "guoyww/AnimateDiff")
    assert dd.label_of(ad, "__assets__/animations/control/canny/canny_16_2.gif")[0] == "skip"
    assert dd.label_of(ad, "__assets__/animations/control/original/dance_original_16_2.gif")[0] == "real"
    assert dd.label_of(ad, "__assets__/animations/model_01/01.gif") == ("synthetic", "animatediff")
    show = next(s for s in dd.SOURCES if s.repo == "showlab/Show-1")
    assert dd.label_of(show, "assets/videos/comparison/gen2/01.mp4") == ("synthetic", "gen2")
    # Copies of one clip share a split, so a real clip cannot sit on both sides.
    assert dd.split_key("r", "a/apple.mp4") == dd.split_key("r", "b/apple.gif")


def test_chain_treats_both_classes_alike(tmp_path: Path) -> None:
    dd = _data_script()
    from safety.media import read_video

    rng = np.random.default_rng(3)
    frames = rng.integers(0, 255, (40, 120, 200, 3), dtype=np.uint8)
    import av

    raw = tmp_path / "src.mp4"
    with av.open(str(raw), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 200, 120, "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out = {}
    for label in ("real", "synthetic"):
        it = dd.Item("ab" * 8, raw.read_bytes, "r", "c", "p.mp4", "g", label, "train", "x", False)
        (tmp_path / label / "items").mkdir(parents=True)
        dd.process(it, tmp_path / label, np.array([8.0]), 0.0, 8, 6, tmp_path / label / "items")
        files = sorted((tmp_path / label).rglob("*.mp4"))
        out[label] = [read_video(f) for f in files]
    for label, vids in out.items():  # 25 fps thinned to every 3rd frame (target 8), short side 256, both classes
        assert vids and all(min(v.height, v.width) == dd.SHORT_SIDE and v.fps == pytest.approx(25 / 3, rel=1e-3)
                            for v in vids), label
    q = dd.gif_round_trip(frames[:2])
    assert len(np.unique(q[0].reshape(-1, 3), axis=0)) <= 256
