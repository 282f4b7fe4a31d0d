"""Telegram accounts as an operator sees them (``monitor telegram accounts``)."""

from __future__ import annotations

from typing import Any

from monitor.service.telegram_plan import pool
from monitor.settings import Settings
from monitor.store import telegram as tg_repo
from monitor.store.db import Store


def accounts_report(store: Store, settings: Settings) -> list[dict[str, Any]]:
    """One row per account: health, channels joined / assigned / cap, budget use in the last
    hour (calls / budget per hour, per method class), FloodWait seconds in the last hour —
    as the service last wrote them (every minute while it runs)."""
    names = sorted({*settings.telegram.accounts, *pool(settings)})
    with store.unit() as s:
        records = tg_repo.overview(s, names, settings.telegram.max_channels)
    rows = []
    for r in records:
        stats = r.stats or {}
        budget = stats.get("budget") or {}
        use = " ".join(f"{k} {v.get('used', 0)}/{v.get('per_hour', 0):g}"
                       for k, v in budget.items() if v.get("used") or k in ("history",
                                                                             "messages"))
        health = r.status if r.status != "down" else f"down since {r.down_since:%Y-%m-%d %H:%M}"
        if r.status == "ok" and stats.get("paused_for"):
            health = f"paused {stats['paused_for']:.0f}s (FloodWait)"
        rows.append({"account": r.name or "default", "health": health,
                     "joined": r.joined, "assigned": r.assigned, "cap": r.cap,
                     "dialogs": r.dialogs, "budget_last_hour": use or "-",
                     "flood_wait_s_last_hour": stats.get("flood_seconds", 0),
                     "reason": r.reason or ""})
    return rows
