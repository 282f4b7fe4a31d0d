"""The Sink port's contract, run over every sink in ``monitor.alerts.sinks.SINKS``.

Each sink gets a real receiver on loopback (an HTTP server for webhooks, an SMTP server for
Apprise's mailto://) and must: deliver a rendered alert carrying its alert id; render in the
format it declares; refuse a target it cannot use at ``check`` time; report an unreachable
receiver as a *transient* failure; never show the target's secret in an error.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import pytest

from monitor.alerts.render import AlertContent
from monitor.alerts.sinks import SINKS, Sink, check_target, sink_for
from monitor.alerts.sinks.apprise_sink import AppriseSink
from monitor.alerts.sinks.webhook import WebhookSink
from monitor.errors import DeliveryError
from tests.alerts.sinks import SmtpSink, free_port
from tests.alerts.sinks import WebhookSink as HookReceiver

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

SECRET = "s3cretTok3n"
CONTENT = AlertContent(alert_id=77, title="Взрыв в Белгороде", snippet="после «атаки»", desk="d",
                       source="Белгород №1", permalink="https://t.me/belgorod01/4521")


@dataclass
class Harness:
    url: str  # a target the receiver accepts, with a secret in it
    refused: str  # the same kind of target with nobody listening
    unusable: str  # a target of this sink's kind that ``check`` refuses
    received: Callable[[], list[str]]  # bodies the receiver got


@contextlib.contextmanager
def webhook() -> Iterator[Harness]:
    with HookReceiver() as hook:
        yield Harness(url=hook.url("json") + f"?+X-Token={SECRET}",
                      refused=f"json://127.0.0.1:{free_port()}/hook?+X-Token={SECRET}",
                      unusable="json:///no-host",
                      received=lambda: [r.json()["body"] for r in hook.requests])


@contextlib.contextmanager
def apprise_mail() -> Iterator[Harness]:
    def mailto(port: int) -> str:
        return (f"mailto://alerts:{SECRET}@127.0.0.1:{port}"
                "?from=alerts@example.org&to=desk@example.org&mode=insecure")

    with SmtpSink("alerts", SECRET) as smtp:
        yield Harness(url=mailto(smtp.port), refused=mailto(free_port()),
                      unusable="nosuchservice://abc/def",
                      received=lambda: [m.get_body(preferencelist=("html", "plain")).get_content()
                                        for m in smtp.messages])


HARNESSES = {WebhookSink: webhook, AppriseSink: apprise_mail}


def test_every_sink_has_a_contract_harness():
    assert {type(s) for s in SINKS} == set(HARNESSES)
    assert all(isinstance(s, Sink) for s in SINKS)


@pytest.fixture(params=[type(s) for s in SINKS], ids=lambda cls: cls.__name__)
def harness(request) -> Iterator[tuple[Sink, Harness]]:
    with HARNESSES[request.param]() as h:
        sink = sink_for(h.url)
        assert type(sink) is request.param  # the target's scheme picks this sink
        yield sink, h


async def test_delivers_a_rendered_alert_with_its_id(harness):
    sink, h = harness
    sink.check(h.url)
    check_target(h.url)
    rendered = sink.render(CONTENT, h.url, tz="Europe/Moscow")
    assert rendered.format == sink.format(h.url)
    await sink.send(h.url, rendered, alert_id=77, timeout=5)
    [body] = h.received()
    assert "alert #77" in body and "Белгород" in body


async def test_unreachable_receiver_is_transient_and_secret_free(harness):
    sink, h = harness
    with pytest.raises(DeliveryError) as err:
        await sink.send(h.refused, sink.render(CONTENT, h.refused), alert_id=1, timeout=3)
    assert err.value.transient
    assert SECRET not in str(err.value)


def test_check_refuses_an_unusable_target(harness):
    sink, h = harness
    with pytest.raises(ValueError) as err:
        sink_for(h.unusable).check(h.unusable)
    assert type(sink_for(h.unusable)) is type(sink)
    assert SECRET not in str(err.value)
