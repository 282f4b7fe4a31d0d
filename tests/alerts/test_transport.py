"""Delivery over loopback: JSON webhooks (own httpx POST) and e-mail through Apprise to aiosmtpd."""

from __future__ import annotations

import pytest

from monitor.alerts.render import AlertContent, render
from monitor.alerts.sinks import (
    check_target,
    deliver,
    redact_target,
    render_for,
    target_format,
)
from monitor.errors import DeliveryError
from tests.alerts.sinks import SmtpSink, WebhookSink, free_port

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

CONTENT = AlertContent(alert_id=42, title="<script>alert(1)</script> Взрыв в Белгороде",
                       snippet="После «атаки» беспилотников @everyone", desk="Ночная смена",
                       source="Белгород №1", permalink="https://t.me/belgorod01/4521")


@pytest.fixture
def sink():
    with WebhookSink() as s:
        yield s


# --- JSON webhooks ---------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["json", "http"])
async def test_webhook_payload_and_idempotency_key(sink: WebhookSink, scheme: str) -> None:
    url = sink.url(scheme) + "?+X-Token=s3cret&-ignored=1&keep=yes"
    rendered = render_for(url, CONTENT)
    await deliver(url, rendered, alert_id=42, timeout=5, kind="story")
    [req] = sink.requests
    assert req.path == "/hook?keep=yes"
    assert req.headers["Idempotency-Key"] == "monitor-alert-42"
    assert req.headers["X-Token"] == "s3cret"
    assert req.json() == {"alert_id": 42, "title": rendered.title, "body": rendered.body,
                          "format": "text", "kind": "story"}
    assert "alert #42" in req.json()["body"]


async def test_webhook_basic_auth(sink: WebhookSink) -> None:
    url = f"json://bot:p%40ss@127.0.0.1:{sink.port}/hook"
    await deliver(url, render(CONTENT, "text"), alert_id=1, timeout=5)
    assert sink.requests[0].headers["Authorization"] == "Basic Ym90OnBAc3M="


async def test_refused_connection_is_transient() -> None:
    url = f"json://127.0.0.1:{free_port()}/hook"
    with pytest.raises(DeliveryError) as err:
        await deliver(url, render(CONTENT, "text"), alert_id=1, timeout=5)
    assert err.value.transient
    assert "ConnectError" in str(err.value)


async def test_sink_switched_to_refuse(sink: WebhookSink) -> None:
    await deliver(sink.url(), render(CONTENT, "text"), alert_id=1, timeout=5)
    sink.refuse()
    with pytest.raises(DeliveryError) as err:
        await deliver(sink.url(), render(CONTENT, "text"), alert_id=1, timeout=5)
    assert err.value.transient


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (503, True),
                                                   (429, True), (408, True), (404, False),
                                                   (400, False), (401, False), (410, False),
                                                   (301, False)])
async def test_status_classification(sink: WebhookSink, status: int, transient: bool) -> None:
    sink.mode, sink.status = "status", status
    sink.retry_after = "120" if status == 429 else None
    with pytest.raises(DeliveryError) as err:
        await deliver(sink.url(), render(CONTENT, "text"), alert_id=7, timeout=5)
    assert err.value.transient is transient
    assert f"HTTP {status}" in str(err.value)
    if status == 429:
        assert "Retry-After: 120" in str(err.value)
        assert err.value.retry_after == 120.0
    else:
        assert getattr(err.value, "retry_after", None) is None


async def test_slow_receiver_beyond_timeout_is_transient(sink: WebhookSink) -> None:
    sink.mode, sink.status, sink.delay = "slow", 200, 2.0
    with pytest.raises(DeliveryError) as err:
        await deliver(sink.url(), render(CONTENT, "text"), alert_id=7, timeout=0.5)
    assert err.value.transient
    assert "timed out after 0.5 s" in str(err.value)


async def test_slow_receiver_within_timeout_succeeds(sink: WebhookSink) -> None:
    sink.mode, sink.status, sink.delay = "slow", 204, 0.2
    await deliver(sink.url(), render(CONTENT, "text"), alert_id=7, timeout=5)


async def test_error_messages_never_show_secrets(sink: WebhookSink) -> None:
    sink.mode, sink.status = "status", 500
    url = f"json://user:hunter2@127.0.0.1:{sink.port}/hooks/T0S3CR3T?+Auth=tok3n"
    with pytest.raises(DeliveryError) as err:
        await deliver(url, render(CONTENT, "text"), alert_id=7, timeout=5)
    for secret in ("hunter2", "T0S3CR3T", "tok3n", "user"):
        assert secret not in str(err.value)
    assert str(err.value).startswith(f"json://127.0.0.1:{sink.port}/****")


# --- Apprise: e-mail to a local SMTP server ------------------------------------------------------

def _mailto(port: int, user: str = "alerts", password: str = "pa55word") -> str:
    # mode=insecure: plain SMTP without STARTTLS (Apprise's mailto options: from, to, mode, smtp)
    return (f"mailto://{user}:{password}@127.0.0.1:{port}"
            f"?from=alerts@example.org&to=desk@example.org&mode=insecure")


async def test_mailto_delivers_html_alert_through_apprise() -> None:
    with SmtpSink("alerts", "pa55word") as smtp:
        url = _mailto(smtp.port)
        assert target_format(url) == "html"
        rendered = render_for(url, CONTENT, tz="Europe/Moscow")
        await deliver(url, rendered, alert_id=42, timeout=5)
    [msg] = smtp.messages
    assert msg["Subject"] == "<script>alert(1)</script> Взрыв в Белгороде"  # plain-text subject
    assert msg["To"] == "desk@example.org"
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    assert "&lt;script&gt;" in html_part and "<script>" not in html_part
    assert "<mark>атаки</mark>" in html_part
    assert "alert #42" in html_part
    assert '<a href="https://t.me/belgorod01/4521">' in html_part


async def test_mailto_wrong_password_fails_without_leaking_it() -> None:
    with SmtpSink("alerts", "pa55word") as smtp:
        url = _mailto(smtp.port, password="wr0ngpass")
        with pytest.raises(DeliveryError) as err:
            await deliver(url, render_for(url, CONTENT), alert_id=1, timeout=5)
    assert smtp.messages == []
    # Apprise reports an SMTP auth refusal as a connection error: it is retried (transient)
    assert err.value.transient
    assert "wr0ngpass" not in str(err.value) and "alerts:" not in str(err.value)
    assert str(err.value).startswith(f"mailto://127.0.0.1:{smtp.port}/****")


async def test_mailto_refused_is_transient() -> None:
    url = _mailto(free_port())
    with pytest.raises(DeliveryError) as err:
        await deliver(url, render_for(url, CONTENT), alert_id=1, timeout=3)
    assert err.value.transient


async def test_unloadable_apprise_url_is_permanent() -> None:
    with pytest.raises(DeliveryError) as err:
        await deliver("nosuchservice://abc/def", render(CONTENT, "text"), alert_id=1, timeout=1)
    assert not err.value.transient
    assert "abc" not in str(err.value)


# --- formats, validation, redaction --------------------------------------------------------------

@pytest.mark.parametrize(("url", "fmt"), [
    ("mailto://u:p@example.org", "html"), ("mailtos://u:p@example.org", "html"),
    ("tgram://123456:ABC/-100123", "telegram"), ("slack://T1/B1/C1", "chat"),
    ("discord://1234/abcd", "markdown"), ("matrixs://u:p@matrix.org/#room", "chat"),
    ("json://127.0.0.1:8080/x", "text"), ("ntfy://topic", "text"),
])
def test_target_format(url: str, fmt: str) -> None:
    assert target_format(url) == fmt


def test_render_for_respects_target_limits() -> None:
    long = AlertContent(alert_id=5, title="t", text="слово " * 5000)
    assert len(render_for("discord://1234/abcd", long).body) <= 2000
    assert len(render_for("tgram://123456:ABC/-100123", long).body) <= 4096


@pytest.mark.parametrize(("url", "shown"), [
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", "tgram://****"),
    ("json://user:pw@127.0.0.1:8080/secret/path?+X-Key=abc", "json://127.0.0.1:8080/****"),
    ("jsons://hooks.example.com", "jsons://hooks.example.com"),
    ("mailto://alerts:hunter2@smtp.example.org?to=desk@example.org",
     "mailto://smtp.example.org/****"),
    ("discord://1234567890/AbCdEfToken", "discord://****"),
    ("slack://TokenA/TokenB/TokenC/#channel", "slack://****"),
    ("https://hooks.example.com/services/T0/B0/XYZ", "https://hooks.example.com/****"),
    ("not a url", "****"),
    ("json://[::1]:9/x", "json://[::1]:9/****"),
])
def test_redact_target(url: str, shown: str) -> None:
    assert redact_target(url) == shown
    for part in ("AAHdq", "pw@", "secret", "hunter2", "AbCdEf", "TokenA", "XYZ", "abc"):
        assert part not in redact_target(url)


def test_retry_after_forms() -> None:
    from monitor.alerts.sinks.webhook import retry_after_seconds as _retry_after_seconds

    assert _retry_after_seconds("30") == 30.0
    assert _retry_after_seconds("999999") == 86400.0
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert _retry_after_seconds("soon") is None


def test_check_target() -> None:
    check_target("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345")
    check_target("mailto://u:p@example.org?to=d@example.org")
    check_target("json://127.0.0.1:8080/hook")
    for bad, says in [("tgram://short", "Apprise cannot load"),
                      ("nosuchservice://x", "unknown service"),
                      ("json://", "not a valid webhook"),
                      ("plain text", "not a target URL")]:
        with pytest.raises(ValueError, match=says) as err:
            check_target(bad)
        assert "short" not in str(err.value)


async def test_concurrent_apprise_deliveries_report_only_their_own_failure() -> None:
    import asyncio

    with SmtpSink("alerts", "pa55word") as smtp:
        bad_login = _mailto(smtp.port, password="wr0ngpass")
        refused_port = free_port()
        refused = _mailto(refused_port)
        results = await asyncio.gather(
            *(deliver(url, render_for(url, CONTENT), alert_id=i, timeout=5)
              for i, url in enumerate([bad_login, refused] * 3)), return_exceptions=True)
    assert all(isinstance(r, DeliveryError) for r in results)
    # each error carries what Apprise said about that delivery only: one failure, not six
    for r, port in zip(results, [smtp.port, refused_port] * 3):
        assert str(r).startswith(f"mailto://127.0.0.1:{port}/")
        assert str(r).count("Connection error") == 1, str(r)
