"""External ids for feed entries: a key chain, and a per-feed policy that only ever degrades.

External ids (Item.external_id, unique per source) come from a key chain, strongest first:

* ``guid``            - the entry's GUID / Atom id / JSON Feed id, as published;
* ``link``            - the canonical URL of the entry's link;
* ``link+date``       - that URL plus the raw date string;
* ``link+date+title`` - plus the title;
* ``content``         - a hash of title + raw date + text (never blank).

The *policy* (where on the chain this feed starts) is per feed, like FreshRSS: when more than 5 %
of a fetch's keys at the current level are blank or repeated, the policy steps down to the first
level that is clean enough, and it is persisted in ``Batch.state["key_policy"]``. It only ever
steps down: a feed caught repeating GUIDs is never trusted with them again, so ids do not flip
back and forth (re-keying can double the entries present at the moment a policy degrades, once).
Within a fetch, an entry whose key is blank falls through to the next level, and entries that
still share a key are told apart by a content-hash suffix, then an occurrence number, assigned from
the bottom of the document up (feeds list newest first, so the older entry keeps the plain key).
No entry is ever collapsed into another, and an entry whose content changes under the same GUID
keeps its id (and gets a new ``Item.content_hash``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Mapping

from monitor.types import content_hash

__all__ = ["DEGRADE_RATIO", "KEY_POLICIES", "assign_ids"]

KEY_POLICIES = ("guid", "link", "link+date", "link+date+title", "content")
DEGRADE_RATIO = 0.05
_MAX_ID = 200  # longer keys are hashed so the store's column stays bounded


def _level_key(d: Mapping[str, Any], level: str) -> str | None:
    if level == "guid":
        return d["guid"]
    if level == "content":
        return "h:" + content_hash(d["title"], d["published_raw"], d["text"])[:40]
    if not d["url"]:
        return None
    if level == "link":
        return d["url"]
    parts = [d["url"], d["published_raw"]] + ([d["title"]] if level == "link+date+title" else [])
    return "h:" + content_hash(*parts)[:40]


def assign_ids(drafts: list[Mapping[str, Any]], policy: str = "guid") -> tuple[list[str], str]:
    """External ids for one fetch's entries and the (possibly degraded) key policy.

    Each draft needs ``guid``, ``url`` (canonical), ``title``, ``published_raw`` and ``text``.
    The ids returned are pairwise distinct; see the module docstring for the rules.
    """
    if policy not in KEY_POLICIES:
        policy = "guid"
    n = len(drafts)
    for level in KEY_POLICIES[KEY_POLICIES.index(policy):]:
        keys = [_level_key(d, level) for d in drafts]
        counts = Counter(k for k in keys if k)
        bad = keys.count(None) + sum(c - 1 for c in counts.values())
        policy = level
        if n == 0 or bad <= DEGRADE_RATIO * n:
            break
    start = KEY_POLICIES.index(policy)
    ids: list[str] = [""] * n
    taken: set[str] = set()
    for i in range(n - 1, -1, -1):  # bottom up: the older entry keeps the plain key
        d = drafts[i]
        key = next(k for k in (_level_key(d, lv) for lv in KEY_POLICIES[start:]) if k)
        if len(key) > _MAX_ID:
            key = "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        if key in taken:
            key = f"{key}#c{content_hash(d['title'], d['text'], d['url'])[:12]}"
        base, k = key, 2
        while key in taken:
            key, k = f"{base}#{k}", k + 1
        taken.add(key)
        ids[i] = key
    return ids, policy
