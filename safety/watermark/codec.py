"""The payload code: 64 information bits → a 248-bit BCH codeword; its decoders; the false-positive bounds.

The code is the Linux kernel's binary BCH (through the registry package `bchlib`) over GF(2^8)
with t = 29, shortened to k = 64 information bits: n = 64 + 184 parity bits = 248 bits. Two
decoders read it: `decode`, bchlib's algebraic decoder (any ≤ 29 wrong bits, hard decisions), and
`decode_soft`, ordered-statistics decoding over the code's generator matrix (built from bchlib's
encoder), which uses how reliable each bit is and finds the codeword well beyond 29 errors when
the wrong bits are the weak ones.

False-positive bounds. On a video that does not carry our mark under this key, the soft value of
each code bit has a sign that is a fair coin independent of the other signs *and of all the
magnitudes*: each bit is a sum over its own cells, each cell multiplied by a secret ±1 chip, so
flipping the chips of one bit (equally likely under the key) flips that sign and nothing else
(see `docs/watermark.md`). Two bounds follow, both union bounds over the 2^k codewords:

- Hamming (`log2_false_positive`): a uniform 248-bit word lies within distance d of some codeword
  with probability at most 2^k · V(n, d) / 2^n, V(n, d) = Σ_{i≤d} C(n, i).
- Weighted (`log2_soft_false_positive`): given the magnitudes a_j, the weighted discrepancy
  D = Σ_{j wrong} a_j of one fixed codeword is Σ a_j X_j with X_j iid Bernoulli(½); Chernoff gives
  P(D ≤ d) ≤ min_λ e^{λd} Π (1 + e^{−λ a_j}) / 2, times 2^k.

Either is multiplied by M, the number of hypotheses the reader may try, and capped at 1.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache, lru_cache

import bchlib  # type: ignore[import-not-found]
import numpy as np
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

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


# ---------------------------------------------------------------------------------------------
# soft-decision decoding


@lru_cache(maxsize=1)
def generator_matrix() -> np.ndarray:
    """The code's k × n generator matrix over GF(2) (bool): row i is the codeword of unit payload i.

    The BCH code is linear and systematic (encode(a) ⊕ encode(b) = encode(a ⊕ b), tested), so these
    rows span it and the first k columns are the identity.
    """
    rows = []
    for i in range(K_BITS):
        unit = np.zeros(K_BITS, np.uint8)
        unit[i] = 1
        rows.append(encode(np.packbits(unit).tobytes()))
    return np.stack(rows).astype(bool)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def decode_soft(soft: np.ndarray, order: int = 3) -> Decoded:
    """`_decode_soft` with BLAS on one thread: its products are small (at most 4096 × 248 × 64), and
    a multi-threaded BLAS spent about 4× the CPU time on them (24 ms against 6 ms a decode)."""
    with _blas().limit(limits=1, user_api="blas"):
        return _decode_soft(soft, order)


def _decode_soft(soft: np.ndarray, order: int = 3) -> Decoded:
    """Ordered-statistics decoding (Fossorier and Lin, 1995) of soft values, > 0 meaning bit 1.

    The codeword it returns is the one, among those that agree with the hard decisions on the k most
    reliable independent positions up to `order` flips (0–3), whose disagreements with the hard
    decisions weigh least (sum of |soft|). That is near maximum-likelihood for a short code: it finds
    the transmitted word at error counts far beyond the algebraic decoder's t when the wrong bits are
    the unreliable ones. It always returns a codeword; `errors` is its Hamming distance from the
    hard decisions, which is what the false-positive bound gates (the bound holds whatever decoder
    proposed the codeword).

    Order 3 re-processes all C(64, 3) = 41 664 triple flips without building them: in ±1 form a
    flipped set S changes the base word's weighted disagreement by −½ Σ_j u_j Π_{r∈S} Y_rj (Y: the
    reduced generator's rows as ±1, u: each position's weight, negative where the base word already
    disagrees), so every order is one or two matrix products.
    """
    n = code_bits()
    soft = np.asarray(soft, np.float64)
    if soft.shape != (n,):
        raise WatermarkError(f"expected {n} soft values, got shape {soft.shape}")
    if not 0 <= order <= 3:
        raise WatermarkError(f"OSD order must be 0–3, got {order}")
    hard = soft > 0
    perm = np.argsort(-np.abs(soft), kind="stable")
    g = generator_matrix()[:, perm].copy()
    pivots: list[int] = []
    row = 0
    for col in range(n):  # Gaussian elimination, most reliable columns first
        below = np.flatnonzero(g[row:, col])
        if below.size == 0:
            continue
        r = row + int(below[0])
        if r != row:
            g[[row, r]] = g[[r, row]]
        others = np.flatnonzero(g[:, col])
        others = others[others != row]
        g[others] ^= g[row]
        pivots.append(col)
        row += 1
        if row == K_BITS:
            break
    h = hard[perm]
    weight = np.abs(soft)[perm]
    base = (h[pivots].astype(np.uint8) @ g.astype(np.uint8)) % 2 == 1
    # Flipping rows S: cost(S) = cost(∅) + ½ Σ u − ½ F(S), F(S) = Σ_j u_j Π_{r∈S} Y_rj; maximise F.
    u = weight * np.where(base != h, -1.0, 1.0)
    y = 1.0 - 2.0 * g.astype(np.float64)
    best_f = float(u.sum())
    best_rows: tuple[int, ...] = ()
    if order >= 1:
        f1 = y @ u
        a = int(np.argmax(f1))
        if f1[a] > best_f:
            best_f, best_rows = float(f1[a]), (a,)
    for size in range(2, order + 1):
        # F over all ordered tuples of `size` rows at once, then the best one with strictly rising rows.
        f = (y * u) @ y.T if size == 2 else ((y[:, None, :] * (y * u)[None, :, :]).reshape(-1, n) @ y.T)
        f = np.where(_rising(size), f.reshape((K_BITS,) * size), -np.inf)
        m = int(np.argmax(f))
        if f.flat[m] > best_f:
            best_f, best_rows = float(f.flat[m]), tuple(int(v) for v in np.unravel_index(m, f.shape))
    word = base.copy()
    for r in best_rows:
        word ^= g[r]
    best = np.empty(n, bool)
    best[perm] = word
    payload = np.packbits(best[:K_BITS].astype(np.uint8)).tobytes()
    return Decoded(payload=payload, errors=int(np.count_nonzero(best != hard)))


@lru_cache(maxsize=2)
def _rising(size: int) -> np.ndarray:
    """Mask over (K_BITS,) * size index tuples: True where the indices strictly rise (each set once)."""
    grids = np.meshgrid(*(np.arange(K_BITS),) * size, indexing="ij")
    mask = np.ones(grids[0].shape, bool)
    for lower, upper in itertools.pairwise(grids):
        mask &= lower < upper
    return mask


_LAMBDAS = np.geomspace(1e-3, 50.0, 400)


def log2_soft_false_positive(soft: np.ndarray, codeword: np.ndarray, hypotheses: float = 1) -> float:
    """log2 of the weighted bound (module docstring) for the decode `codeword` of `soft` (> 0: bit 1).

    With all magnitudes equal it is the Hamming bound's Chernoff form; with real magnitudes a
    decode whose wrong bits are the unreliable ones counts as the near miss it is. Any λ gives a
    valid bound; the minimum is taken over a fixed grid of 400 values.
    """
    a = np.abs(np.asarray(soft, np.float64))
    if a.shape != (code_bits(),) or np.asarray(codeword).shape != a.shape:
        raise WatermarkError(f"expected {code_bits()} soft values and code bits")
    a = a / (float(a.mean()) or 1.0)
    wrong = (np.asarray(soft) > 0) != np.asarray(codeword, bool)
    d = float(a[wrong].sum())
    expo = _LAMBDAS * d + np.log1p(np.exp(-np.outer(_LAMBDAS, a))).sum(axis=1) - a.size * math.log(2.0)
    return min(0.0, math.log2(hypotheses) + K_BITS + float(np.min(expo)) / math.log(2.0))
