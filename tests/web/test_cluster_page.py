"""The sources page shows the cluster, as ``monitor status`` does: nodes and their heartbeat,
queue depth and lag, which node owns which Telegram account (PostgreSQL); on SQLite, that it
is a single node."""

from __future__ import annotations

from datetime import timedelta

from monitor.store import cluster as cluster_repo
from monitor.store import leases as lease_repo
from monitor.store import sources as source_repo
from monitor.types import utcnow
from tests.web.htmlcheck import assert_inert


def test_sources_page_shows_the_cluster(client_for, store, backend):
    if backend == "postgresql":
        with store.unit() as s:
            node = cluster_repo.register_node(
                s, name="node-<b>7", host="host-a", pid=4242, queues=["feeds", "telegram"]
            )
            lease_repo.acquire(s, "desk-account", node, ttl=60)
    with store.unit() as s:  # one source overdue by an hour
        src = source_repo.add_source(s, type="rss", locator="http://127.0.0.1:9/x.xml", name="late")
        src.next_check_at = utcnow() - timedelta(hours=1)
    page = client_for("viewer").get("/sources")
    assert page.status_code == 200
    html = page.text
    assert_inert(html)
    assert 'id="cluster"' in html and "Most overdue source: " in html
    assert "none overdue" not in html  # the late source is an hour behind
    if backend == "sqlite":
        assert "single node (SQLite)" in html and 'id="cluster-nodes"' not in html
        return
    assert 'id="cluster-nodes"' in html and "node-&lt;b&gt;7" in html and "host-a" in html
    assert "alive" in html and "4242" in html
    accounts = html.split('id="cluster-accounts"', 1)[1].split("</table>", 1)[0]
    assert "desk-account" in accounts and "node-&lt;b&gt;7" in accounts
