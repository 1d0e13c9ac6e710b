"""Detector: tiny random models built here, real MP4s written here, ONNX parity, weights checks, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from detector.export import export_onnx, load_model, save_model, sha256_file
from detector.metrics import auc, average_precision, threshold_at_fpr, tpr_at_fpr
from detector.model import DETECTOR_CONFIGS, build_detector, dct_basis, npr_residual
from detector.runtime import Detector, OnnxBackend, Sampling, load_card, torch_backend, window_indices
from detector.types import DetectorScore
from safety.cli import main
from safety.errors import MediaError, ModelError
from safety.media import write_video
from tests.conftest import crafted_20000_header, make_video, png_renamed_mp4

TEST_CFG = DETECTOR_CONFIGS["sealframe-det-test"]


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """The test config with a non-trivial head (the real init starts every clip at P = 0.5)."""
    torch.manual_seed(seed)
    m = build_detector("sealframe-det-test").eval()
    with torch.no_grad():
        for p in m.temporal.head.parameters():
            p.normal_(0, 0.3)
        m.calib_a.fill_(1.7)
        m.calib_b.fill_(-0.2)
    return m


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    """A tiny model exported to ONNX beside a valid card."""
    folder = tmp_path_factory.mktemp("det-weights")
    model = tiny_model()
    digest = export_onnx(model, folder / "tiny.onnx")
    card = {
        "name": "tiny-test",
        "file": "tiny.onnx",
        "sha256": digest,
        "threshold": 0.5,
        "sampling": {"frames": TEST_CFG.frames, "size": TEST_CFG.size, "stride": 1, "max_windows": 3},
        "licence": "test only",
    }
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    return model, folder / "card.yaml"


def test_shapes_any_clip_length_and_size() -> None:
    m = tiny_model()
    for shape in [(2, 4, 3, 32, 32), (1, 7, 3, 48, 40), (3, 3, 3, 16, 16)]:
        x = torch.rand(*shape)
        logit = m(x)
        p = m.probability(x)
        assert logit.shape == (shape[0],)
        assert torch.all((p > 0) & (p < 1))
    assert m.frame_features(torch.rand(2, 5, 3, 32, 32)).shape == (2, 5, TEST_CFG.dim)


def test_fresh_model_starts_undecided() -> None:
    m = build_detector("sealframe-det-test").eval()
    assert torch.allclose(m.probability(torch.rand(2, 4, 3, 32, 32)), torch.full((2,), 0.5))


def test_npr_residual_is_zero_on_2x2_blocks_and_not_on_noise() -> None:
    blocks = torch.rand(1, 3, 8, 8).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.allclose(npr_residual(blocks), torch.zeros_like(blocks))
    assert npr_residual(torch.rand(1, 3, 16, 16)).abs().mean() > 0.1


def test_dct_basis_is_orthonormal() -> None:
    b = dct_basis(8).reshape(64, 64)
    assert torch.allclose(b @ b.T, torch.eye(64), atol=1e-5)


def test_training_step_lowers_loss_on_a_fixed_batch() -> None:
    from detector.train import train_step

    torch.manual_seed(0)
    m = build_detector("sealframe-det-test")
    x = torch.rand(8, 4, 3, 32, 32)
    x[4:] = x[4:].mul(4).floor().div(4)  # the "synthetic" half: coarse quantisation, a visible trace
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    first = train_step(m, opt, x, y)
    for _ in range(25):
        last = train_step(m, opt, x, y)
    assert first == pytest.approx(np.log(2), abs=0.05)  # zero-initialised head: P = 0.5
    assert last < 0.5 * first


def test_safetensors_round_trip(tmp_path: Path) -> None:
    m = tiny_model(3)
    save_model(m, tmp_path / "m.safetensors", {"step": 7})
    back, meta = load_model(tmp_path / "m.safetensors")
    x = torch.rand(2, 4, 3, 32, 32)
    assert meta["step"] == 7
    assert torch.allclose(m.probability(x), back.probability(x))


def _clips(tmp_path: Path) -> list[Path]:
    """Real H.264 MP4s of different lengths and sizes, one shorter than a window."""
    specs = [(12, 96, 64, 0), (30, 80, 80, 1), (3, 64, 48, 2), (9, 120, 68, 3)]
    return [write_video(make_video(t, w, h, seed=s), tmp_path / f"c{s}.mp4") for t, w, h, s in specs]


def test_onnx_matches_torch_on_test_clips(exported: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    model, card = exported
    onnx_det = Detector.from_card(card)
    torch_det = Detector(torch_backend(model), onnx_det.sampling, 0.5, "torch")
    videos = [onnx_det.read(p) for p in _clips(tmp_path)]
    a = np.array([s.score for s in onnx_det.score_videos(videos)])
    b = np.array([s.score for s in torch_det.score_videos(videos)])
    assert np.abs(a - b).max() <= 1e-4
    assert a.std() > 1e-3  # the clips really get different scores: parity is not trivial
    # Dynamic batch and frame count: a 16-frame window of a bigger size runs too.
    x = np.random.default_rng(0).random((3, 16, 3, 64, 64), dtype=np.float32)
    onnx = OnnxBackend(card.parent / "tiny.onnx")
    assert np.abs(onnx(x) - torch_backend(model)(x)).max() <= 1e-4


def test_runtime_scores_a_real_mp4_and_batches_uploads(exported: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    _, card = exported
    det = Detector.from_card(card, batch_size=2)
    paths = _clips(tmp_path)
    one = det.score_path(paths[1])
    assert isinstance(one, DetectorScore)
    assert 0.0 <= one.score <= 1.0
    assert one.model == f"tiny-test@{sha256_file(card.parent / 'tiny.onnx')[:12]}"
    assert one.windows == 3  # 30 frames, windows of 4, at most 3
    together = det.score_paths(paths)
    alone = [det.score_path(p) for p in paths]
    assert [round(s.score, 6) for s in together] == [round(s.score, 6) for s in alone]
    assert det.providers[-1] == "CPUExecutionProvider"


def test_window_sampling() -> None:
    s = Sampling(frames=4, size=32, max_windows=3)
    assert [w.tolist() for w in window_indices(30, s)] == [[0, 1, 2, 3], [13, 14, 15, 16], [26, 27, 28, 29]]
    assert [w.tolist() for w in window_indices(3, s)] == [[0, 1, 2, 1]]
    assert [w.tolist() for w in window_indices(1, s)] == [[0, 0, 0, 0]]
    assert all(w.max() < 10 for w in window_indices(10_000, Sampling(frames=4, size=32, max_read=10)))


def test_sha256_mismatch_is_refused(exported: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    _, card = exported
    data = yaml.safe_load(card.read_text())
    (tmp_path / "tiny.onnx").write_bytes((card.parent / "tiny.onnx").read_bytes())
    data["sha256"] = "0" * 64
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ModelError, match="does not match"):
        Detector.from_card(tmp_path / "card.yaml")
    # One flipped byte in the graph is refused just the same.
    data["sha256"] = sha256_file(card.parent / "tiny.onnx")
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(data))
    blob = bytearray((tmp_path / "tiny.onnx").read_bytes())
    blob[len(blob) // 2] ^= 1
    (tmp_path / "tiny.onnx").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="does not match"):
        Detector.from_card(tmp_path / "card.yaml")


def test_bad_cards_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no detector card"):
        Detector.from_card(tmp_path / "missing.yaml")
    (tmp_path / "card.yaml").write_text("name: x\nfile: x.onnx\nsha256: abc\nthreshold: 0.5\n")
    with pytest.raises(ModelError, match="sha256"):
        load_card(tmp_path / "card.yaml")


def test_bad_input_follows_media_limits(exported: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    _, card = exported
    det = Detector.from_card(card)
    for bad in (png_renamed_mp4(tmp_path), crafted_20000_header(tmp_path), tmp_path / "nope.mp4"):
        with pytest.raises(MediaError):
            det.score_path(bad)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        det.score_path(tmp_path / "empty.mp4")


def test_cli_detect_json_and_exit_codes(exported: tuple[torch.nn.Module, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _, card = exported
    monkeypatch.setenv("SEALFRAME_DETECTOR_CARD", str(card))
    clip = write_video(make_video(), tmp_path / "up.mp4")
    with pytest.raises(SystemExit) as ok:
        main(["detect", str(clip), "--json"])
    assert ok.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"score", "threshold", "model"} and 0 <= out["score"] <= 1
    with pytest.raises(SystemExit) as bad:
        main(["detect", str(png_renamed_mp4(tmp_path)), "--json"])
    assert bad.value.code == 4
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    monkeypatch.setenv("SEALFRAME_DETECTOR_CARD", str(tmp_path / "none.yaml"))
    with pytest.raises(SystemExit) as missing:
        main(["detect", str(clip)])
    assert missing.value.code == 1
    assert "no detector card" in capsys.readouterr().err


def test_metrics_on_known_cases() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.8, 0.85, 0.95])
    assert auc(y, s) == pytest.approx(13 / 16)
    assert auc(y, -s) == pytest.approx(3 / 16)
    assert tpr_at_fpr(y, s, 0.0) == pytest.approx(0.25)  # only 0.95 beats the real 0.9
    assert tpr_at_fpr(y, s, 0.25) == pytest.approx(1.0)
    assert average_precision(y, y.astype(float)) == pytest.approx(1.0)
    neg = np.linspace(0, 1, 101)
    t = threshold_at_fpr(neg, 0.05)
    assert (neg >= t).mean() <= 0.05 and (neg >= np.nextafter(t, -1) - 0.011).mean() > 0.05


def test_platform_chain_treats_both_classes_alike() -> None:
    from detector.data import platform_process, procedural_clip

    rng = np.random.default_rng(0)
    real = make_video(8, 160, 120, seed=5).frames
    fake = procedural_clip(8, rng)
    for clip in (real, fake):
        out = platform_process(clip, 32, np.random.default_rng(1))
        assert out.shape == (8, 32, 32, 3) and out.dtype == np.uint8


def test_committed_default_loads_checked_and_scores(tmp_path: Path) -> None:
    from detector.runtime import DEFAULT_CARD

    card = load_card(DEFAULT_CARD)
    assert sha256_file(DEFAULT_CARD.parent / card.file) == card.sha256
    assert (DEFAULT_CARD.parent / card.file).stat().st_size <= 25 * 1024 * 1024
    det = Detector.from_card(DEFAULT_CARD)
    score = det.score_path(write_video(make_video(20, 128, 96), tmp_path / "u.mp4"))
    assert score.model == card.model_id and 0.0 <= score.score <= 1.0 and score.threshold == card.threshold
