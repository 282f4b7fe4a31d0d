"""Ingest: run a source end to end and store what it brings, one transaction per batch.

``pipeline.py`` is the one orchestrator; ``prepare.py`` holds the pure per-item work done before
anything is written; ``matchers.py`` keeps the compiled matcher current; ``runtime.py`` builds the
long-lived parts a run needs (HTTP fetcher, parse pool, pipeline).
"""
