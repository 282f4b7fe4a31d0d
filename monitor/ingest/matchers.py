"""The compiled matcher of the stored watch terms, for the pipeline: compiled once per change.

Before every batch :meth:`MatcherCache.get` compares a fingerprint of the terms, watchlists and
alias sets (one small query); only a change recompiles, so edits apply without a restart and
nothing is compiled per item.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from monitor.match import TermSpec, compile_matcher
from monitor.settings import Settings
from monitor.store import hits as hit_repo
from monitor.store.watch import alias_map

log = logging.getLogger("monitor.ingest.pipeline")


class MatcherCache:
    """The compiled matcher, rebuilt only when terms, watchlists or alias sets change."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._fingerprint: tuple | None = None
        self.matcher = None
        self.meta: dict[int, hit_repo.TermMeta] = {}
        self._lock = threading.Lock()

    def get(self, s):
        fingerprint = hit_repo.terms_fingerprint(s)
        with self._lock:
            if fingerprint != self._fingerprint:
                terms = hit_repo.active_terms(s)
                self.meta = {m.term_id: m for m in terms}
                started = time.perf_counter()
                gc.unfreeze()  # the previous matcher's objects may be collected again
                specs = [TermSpec(m.term_id, m.query) for m in terms]
                self.matcher = compile_matcher(specs, alias_map(s),
                                               min_prefix=self.settings.match.min_prefix)
                # The compiled terms (and the dictionaries they loaded) live until the next change:
                # keep them out of the cyclic collector's full passes, which otherwise walk them
                # all every few batches (~0.2 s each with 1,000 terms).
                gc.collect()
                gc.freeze()
                for term_id, err in getattr(self.matcher, "errors", {}).items():
                    log.warning("watch term %s does not compile: %s", term_id, err)
                log.info("compiled %d watch terms in %.3fs", len(terms),
                         time.perf_counter() - started)
                self._fingerprint = fingerprint
            return self.matcher, self.meta
