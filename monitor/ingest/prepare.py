"""The pure per-item work of ingest: matching form, language, exact keys, MinHash signature, bands.

Values in, values out, no database: :mod:`monitor.ingest.pipeline` calls these inside a batch's
transaction for whatever was not done ahead. :func:`ahead` does them before it: a collector that
parses in the process pool (feeds) runs it in the worker right after parsing (the pipeline lends
it as ``CollectContext.prepare``), so the one writer only checks and uses the results. An
entry's result is used only for the very value it was worked out from (same external id and
content hash after cleaning, same source language, same footer); anything else is done again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from monitor import types as t
from monitor.dedup import band_keys, exact_keys, signature
from monitor.dedup.minhash import Signature, near_duplicate_score
from monitor.dedup.stories import Cluster
from monitor.match import detect_language, matching_form
from monitor.settings import DedupSettings, LimitSettings
from monitor.sources import sanitize


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


@dataclass(frozen=True, slots=True)
class Ready:
    """An item's per-item work, done ahead, and what it was done with."""

    norm: str
    language: str | None
    cluster: Cluster
    source_language: str | None
    footer: str | None


def key(value: t.Item) -> tuple[str, str]:
    return value.external_id, value.content_hash


def ahead(items: Sequence[t.Item], *, source_language: str | None, footer: str | None,
          dedup: DedupSettings, limits: LimitSettings) -> dict[tuple[str, str], Ready]:
    """:func:`enrich` and :func:`cluster` of every item, cleaned as ingest will clean it
    (:func:`monitor.sources.sanitize.clean_item`), by :func:`key`."""
    out: dict[tuple[str, str], Ready] = {}
    for item in items:
        value = sanitize.clean_item(item, limits)
        norm, lang = enrich(value, source_language)
        out[key(value)] = Ready(norm, lang, cluster(value, footer, dedup), source_language,
                                footer)
    return out
