"""The reader's false-positive accounting: the search's hypothesis count is pinned, and the search
never decodes a hypothesis outside what it counts, nor more than it counts."""

from __future__ import annotations

import math

import numpy as np

from safety.media import Video
from safety.watermark import DEFAULT_CONFIG, embed, read
from safety.watermark import attacks as A
from safety.watermark.search import hypotheses_searched, in_counted_space
from tests.test_watermark import KEY, PAYLOAD, textured_clip


def test_hypothesis_count_is_pinned() -> None:
    # Changing the grids, the largest crop or the search changes M, and with it every p-value:
    # that must be a deliberate change of this number.
    assert hypotheses_searched(DEFAULT_CONFIG) == 2_829_138
    assert hypotheses_searched(DEFAULT_CONFIG, registered=True) == 5_777_782


def _check_accounting(clip: Video) -> tuple[int, int]:
    reading = read(clip.frames, KEY, picture_types=clip.picture_types)
    stage1 = [h for h in reading.tried if math.isnan(h.z)]
    stage2 = [h for h in reading.tried if not math.isnan(h.z)]
    assert reading.tried[: len(stage1)] == tuple(stage1)  # stage 1 first, then the search
    assert 0 < len(stage1) <= reading.counted[0]
    if stage2:
        registered = any(h.registered for h in stage2)
        assert reading.counted[1] == hypotheses_searched(DEFAULT_CONFIG, registered=registered) or not registered
        assert len(stage2) <= reading.counted[1]
        assert all(in_counted_space(h) for h in stage2), [h for h in stage2 if not in_counted_space(h)]
    return len(stage1), len(stage2)


def test_the_search_stays_inside_what_it_counts() -> None:
    moving = textured_clip(frames=12, seed=3, pan=2.0)
    unmarked = _check_accounting(moving)  # nothing found: every stage-1 read, then the whole search
    assert unmarked[1] > 0
    flipped = A.hflip()(embed(textured_clip(frames=8, seed=5, pan=0.0), PAYLOAD, KEY))
    _, searched = _check_accounting(flipped)
    assert searched > 0


def test_stage_one_counts_exactly_its_reads() -> None:
    still = Video(np.ascontiguousarray(textured_clip(frames=6, seed=2, pan=0.0).frames), 24.0)
    reading = read(still.frames, KEY, search=False)
    assert not reading.result.found and reading.counted[1] == 0
    assert len(reading.tried) == reading.counted[0]  # nothing found: every read tried, none beyond


def test_config_is_split_into_layout_embedding_and_reader_parts() -> None:
    import dataclasses

    from safety.watermark import ALGORITHM
    from safety.watermark.config import LAYOUT_VERSION, EmbeddingPolicy, LayoutParams, ReaderOptions

    parts = [{f.name for f in dataclasses.fields(c)} for c in (LayoutParams, EmbeddingPolicy, ReaderOptions)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])  # each field in one part
    assert set().union(*parts) == {f.name for f in dataclasses.fields(DEFAULT_CONFIG)}
    assert parts[0] == {"grids", "data_fraction"} and ALGORITHM.endswith(f".{LAYOUT_VERSION}")
    changed = dataclasses.replace(DEFAULT_CONFIG, follow_motion=False, strength=2.0)
    assert not changed.reader_options.follow_motion and changed.embedding_policy.strength == 2.0
    assert changed.layout_params == DEFAULT_CONFIG.layout_params
