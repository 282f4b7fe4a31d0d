"""Telegram accounts owned by exactly one node at a time: leases, takeover, letting go in time.

A session used from two places at once is revoked by Telegram (``AUTH_KEY_DUPLICATED``). So each
account has a lease in the database (:mod:`monitor.store.leases`), and only its holder connects
the account's client, runs its live listener and consumes its job queue (``tg.<account>``, where
the tick sends every run of the account's sources).

:class:`AccountLeases` is the loop every node taking part runs:

* every ``renew_every`` seconds it renews the leases it holds and tries to take the free ones of
  the accounts its :class:`AccountRuntime` can serve; a dead owner's lease expires after ``ttl``
  and the next attempt of another node takes it: a takeover within ``ttl + renew_every``;
* on taking one: ``runtime.start(account)`` (connect, listen), then ``consume(account)`` (a job
  worker on the account's queue);
* a node that cannot renew (database unreachable, lease lost) **lets go before the lease can
  expire**: its local deadline is ``ttl - margin`` after it *sent* its last successful renewal
  (the database set the expiry no earlier than that), and when it passes the node stops consuming
  and disconnects, all within ``margin``;
* on a clean stop it lets go of everything, then releases the leases so others need not wait.

The client itself is behind :class:`AccountRuntime` (Telethon in production:
:class:`monitor.service.cluster.telethon.TelethonAccounts`; a simulated client in the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Awaitable, Callable, Protocol

from monitor.store import leases as lease_repo
from monitor.store.db import Store
from monitor.store.leases import Lease

log = logging.getLogger("monitor.cluster.accounts")

RETRY_AFTER_FAILED_START = 60.0  # seconds before a node tries again an account it could not start


class AccountRuntime(Protocol):
    """What a node does with the Telegram accounts it owns (account ``""``: the default one)."""

    async def accounts(self) -> set[str]:
        """The accounts this node can serve now (credentials here, enabled sources using them)."""

    async def start(self, account: str) -> None:
        """Connect the account's client and start its live listener; raise when it cannot."""

    async def stop(self, account: str) -> None:
        """Stop the listener and disconnect the client. Must be quick: the lease is running out."""


class AccountSessions(Protocol):
    """Sessions kept where every node finds them, so the next owner resumes an account's
    session, entity cache and update state (``catch_up``) instead of starting from the session
    file of its own host (:class:`monitor.service.telegram_sessions.DatabaseSessions`)."""

    async def restore(self, account: str) -> None:
        """Before connecting: make the stored session the one this node's client opens."""

    async def persist(self, account: str) -> None:
        """After disconnecting: store the session, with its update state, for the next owner."""


class LocalSessions:
    """Each host uses its own session file (today's behaviour): nothing to move between owners."""

    async def restore(self, account: str) -> None:
        return None

    async def persist(self, account: str) -> None:
        return None


Consume = Callable[[str], Awaitable[None]]
StopConsuming = Callable[[str, float], Awaitable[None]]


class AccountLeases:
    """The lease loop of one node (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        node_id: int,
        runtime: AccountRuntime,
        *,
        ttl: float,
        renew_every: float,
        consume: Consume,
        stop_consuming: StopConsuming,
    ):
        self.store, self.node_id, self.runtime = store, node_id, runtime
        self.ttl, self.renew_every = ttl, renew_every
        # Time kept in hand to stop using an account before its lease can expire.
        self.margin = min(ttl / 3, max(renew_every, 5.0))
        self._consume, self._stop_consuming = consume, stop_consuming
        self.held: dict[str, Lease] = {}
        self._deadline: dict[str, float] = {}  # monotonic: let go at this time unless renewed
        self._renewed: dict[str, float] = {}
        self._not_before: dict[str, float] = {}  # accounts this node failed to start, until when

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception:  # a bug must not end the loop: the deadlines still need it
                    log.exception("telegram account lease round failed")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._next_wake())
        finally:
            for account in list(self.held):
                await self._let_go(account, release=True)

    def _next_wake(self) -> float:
        now = time.monotonic()
        wake = now + self.renew_every
        for account in self.held:
            wake = min(wake, self._deadline[account], self._renewed[account] + self.renew_every)
        return max(0.05, wake - now)

    async def step(self) -> None:
        """One round: let go of what can no longer be renewed, renew, take free accounts."""
        for account in [a for a, d in self._deadline.items() if time.monotonic() >= d]:
            log.warning(
                "telegram account %r: lease not renewed in time; letting go", account or "default"
            )
            await self._let_go(account, release=False)
        for account in list(self.held):
            if time.monotonic() >= self._renewed[account] + self.renew_every:
                await self._renew(account)
        try:
            wanted = await asyncio.wait_for(self.runtime.accounts(), timeout=self._budget())
        except Exception:
            log.exception("cannot tell which telegram accounts to serve")
            return
        for account in [a for a in self.held if a not in wanted]:
            await self._let_go(account, release=True)
        for account in sorted(wanted - self.held.keys()):
            if time.monotonic() >= self._not_before.get(account, 0.0):
                await self._take(account)

    def _budget(self) -> float:
        """How long the loop may wait on anything now: a renewal period at most, and never past
        the nearest deadline (a hung database or client must not hold the loop beyond it)."""
        now = time.monotonic()
        return max(0.05, min([self.renew_every, *(d - now for d in self._deadline.values())]))

    async def _db(self, fn, *args, **kwargs):
        """A lease statement in its own unit of work, waited for within :meth:`_budget`."""

        def unit():
            with self.store.unit() as s:
                return fn(s, *args, **kwargs)

        return await asyncio.wait_for(asyncio.to_thread(unit), timeout=self._budget())

    async def _renew(self, account: str) -> None:
        sent = time.monotonic()
        try:
            lease = await self._db(lease_repo.renew, self.held[account], self.node_id, ttl=self.ttl)
        except Exception as exc:  # the deadline decides; keep trying until then
            log.warning("telegram account %r: renewal failed (%s)", account or "default", exc)
            return
        if lease is None:
            log.warning("telegram account %r: lease lost", account or "default")
            await self._let_go(account, release=False)
            return
        self.held[account] = lease
        self._renewed[account] = sent
        self._deadline[account] = sent + self.ttl - self.margin

    async def _take(self, account: str) -> None:
        sent = time.monotonic()
        try:
            lease = await self._db(lease_repo.acquire, account, self.node_id, ttl=self.ttl)
        except Exception as exc:
            log.warning(
                "telegram account %r: cannot take the lease (%s)", account or "default", exc
            )
            return
        if lease is None:
            return  # another node holds it
        self.held[account] = lease
        self._renewed[account] = sent
        self._deadline[account] = sent + self.ttl - self.margin
        try:
            await asyncio.wait_for(self.runtime.start(account), timeout=self._budget())
            await asyncio.wait_for(self._consume(account), timeout=self._budget())
        except Exception as exc:
            log.error(
                "telegram account %r: cannot start here (%s); another node may take it",
                account or "default",
                exc,
            )
            self._not_before[account] = time.monotonic() + RETRY_AFTER_FAILED_START
            await self._let_go(account, release=True)
            return
        log.info(
            "telegram account %r: owned by this node (epoch %d)", account or "default", lease.epoch
        )

    async def _let_go(self, account: str, *, release: bool) -> None:
        """Stop consuming and disconnect within the margin; release the lease if asked (only
        after the client is down, so the next owner never overlaps this one)."""
        lease = self.held.pop(account)
        self._deadline.pop(account, None)
        self._renewed.pop(account, None)
        try:  # at most half the margin to stop its jobs, a third to disconnect
            await asyncio.wait_for(
                self._stop_consuming(account, self.margin / 3), timeout=self.margin / 2
            )
        except Exception:
            log.exception(
                "telegram account %r: stopping its job worker failed", account or "default"
            )
        try:
            await asyncio.wait_for(self.runtime.stop(account), timeout=self.margin / 3)
        except Exception:
            log.exception("telegram account %r: disconnecting failed", account or "default")
        if release:
            with contextlib.suppress(Exception):
                await self._db(lease_repo.release, lease, self.node_id)
        log.info("telegram account %r: let go", account or "default")
