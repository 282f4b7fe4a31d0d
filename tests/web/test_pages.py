"""Pages and actions through the app (both backends): review trail, term versions and statistics,
backtest, sources, alert retry, users, exports and the ``monitor user`` CLI."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from sqlalchemy import select

from monitor.store import users as user_repo
from monitor.store.models import (
    AlertRow,
    AuditEventRow,
    DeliveryRow,
    DeliveryAttemptRow,
    DeskTargetRow,
    HitRow,
    ItemRow,
    ItemVersionRow,
    ReviewRow,
    SourceRow,
    UserRow,
    WatchTermRow,
    WatchTermVersionRow,
)
from monitor.types import utcnow
from tests.web.seed import PASSWORD


def test_review_verdict_note_and_assignment_are_an_audit_trail(client_for, ids, store):
    c = client_for("viewer")
    hit = ids["hit"]
    assert c.post(f"/hits/{hit}/review", {"verdict": "relevant"}).status_code == 303
    note = {"note": "checked with the desk", "assignee": str(ids["oper"])}
    assert c.post(f"/hits/{hit}/review", note).status_code == 303
    assert c.post(f"/hits/{hit}/review", {"verdict": "not_relevant", "assignee": "none"}).status_code == 303
    assert c.post(f"/hits/{hit}/review", {"verdict": "bogus"}).status_code == 303  # refused with a message
    assert "verdict &#39;bogus&#39;: expected one of" in c.get("/").text
    with store.unit() as s:
        h = s.get(HitRow, hit)
        assert (h.review_state, h.assignee_id) == ("not_relevant", None)
        trail = [(r.reviewer_id, r.verdict, r.note, r.assignee_id)
                 for r in s.scalars(select(ReviewRow).where(ReviewRow.hit_id == hit).order_by(ReviewRow.id))]
    assert trail == [(ids["viewer"], "relevant", None, None),
                     (ids["viewer"], None, "checked with the desk", ids["oper"]),
                     (ids["viewer"], "not_relevant", None, None)]
    page = c.get(f"/items/{ids['hostile']}").text
    assert "checked with the desk" in page and "oper" in page


def test_term_edit_keeps_versions_and_shows_precision(client_for, ids, store):
    c = client_for("oper")
    term = ids["term"]
    r = c.post(f"/terms/{term}", {"action": "save", "query": "blast AND ("}, headers={"Referer": f"http://testserver/terms/{term}"})
    assert (r.status_code, r.headers["location"]) == (303, f"/terms/{term}")  # back to the editor
    page = c.get(f"/terms/{term}").text
    assert f"(at character {len('blast AND (')}, expected" in page
    assert c.post(f"/terms/{term}", {"action": "save", "query": "blast OR explosion OR detonation"}).status_code == 303
    assert c.post(f"/terms/{term}", {"action": "disable"}).status_code == 303
    with store.unit() as s:
        t = s.get(WatchTermRow, term)
        assert (t.version, t.enabled, t.query) == (3, False, "blast OR explosion OR detonation")
        versions = s.scalars(select(WatchTermVersionRow).where(WatchTermVersionRow.term_id == term)
                             .order_by(WatchTermVersionRow.version)).all()
        assert [(v.version, v.enabled, v.changed_by) for v in versions] == [
            (1, True, None), (2, True, ids["oper"]), (3, False, ids["oper"])]
        assert s.scalar(select(AuditEventRow.action).where(AuditEventRow.target == f"term:{term}")
                        .order_by(AuditEventRow.id.desc())) == "term.disable"
    c.post(f"/hits/{ids['hits'][0]}/review", {"verdict": "relevant"})
    wl_page = c.get(f"/watchlists/{ids['watchlist']}").text
    assert "100% (1/1)" in wl_page


def test_validate_reports_the_position(client_for):
    c = client_for("oper")
    r = c.http.post("/api/validate", data={"query": "port AND (blast"}, headers={"X-CSRF-Token": c.csrf})
    body = r.json()
    assert body["ok"] is False and body["position"] == len("port AND (blast") and body["expected"]
    r = c.http.post("/api/validate", data={"query": "port AND (blast)"}, headers={"X-CSRF-Token": c.csrf})
    assert r.json() == {"ok": True}


def test_backtest_compares_with_the_saved_version(client_for, ids):
    c = client_for("oper")
    post = lambda data: c.http.post("/api/backtest", data=data, headers={"X-CSRF-Token": c.csrf}).json()  # noqa: E731
    r = post({"query": "confirmed", "term": str(ids["term"]), "days": "0"})
    assert r["ok"] and (r["new"], r["saved"]) == (1, 2)
    assert "Lost (saved version only)" in r["html"]
    assert post({"query": "nothing-like-this-anywhere", "days": "30"})["new"] == 0
    # A query that cannot be prefiltered (metadata only) still works, by scanning.
    assert post({"query": "source:second-feed", "days": "0"})["new"] == 1
    assert post({"query": "(", "days": "0"})["ok"] is False
    tested = c.http.post("/api/test", data={"query": "blast", "text": "a <b>blast</b>"},
                         headers={"X-CSRF-Token": c.csrf}).json()
    assert tested["count"] == 1 and "<mark>blast</mark>" in tested["html"] and "<b>" not in tested["html"]


def test_sources_add_edit_pause_resume(client_for, store):
    c = client_for("oper")
    assert c.post("/sources", {"type": "rss", "locator": "ftp://nope", "name": "bad"}).status_code == 303
    assert c.post("/sources", {"type": "rss", "locator": "https://n.example/feed", "name": "n",
                               "interval": "30m"}).status_code == 303
    with store.unit() as s:
        src = s.scalar(select(SourceRow).where(SourceRow.name == "n"))
        assert src.pinned_interval == 1800
        assert s.scalar(select(SourceRow).where(SourceRow.name == "bad")) is None
        sid = src.id
    assert c.post(f"/sources/{sid}", {"action": "pause"}).status_code == 303
    with store.unit() as s:
        assert s.get(SourceRow, sid).enabled is False
    assert c.post(f"/sources/{sid}", {"action": "resume"}).status_code == 303
    assert c.post(f"/sources/{sid}", {"action": "save", "name": "renamed", "locator": "https://n.example/feed",
                                      "interval": ""}).status_code == 303
    with store.unit() as s:
        src = s.get(SourceRow, sid)
        assert (src.enabled, src.name, src.pinned_interval) == (True, "renamed", None)
    page = c.get("/sources").text
    assert "renamed" in page and "silent too long" not in page


def test_alert_log_and_retry(client_for, ids, store):
    with store.unit() as s:
        target = s.scalar(select(DeskTargetRow).where(DeskTargetRow.desk_id == ids["news"]))
        alert = AlertRow(key="story:1:test", kind="story", desk_id=ids["news"], story_id=ids["story"], status="failed")
        s.add(alert)
        s.flush()
        d = DeliveryRow(alert_id=alert.id, target_id=target.id, status="failed", attempts=3,
                     next_attempt_at=utcnow() + timedelta(days=1), last_error="HTTP 500 <script>x</script>")
        s.add(d)
        s.flush()
        s.add(DeliveryAttemptRow(delivery_id=d.id, outcome="permanent", error="HTTP 500"))
        did, aid = d.id, alert.id
    c = client_for("oper")
    page = c.get("/alerts").text
    assert "HTTP 500 &lt;script&gt;" in page and "SECRET-TOKEN-123" not in page and "Retry now" in page
    assert client_for("viewer").post(f"/deliveries/{did}/retry").status_code == 403
    assert c.post(f"/deliveries/{did}/retry").status_code == 303
    with store.unit() as s:
        d = s.get(DeliveryRow, did)
        assert d.status == "pending" and d.next_attempt_at <= utcnow()
        assert s.get(AlertRow, aid).status == "pending"


def test_admin_manages_users_and_desks(client_for, ids, store):
    c = client_for("admin")
    assert c.post("/users", {"name": "newbie", "role": "viewer", "password": "short"}).status_code == 303
    assert c.post("/users", {"name": "newbie", "role": "viewer", "password": "long enough pw"}).status_code == 303
    with store.unit() as s:
        uid = s.scalar(select(UserRow.id).where(UserRow.name == "newbie"))
    assert c.post(f"/users/{uid}", {"action": "join", "desk": str(ids["news"])}).status_code == 303
    newbie = client_for()
    assert newbie.login("newbie", "long enough pw").status_code == 303
    assert "ports" in newbie.get("/").text
    assert c.post(f"/users/{uid}", {"action": "disable"}).status_code == 303
    assert newbie.get("/").status_code == 303  # the running session ends with the account
    assert c.post(f"/users/{ids['admin']}", {"action": "remove"}).status_code == 303
    with store.unit() as s:
        assert s.get(UserRow, ids["admin"]) is not None


def test_feed_filters_paging_and_exports(client_for, ids):
    c = client_for("admin")
    # single hits (the operator tuning a watchlist)
    hits = lambda qs: c.get(f"/?view=hits&{qs}").text.count('class="hit ')  # noqa: E731
    assert hits(f"watchlist={ids['watchlist_other']}") == 1
    assert hits(f"source={ids['source2']}") == 1
    assert hits("state=relevant") == 0
    assert hits("lang=xx") == 0
    assert hits(f"desk={ids['news']}&since=24h") == 2
    assert hits(f"term={ids['term_other']}") == 1
    assert c.get(f"/?term={ids['term']}").text.count('class="hit ') == 2  # a term filter shows hits
    # the desk's view: the three hits are one story, one card
    cards = lambda qs: c.get(f"/?{qs}").text.count('class="story ')  # noqa: E731
    assert cards("") == 1 and cards(f"watchlist={ids['watchlist_other']}") == 1
    assert cards("state=relevant") == 0 and cards("lang=xx") == 0
    lines = c.get(f"/export.jsonl?watchlist={ids['watchlist']}").text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["watchlist"] for r in rows] == ["ports", "ports"]
    assert rows[0]["hit_id"] > rows[1]["hit_id"]
    updates = c.get(f"/api/hits?view=hits&after={max(ids['hits'])}").json()
    assert updates == {"last_id": max(ids["hits"]), "count": 0, "html": ""}
    updates = c.get(f"/api/hits?after={max(ids['hits'])}").json()
    assert (updates["last_id"], updates["count"], updates["stories"]) == (max(ids["hits"]), 0, [])
    updates = c.get(f"/api/hits?after={min(ids['hits'])}").json()
    assert updates["count"] == 1 and updates["stories"] == [ids["story"]] and 'id="story-' in updates["html"]


def test_cli_user_add_reads_password_from_stdin(cli, db_url, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine password\n"))
    code, out, err = cli("user", "add", "ana", "--role", "operator")
    assert code == 0, err
    assert "a fine password" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = cli("user", "add", "bob", "--role", "viewer")
    assert code == 2 and "password" in err
    code, _, err = cli("user", "add", "eve", "--role", "root")
    assert code == 2 and "role" in err
    assert cli("desk", "add", "news")[0] == 0
    assert cli("user", "join", "ana", "news")[0] == 0
    code, out, _ = cli("user", "list", "--format", "jsonl")
    row = json.loads(out.splitlines()[0])
    assert (row["name"], row["role"], row["desks"]) == ("ana", "operator", ["news"])
    from monitor.store.db import Store

    st = Store(db_url)
    try:
        with st.unit() as s:
            assert s.scalar(select(UserRow.password_hash).where(UserRow.name == "ana")).startswith("$argon2id$")
            assert user_repo.authenticate(s, "ana", "a fine password") is not None
            assert user_repo.authenticate(s, "ana", PASSWORD) is None
    finally:
        st.dispose()
    assert cli("user", "remove", "ana")[0] == 0
    assert cli("user", "remove", "ana")[0] == 1


def test_item_page_shows_versions_diff_deletion_and_forward_origin(client_for, ids, store):
    with store.unit() as s:
        item = s.get(ItemRow, ids["echo"])
        s.add(ItemVersionRow(item_id=item.id, version=2, title=item.title,
                          text="A blast at the port was denied by officials.", content_hash="v2",
                          fetched_at=utcnow(), edited_at=utcnow()))
        item.version, item.deleted_at = 2, utcnow()
        item.fwd_from_name, item.fwd_url = "Origin Channel", "https://t.me/origin/42"
    page = client_for("viewer").get(f"/items/{ids['echo']}").text
    assert "<del>confirmed</del>" in page and "<ins>denied</ins>" in page
    assert "Deleted at the source" in page
    assert 'href="https://t.me/origin/42"' in page and "Origin Channel" in page
    assert 'id="permalink"' in page and 'href="https://other.example/a/1"' in page
    # The matched word is highlighted at its span in the field it was found in (the title here).
    assert '<h1 id="item-title">Port <mark>blast</mark> confirmed</h1>' in page


def test_highlight_escapes_and_merges_spans():
    from monitor.web.security import highlight

    assert str(highlight("a <b> c", [[2, 5]])) == "a <mark>&lt;b&gt;</mark> c"
    assert str(highlight("abcdef", [[0, 2], [1, 3], [10, 12], ["x", 1]])) == "<mark>abc</mark>def"
