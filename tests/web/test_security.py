"""Access rules, CSRF, sessions, headers and inert rendering of hostile posts (both backends)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from monitor.store.models import AuditEventRow, HitRow, ReviewRow, SourceRow, UserRow, WatchlistRow, WatchTermRow
from monitor.web.security import SESSION_COOKIE, safe_url, sanitize_marks
from tests.web.htmlcheck import assert_inert
from tests.web.seed import PASSWORD


def mutations(ids) -> list[tuple[str, str, dict]]:
    """(role needed, url, form) for every kind of state change the app offers."""
    return [
        ("viewer", f"/hits/{ids['hit']}/review", {"verdict": "relevant", "note": "x"}),
        ("operator", "/sources", {"type": "rss", "locator": "https://new.example/feed", "name": "new"}),
        ("operator", f"/sources/{ids['source']}", {"action": "pause"}),
        ("operator", "/watchlists", {"name": "brand-new"}),
        ("operator", f"/watchlists/{ids['watchlist']}", {"action": "atom"}),
        ("operator", f"/watchlists/{ids['watchlist']}/terms", {"query": "harbour"}),
        ("operator", f"/terms/{ids['term']}", {"action": "save", "query": "harbour"}),
        ("operator", "/aliases", {"name": "port", "members": "port\nharbour"}),
        ("operator", "/routes", {"watchlist": str(ids["watchlist"]), "desk": str(ids["other"]), "mode": "digest"}),
        ("operator", "/api/backtest", {"query": "blast"}),
        ("operator", "/api/validate", {"query": "blast"}),
        ("admin", "/users", {"name": "mallory", "role": "admin", "password": "long enough pw"}),
        ("admin", f"/users/{ids['viewer']}", {"action": "role", "role": "admin"}),
    ]


def snapshot(store) -> tuple:
    """Everything a refused request must leave untouched."""
    with store.unit() as s:
        return (
            s.scalar(select(func.count()).select_from(ReviewRow)),
            tuple(s.scalars(select(HitRow.review_state).order_by(HitRow.id))),
            s.scalar(select(func.count()).select_from(SourceRow)),
            tuple(s.scalars(select(SourceRow.enabled).order_by(SourceRow.id))),
            s.scalar(select(func.count()).select_from(WatchlistRow)),
            tuple(s.scalars(select(WatchlistRow.atom_token).order_by(WatchlistRow.id))),
            tuple(s.scalars(select(WatchTermRow.query).order_by(WatchTermRow.id))),
            tuple(s.scalars(select(UserRow.role).order_by(UserRow.id))),
            s.scalar(select(func.count()).select_from(AuditEventRow)),
        )


def test_every_state_change_needs_login(client_for, ids, store):
    anon = client_for()
    before = snapshot(store)
    for _, url, data in mutations(ids):
        r = anon.post(url, data)
        assert r.status_code == 401, url
    assert snapshot(store) == before


def test_every_state_change_needs_the_role(client_for, ids, store):
    clients = {"viewer": client_for("viewer"), "operator": client_for("oper")}
    before = snapshot(store)
    refused = 0
    for role, url, data in mutations(ids):
        for who in ("viewer", "operator"):
            if who == "viewer" and role in ("operator", "admin") or who == "operator" and role == "admin":
                r = clients[who].post(url, data)
                assert r.status_code == 403, (who, url)
                refused += 1
    assert refused == 14  # 12 operator/admin changes for the viewer, 2 admin ones for the operator
    assert snapshot(store) == before


def test_every_state_change_needs_the_csrf_token(client_for, ids, store):
    admin = client_for("admin")
    before = snapshot(store)
    for _, url, data in mutations(ids):
        assert admin.post(url, data, csrf=False).status_code == 403, url
        assert admin.post(url, {**data, "csrf_token": "forged"}, csrf=False).status_code == 403, url
        r = admin.http.post(url, data=data, headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403, url
    assert snapshot(store) == before
    # The same requests with the token go through (so the refusals above were about the token).
    r = admin.post(f"/hits/{ids['hit']}/review", {"verdict": "relevant"})
    assert r.status_code == 303
    assert snapshot(store) != before


def test_login_needs_csrf_and_rate_limits_failures(client_for):
    c = client_for()
    r = c.post("/login", {"name": "admin", "password": PASSWORD}, csrf=False)
    assert r.status_code == 403
    for _ in range(5):
        assert c.post("/login", {"name": "admin", "password": "wrong"}).status_code == 401
    # Now even the right password is refused for a while.
    r = c.post("/login", {"name": "admin", "password": PASSWORD})
    assert r.status_code == 429
    assert SESSION_COOKIE not in r.cookies or "uid" not in r.text


def test_session_cookie_flags_and_security_headers(client_for, settings, store, ids):
    c = client_for()
    r = c.post("/login", {"name": "viewer", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = c.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"

    from monitor.web.app import create_app
    from tests.web.conftest import Client

    settings.web.secure_cookies = True
    secure = Client(create_app(settings, store))
    r = secure.post("/login", {"name": "viewer", "password": PASSWORD})
    assert "secure" in r.headers["set-cookie"].lower()


def test_tampered_session_is_anonymous(client_for):
    c = client_for("admin")
    value = c.http.cookies[SESSION_COOKIE]
    body, mac = value.rsplit(".", 1)
    c.http.cookies.set(SESSION_COOKIE, body + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    assert c.get("/").status_code == 303  # back to the login page


def test_viewers_see_only_their_desks(client_for, ids):
    viewer = client_for("viewer")
    feed = viewer.get("/").text
    assert "ports" in feed and "secret-other" not in feed
    assert "secret-other" not in viewer.get("/export.csv").text
    assert viewer.get(f"/watchlists/{ids['watchlist_other']}").status_code == 404
    assert viewer.post(f"/hits/{ids['hit_other']}/review", {"verdict": "relevant"}).status_code == 404
    outsider = client_for("outsider")
    assert "ports" not in outsider.get("/").text
    assert outsider.get(f"/items/{ids['echo']}").status_code == 404  # only the other desk's term hit it
    assert outsider.get(f"/items/{ids['hostile']}").status_code == 200  # their desk's term hit this one
    assert "ports" not in outsider.get(f"/items/{ids['hostile']}").text
    api = outsider.get("/api/hits?after=0").json()
    assert api["count"] == 1 and "ports" not in api["html"]
    assert viewer.get("/users").status_code == 403
    assert client_for("oper").get("/users").status_code == 403


def test_secrets_are_never_rendered(client_for):
    html = client_for("admin").get("/desks").text
    assert "SECRET-TOKEN-123" not in html and "json://alerts.example/****" in html


def test_hostile_posts_render_inert_in_feed_item_and_exports(client_for, ids):
    c = client_for("admin")
    feed = c.get("/").text
    checked = assert_inert(feed)
    assert checked.marks >= 2  # the highlights survive sanitizing
    assert "&lt;script&gt;" in feed  # shown as text, not dropped silently
    item = c.get(f"/items/{ids['hostile']}").text
    checked = assert_inert(item)
    assert checked.marks >= 1
    assert "javascript:window.__pwned=9" in item  # shown as text only
    api = c.get("/api/hits?after=0").json()
    assert_inert(api["html"])
    c.post(f"/watchlists/{ids['watchlist']}", {"action": "atom"})
    atom = c.get(atom_url_of(c, ids)).text
    root = ET.fromstring(atom.encode())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 2
    assert all(e.tag.startswith("{http://www.w3.org/2005/Atom}") for e in root.iter())  # no smuggled tags
    texts = " ".join((e.findtext("a:summary", "", ns) or "") + (e.findtext("a:title", "", ns) or "") for e in entries)
    assert "<script>" in texts  # survives as escaped text
    assert "<script" not in atom  # never raw in the XML
    assert all(not link.get("href", "").startswith("javascript:") for link in root.iter("{http://www.w3.org/2005/Atom}link"))


def atom_url_of(c, ids) -> str:
    page = c.get(f"/watchlists/{ids['watchlist']}").text
    start = page.index("/atom/")
    return page[start:page.index("<", start)]


def test_atom_needs_the_token(client_for, ids):
    anon = client_for()
    assert anon.get("/atom/not-a-token").status_code == 404
    admin = client_for("admin")
    admin.post(f"/watchlists/{ids['watchlist']}", {"action": "atom"})
    url = atom_url_of(admin, ids)
    assert anon.get(url).status_code == 200
    admin.post(f"/watchlists/{ids['watchlist']}", {"action": "atom"})  # rotate: the old link dies
    assert anon.get(url).status_code == 404


@pytest.mark.parametrize("raw, expected", [
    ("a <mark>b</mark> c", "a <mark>b</mark> c"),
    ("<script>x</script><mark>y", "&lt;script&gt;x&lt;/script&gt;<mark>y</mark>"),
    ('<mark onclick="x">y</mark>', "&lt;mark onclick=&quot;x&quot;&gt;y"),
    ("&lt;b&gt; &amp; <MARK>z</MARK>", "&lt;b&gt; &amp; <mark>z</mark>"),
    ("</mark><img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
])
def test_sanitize_marks_keeps_only_mark(raw, expected):
    assert str(sanitize_marks(raw)) == expected


@pytest.mark.parametrize("url, ok", [
    ("https://example.org/a", True), ("http://x.example", True), ("javascript:alert(1)", False),
    (" JavaScript:alert(1)", False), ("data:text/html,x", False), ("//evil.example", False),
    ("https://ex ample.org", False), ("java\tscript:alert(1)", False), ("", False), (None, False),
])
def test_only_http_links_are_clickable(url, ok):
    assert (safe_url(url) is not None) is ok
