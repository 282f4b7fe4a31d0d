"""Telegram accounts as the unit of capacity: one :class:`AccountGate` per account paces every
call the collectors, the live listener and the membership keeper make with it.

* **A budget per method class** (``history``: channel history pages; ``messages``: posts by id,
  the recheck; ``resolve``: usernames; ``join``; ``dialogs``), in requests per hour with a small
  burst (``telegram.budget.*``): a token bucket per class, handed out **by priority** (a poll
  before a recheck before a backfill), so a 100k-post first backfill never starves the polls.
* **Its own concurrency**: requests in flight per account (``telegram.account_concurrency``).
* **A FloodWait on any call pauses the whole account** for the wait, and tightens the class that
  earned it (half its rate, recovering by a fifth every ten quiet minutes). A short wait is slept
  inside the call that hit it (and every other call of the account waits with it); a longer one
  (over ``telegram.max_flood_in_call``) ends the run with
  :class:`~monitor.errors.AccountUnavailable` (``flood_wait``): the source is paused, not failed,
  and so is every other call of the account until the wait is over.
* **Resolving usernames** goes through the ``resolve`` class with a daily cap
  (``telegram.budget.resolve_daily``); past it, resolving waits for the next day.
* **Account health**: AuthKeyUnregistered, SessionRevoked, SessionExpired, UserDeactivated(Ban)
  and AuthKeyDuplicated mark the account **down**: every call raises ``AccountUnavailable``
  (``account down``) until :meth:`AccountGate.up`, and ``on_down`` is told once.

The clock is the event loop's (``loop.time()``, ``loop.call_at``), so a simulated loop with a
virtual clock drives it unchanged (``bench/telegram_scale.py``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from telethon import errors

from monitor.errors import AccountUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

CLASSES = ("history", "messages", "resolve", "join", "dialogs")
# priorities: lower first
LIVE, POLL, RECHECK, BACKFILL = 0, 1, 2, 3
DAY, HOUR = 86400.0, 3600.0
TIGHTEN, RELAX, RELAX_EVERY, FLOOR = 0.5, 1.2, 600.0, 0.1
DOWN_RETRY = 600.0  # seconds a source waits before trying a down account again

# Errors that say the session itself is gone: the account is down until someone logs in again.
AUTH_ERRORS: tuple[type[BaseException], ...] = (
    errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.SessionExpiredError,
    errors.UserDeactivatedError, errors.UserDeactivatedBanError, errors.AuthKeyDuplicatedError)


def is_auth_error(exc: BaseException) -> bool:
    return isinstance(exc, AUTH_ERRORS)


@dataclass
class _Bucket:
    base: float  # tokens per second when not tightened
    burst: float
    rate: float = 0.0
    tokens: float = 0.0
    at: float = 0.0
    last_flood: float = float("-inf")
    waiters: list = field(default_factory=list)  # heap of (priority, seq, future)
    used: deque = field(default_factory=deque)  # times of granted calls in the last hour

    def refill(self, now: float) -> None:
        if now <= self.at:
            return
        # a tightened rate recovers by RELAX every RELAX_EVERY seconds without a FloodWait
        while self.rate < self.base and now - self.last_flood >= RELAX_EVERY:
            self.rate = min(self.base, self.rate * RELAX)
            self.last_flood += RELAX_EVERY
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now


class AccountGate:
    """Paces one account's Telegram calls (see the module docstring)."""

    def __init__(self, account: str, budget: Mapping[str, float], *, concurrency: int = 4,
                 resolve_daily: int = 200, burst: float = 5.0, max_flood_in_call: float = 60.0,
                 on_down: Callable[[str, str], Any] | None = None) -> None:
        self.account = account
        self.max_flood_in_call = max_flood_in_call
        self.on_down = on_down
        self.paused_until = 0.0
        self.down_reason: str | None = None
        self.resolve_daily = resolve_daily
        self._resolved: deque[float] = deque()
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._floods: deque[tuple[float, float]] = deque()  # (when, seconds)
        self._buckets: dict[str, _Bucket] = {}
        for name in CLASSES:
            per_second = max(float(budget.get(name, 60.0)), 0.001) / HOUR
            size = max(1.0, min(burst, per_second * HOUR))
            self._buckets[name] = _Bucket(base=per_second, burst=size, rate=per_second,
                                          tokens=1.0)

    # -- state ------------------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        return self.down_reason is not None

    def mark_down(self, reason: str) -> None:
        if self.down_reason is None:
            self.down_reason = reason
            log.error("telegram account %r is down: %s", self.account or "default", reason)
            if self.on_down is not None:
                self.on_down(self.account, reason)
        self._wake_all()

    def up(self) -> None:
        """The account works again (after a login): calls flow."""
        self.down_reason = None
        self._kick_all()

    def pause(self, seconds: float, method: str | None = None) -> None:
        """A FloodWait: nothing of this account runs for ``seconds``; ``method``'s class tightens."""
        now = self._now()
        self.paused_until = max(self.paused_until, now + seconds)
        self._floods.append((now, float(seconds)))
        if method in self._buckets:
            b = self._buckets[method]
            b.refill(now)
            b.rate = max(b.base * FLOOR, b.rate * TIGHTEN)
            b.last_flood = now
            b.tokens = min(b.tokens, 0.0)
        self._kick_all()

    def stats(self) -> dict[str, Any]:
        """Budget use in the last hour per class (calls, and the budget per hour now), FloodWait
        seconds in the last hour, pause and health: what ``monitor telegram accounts`` shows."""
        now = self._now()
        out: dict[str, Any] = {"budget": {}, "down": self.down_reason,
                               "paused_for": max(0.0, self.paused_until - now)}
        for name, b in self._buckets.items():
            b.refill(now)
            while b.used and b.used[0] < now - HOUR:
                b.used.popleft()
            out["budget"][name] = {"used": len(b.used), "per_hour": round(b.rate * HOUR, 1),
                                   "base_per_hour": round(b.base * HOUR, 1)}
        out["flood_seconds"] = round(self.flood_seconds(), 1)
        out["resolved_today"] = self._resolves_today(now)
        return out

    def flood_seconds(self, window: float = HOUR) -> float:
        """Seconds of FloodWait that fell inside the last ``window`` seconds."""
        now = self._now()
        while self._floods and self._floods[0][0] + self._floods[0][1] < now - DAY:
            self._floods.popleft()
        total = 0.0
        for at, seconds in self._floods:
            total += max(0.0, min(at + seconds, now) - max(at, now - window))
        return total

    # -- calls ------------------------------------------------------------------------------------

    async def call(self, method: str, fn: Callable[[], Awaitable[T]], *,
                   priority: int = POLL) -> T:
        """Run ``fn()`` (one Telegram request) when the account's budget for ``method`` allows,
        within its concurrency, after any FloodWait pause; see the module docstring."""
        if method == "resolve":
            self._check_resolve_cap()
        while True:
            self._check_usable()
            await self._token(method, priority)
            async with self._slots:
                self._check_usable()
                try:
                    result = await fn()
                except errors.FloodWaitError as exc:
                    seconds = float(exc.seconds or 1)
                    log.warning("telegram account %r: FloodWait %ss on %s", self.account or
                                "default", exc.seconds, method)
                    self.pause(seconds, method)
                    if seconds > self.max_flood_in_call:
                        raise self._flood_error() from None
                    continue  # _token waits out the pause, then the call is tried again
                except AUTH_ERRORS as exc:
                    self.mark_down(f"{type(exc).__name__}: {exc}")
                    raise self._down_error() from None
            if method == "resolve":
                self._resolved.append(self._now())
            return result

    def _check_usable(self) -> None:
        if self.down:
            raise self._down_error()
        left = self.paused_until - self._now()
        if left > self.max_flood_in_call:
            raise self._flood_error()

    def _check_resolve_cap(self) -> None:
        now = self._now()
        if self._resolves_today(now) >= self.resolve_daily:
            wait = self._resolved[0] + DAY - now
            raise AccountUnavailable(
                f"telegram account {self.account or 'default'!r}: {self.resolve_daily} usernames "
                f"resolved in 24 h (telegram.budget.resolve_daily); resolving waits",
                label="resolve cap", retry_after=max(wait, 60.0))

    def _resolves_today(self, now: float) -> int:
        while self._resolved and self._resolved[0] < now - DAY:
            self._resolved.popleft()
        return len(self._resolved)

    def _down_error(self) -> AccountUnavailable:
        return AccountUnavailable(f"telegram account {self.account or 'default'!r} is down "
                                  f"({self.down_reason}); log in again with `monitor telegram "
                                  f"login`", label="account down", retry_after=DOWN_RETRY)

    def _flood_error(self) -> AccountUnavailable:
        left = max(1.0, self.paused_until - self._now())
        return AccountUnavailable(f"telegram account {self.account or 'default'!r} waits "
                                  f"{left:.0f}s (FloodWait)", label="flood_wait", retry_after=left)

    # -- token buckets ------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _token(self, method: str, priority: int) -> None:
        b = self._buckets[method]
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(b.waiters, (priority, next(self._seq), future))
        self._kick(method)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                b.tokens += 1.0  # granted but not used: give it back
            raise
        self._check_usable()

    def _kick_all(self) -> None:
        for name in self._buckets:
            self._kick(name)

    def _wake_all(self) -> None:
        """Release every waiter (the account went down: they raise at once)."""
        for b in self._buckets.values():
            while b.waiters:
                _, _, future = heapq.heappop(b.waiters)
                if not future.done():
                    future.set_result(None)

    def _kick(self, method: str) -> None:
        b, now = self._buckets[method], self._now()
        b.refill(now)
        while b.waiters and b.waiters[0][2].done():
            heapq.heappop(b.waiters)
        if self.down:
            self._wake_all()
            return
        while b.waiters and b.tokens >= 1.0 and now >= self.paused_until:
            _, _, future = heapq.heappop(b.waiters)
            if future.done():
                continue
            b.tokens -= 1.0
            b.used.append(now)
            future.set_result(None)
        if b.waiters:
            wait = max(self.paused_until - now, (1.0 - b.tokens) / b.rate, 0.001)
            self._schedule(now + wait)

    def _schedule(self, when: float) -> None:
        if self._timer is not None and not self._timer.cancelled() and self._timer.when() <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._kick_all()


def gate_for(settings: Any, account: str | None, **kwargs: Any) -> AccountGate:
    """A gate with the configured budget of ``account`` (None: the default account)."""
    tg = settings.telegram
    return AccountGate(account or "", tg.budget.model_dump(), concurrency=tg.account_concurrency,
                       resolve_daily=tg.budget.resolve_daily, burst=tg.budget.burst,
                       max_flood_in_call=tg.max_flood_in_call, **kwargs)
