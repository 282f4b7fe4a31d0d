"""Hostile post text in alerts, per target format, checked in what Apprise really sends.

Apprise posts to fixed hosts (hooks.slack.com, discord.com, api.telegram.org). Its HTTP requests
are sent, unchanged but for the address, to a local ``WebhookSink`` on loopback, so each test
reads the exact payload a chat service would have received. The post text tries every trick:
Slack links and mentions, Discord mentions and masked links, HTML links, Markdown links.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import requests

from monitor.alerts.render import AlertContent, render
from monitor.alerts.sinks import deliver, render_for, target_format
from monitor.errors import DeliveryError
from tests.alerts.sinks import WebhookSink

EVIL = "evil.example"
HOSTILE = ("Alert <https://evil.example/login|Bank login> and <!channel> <!here|here> "
           "<@U024BE7LH> @everyone @here @room @123456789012345678 @alice "
           "[Bank login](https://evil.example/a) <a href=\"https://evil.example/b\">Bank</a> "
           "https://evil.example/c|Bank login> AT&T <b>bold</b> *star* _under_ `tick`")
CONTENT = AlertContent(alert_id=77, title=f"Title <!channel> {HOSTILE[:40]}", snippet=HOSTILE,
                       source="@source <!everyone>", permalink="https://ok.example/post/1")


@pytest.fixture
def sink(monkeypatch):
    """Every request Apprise makes goes to the sink (same method, path, headers and body)."""
    original = requests.Session.request
    with WebhookSink() as s:
        def to_sink(self, method, url, *args, **kwargs):
            kwargs.pop("verify", None)
            local = f"http://127.0.0.1:{s.port}{urlsplit(url).path}"
            return original(self, method, local, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", to_sink)
        yield s


async def sent(url: str, sink: WebhookSink) -> dict:
    try:
        await deliver(url, render_for(url, CONTENT), alert_id=77, timeout=5)
    except DeliveryError:
        pass  # the sink's answer is not what each service answers; the payload is what counts
    (request,) = sink.requests
    return request.json()


def _unguarded_mentions(text: str) -> list[str]:
    """``@name`` / ``@123`` without the zero-width space that keeps it from notifying."""
    return re.findall(r"@[A-Za-z0-9&]", text)


@pytest.mark.parametrize("url", ["slack://T1/B1/C1", "slack://T1/B1/C1?blocks=yes",
                                 "slack://T1/B1/C1?format=text"])
async def test_slack_text_never_forms_a_link_or_a_mention(sink, url):
    payload = await sent(url, sink)
    attachment = payload["attachments"][0]
    text = attachment["blocks"][0]["text"]["text"] if "blocks" in attachment \
        else attachment["text"]
    assert "<https://ok.example/post/1|Open post>" in text  # our own link survives
    rest = text.replace("<https://ok.example/post/1|Open post>", "")
    # Slack markup needs a raw "<": links <url|label>, mentions <!channel>, <@U..>
    assert "<" not in rest and ">" not in rest
    assert "&lt;https://evil.example/login|Bank login&gt;" in rest
    assert "&lt;!channel&gt;" in rest.replace("\u200b", "")
    assert "AT&amp;T" in rest


@pytest.mark.parametrize("url", ["discord://1234/abcd", "discord://1234/abcd?format=markdown"])
async def test_discord_gets_no_mentions_and_no_masked_links(sink, url):
    payload = await sent(url, sink)
    assert "allow_mentions" not in payload and "allowed_mentions" not in payload
    content = payload["content"]
    assert not content.startswith("👉")  # Apprise's ping line
    assert _unguarded_mentions(content) == []
    assert "<@U024BE7LH>" not in content and "<!channel>" not in content
    # a masked link needs an unescaped "[label](url)"
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", content.replace("[Open post](", ""))
    assert "[Open post](https://ok.example/post/1)" in content


@pytest.mark.parametrize("url", [
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123?format=text",
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123?format=markdown",
])
async def test_telegram_gets_escaped_html_whatever_the_url_says(sink, url):
    payload = await sent(url, sink)
    assert payload["parse_mode"] == "HTML"
    text = payload["text"]
    assert re.findall(r"<a\b[^>]*>", text) == ['<a href="https://ok.example/post/1">']
    assert re.findall(r"</?([a-z]+)", text) and set(re.findall(r"</?([a-z]+)", text)) <= {"a", "b"}
    assert re.search(r'&lt;a href=(&quot;|")https://evil\.example/b', text)  # shown, not a link
    assert _unguarded_mentions(text) == []


def test_matrix_and_email_bodies_are_escaped_html():
    for url, fmt in (("matrixs://u:p@matrix.example/#room", "chat"),
                     ("mailto://u:p@example.org", "html")):
        assert target_format(url) == fmt
        body = render_for(url, CONTENT).body
        tags = set(re.findall(r"</?([a-z]+)", body))
        assert tags <= {"div", "p", "br", "b", "mark", "a"}
        assert re.findall(r"<a\b[^>]*>", body) == ['<a href="https://ok.example/post/1">']
        assert "&lt;https://evil.example/login|Bank login&gt;" in body
    chat = render(CONTENT, "chat").body
    assert _unguarded_mentions(chat) == [] and "<mark>" not in chat  # Matrix knows <b>
    # e-mail is read by people, not parsed for mentions: only mass mentions are guarded
    assert "@alice" in render(CONTENT, "html").body


def test_markdown_services_get_escaped_markdown_and_guarded_mentions():
    assert target_format("mmost://mattermost.example/token") in ("markdown", "text")
    body = render(CONTENT, "markdown").body
    assert "\\[Bank login\\]\\(https://evil.example/a\\)" in body
    assert _unguarded_mentions(body) == []
    assert json.dumps(body)  # plain text, nothing undecodable
