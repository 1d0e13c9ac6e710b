"""The diffusers backend, exercised for real on a tiny randomly initialised Wan pipeline built here.

As diffusers' own pipeline tests do, the components are tiny and random; unlike them nothing comes
from the hub: the tokenizer is the packaged MiniLM one and the text encoder a random tiny T5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generator.base import GenerationRequest
from generator.text_encoder import minilm_dir
from policies import RequestLimits
from safety.errors import BadInputError, ModelError

# Explicit limits keep these tests about the backend, not about the policy pack's current values.
LIMITS = RequestLimits(max_prompt_chars=500, max_frames=64, max_width=256, max_height=256, max_steps=50)

diffusers = pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")


def tiny_wan_pipeline(folder: Path) -> Path:
    from transformers import AutoTokenizer, T5Config, T5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=37,
                                           num_layers=2, num_heads=4, relative_attention_num_buckets=8))
    vae = diffusers.AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                     temperal_downsample=[False, True, True])
    transformer = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0)
    pipe = diffusers.WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                                 transformer=transformer, scheduler=scheduler)
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_wan_pipeline(tmp_path_factory.mktemp("tiny-wan"))


def test_wan_backend_generates_a_video_from_a_local_folder(wan_folder: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.registry import load_generator

    monkeypatch.setenv("SEALFRAME_GENERATOR", f"wan:{wan_folder}")
    gen = load_generator()
    gen.limits = LIMITS  # type: ignore[attr-defined]
    req = GenerationRequest("a red circle moves left", seed=3, frames=6, height=32, width=32, steps=2, guidance=3.0)
    video = gen.generate(req)
    assert video.frames.shape == (6, 32, 32, 3) and video.frames.dtype == np.uint8
    again = gen.generate(req)
    assert np.array_equal(video.frames, again.frames), "same seed must give the same video"
    other = gen.generate(GenerationRequest("a red circle moves left", seed=4, frames=6, height=32, width=32,
                                           steps=2, guidance=3.0))
    assert not np.array_equal(video.frames, other.frames)
    card = gen.card
    assert card.id.startswith("wan:") and len(card.weights_sha256) == 64


def test_wan_backend_refuses_bad_sizes_and_missing_folders(wan_folder: Path, tmp_path: Path) -> None:
    from generator.diffusers_backend import DiffusersGenerator, pipeline_frames

    gen = DiffusersGenerator.from_local("wan", wan_folder)
    gen.limits = LIMITS
    with pytest.raises(BadInputError, match=r"multiples of 16"):
        gen.generate(GenerationRequest("x", frames=5, height=24, width=32, steps=1))
    with pytest.raises(ModelError, match=r"model_index\.json"):
        DiffusersGenerator.from_local("wan", tmp_path)
    assert [pipeline_frames("wan", n) for n in (1, 2, 5, 6, 16)] == [1, 5, 5, 9, 17]
    assert pipeline_frames("ltx", 16) == 17
