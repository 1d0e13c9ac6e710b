"""A procedural, captioned video world: coloured shapes that move over flat backgrounds.

Every clip is a pure function of its seed (`make_clip(seed, ...)`), so a training run, a test and an
evaluation that name the same seed see the same pixels and the same caption. Each clip carries its
ground-truth labels (`ClipSpec`), which is what the analytic checker in `evaluate.py` is scored
against. The caption vocabulary covers exactly what the checker measures: colour, shape class and
motion; size and background are described too but not scored.

Held-out prompts: one (colour, shape, motion) triple in eight never appears in training
(`is_held_out`); evaluation draws only from those triples, so adherence is measured on
compositions the model has not seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (30, 70, 225),
    "yellow": (245, 215, 20),
    "purple": (150, 50, 190),
    "orange": (250, 135, 0),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "black": (16, 16, 16),
    "gray": (120, 120, 120),
}
SHAPES = ("circle", "square", "triangle", "star")
SIZES: dict[str, float] = {"small": 0.17, "large": 0.24}  # half-extent as a fraction of the frame side
TRANSLATIONS: dict[str, tuple[float, float]] = {  # unit direction in image coordinates (x right, y down)
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-0.7071, -0.7071),
    "up-right": (0.7071, -0.7071),
    "down-left": (-0.7071, 0.7071),
    "down-right": (0.7071, 0.7071),
}
MOTIONS = (*TRANSLATIONS, "bouncing", "rotating", "growing", "shrinking")

_MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("moves left", "drifts left", "slides to the left", "travels leftward"),
    "right": ("moves right", "drifts right", "slides to the right", "travels rightward"),
    "up": ("moves up", "rises", "floats upward", "travels up"),
    "down": ("moves down", "falls", "sinks downward", "travels down"),
    "up-left": ("moves diagonally up and to the left", "drifts up-left", "glides toward the top left"),
    "up-right": ("moves diagonally up and to the right", "drifts up-right", "glides toward the top right"),
    "down-left": ("moves diagonally down and to the left", "drifts down-left", "glides toward the bottom left"),
    "down-right": ("moves diagonally down and to the right", "drifts down-right", "glides toward the bottom right"),
    "bouncing": ("bounces", "bounces up and down", "hops in place"),
    "rotating": ("rotates", "spins", "turns slowly"),
    "growing": ("grows", "gets bigger", "expands"),
    "shrinking": ("shrinks", "gets smaller", "contracts"),
}
_BG_PHRASES = (" on a {bg} background", " against a {bg} backdrop", " over {bg}", " on {bg}")
_ARTICLES = ("a", "one")


@dataclass(frozen=True)
class ObjectSpec:
    """One object: what it is and how it moves. Positions are fractions of the frame side."""

    shape: str
    colour: str
    size: str
    motion: str
    start: tuple[float, float]
    travel: float  # translation length (fraction of the frame), or the bounce height


@dataclass(frozen=True)
class ClipSpec:
    """Ground truth of one clip: background plus one or two objects; `objects[0]` is the main one."""

    seed: int
    background: str
    objects: tuple[ObjectSpec, ...]
    caption: str
    mentions_background: bool = field(default=True)

    @property
    def main(self) -> ObjectSpec:
        return self.objects[0]


def triple_key(colour: str, shape: str, motion: str) -> int:
    """A stable hash of a (colour, shape, motion) triple (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256(f"{colour}|{shape}|{motion}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def is_held_out(colour: str, shape: str, motion: str) -> bool:
    """One triple in eight is reserved for evaluation and never rendered for training."""
    return triple_key(colour, shape, motion) % 8 == 0


def _motions_for(shape: str) -> tuple[str, ...]:
    # A rotating circle looks static; leave it out so every caption is visible in its pixels.
    return tuple(m for m in MOTIONS if not (shape == "circle" and m == "rotating"))


def _sample_object(rng: np.random.Generator, split: str, avoid: ObjectSpec | None = None) -> ObjectSpec:
    while True:
        shape = SHAPES[rng.integers(len(SHAPES))]
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        motion = _motions_for(shape)[rng.integers(len(_motions_for(shape)))]
        if avoid is not None and (colour == avoid.colour or shape == avoid.shape):
            continue
        held = is_held_out(colour, shape, motion)
        if (split == "train" and not held) or (split == "heldout" and held) or split == "any":
            break
    size = list(SIZES)[rng.integers(len(SIZES))]
    half = SIZES[size]
    if motion in TRANSLATIONS:
        travel = float(rng.uniform(0.40, 0.50))
        dx, dy = TRANSLATIONS[motion]
        # Centre the path in the frame, then jitter it where there is room.
        cx, cy = 0.5 - dx * travel / 2, 0.5 - dy * travel / 2
        room = max(0.0, 0.5 - half - travel / 2 - 0.02)
        cx += float(rng.uniform(-room, room)) * (1 - abs(dx))
        cy += float(rng.uniform(-room, room)) * (1 - abs(dy))
        start = (cx, cy)
    elif motion == "bouncing":
        travel = float(rng.uniform(0.25, 0.32))
        start = (float(rng.uniform(0.35, 0.65)), 1.0 - half - 0.05)
    else:
        travel = 0.0
        start = (float(rng.uniform(0.4, 0.6)), float(rng.uniform(0.4, 0.6)))
    return ObjectSpec(shape, colour, size, motion, start, travel)


def _describe(rng: np.random.Generator, obj: ObjectSpec, with_size: bool) -> str:
    size = f"{obj.size} " if with_size else ""
    phrases = _MOTION_PHRASES[obj.motion]
    return f"{size}{obj.colour} {obj.shape} {phrases[rng.integers(len(phrases))]}"


def sample_spec(seed: int, split: str = "train", two_object_p: float = 0.15) -> ClipSpec:
    """The ground truth and caption for `seed`. `split` is "train", "heldout" or "any"."""
    rng = np.random.default_rng([seed, 0x5EA1F])
    background = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    objs = [_sample_object(rng, split)]
    if split == "train" and rng.random() < two_object_p:
        objs.append(_sample_object(rng, "train", avoid=objs[0]))
    article = _ARTICLES[rng.integers(len(_ARTICLES))] if rng.random() < 0.3 else "a"
    parts = [f"{article} {_describe(rng, o, with_size=rng.random() < 0.7)}" for o in objs]
    caption = " and ".join(parts)
    mention_bg = bool(rng.random() < 0.8)
    if mention_bg:
        caption += _BG_PHRASES[rng.integers(len(_BG_PHRASES))].format(bg=background)
    return ClipSpec(seed, background, tuple(objs), caption, mention_bg)


def swap_shapes(spec: ClipSpec, rng: np.random.Generator) -> ClipSpec:
    """`spec` with every object's shape replaced by another shape (drawn uniformly from the other
    three); caption, colours, sizes and motions unchanged. Training renders these as the *signal* of
    some noisy inputs whose target is still the true clip (`flow.flow_loss`'s `signal`): the network
    must then take the silhouette from the caption where x_t shows a wrong one, which is what sampling
    asks of it near the noise end, where its own x_t shows the caption's mean blob."""
    objs = []
    for obj in spec.objects:
        others = [s for s in SHAPES if s != obj.shape]
        objs.append(replace(obj, shape=others[rng.integers(len(others))]))
    return replace(spec, objects=tuple(objs))


# ---------------------------------------------------------------------------------------------
# Rendering


def _polygon(shape: str) -> np.ndarray:
    """Unit-size outline (vertices, x/y) of a polygonal shape, centred on the origin."""
    if shape == "square":
        a = 0.86
        return np.array([[-a, -a], [a, -a], [a, a], [-a, a]])
    if shape == "triangle":
        ang = np.deg2rad([-90, 30, 150])
        return np.stack([np.cos(ang), np.sin(ang) + 0.2], 1) * 1.12
    if shape == "star":
        ang = np.deg2rad(-90 + 36 * np.arange(10))
        rad = np.where(np.arange(10) % 2 == 0, 1.1, 0.48)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    raise ValueError(f"not a polygon: {shape}")


def _inside_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over the sample points."""
    inside = np.zeros(x.shape, bool)
    n = len(poly)
    for i in range(n):
        x0, y0 = poly[i]
        x1, y1 = poly[(i + 1) % n]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xi)
    return inside


def shape_mask(shape: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean mask of `shape` at unit size; `x`, `y` are coordinates in the object's own frame."""
    if shape == "circle":
        return x * x + y * y <= 1.0
    return _inside_polygon(x, y, _polygon(shape))


def object_state(obj: ObjectSpec, u: float) -> tuple[float, float, float, float]:
    """(centre x, centre y, half-extent, rotation radians) at normalised time u in [0, 1]."""
    cx, cy = obj.start
    half = SIZES[obj.size]
    angle = 0.0
    if obj.motion in TRANSLATIONS:
        dx, dy = TRANSLATIONS[obj.motion]
        cx, cy = cx + dx * obj.travel * u, cy + dy * obj.travel * u
    elif obj.motion == "bouncing":
        cy = cy - obj.travel * abs(np.sin(2 * np.pi * u))
    elif obj.motion == "rotating":
        angle = np.pi / 3 * u
    elif obj.motion == "growing":
        half *= 0.55 + 0.75 * u
    elif obj.motion == "shrinking":
        half *= 1.3 - 0.75 * u
    return cx, cy, half, angle


def render(spec: ClipSpec, frames: int = 16, size: int = 64, supersample: int = 2) -> np.ndarray:
    """Pixels of `spec`: uint8 (frames, size, size, 3), anti-aliased by supersampling."""
    n = size * supersample
    coords = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(coords, coords)
    video = np.empty((frames, n, n, 3), np.float32)
    video[:] = np.asarray(BACKGROUNDS[spec.background], np.float32)
    for t in range(frames):
        u = t / max(1, frames - 1)
        for obj in reversed(spec.objects):  # the main object is drawn last, on top
            cx, cy, half, angle = object_state(obj, u)
            c, s = np.cos(-angle), np.sin(-angle)
            # Only the object's bounding box can change; shapes fit in a radius of 1.2 half-extents.
            r = 1.2 * half
            y0, y1 = max(0, int((cy - r) * n)), min(n, int((cy + r) * n) + 2)
            x0, x1 = max(0, int((cx - r) * n)), min(n, int((cx + r) * n) + 2)
            if y0 >= y1 or x0 >= x1:
                continue
            lx, ly = (gx[y0:y1, x0:x1] - cx) / half, (gy[y0:y1, x0:x1] - cy) / half
            mask = shape_mask(obj.shape, c * lx - s * ly, s * lx + c * ly)
            video[t, y0:y1, x0:x1][mask] = COLOURS[obj.colour]
    if supersample > 1:
        # Box-filter down by adding the k×k strided sub-grids: the same sums as .mean((2, 4)) on the
        # reshaped array (the values are small integers, so exactly), ~4× faster than that reduction.
        k = supersample
        acc = np.zeros((frames, size, size, 3), np.float32)
        for dy in range(k):
            for dx in range(k):
                acc += video[:, dy::k, dx::k]
        video = acc / (k * k)
    return np.clip(np.rint(video), 0, 255).astype(np.uint8)


def make_clip(seed: int, split: str = "train", frames: int = 16, size: int = 64) -> tuple[np.ndarray, ClipSpec]:
    """(uint8 frames T×H×W×3, ground truth) for `seed`: the same seed always gives the same clip."""
    spec = sample_spec(seed, split)
    return render(spec, frames, size), spec


def render_batch(specs: list[ClipSpec], frames: int = 16, size: int = 64) -> np.ndarray:
    """Float32 batch (B, 3, T, H, W) in [-1, 1] of `specs`, the network's input space."""
    x = np.stack([render(spec, frames, size) for spec in specs]).astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3))


def make_batch(seeds: list[int], split: str = "train", frames: int = 16,
               size: int = 64) -> tuple[np.ndarray, list[str]]:
    """Float32 batch (B, 3, T, H, W) in [-1, 1] and the captions, for training."""
    specs = [sample_spec(seed, split) for seed in seeds]
    return render_batch(specs, frames, size), [spec.caption for spec in specs]
