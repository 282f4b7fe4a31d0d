"""The delivery worker against real receivers: a local JSON webhook and a local SMTP server.

Time is stepped with injected ``now`` values, never slept; the sinks run on loopback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from monitor.alerts import worker
from monitor.alerts.outbox import create_test_alert
from monitor.alerts.worker import backoff, deliver_due, send_alert_now
from monitor.settings import AlertSettings, Settings
from monitor.store import alerts as repo
from monitor.store.db import Store
from monitor.store.models import AlertRow, DeskTargetRow
from monitor.store.values import AlertDraft, NoticeAlert

from tests.alerts.sinks import SmtpSink, WebhookSink
from tests.alerts.test_outbox_helpers import T0, alerts, attempts, deliveries, hit, make_world


def settings(**alerts_cfg) -> Settings:
    return Settings(alerts=AlertSettings(**({"first_retry": 30, "max_retry": 600} | alerts_cfg)))


@pytest.fixture
def sink():
    with WebhookSink() as s:
        yield s


def received_ids(sink: WebhookSink, path: str | None = None) -> list[int]:
    return [r.json()["alert_id"] for r in sink.requests if path is None or r.path == path]


async def test_a_story_alert_arrives_with_its_id_and_fields(store, sink):
    w = make_world(store, targets=[sink.url()])
    hid, story, _ = hit(store, w, now=T0, title="Северокорейские военные в Курской области")
    summary = await deliver_due(store, settings(), now=T0)
    (req,) = sink.requests
    (a,) = alerts(store)
    body = req.json()
    assert summary.sent == 1 and body["alert_id"] == a.id and body["kind"] == "story"
    assert req.headers["Idempotency-Key"] == f"monitor-alert-{a.id}"
    text = body["body"]
    for expected in ("Северокорейские военные в Курской области", "«северокорейские военные»", "src-a",
                     "https://a.example/p/", "dprk", "северокорейские военные", "2025-06-02 10:00",
                     f"alert #{a.id}"):
        assert expected in text, expected
    assert a.status == "sent" and a.sent_at == T0
    (d,) = deliveries(store)
    assert (d.status, d.attempts, d.sent_at) == ("sent", 1, T0)
    assert [(x.outcome, x.at, x.error) for x in attempts(store)] == [("sent", T0, None)]


async def test_first_source_and_source_count_are_read_at_send_time(store, sink):
    from tests.alerts.test_outbox_helpers import add_source

    w = make_world(store, targets=[sink.url()])
    _, story, _ = hit(store, w, now=T0)
    hit(store, w, now=T0, story_id=story, source_id=add_source(store, "src-b"))
    await deliver_due(store, settings(), now=T0)
    (req,) = sink.requests
    assert "2 sources" in req.json()["body"]


async def test_mail_arrives_through_a_local_smtp_server(store):
    with SmtpSink() as smtp:
        url = f"mailto://127.0.0.1:{smtp.port}?from=monitor@example.org&to=desk@example.org&mode=insecure"
        w = make_world(store, targets=[url])
        hit(store, w, now=T0, title="Пхеньян: новые учения")
        summary = await deliver_due(store, settings(), now=T0)
        (a,) = alerts(store)
        assert summary.sent == 1 and a.status == "sent"
        (msg,) = smtp.messages
        assert "Пхеньян: новые учения" in msg["Subject"]
        html = msg.get_body(("html",)).get_content()
        assert f"alert #{a.id}" in html and "src-a" in html


async def test_outage_then_recovery_delivers_each_alert_once_in_order_per_desk(store, sink):
    """Refused, then 500s, then too slow, while hits keep coming; after recovery every alert of
    each desk has arrived, in order, and only a timed-out send (which the sink did get) repeats."""
    w1 = make_world(store, targets=[sink.url(path="/kyiv")])
    w2 = make_world(store, desk="seoul", watchlist="koryo", targets=[sink.url(path="/seoul")])
    cfg, t = settings(max_attempts=50), T0
    answered_ok: list[int] = []  # requests the sink answered 2xx (in its order)

    async def stream(n: int, mode: str, step: timedelta = timedelta(minutes=1), **kw) -> None:
        nonlocal t
        for i in range(n):
            hit(store, w1 if i % 3 else w2, now=t)
            before = len(sink.requests)
            await deliver_due(store, cfg, now=t, **kw)
            if mode in ("ok", "slow"):
                answered_ok.extend(r.json()["alert_id"] for r in sink.requests[before:])
            t += step

    sink.refuse()
    await stream(6, "refuse")
    sink.start()
    sink.mode, sink.status = "status", 500
    await stream(6, "500")
    sink.mode, sink.status, sink.delay = "slow", 200, 0.6
    await stream(4, "slow", step=timedelta(minutes=11), timeout=0.2)  # past any backoff: it is tried
    assert all(a.status == "pending" for a in alerts(store))
    sink.mode, sink.status = "ok", 200
    for _ in range(30):
        before = len(sink.requests)
        await deliver_due(store, cfg, now=t)
        answered_ok.extend(r.json()["alert_id"] for r in sink.requests[before:])
        t += timedelta(minutes=10)
        if all(a.status == "sent" for a in alerts(store)):
            break
    everything = alerts(store)
    assert len(everything) == 16 and all(a.status == "sent" for a in everything)
    by_id = {r.json()["alert_id"]: r.path for r in sink.requests}
    for desk_id, path in ((w1.desk_id, "/kyiv"), (w2.desk_id, "/seoul")):
        expected = [a.id for a in everything if a.desk_id == desk_id]
        got = [i for i in answered_ok if by_id[i] == path]
        assert list(dict.fromkeys(got)) == expected  # every alert, oldest first
    # every attempt is on record: the failures and the one success per delivery
    tries = attempts(store)
    # The only copies are sends the worker gave up waiting for (the sink may have got them,
    # slowly): at most one per timed-out attempt, each carrying the alert id, so the receiver
    # can drop it.
    timed_out = sum("timed out" in (x.error or "") for x in tries)
    assert 0 < len(answered_ok) - len(set(answered_ok)) <= timed_out
    assert [x.outcome for x in tries].count("sent") == 16 and {x.outcome for x in tries} == {"sent", "transient"}
    errors = " ".join(x.error for x in tries if x.outcome == "transient")
    assert "ConnectError" in errors and "HTTP 500" in errors and "timed out" in errors


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing records it."""


async def test_crash_between_send_and_record_repeats_only_that_alert(store, sink):
    from monitor.alerts.sinks import deliver

    w = make_world(store, targets=[sink.url()])
    for i in range(5):
        hit(store, w, now=T0)
    calls = 0

    async def dies_after_third_send(*args, **kwargs):
        nonlocal calls
        await deliver(*args, **kwargs)
        calls += 1
        if calls == 3:
            raise Crash()

    with pytest.raises(Crash):
        await deliver_due(store, settings(), now=T0, sender=dies_after_third_send)
    ids = [a.id for a in alerts(store)]
    assert received_ids(sink) == ids[:3]
    # Another worker right away: the delivery is leased to the dead one, and the queue waits.
    await deliver_due(store, settings(), now=T0 + timedelta(seconds=5))
    assert received_ids(sink) == ids[:3]
    # After the lease, the cut-short delivery is sent again (same alert id), then the rest.
    await deliver_due(store, settings(), now=T0 + worker.LEASE + timedelta(seconds=1))
    assert received_ids(sink) == ids[:3] + ids[2:]
    assert len({r.headers["Idempotency-Key"] for r in sink.requests}) == 5
    assert all(a.status == "sent" for a in alerts(store))
    outcomes = [(x.delivery_id, x.outcome) for x in attempts(store)]
    third = deliveries(store)[2].id
    assert [o for d, o in outcomes if d == third] == ["interrupted", "sent"]


async def test_two_workers_at_once_never_send_the_same_delivery(store, db_url, sink):
    w = make_world(store, targets=[sink.url(path="/a"), sink.url(path="/b")])
    for _ in range(15):
        hit(store, w, now=T0)
    other = Store(db_url)
    try:
        await asyncio.gather(deliver_due(store, settings(), now=T0), deliver_due(other, settings(), now=T0),
                             deliver_due(other, settings(), now=T0))
    finally:
        other.dispose()
    ids = [a.id for a in alerts(store)]
    for path in ("/a", "/b"):
        assert received_ids(sink, path) == ids  # once each, in order
    assert all(a.status == "sent" for a in alerts(store))


async def test_transient_failures_retry_with_backoff_then_fail_after_max_attempts(store, sink):
    w = make_world(store, targets=[sink.url()])
    hit(store, w, now=T0)
    hit(store, w, now=T0)
    first, second = (a.id for a in alerts(store))
    sink.mode, sink.status = "status", 503
    cfg, t = settings(max_attempts=3, first_retry=30, max_retry=100), T0
    before = {k: delivery_metric(k) for k in ("sent", "failed", "retrying")}
    retry_times = []
    for _ in range(3):
        await deliver_due(store, cfg, now=t)
        d = deliveries(store)[0]
        retry_times.append(d.next_attempt_at - t)
        t = d.next_attempt_at if d.status == "pending" else t
    assert received_ids(sink) == [first] * 3  # the second waits behind the first
    assert timedelta(seconds=22) <= retry_times[0] <= timedelta(seconds=30)  # within a minute
    assert retry_times[1] > retry_times[0]
    (d1, d2) = deliveries(store)
    assert d1.status == "failed" and "HTTP 503" in d1.last_error and d2.status == "pending"
    assert alerts(store)[0].status == "failed"
    sink.mode = "ok"
    await deliver_due(store, cfg, now=t)  # the failed head no longer holds the queue
    assert received_ids(sink)[-1] == second and alerts(store)[1].status == "sent"
    # /metrics counts each delivery attempt by what became of it
    assert {k: delivery_metric(k) - v for k, v in before.items()} == {"sent": 1, "failed": 1, "retrying": 2}
    # an operator re-queues the failed alert
    with store.unit() as s:
        assert repo.retry_alert(s, first, t) == 1
    await deliver_due(store, cfg, now=t)
    assert received_ids(sink)[-1] == first and alerts(store)[0].status == "sent"


async def test_permanent_failures_are_not_retried(store, sink, monkeypatch):
    monkeypatch.delenv("MONITOR_TEST_HOOK", raising=False)
    w = make_world(store, targets=[sink.url(), "env:MONITOR_TEST_HOOK"])
    hit(store, w, now=T0)
    sink.mode, sink.status = "status", 404
    await deliver_due(store, settings(), now=T0)
    d = deliveries(store)
    assert [x.status for x in d] == ["failed", "failed"]
    assert "HTTP 404" in d[0].last_error and "MONITOR_TEST_HOOK" in d[1].last_error
    assert alerts(store)[0].status == "failed"
    assert sorted(x.outcome for x in attempts(store)) == ["permanent", "permanent"]


async def test_disabled_target_fails_its_pending_deliveries(store, sink):
    w = make_world(store, targets=[sink.url(path="/on"), sink.url(path="/off")])
    hit(store, w, now=T0)
    with store.unit() as s:
        for t in s.query(DeskTargetRow).filter(DeskTargetRow.url.like("%/off")):
            t.enabled = False
    await deliver_due(store, settings(), now=T0)
    assert received_ids(sink, "/on") and not received_ids(sink, "/off")
    assert alerts(store)[0].status == "failed"  # one target never got it: say so


async def test_quiet_hours_delay_delivery(store, sink):
    w = make_world(store, targets=[sink.url()], tz="Europe/Kyiv", quiet=("23:00", "07:00"))
    hit(store, w, now=T0.replace(hour=22))
    await deliver_due(store, settings(), now=T0.replace(hour=23))
    assert sink.requests == []
    await deliver_due(store, settings(), now=T0.replace(day=3, hour=4))
    assert len(sink.requests) == 1


async def test_desk_test_reaches_every_target_out_of_queue_order(store, sink):
    w = make_world(store, targets=[sink.url(path="/a"), sink.url(path="/b")])
    hit(store, w, now=T0 + timedelta(hours=1))  # queued, not due yet at T0
    with store.unit() as s:
        alert_id = create_test_alert(s, w.desk_id, w.desk, T0)
    summary = await send_alert_now(store, settings(), alert_id, now=T0)
    assert sorted(r.outcome for r in summary.results) == ["sent", "sent"]
    assert received_ids(sink) == [alert_id, alert_id]
    assert sink.requests[0].json()["kind"] == "test"


def delivery_metric(outcome: str) -> float:
    from monitor.metrics import REGISTRY

    return REGISTRY.get_sample_value("monitor_alert_deliveries_total", {"outcome": outcome}) or 0.0


def test_backoff_grows_with_jitter_and_is_capped():
    cfg = settings(first_retry=30, max_retry=300)
    first = [backoff(1, cfg) for _ in range(50)]
    assert all(22.5 <= x <= 30 for x in first) and len(set(first)) > 1
    assert all(45 <= backoff(2, cfg) <= 60 for _ in range(20))
    assert all(backoff(n, cfg) <= 300 for n in range(1, 30))
    assert backoff(1, cfg, retry_after=120) == 120


def test_alert_key_survives_in_database_rows(store):
    # the outbox's uniqueness is a constraint, not a convention
    w = make_world(store)
    hit(store, w, now=T0)
    with store.unit() as s:
        a = s.query(AlertRow).one()
        again = AlertDraft(key=a.key, kind="story", desk_id=w.desk_id, status="pending", due_at=T0,
                           body=NoticeAlert(title="again", text=""), targets=(1,))
        assert repo.insert_alert(s, again, now=T0) is None
