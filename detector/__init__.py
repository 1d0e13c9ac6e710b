"""SealFrame's synthetic-video detector: model, training, ONNX export and runtime.

Only `safety.media` and `safety.errors` are imported from the layer (DESIGN's one-way rule).
"""

from detector.types import DetectorScore

__all__ = ["DetectorScore"]
