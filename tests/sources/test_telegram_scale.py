"""Telegram at desk scale on the simulator (tests/telegram_sim.py), through the real pipeline,
scheduler, account gates, keepers and store: a FloodWait pauses the whole account; a logged-out
account makes one operator alert, its channels move to a working account and nothing is
disabled, and it comes back after a login; CHANNELS_TOO_MUCH teaches the cap and moves the
channel; edits and deletions made while nobody listened are found by the recheck window; the
planner is balanced and sticky."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from telethon import errors

from monitor.errors import AccountUnavailable
from monitor.schedule import Outcome, Rules, next_state
from monitor.service.telegram_plan import Capacity, plan
from monitor.settings import AlertSettings, Settings, TelegramAccount, TelegramSettings
from monitor.sources.telegram_accounts import CLIENTS, make_client
from monitor.sources.telegram_pace import AccountGate
from monitor.store import desks as desk_repo
from monitor.store import telegram as tg_repo
from monitor.store.models import AlertRow, ItemRow, ItemVersionRow, SourceRow
from monitor.store.telegram import Channel
from monitor.store.values import SourceHealth
from monitor.types import utcnow
from tests.telegram_sim import SimDesk, SimTelegram, VirtualLoop, run_virtual


def test_a_floodwait_pauses_the_whole_account_and_tightens_its_class():
    loop = VirtualLoop()
    gate = AccountGate("a", {"history": 3600, "messages": 3600}, concurrency=4,
                       max_flood_in_call=60)
    done: dict[str, float] = {}

    async def scenario():
        flooded = []

        async def once():
            if not flooded:
                flooded.append(1)
                raise errors.FloodWaitError(None, capture=30)
            return "ok"

        async def other():  # another method class of the same account
            await asyncio.sleep(1)
            await gate.call("messages", lambda: asyncio.sleep(0))
            done["other"] = loop.time()

        task = asyncio.ensure_future(other())
        assert await gate.call("history", once) == "ok"  # waited out, then tried again
        done["flooded"] = loop.time()
        await task
        return gate.stats()

    stats = loop.run_until_complete(scenario())
    loop.close()
    assert done["flooded"] >= 30 and done["other"] >= 30  # the other class waited too
    assert stats["flood_seconds"] == 30
    assert stats["budget"]["history"]["per_hour"] < stats["budget"]["history"]["base_per_hour"]
    assert stats["budget"]["messages"]["per_hour"] == 3600  # only the class that flooded


def test_an_account_wide_pause_is_not_a_source_error():
    now = utcnow()
    health = SourceHealth(id=1, name="@c", type="telegram", error_count=9, interval=60)
    err = AccountUnavailable("down", label="account down", retry_after=600)
    after = next_state(health, Outcome.from_error(err), now=now, rules=Rules(error_limit=10))
    assert after.enabled and after.error_count == 9 and after.last_status == "account down"
    assert (after.paused_until - now).total_seconds() == 600


def test_the_planner_is_balanced_and_sticky():
    def ch(i, account, **kw):
        return Channel(i, f"c{i}", account, kw.get("pinned", False), 60, i, True,
                       kw.get("member"), tuple(kw.get("refused_by", ())))

    up = {"a": Capacity("a", True, 10), "b": Capacity("b", True, 10)}
    chans = [ch(1, "a"), ch(2, "a"), ch(3, ""), ch(4, ""), ch(5, "b")]
    assert plan(chans, up) == [(3, "b"), (4, "a")]  # kept where they are; new ones balanced
    down = {"a": Capacity("a", False, 10), "b": Capacity("b", True, 10)}
    pinned = [ch(1, "a", pinned=True), ch(2, "a")]
    assert plan(pinned, down) == [(2, "b")]  # the pinned one waits for its account
    refused = [ch(1, "a", member="refused", refused_by=["a"])]
    assert plan(refused, up) == [(1, "b")]
    assert plan(refused, {**up, "b": Capacity("b", True, 0)}) == []  # nowhere better: polled


def _world(store, tmp_path, world, accounts, *, per_account, **telegram):
    settings = Settings(data_dir=tmp_path, database_url=store.url,
                        alerts=AlertSettings(operators_desk="ops"),
                        telegram=TelegramSettings(api_id=1, api_hash="x", accounts={
                            a: TelegramAccount() for a in accounts}, **telegram))
    chans = []
    with store.unit() as s:
        desk_repo.add_desk(s, "ops", targets=["json://127.0.0.1:9/ops"], is_operators=True)
        for i, account in enumerate(a for a in accounts for _ in range(per_account)):
            ch = world.channel(f"chan{i:03d}")
            world.post(ch, "older")
            chans.append(ch)
            s.add(SourceRow(name=f"@{ch.username}", type="telegram", locator=ch.username,
                            account=account, cursor="1", options={},
                            state={"channel_id": ch.id, "access_hash": ch.access_hash,
                                   "username": ch.username, "title": ch.title}))
    return settings, chans


def _items(store) -> dict[tuple[str, str], ItemRow]:
    with store.unit() as s:
        rows = s.execute(select(SourceRow.locator, ItemRow).join(
            SourceRow, SourceRow.id == ItemRow.source_id)).all()
        s.expunge_all()
        return {(loc.removesuffix("_new"), r.external_id): r for loc, r in rows}


def test_a_logged_out_account_alerts_once_moves_its_channels_and_comes_back(store, tmp_path):
    world = SimTelegram(seed=3)
    settings, chans = _world(store, tmp_path, world, ["a1", "a2"], per_account=3)
    desk = SimDesk(store, settings, world)

    async def scenario():
        await desk.run(900)  # joined, live
        world.logout("a2")
        after = [world.post(ch, "after the logout") for ch in chans]
        await desk.run(1800)
        with store.unit() as s:
            moved = {r.locator: (r.account, r.enabled, r.error_count)
                     for r in s.scalars(select(SourceRow))}
            state = tg_repo.accounts(s)["a2"].status
        world.login("a2")
        await desk.run(300)
        with store.unit() as s:
            back = tg_repo.accounts(s)["a2"].status
        return after, moved, state, back

    after, moved, state, back = run_virtual(scenario, world)
    assert state == "down" and back == "ok"
    assert {a for a, _, _ in moved.values()} == {"a1"}  # every channel moved to the working one
    assert all(enabled and errors_ == 0 for _, enabled, errors_ in moved.values())
    items = _items(store)
    assert all((ch.username, str(m.id)) in items for ch, m in zip(chans, after))
    with store.unit() as s:
        ops = [a.key for a in s.scalars(select(AlertRow)) if a.kind == "operator"]
    assert [k.split(":")[1:3] for k in ops] == [["account_down", "a2"]]


def test_channels_too_much_teaches_the_cap_and_moves_the_channel(store, tmp_path):
    world = SimTelegram(seed=4, cap=2)
    settings, chans = _world(store, tmp_path, world, ["a1"], per_account=3)
    settings.telegram.accounts["a2"] = TelegramAccount()
    desk = SimDesk(store, settings, world)
    run_virtual(lambda: desk.run(1800), world)
    with store.unit() as s:
        cap = tg_repo.accounts(s)["a1"].channel_cap
        where = {r.locator: r.account for r in s.scalars(select(SourceRow))}
    assert cap == 2 and len(world.accounts["a1"].joined) == 2
    assert sorted(where.values()) == ["a1", "a1", "a2"]
    assert len(world.accounts["a2"].joined) == 1  # the refused channel, joined elsewhere


def test_edits_and_deletions_while_nobody_listened_are_found_by_the_recheck(store, tmp_path):
    world = SimTelegram(seed=5)
    settings, chans = _world(store, tmp_path, world, ["a1"], per_account=2, max_channels=0)
    desk = SimDesk(store, settings, world)  # max_channels 0: never joined, polled only

    async def scenario():
        posts = [world.post(ch, f"{ch.username} первая версия") for ch in chans]
        await desk.run(3600)
        world.edit(chans[0], posts[0].id, "исправлено: вторая версия")
        world.delete(chans[1], posts[1].id)
        await desk.run(3600)
        return posts

    posts = run_virtual(scenario, world)
    items = _items(store)
    edited = items[(chans[0].username, str(posts[0].id))]
    assert edited.version == 2 and edited.text == "исправлено: вторая версия"
    assert edited.views == 6  # refreshed with the edit
    gone = items[(chans[1].username, str(posts[1].id))]
    assert gone.deleted_at is not None
    with store.unit() as s:
        texts = [v.text for v in s.scalars(select(ItemVersionRow).where(
            ItemVersionRow.item_id == edited.id).order_by(ItemVersionRow.version))]
    assert texts == [f"{chans[0].username} первая версия", "исправлено: вторая версия"]


def test_a_simulation_leaves_the_process_wide_client_pool_as_it_found_it(store, tmp_path):
    """The simulator's clients must not outlive its run: a ``monitor collect`` later in the same
    process (the tgserver tests, in the full suite) would ask the simulated world for a channel
    made on a real server and be told no channel has that username."""
    world = SimTelegram(seed=6)
    settings, _ = _world(store, tmp_path, world, ["a1"], per_account=1)
    desk = SimDesk(store, settings, world)
    run_virtual(lambda: desk.run(60), world)
    first = world.accounts["a1"].client
    assert first is not None and sum(first.requests.values()) > 0
    assert CLIENTS.factory is make_client and CLIENTS.on_down is None
    assert CLIENTS.gates() == {} and CLIENTS._clients == {}
    run_virtual(lambda: desk.run(60), world)  # the same desk runs again on a new loop
    again = world.accounts["a1"].client
    assert again is not first and sum(again.requests.values()) > 0
    assert CLIENTS.factory is make_client

