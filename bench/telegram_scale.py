"""Telegram at desk scale, on the simulator (tests/telegram_sim.py): N channels with heavy-tailed
posting rates read by 4 accounts for 24 simulated hours, through the real pipeline, scheduler,
account gates, keepers (joins, membership, health) and recheck window, into SQLite.

    python bench/telegram_scale.py [--channels 2000] [--accounts 4] [--hours 24] [--seed 1]

The world: a few channels post every minute or two, some every half hour, most a few times a
day; 5 % of posts are edited and 2 % deleted, 1-6 h after they were published; 0.2 % of live
updates are dropped and the others arrive 0.5-5 s late; one account is logged out at hour 8 (and
logged in again at hour 14); five channels are renamed at hour 10, three go private at hour 12
(a shorter run keeps these at the same share of its length). FloodWait is on: the simulator's
flood limits sit near the default budgets (TIGHT_LIMITS; --loose-limits: far above them) and
a random share of calls (--random-flood) is answered with a FloodWait too; each FloodWait is
longer after a recent one.
The desk starts in steady state: every channel was resolved and collected before (cursor at its
last post), spread over the accounts, none joined yet; the keepers join them, busiest first, at
the join budget's pace. Prints: % of posts stored; publish → stored p95 for posts of joined
channels and for the others (against the polling ceiling); % of edits and deletions recorded;
FloodWait total as a share of account time; operator alerts for the logged-out account and
channels disabled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from monitor.settings import (AlertSettings, Settings, TelegramAccount,  # noqa: E402
                              TelegramSettings)
from monitor.store import desks as desk_repo  # noqa: E402
from monitor.store.db import Store  # noqa: E402
from monitor.store.migrate import upgrade  # noqa: E402
from monitor.store.models import AlertRow, ItemRow, ItemVersionRow, SourceRow  # noqa: E402
from tests.telegram_sim import SimDesk, SimTelegram, run_virtual  # noqa: E402


# Flood limits near the default budgets (telegram.budget.*: history 2400/h, messages 1200/h,
# resolve 40/h, join 20/h, dialogs 12/h, burst 5): history and messages just above them; join
# (6 per 15 min) and resolve (12 per 15 min) below what a budget plus a full burst allows, so
# those classes do flood — and a FloodWait pauses the whole account (600-900 s, doubling).
TIGHT_LIMITS = {"history": (45, 60.0, 10), "messages": (25, 60.0, 10),
                "resolve": (12, 900.0, 600), "join": (6, 900.0, 900), "dialogs": (4, 600.0, 30)}


def rates(n: int, rng) -> list[float]:
    """Posts per day: heavy-tailed (1 % ~1000/day, 10 % ~24-96/day, the rest 1-8/day)."""
    out = []
    for i in range(n):
        if i < max(1, n // 100):
            out.append(rng.uniform(700, 1400))
        elif i < n // 10:
            out.append(rng.uniform(24, 96))
        else:
            out.append(rng.uniform(1, 8))
    return out


async def publish(world: SimTelegram, chans, per_day, hours: float, log: dict) -> None:
    """Every channel posts as a Poisson process; edits and deletions follow some posts."""
    loop = asyncio.get_running_loop()
    rng = world.rng
    events = []
    for ch, rate in zip(chans, per_day):
        t = rng.expovariate(rate / 86400)
        while t < hours * 3600:
            events.append((t, "post", ch))
            t += rng.expovariate(rate / 86400)
    hour = hours * 3600 / 24  # the day's events at the same share of a shorter run
    for when, kind, label in ((8 * hour, "logout", "a3"), (14 * hour, "login", "a3")):
        events.append((when, kind, label))
    for i, ch in enumerate(chans[200:205]):
        events.append((10 * hour + i, "rename", ch))
    for i, ch in enumerate(chans[300:303]):
        events.append((12 * hour + i, "private", ch))
    events.sort(key=lambda e: e[0])
    pending: list = []  # (when, kind, channel, msg id)
    for when, kind, what in events:
        while pending and pending[0][0] <= when:
            await _apply(world, pending.pop(0), loop, log)
        await asyncio.sleep(max(0.0, when - loop.time()))
        if kind == "post":
            if what.private:
                continue
            msg = world.post(what, f"{what.username} post {what.next_id}: новости")
            log["posts"][(what.id, msg.id)] = (loop.time(), _joined(world, what))
            r = rng.random()
            if r < 0.05:
                pending.append((loop.time() + rng.uniform(3600, 6 * 3600), "edit", what, msg.id))
            elif r < 0.07:
                pending.append((loop.time() + rng.uniform(3600, 6 * 3600), "delete", what, msg.id))
            pending.sort(key=lambda p: p[0])
        elif kind == "logout":
            world.logout(what)
        elif kind == "login":
            world.login(what)
        elif kind == "rename":
            world.rename(what, what.username + "_new", what.title + " (new)")
        elif kind == "private":
            world.make_private(what)
            log["private"].add(what.id)


async def _apply(world, entry, loop, log) -> None:
    when, kind, ch, msg_id = entry
    await asyncio.sleep(max(0.0, when - loop.time()))
    if ch.private or msg_id not in ch.messages:
        return
    if kind == "edit":
        world.edit(ch, msg_id, f"{ch.username} post {msg_id}: уточнение")
        log["edits"].add((ch.id, msg_id))
    else:
        world.delete(ch, msg_id)
        log["deletions"].add((ch.id, msg_id))


def _joined(world, ch) -> bool:
    return any(ch.id in a.joined and not a.logged_out for a in world.accounts.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=2000)
    ap.add_argument("--accounts", type=int, default=4)
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--random-flood", type=float, default=0.0005,
                    help="share of calls answered with a FloodWait besides the flood limits")
    ap.add_argument("--loose-limits", action="store_true",
                    help="the simulator's default flood limits (far above the budgets)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    world = SimTelegram(seed=args.seed, random_flood=args.random_flood)
    if not args.loose_limits:
        world.limits.update(TIGHT_LIMITS)
    names = [f"a{i + 1}" for i in range(args.accounts)]
    settings_kw = dict(api_id=1, api_hash="x", accounts={n: TelegramAccount() for n in names})
    shm = Path("/dev/shm")  # the database in memory when it can be: the bench measures the
    tmp = Path(tempfile.mkdtemp(prefix="tgscale-", dir=shm if shm.is_dir() else None))  # desk
    url = f"sqlite:///{tmp / 'bench.db'}"
    settings = Settings(data_dir=tmp, database_url=url, telegram=TelegramSettings(**settings_kw),
                        alerts=AlertSettings(operators_desk="ops"))
    store = Store(url)
    upgrade(store)
    chans = [world.channel(f"chan{i:04d}") for i in range(args.channels)]
    per_day = rates(args.channels, world.rng)
    with store.unit() as s:
        desk_repo.add_desk(s, "ops", targets=["json://127.0.0.1:9/ops"], is_operators=True)
        for i, ch in enumerate(chans):
            world.post(ch, "older post")  # collected before the bench starts
            s.add(SourceRow(name=f"@{ch.username}", type="telegram", locator=ch.username,
                            account=names[i % len(names)], cursor=str(ch.next_id - 1),
                            interval=int(86400 / per_day[i]),
                            state={"channel_id": ch.id, "access_hash": ch.access_hash,
                                   "username": ch.username, "title": ch.title}, options={}))
    log = {"posts": {}, "edits": set(), "deletions": set(), "private": set()}
    desk = SimDesk(store, settings, world)
    began = time.monotonic()

    async def scenario():
        world.loop = asyncio.get_running_loop()
        pub = asyncio.create_task(publish(world, chans, per_day, args.hours, log))
        await desk.run(args.hours * 3600 + 1800)  # half an hour to catch up at the end
        pub.cancel()

    run_virtual(scenario, world)
    wall = time.monotonic() - began
    report(store, world, desk, log, names, args, wall, settings)


def report(store, world, desk, log, names, args, wall, settings) -> None:
    with store.unit() as s:
        sources = {r.id: r for r in s.scalars(select(SourceRow))}
        by_channel = {r.state["channel_id"]: r.id for r in sources.values()}
        items = {(r.source_id, r.external_id): r for r in s.scalars(select(ItemRow))}
        versions = {(v.item_id, v.text) for v in s.scalars(select(ItemVersionRow))}
        ops = [a for a in s.scalars(select(AlertRow)) if a.kind == "operator"]
    posts = {k: v for k, v in log["posts"].items() if k[0] not in log["private"]}
    stored = 0
    live, polled = [], []
    for (cid, mid), (at, joined) in posts.items():
        key = (by_channel[cid], str(mid))
        if key in items:
            stored += 1
            (live if joined else polled).append(desk.first_stored.get(key, at) - at)
    edits_ok = sum(1 for cid, mid in log["edits"]
                   if (it := items.get((by_channel[cid], str(mid)))) is not None
                   and (it.id, f"{sources[by_channel[cid]].locator.split('_new')[0]} post {mid}: "
                        f"уточнение") in versions or (it is not None and "уточнение" in it.text))
    dels_ok = sum(1 for cid, mid in log["deletions"]
                  if (it := items.get((by_channel[cid], str(mid)))) is not None and it.deleted_at)
    flood = sum(a.flood_seconds for a in world.accounts.values())
    account_time = len(names) * args.hours * 3600
    disabled = sum(1 for r in sources.values() if not r.enabled)
    down_alerts = [a for a in ops if a.key.startswith("op:account_down:a3:")]

    def p95(xs):
        return statistics.quantiles(xs, n=20)[18] if len(xs) >= 20 else (max(xs) if xs else 0)

    print(f"channels {args.channels}, accounts {len(names)}, {args.hours:g} simulated hours, "
          f"wall {wall:.0f} s")
    print(f"posts published {len(posts)}, stored {stored} "
          f"({100 * stored / max(1, len(posts)):.3f} %)")
    print(f"publish -> stored p95: joined {p95(live):.1f} s ({len(live)} posts), not joined "
          f"{p95(polled):.0f} s ({len(polled)} posts; polling ceiling "
          f"{settings.telegram.poll_max_interval} s)")
    print(f"edits recorded {edits_ok}/{len(log['edits'])} "
          f"({100 * edits_ok / max(1, len(log['edits'])):.1f} %), deletions recorded "
          f"{dels_ok}/{len(log['deletions'])} "
          f"({100 * dels_ok / max(1, len(log['deletions'])):.1f} %)")
    print(f"FloodWait total {flood:.0f} s = {100 * flood / account_time:.3f} % of account time; "
          f"FloodWaits answered {dict(world.floods)} (random share {args.random_flood:g}, "
          f"{'loose' if args.loose_limits else 'tight'} limits)")
    print(f"updates dropped by the simulator {world.dropped}; channels joined at the end "
          f"{sum(len(a.joined) for a in world.accounts.values())}")
    print(f"operator alerts for the logged-out account: {len(down_alerts)}; channels disabled: "
          f"{disabled}; operator alerts in all: {len(ops)}")


if __name__ == "__main__":
    main()
