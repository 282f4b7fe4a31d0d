"""``monitor run``: the long-running service of one node.

``run.py`` wires it together (APScheduler jobs, alert worker, live Telegram, the operations HTTP
server); ``scheduler.py`` reads due sources and hands them to a Dispatcher; ``telegram.py`` runs
the live Telegram listeners; ``http.py`` serves ``/healthz`` and ``/metrics``.
"""
