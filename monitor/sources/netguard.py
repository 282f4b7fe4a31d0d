"""The private-address guard: a fetch of content never reaches the service's own network.

Feeds, ``t.me/s`` pages and full-text links are addresses chosen by strangers (a feed's author
picks its entries' links and its redirects). Without a guard, a feed could make the service read
an internal page or a cloud metadata address and store it where a viewer can read it. So every
TCP connection a content fetch opens goes through :class:`GuardedBackend`, which

1. resolves the host itself (every redirect hop opens its own connection, so every hop is
   checked before anything connects),
2. refuses the connection when *any* address is loopback, private, link-local, multicast,
   reserved, unspecified or otherwise not globally routable (IPv4 and IPv6, including IPv4
   inside IPv6: mapped ``::ffff:a.b.c.d``, 6to4, NAT64), unless the operator listed a network
   containing it in ``fetch.allowed_private_networks``, and
3. connects to the very address it checked (no second lookup: a DNS answer that changes between
   check and connect, "DNS rebinding", cannot slip through). TLS still verifies the certificate
   for the name, and the ``Host`` header still carries the name: httpcore takes both from the
   URL, not from the socket.

httpx exposes no hook for the network backend, so :class:`GuardedTransport` is httpx's own
transport whose connection pool is built by us (httpcore's public constructor takes a
``network_backend``). The hostile-server tests prove the guard is in force: if a future httpx
stopped using it, they would see a connection reach the "internal" listener.

Proxies are used only when a setting asks for one (``fetch.proxy``, or ``fetch.trust_env`` for
``HTTP(S)_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``). Through a proxy the proxy resolves the name,
so the target is checked by name before the request (literal addresses exactly); the proxy's own
address is the operator's choice and is not checked. Alert targets and ``telegram.*`` servers
are the operator's configuration and never come here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.request
from typing import Iterable, Sequence

import httpcore
import httpx

from monitor.errors import PermanentSourceError

__all__ = ["AddressPolicy", "GuardedBackend", "GuardedTransport", "PrivateAddressRefused",
           "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SETTING = "fetch.allowed_private_networks"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class PrivateAddressRefused(PermanentSourceError):
    """A content fetch would have connected to a non-public address (see the module doc)."""

    def __init__(self, message: str, *, host: str = "", address: str = ""):
        super().__init__(message)
        self.host, self.address = host, address


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, IPv4-compatible)."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or int(ip) >> 32 == 0:  # 64:ff9b::a.b.c.d and the deprecated ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one."""
    for attr, name in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return name
    if not ip.is_global:
        return "not globally routable"
    return None


class AddressPolicy:
    """Which addresses a content fetch may connect to: public unicast ones, plus the networks
    the operator allowed (``allowed``: CIDR strings or network objects)."""

    def __init__(self, allowed: Iterable[str | IPNetwork] = ()):
        self.allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n for n in allowed)

    def _is_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why a connection to ``ip`` is refused, or None when it may go ahead."""
        inner = _embedded_v4(ip)
        candidates = [ip] + ([inner] if inner is not None else [])
        if any(self._is_allowed(c) for c in candidates):
            return None
        for candidate in candidates:
            if (why := _kind(candidate)) is not None:
                return why if candidate is ip else f"{why} ({candidate} inside {ip})"
        return None

    def check(self, host: str, addresses: Sequence[str]) -> list[str]:
        """``addresses`` when every one may be reached; else :class:`PrivateAddressRefused`.

        One refused address refuses the name: a name answering with a public and a private
        address is the classic way around a guard that checks only the first."""
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if (why := self.refusal(ip)) is not None:
                shown = host if host == address else f"{host} ({address})"
                raise PrivateAddressRefused(
                    f"refused to connect to {shown}: a {why} address; content fetches reach "
                    f"only public addresses unless a network holding it is listed in {SETTING}",
                    host=host, address=address)
        return list(addresses)


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order (tests replace this)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(policy: AddressPolicy, host: str, port: int,
                            timeout: float | None = None) -> list[str]:
    """Resolve ``host`` (unless it is an address) and check every answer against ``policy``.

    Resolution failures are httpcore's ``ConnectError`` / ``ConnectTimeout``, so httpx reports
    them as it reports any connection failure (transient)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
    return policy.check(host, addresses)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the guard in front of every TCP connection.

    ``exempt`` holds ``(host, port)`` pairs the operator configured (a proxy)."""

    def __init__(self, policy: AddressPolicy, *, exempt: Iterable[tuple[str, int]] = ()):
        self.policy = policy
        self.exempt = {(h.lower(), p) for h, p in exempt}
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        if (host.lower(), port) in self.exempt:
            return await self._inner.connect_tcp(host, port, timeout=timeout,
                                                 local_address=local_address,
                                                 socket_options=socket_options)
        error: Exception | None = None
        for address in await checked_addresses(self.policy, host, port, timeout):
            try:  # the checked address itself: nothing resolves the name again
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options=None) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressRefused(f"refused to connect to the local socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pool(policy: AddressPolicy, limits: httpx.Limits, proxy: str | None,
          ssl_context) -> httpcore.AsyncConnectionPool:
    common = dict(ssl_context=ssl_context, max_connections=limits.max_connections,
                  max_keepalive_connections=limits.max_keepalive_connections,
                  keepalive_expiry=limits.keepalive_expiry)
    if proxy is None:
        return httpcore.AsyncConnectionPool(network_backend=GuardedBackend(policy), **common)
    url = httpx.URL(proxy)
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 1080)
    backend = GuardedBackend(policy, exempt=[(url.host, port)])
    target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                          target=url.raw_path)
    auth = (url.username, url.password) if url.username else None
    if url.scheme in ("http", "https"):
        return httpcore.AsyncHTTPProxy(proxy_url=target, proxy_auth=auth,
                                       network_backend=backend, **common)
    if url.scheme in ("socks5", "socks5h"):
        return httpcore.AsyncSOCKSProxy(proxy_url=target, proxy_auth=auth,
                                        network_backend=backend, **common)
    raise ValueError(f"fetch.proxy: unsupported proxy scheme {url.scheme!r} "
                     f"(expected http, https or socks5)")


class _PoolTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (request/response mapping, error translation) over our own pool.

    ``AsyncHTTPTransport`` keeps its pool in ``_pool`` and takes no network backend; we set
    the pool instead of letting it build one (see the module doc for the test that guards this).
    """

    def __init__(self, pool: httpcore.AsyncConnectionPool):  # noqa: D107 - no super(): no pool
        self._pool = pool


class GuardedTransport(httpx.AsyncBaseTransport):
    """The transport of every content fetch: direct connections through the guard, or a proxy
    when ``proxy`` is set or ``trust_env`` takes one from the environment."""

    def __init__(self, *, allowed: Iterable[str | IPNetwork] = (), limits: httpx.Limits,
                 proxy: str | None = None, trust_env: bool = False):
        self.policy = AddressPolicy(allowed)
        ssl_context = httpx.create_ssl_context(trust_env=trust_env)
        self._direct = _PoolTransport(_pool(self.policy, limits, None, ssl_context))
        self._env: dict[str, str] = {}
        routes: dict[str, str] = {}
        if proxy:
            routes = {"http": proxy, "https": proxy}
        elif trust_env:
            self._env = urllib.request.getproxies_environment()
            for scheme in ("http", "https"):
                if url := self._env.get(scheme) or self._env.get("all"):
                    routes[scheme] = url
        by_url = {url: _PoolTransport(_pool(self.policy, limits, url, ssl_context))
                  for url in set(routes.values())}
        self._proxied = {scheme: by_url[url] for scheme, url in routes.items()}

    def _route(self, url: httpx.URL) -> httpx.AsyncBaseTransport | None:
        transport = self._proxied.get(url.scheme)
        if transport is None or (self._env and urllib.request.proxy_bypass_environment(
                url.host, self._env)):
            return None
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxied = self._route(request.url)
        if proxied is None:
            return await self._direct.handle_async_request(request)
        # The proxy resolves the name; check what we can before handing the request over.
        port = request.url.port or {"http": 80, "https": 443}.get(request.url.scheme, 80)
        try:
            await checked_addresses(self.policy, request.url.host, port)
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        except httpcore.ConnectTimeout as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from None
        return await proxied.handle_async_request(request)

    async def __aenter__(self) -> "GuardedTransport":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for transport in {self._direct, *self._proxied.values()}:
            await transport.aclose()
