"""The procrastinate app of a ``monitor worker`` node: queues, tasks and their schedules.

Every node builds the same app (same task names, same periodic ids), so a job deferred by one
node runs on any node that serves its queue. The tasks here are thin: each hands its job to the
:class:`~monitor.service.cluster.node.Node` that runs it (``context.additional_context["node"]``).

=============  ===================================================================  ===========
queue          jobs                                                                 at once
=============  ===================================================================  ===========
``tick``       the scan for due sources (periodic, every ``cluster.tick``)          1 cluster
``feeds``      a run of an ``rss`` source                                          1 per source
``web``        a run of a ``telegram-web`` source (``t.me/s`` pages)               1 per source
``tg[.NAME]``  a run of a ``telegram`` source of account NAME: only its owner       1 per source
``alerts``     a delivery pass (periodic, and woken by new alerts)                  any
``singletons`` recovery of dead nodes' jobs, digests, health checks, retention      1 each
=============  ===================================================================  ===========

"1 cluster" / "1 each": a periodic job is deferred once per period for the whole cluster, its
``queueing_lock`` keeps at most one waiting, and its ``lock`` keeps at most one running. A source
run carries the lock ``source:<id>`` both ways: one run per source at a time and never a pile-up.

Once per period rests on two things. The schedules (:func:`schedules`) are not registered on the
app: procrastinate starts a periodic deferrer in every :class:`~procrastinate.worker.Worker`, and
the deferrers of one process share each schedule's job arguments and write the period's
timestamp into them in place, so two deferrers a period apart send one period's job with the
other's timestamp. Each node runs exactly one deferrer itself instead. Across nodes procrastinate
dedups on (task, periodic id, timestamp), but deletes a schedule's older rows as it defers a newer
period; migration 0062's trigger keeps a late node from deferring such an older period again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import procrastinate
from procrastinate.periodic import PeriodicRegistry

from monitor.settings import Settings
from monitor.store.cluster import RUN_TASK
from monitor.store.db import libpq_conninfo

if TYPE_CHECKING:
    from monitor.service.cluster.node import Node

TICK, FEEDS, WEB, ALERTS, SINGLETONS = "tick", "feeds", "web", "alerts", "singletons"
CONTROL_QUEUES = (TICK, ALERTS, SINGLETONS)  # short jobs, served apart from the long source runs
SOURCE_QUEUES = (FEEDS, WEB)
TELEGRAM = "telegram"  # not a queue: take part in the Telegram account leases
ALL_QUEUES = (*CONTROL_QUEUES, *SOURCE_QUEUES, TELEGRAM)
# Higher first when a worker has several kinds of job waiting.
PRIORITY = {TICK: 10, "recover": 10, ALERTS: 5, SINGLETONS: 1}
MAX_QUEUE_NAME = 40  # LISTEN channel "procrastinate_queue_v1#<queue>" must fit in 63 bytes


def account_queue(account: str | None) -> str:
    """The queue of a Telegram account's jobs ("" or None: the default account)."""
    return f"tg.{account}" if account else "tg"


def source_queue(source_type: str, account: str | None = None) -> str:
    """The queue of a source's runs, by its type's concurrency class: an account's own queue for
    the Telegram API, the ``web`` queue for public Telegram pages, ``feeds`` for the rest."""
    from monitor.sources import source_class

    klass = source_class(source_type).concurrency_class
    if klass == TELEGRAM:
        return account_queue(account)
    return WEB if klass == "telegram-web" else FEEDS


def cron(seconds: float) -> str:
    """A cron schedule every ``seconds`` (validated by the settings: a divisor of a minute, or
    whole minutes dividing an hour); croniter's optional sixth field is seconds."""
    s = int(seconds)
    if s < 60:
        return "* * * * * *" if s == 1 else f"* * * * * */{s}"
    return f"*/{s // 60} * * * *"


def make_app(settings: Settings, *, pool_size: int) -> procrastinate.App:
    """The app with every task registered; open it with ``async with app.open_async()``."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_conninfo(settings.db_url),
        min_size=1,
        max_size=pool_size,
        # a vanished peer must not keep a connection (and its locks) alive for hours
        kwargs={
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )
    app = procrastinate.App(connector=connector)
    _register(app)
    return app


def schedules(app: procrastinate.App, settings: Settings) -> PeriodicRegistry:
    """The periodic jobs of ``app``'s tasks, for the one deferrer of a node
    (:class:`procrastinate.periodic.PeriodicDeferrer`); never on the app itself, where every
    worker of the node would defer them (see the module's docstring)."""
    c = settings.cluster
    registry = PeriodicRegistry()
    for task, when in (
        ("monitor.tick", cron(c.tick)),
        ("monitor.recover", cron(c.recover_every)),
        ("monitor.deliver", cron(c.deliver_every)),
        ("monitor.digests", "* * * * * */10"),
        ("monitor.health", "* * * * *"),
        ("monitor.housekeeping", "7 * * * *"),
    ):
        periodic_id = task.removeprefix("monitor.")
        registry.register_task(
            task=app.tasks[task], cron=when, periodic_id=periodic_id, configure_kwargs={}
        )
    return registry


def _node(context) -> "Node":
    return context.additional_context["node"]


def _register(app: procrastinate.App) -> None:
    @app.task(
        name="monitor.tick",
        queue=TICK,
        queueing_lock="tick",
        lock="tick",
        priority=PRIORITY[TICK],
        pass_context=True,
    )
    async def tick(context, timestamp: int) -> int:
        return await _node(context).tick()

    @app.task(name=RUN_TASK, queue=FEEDS, pass_context=True)  # queue and locks set per job
    async def run_source(context, source_id: int) -> str:
        return await _node(context).run_source(source_id)

    # No lock: a sweep cut short by its node's death must not keep the next sweeps waiting on it.
    @app.task(
        name="monitor.recover",
        queue=SINGLETONS,
        queueing_lock="recover",
        priority=PRIORITY["recover"],
        pass_context=True,
    )
    async def recover(context, timestamp: int) -> int:
        return await _node(context).recover()

    @app.task(
        name="monitor.deliver",
        queue=ALERTS,
        queueing_lock="deliver",
        priority=PRIORITY[ALERTS],
        pass_context=True,
    )
    async def deliver(context, timestamp: int = 0) -> int:
        return await _node(context).deliver()

    for job in ("digests", "health", "housekeeping"):
        _singleton(app, job)


def _singleton(app: procrastinate.App, job: str) -> None:
    """A periodic job that runs once cluster-wide (its lock) and never queues twice."""

    @app.task(
        name=f"monitor.{job}",
        queue=SINGLETONS,
        queueing_lock=job,
        lock=job,
        priority=PRIORITY[SINGLETONS],
        pass_context=True,
    )
    async def run(context, timestamp: int):
        return await getattr(_node(context), job)()
