"""The payload code: 64 information bits → a 248-bit BCH codeword, and the false-positive bound.

The code is the Linux kernel's binary BCH (through the registry package `bchlib`) over GF(2^8)
with t = 29, shortened to k = 64 information bits: n = 64 + 184 parity bits = 248 bits, any 29
bit errors corrected.

False-positive bound. On a video that does not carry our mark under this key, every hard bit the
extractor reads is a fair coin independent of the others: each bit is the sign of a sum over its
own cells, each cell multiplied by a secret ±1 chip, so flipping the chips (equally likely under
the key) flips the bit (see `docs/watermark.md`). For such a uniform 248-bit word the chance to
lie within Hamming distance d of *some* codeword is at most

    P(d) = 2^k · V(n, d) / 2^n,    V(n, d) = Σ_{i≤d} C(n, i)

(the union bound over the 2^64 Hamming balls). The extractor tries M geometric hypotheses, so the
reported p-value is min(1, M · P(d)) with d the distance between the read bits and the decoded
codeword. `found` needs a successful decode *and* p < 1e-6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

import bchlib  # type: ignore[import-not-found]
import numpy as np

from safety.errors import WatermarkError

PAYLOAD_BYTES = 8
K_BITS = 8 * PAYLOAD_BYTES
BCH_T = 29
BCH_M = 8


@lru_cache(maxsize=1)
def _bch() -> bchlib.BCH:
    return bchlib.BCH(BCH_T, m=BCH_M)


def parity_bits() -> int:
    return int(_bch().ecc_bits)


def code_bits() -> int:
    """n, the number of channel bits of one codeword (248)."""
    return K_BITS + parity_bits()


def encode(payload: bytes) -> np.ndarray:
    """The codeword of `payload` (8 bytes) as a uint8 0/1 array of length n."""
    if len(payload) != PAYLOAD_BYTES:
        raise WatermarkError(f"watermark payload must be {PAYLOAD_BYTES} bytes (64 bits), got {len(payload)}")
    bch = _bch()
    ecc = bytes(bch.encode(payload))
    data_bits = np.unpackbits(np.frombuffer(payload, np.uint8))
    ecc_bits = np.unpackbits(np.frombuffer(ecc, np.uint8))[: bch.ecc_bits]
    return np.concatenate([data_bits, ecc_bits]).astype(np.uint8)


@dataclass(frozen=True)
class Decoded:
    payload: bytes
    errors: int
    """Hamming distance between the received word and the decoded codeword."""


def decode(bits: np.ndarray) -> Decoded | None:
    """Decode a received 0/1 word of length n; None when it is farther than t from every codeword."""
    bch = _bch()
    n = code_bits()
    if bits.shape != (n,):
        raise WatermarkError(f"expected {n} code bits, got shape {bits.shape}")
    word = bits.astype(np.uint8)
    data = bytearray(np.packbits(word[:K_BITS]).tobytes())
    pad = np.zeros(8 * bch.ecc_bytes - bch.ecc_bits, np.uint8)
    ecc = bytearray(np.packbits(np.concatenate([word[K_BITS:], pad])).tobytes())
    if bch.decode(data, ecc) < 0:
        return None
    bch.correct(data, ecc)
    payload = bytes(data)
    # Re-encode rather than trust the decoder's count: the distance is what the bound needs.
    errors = int(np.count_nonzero(encode(payload) != word))
    if errors > BCH_T:
        return None
    return Decoded(payload=payload, errors=errors)


@cache
def log2_false_positive(errors: int, hypotheses: int = 1) -> float:
    """log2 of the bound M · 2^k · V(n, d) / 2^n (see the module docstring)."""
    n = code_bits()
    volume = sum(math.comb(n, i) for i in range(errors + 1))
    return math.log2(hypotheses) + K_BITS + math.log2(volume) - n


def false_positive_bound(errors: int, hypotheses: int = 1) -> float:
    return float(min(1.0, 2.0 ** log2_false_positive(errors, hypotheses)))
