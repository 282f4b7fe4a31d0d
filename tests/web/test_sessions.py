"""Server-side sessions and the shared login limiter (both backends).

A session is a row of ``web_sessions``: logout ends that one; a password or role change, disabling
or removing the user ends all of theirs, whatever copy of the cookie is replayed. Failed logins are
rows of ``login_failures``: two app processes over one database count the same failures.
"""

from __future__ import annotations

import base64
import json

from pydantic import SecretStr
from sqlalchemy import select

from monitor.store import users as user_repo
from monitor.store.models import WebSessionRow
from monitor.web.app import create_app
from monitor.web.security import SESSION_COOKIE
from tests.web.conftest import Client
from tests.web.seed import PASSWORD


def logged_in(c: Client) -> bool:
    return c.get("/").status_code == 200  # anonymous: 303 to the login page


def replay(app, cookie: str) -> Client:
    """A fresh browser holding a copy of someone's session cookie."""
    c = Client(app)
    c.http.cookies.set(SESSION_COOKIE, cookie)
    return c


def test_logout_ends_that_session_only(app, client_for):
    first, second = client_for("viewer"), client_for("viewer")
    stolen = first.http.cookies[SESSION_COOKIE]
    assert logged_in(replay(app, stolen))
    assert first.post("/logout").status_code == 303
    assert not logged_in(first)
    assert not logged_in(replay(app, stolen))  # the old cookie names an ended session
    assert logged_in(second)  # the same user's other session goes on


def test_password_change_ends_every_session_of_the_user(app, client_for, ids):
    admin = client_for("admin")
    a, b, other = client_for("viewer"), client_for("viewer"), client_for("outsider")
    copy = a.http.cookies[SESSION_COOKIE]
    r = admin.post(f"/users/{ids['viewer']}", {"action": "password", "password": "a new long pw"})
    assert r.status_code == 303
    assert not logged_in(a) and not logged_in(b) and not logged_in(replay(app, copy))
    assert logged_in(other) and logged_in(admin)
    assert client_for().login("viewer", "a new long pw").status_code == 303


def test_role_change_disable_and_removal_end_sessions(app, client_for, ids, store):
    admin = client_for("admin")
    viewer = client_for("viewer")
    admin.post(f"/users/{ids['viewer']}", {"action": "role", "role": "viewer"})  # no change
    assert logged_in(viewer)
    admin.post(f"/users/{ids['viewer']}", {"action": "role", "role": "operator"})
    assert not logged_in(viewer)

    viewer = client_for("viewer")
    with store.unit() as s:  # what `monitor user disable` does
        user_repo.set_disabled(s, "viewer", True)
    assert not logged_in(viewer)
    with store.unit() as s:
        user_repo.set_disabled(s, "viewer", False)
    assert not logged_in(viewer)  # enabling again does not revive the ended session
    assert client_for().login("viewer").status_code == 303

    outsider = client_for("outsider")
    with store.unit() as s:
        user_repo.remove_user(s, "outsider")
        q = select(WebSessionRow).where(WebSessionRow.user_id == ids["outsider"])
        assert s.scalar(q) is None
    assert not logged_in(outsider)


def test_the_database_keeps_no_usable_token(app, client_for, store):
    c = client_for("viewer")
    body = c.http.cookies[SESSION_COOKIE].rsplit(".", 1)[0]
    token = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sid"]
    with store.unit() as s:
        stored = list(s.scalars(select(WebSessionRow.token_hash)))
    assert stored and token not in stored


def test_sessions_are_shared_by_two_processes(settings, store, ids):
    settings.web.secret_key = SecretStr("shared secret key for both")
    one, two = create_app(settings, store), create_app(settings, store)
    c = Client(one)
    assert c.login("viewer").status_code == 303
    cookie = c.http.cookies[SESSION_COOKIE]
    assert logged_in(replay(two, cookie))
    assert c.post("/logout").status_code == 303
    assert not logged_in(replay(two, cookie))  # logged out on one, out on the other too


def test_login_limiter_is_shared_by_two_processes(settings, store, ids):
    one, two = create_app(settings, store), create_app(settings, store)
    a, b = Client(one), Client(two)
    for c in (a, b, a, b, a):
        assert c.login("admin", "wrong").status_code == 401
    assert b.login("admin").status_code == 429  # five failures in all, across the two


def test_one_users_typos_do_not_lock_out_the_address(client_for):
    c = client_for()
    for _ in range(5):
        assert c.login("viewer", "wrong").status_code == 401
    assert c.login("viewer").status_code == 429
    assert client_for().login("oper").status_code == 303  # same address, another account


def test_one_address_cannot_guess_across_many_names(app, client_for):
    app.state.web.limiter.per_address = 6  # the default is 100; the rule is the same
    c = client_for()
    for i in range(6):
        assert c.login(f"name{i}", "wrong").status_code == 401
    assert c.login("admin").status_code == 429  # even a right password, from this address


def test_login_with_hostile_names_is_refused_not_a_500(client_for):
    c = client_for()
    for name in ("x" * 100_000, "\u202eadmin"):
        assert c.login(name, PASSWORD).status_code == 401
    r = c.post("/login", {"name": "ad\x00min", "password": PASSWORD})
    assert r.status_code == 303  # back where it came from, with the message
    assert not logged_in(c)


def test_the_cli_lifecycle_ends_sessions_too(client_for, cli):
    viewer = client_for("viewer")
    code, _, err = cli("user", "role", "viewer", "operator")
    assert code == 0, err
    assert not logged_in(viewer)
    viewer = client_for("viewer")
    code, _, err = cli("user", "disable", "viewer")
    assert code == 0, err
    assert not logged_in(viewer)
