"""The built-in generator: network, objective, sampler, data world, checker, weights and requests.

Every model here is tiny and random, built in the test; nothing is downloaded.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from generator.base import GenerationRequest, ModelCard, VideoGenerator
from generator.stdit import checker, data
from generator.stdit.checkpoint import (
    WeightsHashMismatch,
    export_weights,
    load_training_state,
    load_weights,
    save_training_state,
    sha256_file,
)
from generator.stdit.flow import flow_loss, interpolate
from generator.stdit.model import STDiT, STDiTConfig
from generator.stdit.pipeline import STDiTGenerator, generate_clips
from generator.stdit.sampler import SamplerConfig, guided, sample, timesteps
from policies import RequestLimits
from safety.errors import BadInputError, ModelError

LIMITS = RequestLimits(max_prompt_chars=2000, max_frames=64, max_width=512, max_height=512, max_steps=100)


def tiny_model(seed: int = 0, perturb: bool = True) -> STDiT:
    """A 2-block model on 4×32×32 clips; `perturb` moves the zero-initialised maps off zero."""
    torch.manual_seed(seed)
    model = STDiT(STDiTConfig(frames=4, height=32, width=32, hidden=32, depth=2, heads=2))
    if perturb:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "adaLN" in name or "final.linear" in name or "cross.proj" in name:
                    p.normal_(0, 0.02)
    return model.eval()


def random_text(b: int, length: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, length, 384, generator=g), torch.ones(b, length, dtype=torch.long), torch.randn(b, 384)


# ------------------------------------------------------------------------------------------ network


def test_patchify_round_trip_and_output_shape() -> None:
    model = tiny_model()
    x = torch.randn(2, 3, 4, 32, 32)
    tokens, grid = model.patchify(x)
    assert tokens.shape == (2, 2 * 4 * 4, 3 * 2 * 8 * 8) and grid == (2, 4, 4)
    assert torch.equal(model.unpatchify(tokens, grid), x)
    states, mask, pooled = random_text(2)
    out = model(x, torch.rand(2), states, mask, pooled)
    assert out.shape == x.shape
    # Other clip sizes run too (rotary positions, no fixed table): 8 frames at 48×40.
    x2 = torch.randn(1, 3, 8, 48, 40)
    assert model(x2, torch.rand(1), states[:1], mask[:1], pooled[:1]).shape == x2.shape
    with pytest.raises(ValueError, match="not divisible"):
        model(torch.randn(1, 3, 3, 32, 32), torch.rand(1), states[:1], mask[:1], pooled[:1])


def test_absolute_positions_start_at_zero_and_let_a_constant_clip_vary_in_space_and_time(tmp_path: Path) -> None:
    from generator.stdit.model import abs_position_features

    feats = abs_position_features((2, 4, 4))
    assert feats.shape == (32, 48) and bool(torch.isfinite(feats).all())
    # Fractions of the clip, not indices: the first and last token's features do not depend on the size.
    big = abs_position_features((4, 8, 8))
    assert not torch.allclose(feats[0], feats[-1]) and not torch.allclose(big[0], feats[0])
    torch.manual_seed(0)
    plain = tiny_model()
    with_pos = STDiT(replace(plain.config, abs_pos=True))
    with_pos.load_state_dict(plain.state_dict(), strict=False)
    states, mask, pooled = random_text(1)
    x = torch.zeros(1, 3, 4, 32, 32)  # every patch identical: only position can tell them apart
    t = torch.tensor([1.0])
    assert torch.equal(with_pos(x, t, states, mask, pooled), plain(x, t, states, mask, pooled))  # zero-init
    with torch.no_grad():
        with_pos.pos_proj.weight.normal_(0, 0.5)
    out = with_pos(x, t, states, mask, pooled)
    assert not torch.allclose(out[..., :8], out[..., -8:], atol=1e-4)  # left vs right columns
    assert not torch.allclose(out[:, :, :2], out[:, :, 2:], atol=1e-4)  # first vs second frame-group
    x2 = torch.zeros(1, 3, 8, 48, 40)
    assert with_pos(x2, t, states, mask, pooled).shape == x2.shape
    # Warm-starting a model with the position map from one without: the map starts at zero.
    from generator.stdit.train import warm_start

    export_weights(tmp_path / "plain.safetensors", plain, {}, dtype=torch.float32)
    assert warm_start(with_pos, tmp_path / "plain.safetensors")
    assert with_pos.pos_proj is not None and torch.count_nonzero(with_pos.pos_proj.weight) > 0  # left as it was
    fresh = STDiT(replace(plain.config, abs_pos=True))
    assert warm_start(fresh, tmp_path / "plain.safetensors") and torch.count_nonzero(fresh.pos_proj.weight) == 0


def test_position_conditioning_starts_at_zero_then_modulates_each_token(tmp_path: Path) -> None:
    """`pos_cond` feeds each token's position into its adaLN input: zero at first (warm starts are
    unchanged), then a constant clip from pure noise can differ by place and frame even though the
    token contents say nothing about where they are."""
    plain = tiny_model()
    cond = STDiT(replace(plain.config, pos_cond=True))
    cond.load_state_dict(plain.state_dict(), strict=False)
    states, mask, pooled = random_text(2)
    x = torch.zeros(2, 3, 4, 32, 32)
    t = torch.tensor([1.0, 0.5])
    # equal up to rounding: per-token conditioning changes the matrix shapes the kernels see
    assert torch.allclose(cond(x, t, states, mask, pooled), plain(x, t, states, mask, pooled), atol=1e-6)
    with torch.no_grad():
        cond.pos_cond[-1].weight.normal_(0, 0.5)
    out = cond(x, t, states, mask, pooled)
    assert not torch.allclose(out[..., :8], out[..., -8:], atol=1e-4)  # left vs right columns
    assert not torch.allclose(out[:, :, :2], out[:, :, 2:], atol=1e-4)  # first vs second frame-group
    assert not torch.allclose(out[0], out[1], atol=1e-4)  # and it still depends on t and the text
    assert cond(torch.zeros(1, 3, 8, 48, 40), t[:1], states[:1], mask[:1], pooled[:1]).shape == (1, 3, 8, 48, 40)
    from generator.stdit.configs import TrainConfig
    from generator.stdit.train import param_groups, warm_start

    export_weights(tmp_path / "plain.safetensors", plain, {}, dtype=torch.float32)
    fresh = STDiT(replace(plain.config, pos_cond=True))
    assert warm_start(fresh, tmp_path / "plain.safetensors")
    assert fresh.pos_cond is not None and torch.count_nonzero(fresh.pos_cond[-1].weight) == 0
    groups = param_groups(fresh, TrainConfig(name="x", model="STDiT-S/4x8p", pos_lr_mult=10.0))
    assert {id(p) for p in fresh.pos_cond.parameters()} <= {id(p) for p in groups[1]["params"]}


def test_layout_readout_starts_at_zero_then_reads_the_words_by_place(tmp_path: Path) -> None:
    """`layout_cond` adds a caption readout queried by place alone: zero at first (warm starts are
    unchanged); then, from a clip that says nothing about where it is, the prediction differs by place
    and follows a change of one word, while padding is ignored."""
    from generator.stdit.configs import TrainConfig
    from generator.stdit.train import param_groups, warm_start

    plain = tiny_model()
    export_weights(tmp_path / "plain.safetensors", plain, {}, dtype=torch.float32)
    lay = STDiT(replace(plain.config, layout_cond=True))
    assert warm_start(lay, tmp_path / "plain.safetensors")
    states, mask, pooled = random_text(2)
    x, t = torch.zeros(2, 3, 4, 32, 32), torch.tensor([1.0, 1.0])
    with torch.no_grad():
        # (per-token conditioning changes the matrix shapes, so equal up to rounding)
        assert torch.allclose(lay(x, t, states, mask, pooled), plain(x, t, states, mask, pooled), atol=1e-6)
        assert lay.layout is not None
        lay.layout.to_cond.weight.normal_(0, 0.5)
        out = lay(x, t, states, mask, pooled)
        assert not torch.allclose(out[..., :8], out[..., -8:], atol=1e-4)  # left vs right columns
        word = states.clone()
        word[:, 2] += 3.0  # one word changes (the pooled vector is kept, so only the readout sees it)
        assert not torch.allclose(lay(x, t, word, mask, pooled), out, atol=1e-4)
        padded_states = torch.cat([states, 100 * torch.randn(2, 3, 384)], 1)
        padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], 1)
        assert torch.allclose(lay(x, t, padded_states, padded_mask, pooled), out, atol=1e-5)
    groups = param_groups(lay, TrainConfig(name="x", model="STDiT-S/4x8pl", layout_lr_mult=2.0))
    readout = {id(p) for p in lay.layout.parameters()}
    assert {id(p) for p in groups[-1]["params"]} == readout and groups[-1]["lr_mult"] == 2.0
    assert sum(len(g["params"]) for g in groups) == len(list(lay.parameters()))


def test_layout_readout_standardises_the_words_with_measured_statistics() -> None:
    """The statistics are those of the real tokens of real captions, and near-constant dimensions are
    floored rather than blown up."""
    from generator.stdit.conditioning import text_statistics
    from generator.stdit.model import LayoutReadout
    from generator.text_encoder import encode_tokens

    prompts = ["a red circle moves left on white", "one small blue star rises", "a square"]
    mean, std = text_statistics(prompts, batch=2)  # two batches of different lengths
    states, m = encode_tokens(prompts)
    tokens = states.float()[m.bool()]
    assert torch.allclose(mean, tokens.mean(0), atol=1e-5) and torch.allclose(std, tokens.std(0), atol=1e-4)
    readout = LayoutReadout(32, 384, 2)
    readout.set_text_statistics(mean, torch.zeros(384))
    assert torch.all(readout.text_std == 0.05) and torch.equal(readout.text_mean, mean)
    with pytest.raises(ValueError, match="non-empty"):
        text_statistics([])


def test_token_means_are_the_mean_colour_of_each_token_cell() -> None:
    from generator.stdit.model import token_means

    x = torch.randn(2, 3, 8, 16, 24)
    got = token_means(x, (2, 4, 3))
    want = x.reshape(2, 3, 2, 4, 4, 4, 3, 8).mean((3, 5, 7)).flatten(2).transpose(1, 2)
    assert got.shape == (2, 2 * 4 * 3, 3) and torch.allclose(got, want, atol=1e-6)


def test_layout_pretraining_fits_the_readout_alone_and_leaves_the_rest_unchanged() -> None:
    """`pretrain_layout` regresses the readout's coarse clip on real rendered clips: its loss falls,
    the trunk is untouched, and the map into the conditioning is still zero (nothing changes yet)."""
    from generator.stdit.configs import TrainConfig
    from generator.stdit.train import build_model, layout_loss, pretrain_layout, set_text_statistics

    torch.manual_seed(0)
    cfg = TrainConfig(name="x", model="STDiT-S/4x8pl", frames=4, size=32, layout_pretrain_steps=60,
                      layout_pretrain_clips=64)
    model = build_model(cfg)
    set_text_statistics([model], replace(cfg, seed=1))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("layout.")}
    from generator.stdit.train import batch_for_step

    x, cond, _, _ = batch_for_step(replace(cfg, batch_size=16, caption_dropout=0.0), 0)  # clips the pool does not hold
    with torch.no_grad():
        untrained = float(layout_loss(model, x, cond))
    losses = pretrain_layout(model, cfg, quiet=True)
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters() if n in before)
    assert model.layout is not None and torch.count_nonzero(model.layout.to_cond.weight) == 0
    with torch.no_grad():
        assert float(layout_loss(model, x, cond)) < 0.7 * untrained  # and it holds on clips it did not see


def test_adaln_zero_init_predicts_zero_velocity() -> None:
    model = tiny_model(perturb=False)
    states, mask, pooled = random_text(1)
    out = model(torch.randn(1, 3, 4, 32, 32), torch.rand(1), states, mask, pooled)
    assert torch.count_nonzero(out) == 0


def test_text_changes_the_prediction_and_padding_is_ignored() -> None:
    model = tiny_model()
    x, t = torch.randn(1, 3, 4, 32, 32), torch.tensor([0.5])
    states, mask, pooled = random_text(2)
    a = model(x, t, states[:1], mask[:1], pooled[:1])
    b = model(x, t, states[1:], mask[1:], pooled[1:])
    assert not torch.allclose(a, b)
    padded = torch.cat([states[:1], torch.randn(1, 3, 384)], 1)
    pmask = torch.cat([mask[:1], torch.zeros(1, 3, dtype=torch.long)], 1)
    assert torch.allclose(a, model(x, t, padded, pmask, pooled[:1]), atol=1e-5)


def test_training_steps_reduce_the_loss_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = STDiT(STDiTConfig(frames=4, height=32, width=32, hidden=32, depth=2, heads=2)).train()
    x0 = torch.from_numpy(data.make_batch([1, 2], frames=4, size=32)[0])
    states, mask, pooled = random_text(2)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)

    def loss() -> torch.Tensor:
        return flow_loss(lambda xt, t: model(xt, t, states, mask, pooled), x0, torch.Generator().manual_seed(0))

    with torch.no_grad():
        before = float(loss())
    for _ in range(25):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.7 * before, (before, after)


# ------------------------------------------------------------------------------- objective, sampler


def test_euler_sampler_transports_noise_to_a_point_mass_exactly() -> None:
    # For data that is one point x0, the true velocity at (x, t) is (x - x0) / t: Euler is exact.
    x0 = torch.randn(2, 3, 4, 8, 8)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (x - x0) / t.view(-1, 1, 1, 1, 1)

    noise = torch.randn_like(x0)
    for cfg in (SamplerConfig(steps=3), SamplerConfig(steps=4, method="heun", shift=3.0)):
        assert torch.allclose(sample(velocity, noise, cfg), x0, atol=1e-4)
    xt = interpolate(x0, noise, torch.tensor([0.25, 0.75]))
    assert torch.allclose(xt[0], 0.75 * x0[0] + 0.25 * noise[0])
    ts = timesteps(10, shift=3.0)
    assert ts[0] == 1.0 and ts[-1] == 0.0 and bool((ts[1:] < ts[:-1]).all())


def test_stochastic_steps_keep_the_data_distribution() -> None:
    # Data: +1 with odds 0.8, -1 with 0.2 (1-D). The exact velocity is (x - E[x0 | x_t]) / t with
    # E[x0 | x_t] = tanh((1 - t)·x_t / t² + atanh(0.6)). Ancestral steps (eta = 1) on most of the path
    # must still land the samples on ±1 in those proportions; a wrong split of x_t into clean clip
    # and noise, or fresh noise of the wrong size, shifts them.
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        tb = t.view(-1, 1)
        return (x - torch.tanh((1 - tb) * x / tb**2 + float(np.arctanh(0.6)))) / tb

    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(6000, 1, generator=gen)
    plain = sample(velocity, noise, SamplerConfig(steps=40))
    cfg = SamplerConfig(steps=40, eta=1.0, eta_band=(0.05, 0.95))
    stochastic = sample(velocity, noise, cfg, step_noise=lambda: torch.randn(6000, 1, generator=gen))
    for out in (plain, stochastic):
        assert float((out.abs() - 1).abs().max()) < 0.05
        assert abs(float((out > 0).float().mean()) - 0.8) < 0.025
    # The stochastic path really changed where samples go; eta = 0 is exactly Euler.
    assert float((torch.sign(plain) != torch.sign(stochastic)).float().mean()) > 0.1
    assert torch.equal(sample(velocity, noise, SamplerConfig(steps=40, eta=0.0, eta_band=(0.0, 1.0))), plain)
    with pytest.raises(ValueError, match="euler"):
        sample(velocity, noise, SamplerConfig(steps=4, method="heun", eta=0.5))
    with pytest.raises(ValueError, match="eta"):
        sample(velocity, noise, SamplerConfig(steps=4, eta=1.5))


def test_guidance_is_weaker_only_above_early_t() -> None:
    def pair(x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones_like(x), torch.zeros_like(x)  # v_cond - v_uncond = 1: the result is g itself

    x, t = torch.zeros(3, 2, 1, 2, 2), torch.tensor([1.0, 0.9, 0.5])
    assert guided(pair, 4.0)(x, t)[:, 0, 0, 0, 0].tolist() == [4.0, 4.0, 4.0]
    assert guided(pair, 4.0, early_scale=0.5, early_t=0.85)(x, t)[:, 0, 0, 0, 0].tolist() == [2.0, 2.0, 4.0]


def test_sampling_is_deterministic_by_seed() -> None:
    model = tiny_model()
    a = generate_clips(model, ["a red circle moves left"], [7], 4, 32, 32, steps=3)
    b = generate_clips(model, ["a red circle moves left"], [7], 4, 32, 32, steps=3)
    c = generate_clips(model, ["a red circle moves left"], [8], 4, 32, 32, steps=3)
    assert a.shape == (1, 4, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # A clip depends on its own seed only, not on what else is in the batch.
    batch = generate_clips(model, ["a blue square", "a red circle moves left"], [1, 7], 4, 32, 32, steps=3)
    assert np.abs(batch[1].astype(int) - a[0].astype(int)).max() <= 1
    # So do stochastic steps: each clip draws its fresh noise from its own seed's stream.
    stochastic = SamplerConfig(shift=3.0, eta=0.8, eta_band=(0.1, 0.9))
    s1 = generate_clips(model, ["a red circle moves left"], [7], 4, 32, 32, steps=4, sampler=stochastic)
    s2 = generate_clips(model, ["a green star", "a red circle moves left"], [3, 7], 4, 32, 32, steps=4,
                        sampler=stochastic)
    deterministic = generate_clips(model, ["a red circle moves left"], [7], 4, 32, 32, steps=4,
                                   sampler=SamplerConfig(shift=3.0))
    assert np.abs(s2[1].astype(int) - s1[0].astype(int)).max() <= 1
    assert np.abs(s1.astype(int) - deterministic.astype(int)).max() > 1
    with pytest.raises(BadInputError, match="eta"):
        generate_clips(model, ["a red circle"], [7], 4, 32, 32, steps=3, sampler=SamplerConfig(eta=2.0))


# --------------------------------------------------------------------------------------- weights


def test_exported_weights_round_trip_and_hash_check(tmp_path: Path) -> None:
    model = tiny_model()
    path = tmp_path / "w.safetensors"
    sha = export_weights(path, model, {"step": 3}, dtype=torch.float32)
    assert sha == sha256_file(path) and len(sha) == 64
    loaded, meta = load_weights(path, sha)
    assert meta["step"] == 3 and meta["model_config"]["hidden"] == 32
    for (n, p), (_, q) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(p, q), n
    with pytest.raises(WeightsHashMismatch, match="does not match"):
        load_weights(path, "0" * 64)
    # Through the registry, the card beside the file names the hash; a wrong one is refused.
    from generator.registry import card_path, load_builtin, load_stdit

    card_path(path).write_text(f"id: tiny\nversion: '1'\nsha256: {'f' * 64}\ntraining_data: none\n")
    with pytest.raises(ModelError, match="does not match"):
        load_stdit(path)
    card_path(path).write_text(f"id: tiny\nversion: '1'\nsha256: {sha}\ntraining_data: none\n")
    gen = load_builtin(path)
    assert isinstance(gen, VideoGenerator) and gen.card == ModelCard("tiny", "1", sha, "none")


def test_training_state_round_trip_restores_optimiser(tmp_path: Path) -> None:
    model, ema = tiny_model(), tiny_model(1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    states, mask, pooled = random_text(1)
    flow_loss(lambda xt, t: model(xt, t, states, mask, pooled), torch.randn(1, 3, 4, 32, 32)).backward()
    opt.step()
    save_training_state(tmp_path / "s.safetensors", model, ema, opt, {"step": 1, "wall_seconds": 2.0})
    m2, e2 = tiny_model(5), tiny_model(6)
    o2 = torch.optim.AdamW(m2.parameters(), lr=1e-3)
    meta = load_training_state(tmp_path / "s.safetensors", m2, e2, o2)
    assert meta == {"step": 1, "wall_seconds": 2.0}
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), m2.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(ema.parameters(), e2.parameters(), strict=True))
    p, p2 = next(iter(model.parameters())), next(iter(m2.parameters()))
    assert torch.equal(opt.state[p]["exp_avg_sq"], o2.state[p2]["exp_avg_sq"])


def test_warm_start_keeps_the_head_only_for_the_same_prediction_target(tmp_path: Path) -> None:
    from generator.stdit.train import warm_start

    src = tiny_model(3)
    export_weights(tmp_path / "x0.safetensors", src, {}, dtype=torch.float32)
    dst = tiny_model(4)
    assert warm_start(dst, tmp_path / "x0.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(src.parameters(), dst.parameters(), strict=True))
    src.config.prediction = "velocity"
    export_weights(tmp_path / "v.safetensors", src, {}, dtype=torch.float32)
    dst = tiny_model(4)
    assert not warm_start(dst, tmp_path / "v.safetensors")
    assert torch.equal(dst.blocks[0].attn_s.qkv.weight, src.blocks[0].attn_s.qkv.weight)
    assert not torch.equal(dst.final.linear.weight, src.final.linear.weight)


def test_learning_rate_warms_up_then_follows_a_cosine_to_its_floor() -> None:
    from generator.stdit.configs import TrainConfig
    from generator.stdit.train import lr_at

    cfg = TrainConfig(name="x", model="STDiT-T/2x8", lr=1e-3, warmup_steps=10, max_steps=110, lr_final=0.1)
    assert lr_at(cfg, 0) == pytest.approx(1e-4) and lr_at(cfg, 9) == pytest.approx(1e-3)
    assert lr_at(cfg, 60) == pytest.approx(1e-3 * 0.55)  # half-way down the cosine
    assert lr_at(cfg, 110) == pytest.approx(1e-4) and lr_at(cfg, 500) == pytest.approx(1e-4)
    values = [lr_at(cfg, s) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert lr_at(replace(cfg, lr_final=1.0), 100) == pytest.approx(1e-3)  # constant after warm-up


def test_position_map_can_learn_at_its_own_rate() -> None:
    from generator.stdit.configs import TrainConfig
    from generator.stdit.model import STDIT_CONFIGS
    from generator.stdit.train import param_groups

    model = STDiT(replace(STDIT_CONFIGS["STDiT-S/4x8"], frames=4, height=32, width=32))
    cfg = TrainConfig(name="x", model="STDiT-S/4x8")
    assert len(param_groups(model, cfg)) == 1
    groups = param_groups(model, replace(cfg, pos_lr_mult=20.0))
    pos = {id(p) for p in model.pos_proj.parameters()} if model.pos_proj is not None else set()
    assert pos and {id(p) for p in groups[1]["params"]} == pos and groups[1]["lr_mult"] == 20.0
    assert not pos & {id(p) for p in groups[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_training_times_shift_toward_noise_with_a_positive_mean() -> None:
    from generator.stdit.flow import sample_times

    g = torch.Generator().manual_seed(0)
    centred = sample_times(20_000, g)
    shifted = sample_times(20_000, g, mean=0.8, std=0.8)
    assert float(centred.median()) == pytest.approx(0.5, abs=0.02)
    assert float(shifted.median()) == pytest.approx(float(torch.sigmoid(torch.tensor(0.8))), abs=0.02)
    assert float(shifted.min()) > 0.0 and float(shifted.max()) < 1.0
    # The band at the noise end: about `top` of the times land in [0.97, 1], against ~0.3 % without it.
    banded = sample_times(20_000, g, mean=1.0, std=1.0, top=0.15)
    plain = sample_times(20_000, g, mean=1.0, std=1.0)
    share = float((banded >= 0.97).float().mean())
    assert 0.14 < share < 0.17 and float((plain >= 0.97).float().mean()) < 0.02
    assert float(banded.max()) <= 1.0


def test_training_times_can_land_on_pure_noise_and_log_uniformly_near_it() -> None:
    """`one`: exactly t = 1, where only the text can say where things are; `high`: 1 - t log-uniform
    over [1e-4, 1e-1], the decades in which a 16×64×64 clip's layout becomes readable through noise."""
    from generator.stdit.flow import sample_times

    g = torch.Generator().manual_seed(0)
    t = sample_times(40_000, g, mean=1.0, std=1.0, one=0.1)
    assert float((t == 1.0).float().mean()) == pytest.approx(0.1, abs=0.01)
    plain = sample_times(40_000, g, mean=1.0, std=1.0)
    assert float((plain > 0.999).float().mean()) < 0.001
    near = sample_times(40_000, g, mean=0.0, std=0.5, high=0.5)  # the logit-normal half stays below 0.9
    gap = 1 - near.double()
    decades = [float(((gap < 10.0 ** -k) & (gap >= 10.0 ** -(k + 1))).float().mean()) for k in (1, 2, 3)]
    assert all(0.15 < d < 0.19 for d in decades), decades  # half of them, spread evenly over 3 decades
    assert float(near.max()) < 1.0 and float(gap.min()) >= 1e-4 - 1e-9


def test_a_corrupted_signal_is_noised_in_its_band_and_the_target_still_points_at_the_clean_clip() -> None:
    """`flow_loss(signal=…)`: the masked clips' x_t is built from the signal at a time in the band, and
    the loss is zero for a network that predicts the clean clip, not for one that copies the signal."""
    from generator.stdit.model import x0_to_velocity

    g = torch.Generator().manual_seed(0)
    x0, signal = torch.rand(6, 3, 4, 8, 8) * 2 - 1, torch.rand(6, 3, 4, 8, 8) * 2 - 1
    mask = torch.tensor([True, False, True, False, True, False])
    seen: dict[str, torch.Tensor] = {}

    def predicting(target: torch.Tensor):  # a network whose x0 prediction is `target`
        def velocity(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            seen["t"] = t
            return x0_to_velocity(target, xt, t, t_min=1e-3)
        return velocity

    clean = flow_loss(predicting(x0), x0, g, t_mean=-3.0, signal=signal, signal_mask=mask, signal_band=(0.7, 0.9))
    assert float(clean) < 1e-8
    t = seen["t"]
    assert bool(((t >= 0.7) & (t <= 0.9))[mask].all()) and bool((t < 0.7)[~mask].all())  # the rest: logit-normal, low
    copying = flow_loss(predicting(torch.where(mask.view(-1, 1, 1, 1, 1), signal, x0)), x0, g,
                        signal=signal, signal_mask=mask)
    assert float(copying) > 0.05
    with pytest.raises(ValueError, match="signal_band"):
        flow_loss(predicting(x0), x0, g, signal=signal, signal_mask=mask, signal_band=(0.0, 1.0))


def test_shape_swapped_batches_corrupt_only_captioned_clips_and_only_their_shapes() -> None:
    from generator.stdit.configs import load_train_config
    from generator.stdit.train import batch_for_step

    cfg = replace(load_train_config("tiny"), batch_size=12, shape_swap=0.5, caption_dropout=0.3, seed=3)
    x, cond, signal, mask = batch_for_step(cfg, 0)
    assert signal is not None and mask is not None and 0 < int(mask.sum()) < 12
    captioned = cond.mask.sum(1) > 2  # an empty caption is only [CLS] [SEP]
    assert not bool((mask & ~captioned).any())
    differs = (signal - x).abs().flatten(1).amax(1) > 0
    assert torch.equal(differs, mask)
    assert batch_for_step(replace(cfg, shape_swap=0.0), 0)[2:] == (None, None)
    spec = data.sample_spec(5, "train")
    swapped = data.swap_shapes(spec, np.random.default_rng(0))
    assert all(a.shape != b.shape and replace(a, shape=b.shape) == b
               for a, b in zip(spec.objects, swapped.objects, strict=True))
    assert swapped.caption == spec.caption


@pytest.mark.slow
def test_resumed_training_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    from generator.stdit.configs import TRAIN_CONFIGS
    from generator.stdit.train import train

    cfg = replace(TRAIN_CONFIGS["tiny"], amp=False, max_steps=4)
    train(cfg, tmp_path / "straight", quiet=True)
    train(replace(cfg, max_steps=2), tmp_path / "resumed", quiet=True)
    train(cfg, tmp_path / "resumed", quiet=True)
    a, _ = load_weights(tmp_path / "straight" / "ema.safetensors", None)
    b, _ = load_weights(tmp_path / "resumed" / "ema.safetensors", None)
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(p, q, atol=1e-3), n
    log = (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
    assert len(log) == 4 and '"step": 4' in log[-1]


# -------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (GenerationRequest(""), "prompt is empty"),
        (GenerationRequest("   "), "prompt is empty"),
        (GenerationRequest("a red circle", frames=0), "frames must be between 1 and 64"),
        (GenerationRequest("a red circle", height=10000, width=10000), "height must be between 1 and 512"),
        (GenerationRequest("a red circle", steps=10000), "steps must be between 1 and 100"),
        (GenerationRequest("x" * 2001), "2001 characters"),
        (GenerationRequest("a red circle", guidance=-1.0), "guidance"),
        (GenerationRequest("a red circle", seed=-5), "seed"),
    ],
)
def test_bad_requests_get_a_clear_error(request_: GenerationRequest, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        request_.validate(LIMITS)


def test_requests_are_checked_against_the_policy_pack() -> None:
    assert GenerationRequest("a red circle moves left").validate() is not None  # the default pack
    tight = RequestLimits(max_prompt_chars=5, max_frames=8, max_width=32, max_height=32, max_steps=4)
    with pytest.raises(BadInputError, match="limit is 5"):
        GenerationRequest("a red circle").validate(tight)


def test_generator_produces_a_video_and_rejects_sizes_off_the_patch_grid() -> None:
    card = ModelCard("tiny", "0", "0" * 64, "none")
    gen = STDiTGenerator(tiny_model(), card, limits=LIMITS)
    video = gen.generate(GenerationRequest("a green star rises", seed=2, frames=4, height=32, width=32, steps=2))
    assert video.frames.shape == (4, 32, 32, 3) and video.fps > 0
    with pytest.raises(BadInputError, match="multiple"):
        gen.generate(GenerationRequest("a green star rises", frames=5, height=32, width=32, steps=2))
    with pytest.raises(BadInputError, match="steps"):
        gen.generate(GenerationRequest("a green star rises", steps=10000))


def test_unknown_generator_spec_is_refused() -> None:
    from generator.registry import load_generator

    with pytest.raises(ModelError, match="unknown generator"):
        load_generator("sora:/nowhere")
    with pytest.raises(ModelError, match="needs a local weights folder"):
        load_generator("wan")
    with pytest.raises(ModelError, match="not found"):
        load_generator("stdit:/nowhere/w.safetensors")


# ------------------------------------------------------------------------------------ data world


def test_data_world_is_deterministic_by_seed() -> None:
    a, spec_a = data.make_clip(11, frames=8, size=32)
    b, spec_b = data.make_clip(11, frames=8, size=32)
    c, _ = data.make_clip(12, frames=8, size=32)
    assert np.array_equal(a, b) and spec_a == spec_b and not np.array_equal(a, c)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8


def test_captions_name_what_the_clip_shows_and_held_out_triples_stay_out_of_training() -> None:
    seen_two = False
    for seed in range(300):
        spec = data.sample_spec(seed, "train")
        seen_two |= len(spec.objects) == 2
        for obj in spec.objects:
            assert f"{obj.colour} {obj.shape}" in spec.caption
            assert any(p in spec.caption for p in data._MOTION_PHRASES[obj.motion])
            assert not data.is_held_out(obj.colour, obj.shape, obj.motion)
        if spec.mentions_background:
            assert spec.background in spec.caption
        held = data.sample_spec(seed, "heldout")
        assert len(held.objects) == 1 and data.is_held_out(held.main.colour, held.main.shape, held.main.motion)
    assert seen_two


# --------------------------------------------------------------------------------------- checker


def test_checker_reads_rendered_clips_correctly() -> None:
    for seed in range(24):
        frames, spec = data.make_clip(seed, "heldout")
        reading = checker.read_clip(frames)
        assert (reading.colour, reading.shape, reading.motion) == (spec.main.colour, spec.main.shape, spec.main.motion)


def test_checker_on_hand_drawn_clips_where_the_answer_is_known() -> None:
    frames = np.full((16, 64, 64, 3), 240, np.uint8)
    for t in range(16):  # a blue 16-px square sliding from x=40 to x=10
        x = 40 - 2 * t
        frames[t, 24:40, x:x + 16] = (30, 70, 225)
    reading = checker.read_clip(frames)
    assert (reading.colour, reading.shape, reading.motion) == ("blue", "square", "left")
    assert reading.displacement[0] < -0.4
    assert checker.read_clip(frames[::-1].copy()).motion == "right"
    blank = np.full((16, 64, 64, 3), 16, np.uint8)
    assert checker.read_clip(blank) == checker.ClipReading(None, None, None, 0.0, (0.0, 0.0), 0.0)
    noise = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    assert checker.frame_consistency(noise)["frame_diff_mae"] > 50 > checker.frame_consistency(frames)["frame_diff_mae"]


def test_evaluate_reports_ours_next_to_the_baselines() -> None:
    from generator.stdit.evaluate import evaluate, format_table

    result = evaluate(tiny_model(), n=2, steps=1, batch=2, frames=4, size=32, quiet=True)
    assert result["ground_truth"]["colour"] == 1.0
    table = format_table(result)
    assert "random clip" in table and "motion adherence" in table


def test_layout_probe_scores_a_model_that_knows_the_trajectories_and_one_that_does_not() -> None:
    from generator.stdit.evaluate import heldout_specs, layout_probe

    class Fixed(torch.nn.Module):
        """Returns the same clips whatever it is given: rendered truth, or truth played backwards."""

        def __init__(self, backwards: bool) -> None:
            super().__init__()
            self.config = STDiTConfig(frames=16, height=64, width=64)
            specs = [s for s in heldout_specs(64) if s.main.motion in data.TRANSLATIONS][:8]
            clips = np.stack([data.render(s) for s in specs]).astype(np.float32) / 127.5 - 1
            self.clips = torch.from_numpy(clips).permute(0, 4, 1, 2, 3)
            if backwards:
                self.clips = self.clips.flip(2)

        def forward(self, x: torch.Tensor, *_: object) -> torch.Tensor:
            return self.clips[: x.shape[0]]

    right = layout_probe(Fixed(backwards=False), n=8)
    assert right["n"] == 8 and right["direction_agrees"] == 1.0 and right["mean_cosine"] > 0.99
    assert right["mean_travel"] > 0.3
    wrong = layout_probe(Fixed(backwards=True), n=8)
    assert wrong["direction_agrees"] == 0.0 and wrong["mean_cosine"] < -0.99


def test_shape_probe_reads_the_shape_of_a_prediction_from_the_noised_truth() -> None:
    from generator.stdit.evaluate import heldout_specs, shape_probe

    class Denoiser(torch.nn.Module):
        """An oracle that returns the true clips, or one that returns its noisy input unchanged."""

        def __init__(self, oracle: bool) -> None:
            super().__init__()
            self.config = STDiTConfig(frames=16, height=64, width=64)
            self.oracle = oracle
            clips = np.stack([data.render(s) for s in heldout_specs(6, 1000)]).astype(np.float32) / 127.5 - 1
            self.clips = torch.from_numpy(clips).permute(0, 4, 1, 2, 3)

        def forward(self, x: torch.Tensor, *_: object) -> torch.Tensor:
            return self.clips[: x.shape[0]] if self.oracle else x

    oracle = shape_probe(Denoiser(oracle=True), n=6, times=(0.5, 0.9))
    assert oracle == {"n": 6.0, "shape@0.5": 1.0, "shape@0.9": 1.0}
    noisy = shape_probe(Denoiser(oracle=False), n=6, times=(0.9,))
    assert noisy["shape@0.9"] < 0.5  # x_t at t = 0.9 is mostly noise: no silhouette to read
    # Swapped: x_t shows other shapes. The oracle still draws the caption's; a copier draws the wrong ones.
    assert shape_probe(Denoiser(oracle=True), n=6, times=(0.5,), swap=True)["shape@0.5"] == 1.0
    assert shape_probe(Denoiser(oracle=False), n=6, times=(0.02,), swap=True)["shape@0.02"] == 0.0


def test_committed_default_weights_match_their_card_and_generate() -> None:
    from generator.registry import default_weights, load_generator, read_card

    weights = default_weights()
    card = read_card(weights)
    assert card is not None and weights.stat().st_size <= 25 * 2**20
    assert sha256_file(weights) == card["sha256"]
    assert {"config", "steps", "wall_minutes"} <= set(card["training"]) and card["metrics"]
    gen = load_generator("stdit-torch")
    assert gen.card.weights_sha256 == card["sha256"] and gen.card.id == card["id"]
    # The served default is the ONNX export of the same weights, under the same card.
    served = load_generator()
    assert served.card.weights_sha256 == card["onnx"]["sha256"] and served.card.id == card["id"]
    assert card["onnx"]["exported_from"] == card["sha256"]
    assert weights.with_suffix(".onnx").stat().st_size <= 25 * 2**20
    # The card's sampler settings are the ones the built-in generator samples with.
    assert isinstance(gen, STDiTGenerator) and served.sampler == gen.sampler  # type: ignore[attr-defined]
    section = card["sampler"]
    assert (gen.sampler.shift, gen.sampler.eta, gen.sampler.early_scale, gen.sampler.early_t) == (
        section["shift"], section["eta"], section["early_scale"], section["early_t"])
    assert gen.sampler.to_card() | {"guidance": section["guidance"]} == section
    video = gen.generate(GenerationRequest("a red circle moves right on a white background", steps=2))
    assert video.frames.shape == (16, 64, 64, 3)


def test_the_card_describes_the_shape_swap_only_for_recipes_that_use_it() -> None:
    from generator.stdit.publish import objective

    plain = objective({"t_mean": 1.0, "layout_aux": 1.0, "layout_pretrain_steps": 2500})
    swapped = objective({"t_mean": 1.0, "shape_swap": 0.3, "shape_swap_band": [0.6, 1.0]})
    assert "shape-swap" not in plain and "2500 steps" in plain
    assert "30% of the captioned clips" in swapped and "[0.6, 1.0]" in swapped
