"""Several ``monitor worker`` nodes on one PostgreSQL, coordinated by procrastinate.

``monitor run`` (one process, APScheduler, SQLite or PostgreSQL) stays the default. ``monitor
worker`` runs the same pipeline on any number of nodes sharing one PostgreSQL; only the
:class:`~monitor.service.scheduler.Dispatcher` differs (:mod:`.dispatcher`). The parts:

* :mod:`.app`: the procrastinate app: queues, tasks, periodic schedules (deduplicated across
  the cluster by procrastinate), queueing locks and locks;
* :mod:`.node`: one worker process: its job workers, heartbeat, recovery of dead nodes' jobs,
  graceful stop; the job bodies (tick, source run, delivery, digests, health, housekeeping);
* :mod:`.accounts`: Telegram account leases (one owner per account, takeover, letting go in
  time) behind a small runtime interface; :mod:`.telethon`: the Telethon runtime.

SQL lives in :mod:`monitor.store.cluster`, :mod:`monitor.store.leases` and
:mod:`monitor.store.locks` (advisory locks for story assignment and alert routing across nodes).
"""
