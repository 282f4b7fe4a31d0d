"""The pure per-item work of ingest: matching form, language, exact keys, MinHash signature, bands.

Values in, values out, no database: :mod:`monitor.ingest.pipeline` calls these inside a batch's
transaction. (Running them ahead of the transaction in the spawn process pool was measured on
2 cores and left out: ~5 % faster one batch at a time, slower with sources ingesting
concurrently, where the main process is the bottleneck and the workers compete with it.)
"""

from __future__ import annotations

from monitor import types as t
from monitor.dedup import band_keys, exact_keys, signature
from monitor.dedup.minhash import Signature, near_duplicate_score
from monitor.dedup.stories import Cluster
from monitor.match import detect_language, matching_form
from monitor.settings import DedupSettings


def enrich(value: t.Item, source_language: str | None) -> tuple[str, str | None]:
    """(matching form, language) of an item: its own language, else its source's, else detected."""
    text = f"{value.title}\n{value.text}" if value.title else value.text
    lang = value.language or source_language or detect_language(text or "")
    return matching_form(text or ""), lang


def cluster(value: t.Item, footer: str | None, dedup: DedupSettings) -> Cluster:
    """Exact keys, MinHash signature and LSH band keys of a new item (see :mod:`monitor.dedup`)."""
    keys = exact_keys(value, footer=footer)
    short = len(value.text or "") < 40 and value.title
    text = f"{value.title}\n{value.text}" if short else value.text
    sig = signature(text or "", num_perm=dedup.num_perm, footer=footer)
    if sig is None:
        return Cluster(keys=keys, signature=None, bands=())
    bands = band_keys(sig, threshold=dedup.lsh_threshold, num_perm=dedup.num_perm)
    return Cluster(keys=keys, signature=sig.to_bytes(), bands=bands)


def similarity(a: bytes, b: bytes) -> float:
    """MinHash similarity with the fact guard: two reports in one template that differ in their
    numbers or names ("сбито 30 дронов" vs "сбито 41 дрон") score 0 and stay apart."""
    return near_duplicate_score(Signature.from_bytes(a), Signature.from_bytes(b))
