"""Sample the raw built-in model to an MP4 (no moderation, watermark or credentials: that is
`sealframe generate`).

    python -m generator.stdit.sample "a red circle moves left on white" -o out.mp4 [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from generator.base import GenerationRequest
from generator.registry import load_builtin
from safety.errors import SealFrameError
from safety.media import write_video


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prompt")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--negative-prompt", default="")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64, help="height and width")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--weights", type=Path, default=None, help="a safetensors file (default: the committed one)")
    args = ap.parse_args(argv)
    try:
        gen = load_builtin(args.weights)
        req = GenerationRequest(args.prompt, args.negative_prompt, args.seed, args.frames, args.size, args.size,
                                args.steps, args.guidance)
        t0 = time.time()
        video = gen.generate(req)
        write_video(video, args.output)
    except SealFrameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {args.output} ({video.num_frames} frames {video.width}×{video.height}, "
          f"{time.time() - t0:.1f}s, model {gen.card.id}@{gen.card.weights_sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
