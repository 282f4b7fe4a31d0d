"""Hostile servers and hostile documents, on loopback: each costs only itself.

Two real listeners: 127.0.0.1 plays the internet (tests allow it with
``fetch.allowed_private_networks``) and 127.0.0.2 plays the service's own network, which no
content fetch may reach: its request log must stay empty whatever a feed does. Then one
``collect`` pass runs five normal feeds beside every hostile response at once, on SQLite and
PostgreSQL: the normal feeds are stored whole, the poisoned feeds keep their good entries, and
nothing a hostile source does stops, cancels or delays another.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from email.utils import formatdate

import pytest
from sqlalchemy import select

from monitor.errors import PermanentSourceError
from monitor.ingest.runtime import pipeline_for
from monitor.settings import FetchSettings, Settings
from monitor.sources import netguard
from monitor.sources.base import CollectContext, SourceConfig
from monitor.sources.http import Fetcher
from monitor.sources.netguard import AddressPolicy, PrivateAddressRefused
from monitor.sources.rss import RssSource
from monitor.sources.telegram_web import TelegramWebSource
from monitor.store import sources as source_repo
from monitor.store.models import ItemRow, SourceRow
from monitor.types import utcnow
from tests.sources.feedserver import LOOPBACK, FeedServer, Route, gzip_stream, redirect

HANG_GUARD = 60
RSS = "application/rss+xml; charset=utf-8"


def rss(entries: list[str], title: str = "feed") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{''.join(entries)}</channel></rss>").encode()


def entry(guid: str, text: str = "text", link: str | None = None) -> str:
    link_tag = f"<link>{link}</link>" if link else ""
    return f"<item><guid>{guid}</guid><title>{guid}</title>{link_tag}" \
           f"<description>{text}</description></item>"


def fetch_settings(**kw) -> FetchSettings:
    base = dict(timeout=5.0, connect_timeout=2.0, max_bytes=1 << 20, max_redirects=3,
                allowed_private_networks=LOOPBACK)
    return FetchSettings(**{**base, **kw})


@pytest.fixture
def public():
    with FeedServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def internal():
    """The "internal" service: nothing may ever reach it."""
    with FeedServer("127.0.0.2") as server:
        server.route("/secret", Route(body=rss([entry("secret", "metadata token")])))
        yield server
        assert server.requests == []  # checked again after every test that uses it


async def fetch(url: str, **kw):
    async with asyncio.timeout(HANG_GUARD):
        async with Fetcher(fetch_settings(**kw)) as fetcher:
            return await fetcher.fetch(url)


# --- the address policy --------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
    "::127.0.0.1",
])
def test_non_public_addresses_are_refused(address):
    policy = AddressPolicy()
    assert policy.refusal(__import__("ipaddress").ip_address(address)) is not None
    with pytest.raises(PrivateAddressRefused, match="fetch.allowed_private_networks"):
        policy.check("feeds.example", [address])


def test_public_addresses_pass_and_allowed_networks_open_exactly_what_they_name():
    import ipaddress

    assert AddressPolicy().check("example.org", ["93.184.215.14", "2606:2800:21f:cb07::1"])
    policy = AddressPolicy(["127.0.0.1/32", "10.1.0.0/16"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None  # the same host
    assert policy.refusal(ipaddress.ip_address("10.1.200.3")) is None
    for other in ("127.0.0.2", "10.2.0.1", "::1"):
        assert policy.refusal(ipaddress.ip_address(other)) is not None
    # one private answer refuses the name, whatever the others say
    with pytest.raises(PrivateAddressRefused, match=r"mixed\.example \(10\.9\.9\.9\)"):
        policy.check("mixed.example", ["93.184.215.14", "10.9.9.9"])


# --- redirects and names, on real sockets --------------------------------------------------------

@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/secret", "http://[::ffff:127.0.0.2]:{port}/secret",
    "http://2130706434:{port}/secret",  # 127.0.0.2 spelled as one number
    "http://0x7f000002:{port}/secret",
])
async def test_a_redirect_into_the_internal_network_never_connects(public, internal, target):
    port = internal.url("/").rsplit(":", 1)[1].split("/")[0]
    url = public.route("/feed", redirect(302, target.format(port=port)))
    with pytest.raises(PrivateAddressRefused) as err:
        await fetch(url)
    assert "/secret" in str(err.value) and "fetch.allowed_private_networks" in str(err.value)
    assert not err.value.transient  # a permanent source error: the operator must act


async def test_every_hop_is_checked_and_an_allowed_network_opens_it(public, internal):
    url = public.route("/a", redirect(301, public.url("/b")))
    public.route("/b", redirect(302, internal.url("/secret")))
    with pytest.raises(PrivateAddressRefused):
        await fetch(url)
    assert internal.requests == []
    opened = await fetch(url, allowed_private_networks=["127.0.0.1/32", "127.0.0.2/32"])
    assert b"metadata token" in opened.body
    internal.requests.clear()  # this one was allowed on purpose


async def test_a_name_is_resolved_once_checked_and_connected_by_its_checked_address(
        public, internal, monkeypatch):
    answers = {"internal.example": ["127.0.0.2"], "public.example": ["127.0.0.1"],
               "rebind.example": ["127.0.0.1"]}
    calls: list[str] = []

    async def resolve(host, port):
        calls.append(host)
        found = answers[host]
        if host == "rebind.example":  # a rebinding resolver: the next answer is internal
            answers[host] = ["127.0.0.2"]
        return found

    monkeypatch.setattr(netguard, "resolve", resolve)
    internal_port = internal.url("/").rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(PrivateAddressRefused, match=r"internal\.example \(127\.0\.0\.2\)"):
        await fetch(f"http://internal.example:{internal_port}/secret")
    port = public.url("/").rsplit(":", 1)[1].split("/")[0]
    public.route("/feed", Route(body=rss([entry("1")]), headers={"Content-Type": RSS}))
    got = await fetch(f"http://rebind.example:{port}/feed")
    assert b"<guid>1</guid>" in got.body
    # the connection went to the address that was checked, under the name it was asked by
    assert public.requests[-1][1]["host"] == f"rebind.example:{port}"
    assert calls.count("rebind.example") == 1
    assert internal.requests == []


async def test_localhost_is_refused_unless_allowed(public):
    url = public.url("/x").replace("127.0.0.1", "localhost")
    with pytest.raises(PrivateAddressRefused, match="localhost"):
        await fetch(url, allowed_private_networks=[])


async def test_no_proxy_from_the_environment_unless_asked(public, internal, monkeypatch):
    # The "proxy" is the internal listener: obeying the variable would send it the request.
    monkeypatch.setenv("HTTP_PROXY", internal.url("/"))
    monkeypatch.setenv("http_proxy", internal.url("/"))
    public.route("/feed", Route(body=rss([entry("1")]), headers={"Content-Type": RSS}))
    assert b"<guid>1</guid>" in (await fetch(public.url("/feed"))).body
    assert internal.requests == []


async def test_full_text_links_into_the_internal_network_are_not_fetched(public, internal):
    body = rss([entry("a", "summary a", internal.url("/secret")),
                entry("b", "summary b", "http://169.254.169.254/latest/meta-data/")])
    url = public.route("/feed", Route(body=body, headers={"Content-Type": RSS}))
    config = SourceConfig(id=1, name="ft", type="rss", locator=url, options={"full_text": True})
    ctx = CollectContext(settings=Settings(fetch=fetch_settings()))
    async with asyncio.timeout(HANG_GUARD):
        [batch] = [b async for b in RssSource().collect(config, ctx)]
    assert sorted(i.text for i in batch.items) == ["summary a", "summary b"]
    assert "metadata" not in " ".join(i.text for i in batch.items)


async def test_a_t_me_preview_on_an_internal_address_is_refused(internal):
    settings = Settings(fetch=fetch_settings())
    settings.telegram.web_base_url = internal.url("").rstrip("/")
    config = SourceConfig(id=1, name="@chan", type="telegram-web", locator="somechannel")
    with pytest.raises(PermanentSourceError, match="127.0.0.2"):
        async with asyncio.timeout(HANG_GUARD):
            [b async for b in TelegramWebSource().collect(config, CollectContext(settings))]


# --- one pass: five normal feeds beside every hostile response -----------------------------------

NORMAL = {f"normal-{n}": [entry(f"n{n}-{k}", f"Обычная новость {n}.{k}") for k in range(4)]
          for n in range(5)}
GOOD = [entry("good-1", "first good"), entry("good-2", "second good")]


def hostile_routes(public, internal) -> dict[str, tuple[Route, set[str] | None]]:
    """name -> (route, the external ids that must be stored, or None for a failing source)."""
    far = formatdate(253402300799, usegmt=True)  # Fri, 31 Dec 9999 23:59:59 GMT
    json_feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "j", "items": [
        {"id": "bad", "content_text": "x\ud800y\u0000z", "title": "\udfff"},
        {"id": "good-1", "content_text": "first good"},
        {"id": "good-2", "content_text": "second good", "title": {"not": "text"}}]},
        ensure_ascii=True).encode()
    many = [entry(f"m{k}", f"entry {k}") for k in range(3000, 0, -1)]  # newest first
    return {
        "huge-retry-after": (Route(status=429, headers={"Retry-After": "9" * 20}), None),
        "year-9999": (Route(status=503, headers={"Retry-After": far}), None),
        "surrogate-rss": (Route(body=rss([entry("bad", "a &#xd800; b"), *GOOD]),
                                headers={"Content-Type": RSS}), {"bad", "good-1", "good-2"}),
        "nul-rss": (Route(body=rss([entry("bad", "a&#0;b&#1;c"), *GOOD]).replace(
            b"<title>good-1</title>", b"<title>good\x01-1\x00</title>"),
            headers={"Content-Type": RSS}), {"bad", "good-1", "good-2"}),
        "surrogate-json": (Route(body=json_feed, headers={"Content-Type": "application/feed+json"}),
                           {"bad", "good-1", "good-2"}),
        "many-entries": (Route(body=rss(many), headers={"Content-Type": RSS}),
                         {f"m{k}" for k in range(3000, 2900, -1)}),
        "gzip-bomb": (Route(headers={"Content-Type": RSS, "Content-Encoding": "gzip"},
                            chunks=gzip_stream(64 << 20)), None),
        "into-internal": (redirect(302, internal.url("/secret")), None),
        "not-a-feed": (Route(body=b"\x00\xff" * 5000, headers={"Content-Type": RSS}), None),
    }


def test_one_pass_hostile_sources_cost_only_themselves(store, public, internal):
    routes = hostile_routes(public, internal)
    with store.unit() as s:
        for name, entries in NORMAL.items():
            url = public.route(f"/{name}", Route(body=rss(entries), headers={"Content-Type": RSS}))
            source_repo.add_source(s, type="rss", locator=url, name=name)
        for name, (route, _) in routes.items():
            source_repo.add_source(s, type="rss", locator=public.route(f"/{name}", route),
                                   name=name)
    settings = Settings(database_url=store.url, fetch=fetch_settings(max_entries=100))
    started = utcnow()

    async def one_pass():
        async with asyncio.timeout(HANG_GUARD):
            async with pipeline_for(store, settings, pool=False) as pipeline:
                pipeline._alerts_hook = None
                return await pipeline.collect(everything=True)

    summary = asyncio.run(one_pass())
    by_name = {r.source: r for r in summary.results}
    assert len(by_name) == len(NORMAL) + len(routes)
    failing = {name for name, (_, ids) in routes.items() if ids is None}
    assert {n for n, r in by_name.items() if r.status == "error"} == failing, \
        {n: r.error for n, r in by_name.items()}
    with store.unit() as s:
        stored: dict[str, set[str]] = {}
        for name, eid in s.execute(select(SourceRow.name, ItemRow.external_id)
                                   .join(ItemRow, ItemRow.source_id == SourceRow.id)):
            stored.setdefault(name, set()).add(eid)
        texts = {eid: (title, text) for eid, title, text in s.execute(
            select(ItemRow.external_id, ItemRow.title, ItemRow.text)
            .join(SourceRow, SourceRow.id == ItemRow.source_id)
            .where(SourceRow.name.in_(["surrogate-rss", "nul-rss", "surrogate-json"])))}
        paused = {src.name: src.paused_until for src in s.scalars(select(SourceRow))}
        errors = {src.name: src.last_error for src in s.scalars(select(SourceRow))}
    for name, entries in NORMAL.items():  # the normal feeds, stored whole
        assert stored[name] == {f"{name.replace('normal-', 'n')}-{k}" for k in range(4)}
    for name, (_, ids) in routes.items():
        if ids is not None:
            assert stored[name] == ids, name
    for eid, (title, text) in texts.items():  # cleaned: no NUL, no control, no lone surrogate
        for value in (title or "", text or ""):
            assert not any(ord(c) < 32 and c not in "\t\n" or 0xD800 <= ord(c) < 0xE000
                           for c in value), (eid, value)
    assert texts["bad"][1] in ("a b", "ab", "xyz", "abc")
    # Retry-After honoured up to a day, never an overflow, never year 9999
    for name in ("huge-retry-after", "year-9999"):
        assert started + timedelta(hours=23) < paused[name] <= utcnow() + timedelta(days=1)
    assert "fetch.allowed_private_networks" in errors["into-internal"]
    assert "cap" in errors["gzip-bomb"]
    assert internal.requests == []


async def test_a_configured_proxy_is_used_and_the_target_still_checked(internal, monkeypatch):
    async def resolve(host, port):
        return {"feeds.example": ["93.184.215.14"]}[host]

    monkeypatch.setattr(netguard, "resolve", resolve)
    with FeedServer("127.0.0.1") as proxy:  # a forward proxy sees absolute URLs
        proxy.route("http://feeds.example/feed",
                    Route(body=rss([entry("via-proxy")]), headers={"Content-Type": RSS}))
        got = await fetch("http://feeds.example/feed", proxy=proxy.base,
                          allowed_private_networks=[])  # the proxy is the operator's choice
        assert b"via-proxy" in got.body and proxy.requests[0][0] == "http://feeds.example/feed"
        with pytest.raises(PrivateAddressRefused):
            await fetch(internal.url("/secret"), proxy=proxy.base, allowed_private_networks=[])
        assert len(proxy.requests) == 1  # the refused one never left
