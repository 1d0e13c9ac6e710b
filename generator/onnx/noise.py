"""torch's CPU `randn` in numpy: the same numbers for the same seed, without torch.

A clip's noise is drawn from `torch.Generator().manual_seed(seed)` on the torch path; the ONNX path
draws the same stream here, so a prompt and seed give the same clip on both. torch's CPU generator is
MT19937 seeded with the low 32 bits of the seed; a float32 normal tensor of 16 or more elements is
filled with uniforms u = (x & (2^24 - 1)) / 2^24 from successive 32-bit outputs, then transformed in
blocks of 16 by Box-Muller (u1 = 1 - data[j], u2 = data[j + 8] for j < 8), the tail block recomputed
from fresh uniforms (`normal_fill` in ATen's DistributionTemplates.h). torch's AVX2 kernel computes
log/sin/cos in float32 approximations, so values agree to about 1e-6, not bit for bit.
"""

from __future__ import annotations

import numpy as np


class TorchNormal:
    """A stream of standard normals equal (to ~1e-6) to `torch.randn(..., generator=manual_seed(seed))`."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.RandomState(int(seed) & 0xFFFFFFFF)  # init_genrand, as torch's mt19937

    def _uniform(self, n: int) -> np.ndarray:
        bits = self._rng.randint(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
        return ((bits & np.uint32(0xFFFFFF)).astype(np.float64) / float(1 << 24)).astype(np.float32)

    @staticmethod
    def _box_muller16(block: np.ndarray) -> np.ndarray:
        """(K, 16) uniforms → (K, 16) normals, as normal_fill_16."""
        u1 = 1.0 - block[:, :8].astype(np.float64)
        u2 = block[:, 8:].astype(np.float64)
        radius = np.sqrt(-2.0 * np.log(u1))
        theta = 2.0 * np.pi * u2
        return np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1).astype(np.float32)

    def randn(self, shape: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(shape))
        if n < 16:
            raise ValueError("torch draws tensors under 16 elements differently; not reproduced here")
        data = self._uniform(n)
        full = n // 16 * 16
        data[:full] = self._box_muller16(data[:full].reshape(-1, 16)).reshape(-1)
        if n % 16:
            data[n - 16:] = self._box_muller16(self._uniform(16).reshape(1, 16)).reshape(-1)
        return data.reshape(shape)
