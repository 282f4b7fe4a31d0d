"""The delivery worker: turn the outbox into messages, exactly as a payments webhook system would.

One pass (:func:`deliver_due`):

1. pending deliveries to disabled targets fail (they would hold their alerts open forever);
2. held alerts whose digest time has come are folded into one digest alert per route and slot;
3. every target with due work is drained, targets concurrently, each target strictly in order.

Guarantees, all carried by rows in SQL so a restart resumes where the last process stopped:

* **Never lost.** A delivery is ``sent`` only after the target accepted it. Transient failures
  retry (first after ``alerts.first_retry`` seconds, then doubling with jitter, capped at
  ``alerts.max_retry``; a server's Retry-After is honoured) until ``alerts.max_attempts``; then,
  like a permanent failure, the delivery is ``failed`` and ``monitor alerts retry ID`` re-queues it.
* **Never doubled (at most one repeat, and it is recognisable).** A delivery is leased before it
  is sent (see :func:`monitor.store.deliveries.claim_next`): no other worker sends it meanwhile. A
  worker killed between send and record re-sends that one delivery once the lease runs out; every
  payload carries the alert id, so receivers drop the repeat.
* **Every attempt is recorded** in ``delivery_attempts`` (time, target, outcome, error), written
  before the send as ``claimed`` and completed after it (``interrupted`` if the worker died).
* **In order per desk.** Each target of a desk receives the desk's alerts oldest first. While the
  oldest due delivery of a target waits for a retry, the later ones for that target wait behind
  it (head-of-line, like an ordered webhook queue); other targets of the desk are not held up.
  The price: a target that stays down delays its queue until the head fails for good
  (``max_attempts``); operators hear of it through :mod:`monitor.alerts.health`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

from monitor import metrics, schedule
from monitor.alerts.content import rendered_for
from monitor.alerts.health import check_health
from monitor.alerts.outbox import fold_due_digests
from monitor.alerts.sinks import deliver
from monitor.alerts.targets import describe_target, resolve_target
from monitor.errors import DeliveryError
from monitor.faults import crashpoint
from monitor.settings import Settings
from monitor.store import deliveries as repo
from monitor.store.db import Store
from monitor.types import utcnow

log = logging.getLogger("monitor.alerts")

SEND_TIMEOUT = 15.0  # seconds for one message to one target
# A claimed delivery belongs to its worker this long; it must outlast a send, and it is how long a
# delivery cut short by a crash waits before it is sent again.
LEASE = timedelta(seconds=60)
CONCURRENCY = 4  # targets drained at once
MAX_PER_TARGET = 500  # per pass, so one long queue cannot starve the next pass's digests

Sender = Callable[..., Awaitable[None]]


@dataclass
class TargetResult:
    alert_id: int
    target: str  # redacted
    outcome: str  # sent | transient | permanent
    error: str | None = None


@dataclass
class Summary:
    """What one pass did."""

    digests: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    results: list[TargetResult] = field(default_factory=list)


def backoff(attempts: int, settings: Settings, *, retry_after: float | None = None,
            rng: random.Random | None = None) -> float:
    """Seconds before retry number ``attempts`` (1 = the first retry).

    ``first_retry · 2^(attempts-1)``, capped at ``max_retry``, times a jitter in [0.75, 1] so a
    burst of failures does not come back as a burst; never sooner than the server's Retry-After
    (itself capped at ``max_retry``). The arithmetic is :func:`monitor.schedule.backoff`'s.
    """
    cfg = settings.alerts
    return schedule.backoff(attempts, 1.0, cfg.first_retry, max_seconds=cfg.max_retry,
                            jitter=(0.75, 1.0), retry_after=retry_after,
                            max_retry_after=cfg.max_retry, rng=rng)


class _Worker:
    def __init__(self, store: Store, settings: Settings, now: datetime | None, sender: Sender | None,
                 timeout: float):
        self.store, self.settings, self.timeout = store, settings, timeout
        # How long a claimed delivery stays reserved: after a crash between send and record it is
        # sent again (same alert id) once this has passed, and the target's later alerts wait.
        self.lease = timedelta(seconds=settings.alerts.delivery_lease)
        self.clock = (lambda: now) if now is not None else utcnow
        self.sender = sender or deliver
        self.summary = Summary()

    def _unit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.store.unit() as s:
            return fn(s, *args, **kwargs)

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # SQL runs in a thread: the worker shares its event loop with the collectors.
        return await asyncio.to_thread(self._unit, fn, *args, **kwargs)

    async def drain(self, target_id: int, *, alert_id: int | None = None) -> None:
        """Send a target's due deliveries oldest first; stop at the first that did not go through."""
        job = await self.db(_claim, target_id, self.clock(), alert_id, lease=self.lease)
        sent = 0
        while job is not None:
            claim, url, content, label, problem = job
            outcome, error, retry_after = "sent", None, None
            try:
                if problem is not None:
                    raise problem
                await asyncio.wait_for(self.sender(url, rendered_for(url, content), alert_id=claim.alert_id,
                                                   timeout=self.timeout, kind=content.kind),
                                       self.timeout * 2 + 5)
                crashpoint("during_delivery")  # sent, not yet recorded: the crash tests aim here
            except DeliveryError as exc:
                outcome = "transient" if exc.transient else "permanent"
                error, retry_after = str(exc), getattr(exc, "retry_after", None)
            except asyncio.TimeoutError:
                outcome, error = "transient", f"no answer within {self.timeout:.0f}s"
            except Exception as exc:  # a bug or an unexpected library error: retry, and say so loudly
                log.exception("delivering alert %s to %s failed unexpectedly", claim.alert_id, label)
                outcome, error = "transient", f"{type(exc).__name__}: {exc}"
            now = self.clock()
            retry_at = None
            if outcome == "transient" and claim.kind != "test" and claim.attempts < self.settings.alerts.max_attempts:
                retry_at = now + timedelta(seconds=backoff(claim.attempts, self.settings, retry_after=retry_after))
            sent += 1
            # Recording this outcome and claiming the next delivery share one transaction (one
            # commit per message instead of two); a crash before it commits is a crash between
            # send and record: that one delivery is sent again after its lease.
            more = sent < MAX_PER_TARGET
            status, job = await self.db(_record_then_claim, claim, target_id, alert_id, more, lease=self.lease,
                                        outcome=outcome, error=error, now=now, retry_at=retry_at)
            self.summary.results.append(TargetResult(claim.alert_id, label, outcome, error))
            metrics.ALERTS.labels("sent" if status == "sent" else "failed" if status == "failed" else "retrying").inc()
            if status == "sent":
                self.summary.sent += 1
            elif status == "failed":
                self.summary.failed += 1
                log.warning("alert %s to %s failed for good: %s", claim.alert_id, label, error)
            else:
                self.summary.retrying += 1
                log.info("alert %s to %s will be retried: %s", claim.alert_id, label, error)

    async def run(self, targets: list[int]) -> None:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(target_id: int) -> None:
            async with gate:
                await self.drain(target_id)

        await asyncio.gather(*(one(t) for t in targets))


def _claim(s, target_id: int, now: datetime, alert_id: int | None, *, lease: timedelta = LEASE,
           wait: bool = False):
    """Claim in one transaction together with everything needed to send (content, URL)."""
    claim = repo.claim_next(s, target_id, now, lease=lease, alert_id=alert_id, wait=wait)
    if claim is None:
        return None
    target = repo.target(s, target_id)
    url, problem = "", None
    try:
        url = resolve_target(target)
    except DeliveryError as exc:
        problem = exc
    return claim, url, repo.alert_content(s, claim.alert_id), describe_target(target), problem


def _record_then_claim(s, claim: repo.Claim, target_id: int, alert_id: int | None, more: bool, *,
                       now: datetime, lease: timedelta = LEASE, **outcome: Any):
    status = repo.record_outcome(s, claim, now=now, **outcome)
    if not more or (status != "sent" and alert_id is None):
        return status, None  # head-of-line: the target's later alerts wait behind this one
    return status, _claim(s, target_id, now, alert_id, lease=lease, wait=True)


def _prepare(s, now: datetime) -> tuple[int, list[int]]:
    made = prepare_due(s, now)
    return made, repo.targets_with_work(s, now)


def prepare_due(s, now: datetime) -> int:
    """Fail the pending deliveries of disabled targets and fold due digests; returns digests made."""
    repo.fail_disabled_targets(s, now)
    return len(fold_due_digests(s, now))


async def deliver_due(store: Store, settings: Settings, *, now: datetime | None = None,
                      sender: Sender | None = None, timeout: float = SEND_TIMEOUT,
                      digests: bool = True) -> Summary:
    """One pass: build due digests, then send every due delivery (see the module doc).

    ``now`` pins the clock (tests step time with it); ``sender`` replaces
    :func:`monitor.alerts.sinks.deliver` (same signature). Safe to run in several processes.
    ``digests=False`` only sends: ``monitor worker`` nodes fold digests in a job of their own
    (:func:`prepare_due`), once per period across the cluster.
    """
    worker = _Worker(store, settings, now, sender, timeout)
    if digests:
        made, targets = await worker.db(_prepare, worker.clock())
    else:
        made, targets = 0, await worker.db(repo.targets_with_work, worker.clock())
    worker.summary.digests = made
    await worker.run(targets)
    return worker.summary


async def send_alert_now(store: Store, settings: Settings, alert_id: int, *, now: datetime | None = None,
                         sender: Sender | None = None, timeout: float = SEND_TIMEOUT) -> Summary:
    """Send one alert to each of its targets at once, out of queue order (``desk test``)."""
    worker = _Worker(store, settings, now, sender, timeout)
    targets = await worker.db(lambda s: sorted(repo.alert_targets(s, alert_id)))
    for target_id in targets:
        await worker.drain(target_id, alert_id=alert_id)
    return worker.summary


async def run_forever(store: Store, settings: Settings, stop_event: asyncio.Event, *,
                      wake: asyncio.Event | None = None, poll: float = 1.0, health_every: float = 60.0,
                      sender: Sender | None = None) -> None:
    """The service loop: a delivery pass every ``poll`` seconds (or as soon as ``wake`` is set),
    health and spike checks every ``health_every`` seconds, until ``stop_event`` is set.

    A failing pass is logged and the loop goes on: the state is in SQL, the next pass resumes it.
    """
    loop = asyncio.get_running_loop()
    next_health = loop.time()
    while not stop_event.is_set():
        try:
            if loop.time() >= next_health:
                next_health = loop.time() + health_every
                await check_health(store, settings, utcnow())
            await deliver_due(store, settings, sender=sender)
        except Exception:
            log.exception("alert delivery pass failed; retrying in %.0fs", poll)
        waiters = [asyncio.ensure_future(stop_event.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        done, pending = await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if wake is not None:
            wake.clear()
