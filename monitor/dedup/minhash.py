"""Near-duplicate signatures: MinHash over character shingles, and LSH band keys (pure, no I/O).

A post's :class:`Signature` is a MinHash (fixed seed; the permutations, their formula and the LSH
banding are datasketch 1.x's, reproduced here exactly so signatures stored while the project used
datasketch stay comparable) over the character 5-grams of :func:`monitor.dedup.keys.dedup_text`, so
emoji, links, mentions, markup and the channel footer do not count. Character shingles rather
than words because Russian and Ukrainian inflect: a rewritten sentence keeps most 5-grams.

Shingle hashes (scheme 2, :func:`shingle_hashes`): each 5-gram's code points are folded into a
64-bit polynomial, mixed by the splitmix64 finalizer and cut to their top 32 bits, all in numpy
over the whole text at once; the permutations are then applied to every hash in one numpy step
exactly as datasketch's ``update_batch`` did. Deterministic across processes and platforms
(fixed-width unsigned arithmetic, never Python's ``hash()``), and 3× cheaper than datasketch's
default of one SHA-1 call per shingle (scheme 1, what format-1 signatures were built with).
:func:`shingle_hash32` is the same hash for one shingle.

Signatures of the two schemes estimate nothing about each other: they do not compare
(:func:`similarity` raises) and their band keys never collide (the scheme is hashed into the
keys of scheme 2). Stored scheme-1 rows still decode; they age out of the 7-day candidate
window, and until then a new post does not find an old near-duplicate through them (exact keys
still join it).

Finding candidates: :func:`band_keys` cuts the signature into *b* bands of *r* rows (the optimum
datasketch's ``MinHashLSH`` picks for the threshold, :func:`lsh_params`: 18 × 7 at 0.6 with 128
permutations); two
posts sharing any band key are candidates, looked up through an indexed column. Candidates are then
confirmed with :func:`is_near_duplicate`: :func:`similarity` ≥ ``DedupSettings.similarity``
(0.75) *and* no conflict of fact tokens (numbers, names; see :mod:`monitor.dedup.facts`), because
one sentence posted daily with other figures is otherwise a "near-duplicate".

A 128-permutation signature serialises to 522 bytes (:meth:`Signature.to_bytes`): a 10-byte
header (format version = shingle hash scheme, shingle size, seed, permutation count), then the hash values as
little-endian uint32, then a count byte and the fact hashes (uint32 each, at most 32).
"""

from __future__ import annotations

import hashlib
import struct
from functools import lru_cache

import numpy as np

from monitor.dedup.facts import MAX_FACTS, fact_hashes, facts_conflict
from monitor.dedup.keys import MIN_TEXT_CHARS, dedup_text

SEED = 1  # never change: stored signatures and band keys depend on it
#: The shingle hash of new signatures; 1 (SHA-1 per shingle) is still read. Stored as the format byte.
SCHEME = 2
_SCHEMES = (1, 2)
_HEADER = struct.Struct("<2sBBIH")  # magic, format version, shingle size, seed, num_perm
_MAGIC = b"MH"


class Signature:
    """A MinHash signature with the parameters it was built with (immutable by convention)."""

    __slots__ = ("hashvalues", "shingle", "seed", "facts", "scheme")

    def __init__(self, hashvalues: np.ndarray, *, shingle: int = 5, seed: int = SEED,
                 facts: tuple[int, ...] = (), scheme: int = SCHEME):
        self.hashvalues = np.array(hashvalues, dtype=np.uint64)
        self.hashvalues.flags.writeable = False
        self.shingle = shingle
        self.seed = seed
        self.scheme = scheme
        self.facts = tuple(sorted(facts))[:MAX_FACTS]  # 32-bit hashes of the text's fact tokens

    @property
    def num_perm(self) -> int:
        return len(self.hashvalues)

    def to_bytes(self) -> bytes:
        """Compact, stable encoding for a database column."""
        head = _HEADER.pack(_MAGIC, self.scheme, self.shingle, self.seed, self.num_perm)
        # MinHash values are < 2**32 (datasketch masks them), so uint32 loses nothing.
        facts = struct.pack(f"<B{len(self.facts)}I", len(self.facts), *self.facts)
        return head + self.hashvalues.astype("<u4").tobytes() + facts

    @classmethod
    def from_bytes(cls, data: bytes) -> "Signature":
        """Inverse of :meth:`to_bytes`; ValueError on anything else."""
        if len(data) < _HEADER.size:
            raise ValueError("not a signature: too short")
        magic, fmt, shingle, seed, num_perm = _HEADER.unpack_from(data)
        if magic != _MAGIC or fmt not in _SCHEMES:
            raise ValueError("not a signature: unknown header")
        body = data[_HEADER.size:_HEADER.size + 4 * num_perm]
        trailer = data[_HEADER.size + 4 * num_perm:]
        if len(body) != 4 * num_perm or not trailer or len(trailer) != 1 + 4 * trailer[0]:
            raise ValueError(f"signature length mismatch for {num_perm} values")
        facts = struct.unpack_from(f"<{trailer[0]}I", trailer, 1)
        return cls(np.frombuffer(body, dtype="<u4"), shingle=shingle, seed=seed, facts=facts, scheme=fmt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Signature):
            return NotImplemented
        return (self.scheme, self.shingle, self.seed, self.facts) == (
            other.scheme, other.shingle, other.seed, other.facts) and (
            np.array_equal(self.hashvalues, other.hashvalues))

    def __hash__(self) -> int:
        return hash((self.scheme, self.shingle, self.seed, self.facts, self.hashvalues.tobytes()))

    def __repr__(self) -> str:
        return (f"Signature(num_perm={self.num_perm}, shingle={self.shingle}, seed={self.seed}, "
                f"scheme={self.scheme})")


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> np.ndarray:
    """The (a, b) pairs of the permutations ``(a·h + b) mod (2⁶¹ − 1)``, shape (2, num_perm).

    Drawn exactly as datasketch 1.x's ``MinHash._init_permutations`` draws them: numpy's legacy
    ``RandomState(seed)`` (its stream is frozen by numpy's compatibility policy), alternating
    ``a`` in [1, p) and ``b`` in [0, p). Stored signatures and band keys depend on these values.
    Drawing them costs ~0.3 ms, as much as a whole post: built once.
    """
    gen = np.random.RandomState(seed)
    pairs = [(gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
             for _ in range(num_perm)]
    perms = np.array(pairs, dtype=np.uint64).T
    perms.flags.writeable = False
    return perms


def shingles(reduced: str, size: int = 5) -> set[bytes]:
    """The distinct character ``size``-grams of already reduced text, UTF-8 encoded."""
    return {reduced[i:i + size].encode("utf-8") for i in range(len(reduced) - size + 1)}


# splitmix64 (Steele et al.): the multiplier folds code points into a polynomial, the finalizer
# spreads every input bit over the output so the top 32 bits are well mixed.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SHIFTS = tuple(np.uint64(k) for k in (30, 27, 31, 32))
_MERSENNE = np.uint64((1 << 61) - 1)  # datasketch's permutation modulus and hash mask
_S61 = np.uint64(61)
_MAX_HASH = np.uint64((1 << 32) - 1)


def shingle_hashes(reduced: str, size: int = 5) -> np.ndarray:
    """32-bit hashes (as uint64) of every character ``size``-gram of ``reduced``, in order.

    The hash of code points c₀…cₖ is ``fmix(((c₀·G + c₁)·G + …)·G)``'s top 32 bits, all modulo
    2⁶⁴ (G the golden-ratio constant, fmix splitmix64's finalizer). Repeated shingles repeat
    their hash, which a minimum does not mind.
    """
    cps = np.frombuffer(reduced.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    n = len(cps) - size + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for i in range(size):
        h += cps[i:i + n]
        h *= _GOLDEN
    s30, s27, s31, s32 = _SHIFTS
    h ^= h >> s30
    h *= _MIX1
    h ^= h >> s27
    h *= _MIX2
    h ^= h >> s31
    return h >> s32


def shingle_hash32(shingle: bytes) -> int:
    """:func:`shingle_hashes` of one UTF-8 encoded shingle."""
    text = shingle.decode("utf-8", "surrogatepass")
    return int(shingle_hashes(text, len(text))[0])


def _min_hash(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """datasketch's ``update_batch`` step on a fresh MinHash: ``min((a·h + b) mod p & 0xffffffff)``
    over all hashes h, for each permutation (a, b); uint64 arithmetic wraps as it does there."""
    a, b = _permutations(num_perm, seed)
    phv = np.multiply.outer(a, hashes)
    phv += b[:, None]
    # x mod p for p = 2⁶¹ − 1 without a division (numpy's uint64 % is the slowest step): x =
    # hi·2⁶¹ + lo with 2⁶¹ ≡ 1, so x ≡ hi + lo ≤ p + 7 < 2p, and one subtraction finishes it.
    high = phv >> _S61
    phv &= _MERSENNE
    phv += high
    np.subtract(phv, _MERSENNE, out=phv, where=phv >= _MERSENNE)
    phv &= _MAX_HASH
    return phv.min(axis=1)


def signature(text: str, *, num_perm: int = 128, shingle: int = 5,
              footer: str | None = None) -> Signature | None:
    """MinHash of ``text``'s reduced form, or None when it is too short to say anything.

    "Too short" is the same floor as the exact text key (``MIN_TEXT_CHARS`` reduced characters):
    a handful of shingles would make every "Фото" post a near-duplicate of every other. The
    signature also carries the text's fact hashes (numbers, names), less those of ``footer``.
    """
    reduced = dedup_text(text, footer=footer)
    if len(reduced) < max(MIN_TEXT_CHARS, shingle):
        return None
    values = _min_hash(shingle_hashes(reduced, shingle), num_perm, SEED)
    return Signature(values, shingle=shingle, seed=SEED, facts=fact_hashes(text, footer=footer))


@lru_cache(maxsize=32)
def lsh_params(threshold: float = 0.6, num_perm: int = 128) -> tuple[int, int]:
    """(bands, rows) minimising equal-weighted false positive and negative areas, as
    datasketch's ``MinHashLSH`` does (its ``_optimal_param``): (18, 7) for 0.6 and 128
    permutations.

    For every b bands of r rows (b·r ≤ num_perm) the false-positive area is
    ∫₀ᵗ 1 − (1 − sʳ)ᵇ ds and the false-negative area ∫ₜ¹ (1 − sʳ)ᵇ ds; the first pair (b
    ascending, then r) with the smallest sum wins. datasketch integrates with scipy's adaptive
    quadrature; the integrands are polynomials of degree r·b ≤ num_perm, so Gauss–Legendre with
    num_perm/2 + 1 nodes is exact (up to rounding) and needs no scipy.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be between 0 and 1")
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)

    def on(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        half = (hi - lo) / 2.0
        return lo + half * (nodes + 1.0), half * weights

    s_fp, w_fp = on(0.0, threshold)
    s_fn, w_fn = on(threshold, 1.0)
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = float(np.dot(w_fp, 1.0 - (1.0 - s_fp ** r) ** b))
            fn = float(np.dot(w_fn, (1.0 - s_fn ** r) ** b))
            error = 0.5 * fp + 0.5 * fn
            if error < best:
                best, opt = error, (b, r)
    return opt


def band_keys(sig: Signature, *, threshold: float = 0.6, num_perm: int = 128) -> list[str]:
    """One key per LSH band: ``"<band>:<16 hex>"``, e.g. ``"07:9f86d081884c7d65"`` (19 chars).

    The hash covers the band's rows *and* the banding parameters, signature seed, shingle size
    and (from scheme 2 on) shingle hash scheme, so keys made under other settings never collide
    with these.
    """
    if sig.num_perm != num_perm:
        raise ValueError(f"signature has {sig.num_perm} permutations, expected {num_perm}")
    bands, rows = lsh_params(threshold, num_perm)
    values = sig.hashvalues.astype("<u4")
    prefix = struct.pack("<HHBI", bands, rows, sig.shingle, sig.seed)
    if sig.scheme != 1:  # scheme 1 keys stay what they were
        prefix += struct.pack("<B", sig.scheme)
    keys = []
    for i in range(bands):
        digest = hashlib.blake2b(prefix + values[i * rows:(i + 1) * rows].tobytes(),
                                 digest_size=8, person=b"monitor-lsh").hexdigest()
        keys.append(f"{i:02d}:{digest}")
    return keys


def similarity(sig_a: Signature, sig_b: Signature) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets (fraction of equal values)."""
    if (sig_a.num_perm, sig_a.seed, sig_a.shingle, sig_a.scheme) != (
            sig_b.num_perm, sig_b.seed, sig_b.shingle, sig_b.scheme):
        raise ValueError("signatures built with different parameters cannot be compared")
    return float(np.count_nonzero(sig_a.hashvalues == sig_b.hashvalues)) / sig_a.num_perm


def is_near_duplicate(sig_a: Signature, sig_b: Signature, *, threshold: float = 0.75) -> bool:
    """The confirmation step: similar enough, and no fact (number, name) changed on both sides.

    ``threshold`` is ``DedupSettings.similarity``. Use this, not :func:`similarity` alone, to
    merge a candidate into a story (see :mod:`monitor.dedup.facts` for the measured cases).
    """
    return similarity(sig_a, sig_b) >= threshold and not facts_conflict(sig_a.facts, sig_b.facts)


def near_duplicate_score(sig_a: Signature, sig_b: Signature) -> float:
    """:func:`similarity`, or 0.0 when the fact guard says the two are different reports.

    For callers that compare a score with ``DedupSettings.similarity`` themselves (the store's
    ``similarity_fn``): the same decision as :func:`is_near_duplicate`, as a number.
    """
    if facts_conflict(sig_a.facts, sig_b.facts):
        return 0.0
    return similarity(sig_a, sig_b)


def candidate_probability(jaccard: float, *, threshold: float = 0.6, num_perm: int = 128) -> float:
    """Probability that a pair at ``jaccard`` shares at least one band key: 1 − (1 − jʳ)ᵇ."""
    bands, rows = lsh_params(threshold, num_perm)
    return 1.0 - (1.0 - jaccard ** rows) ** bands
