"""Telegram accounts: session files or strings, clients, interactive login, one client per account.

Sessions hold an account's auth key, so a session file is created with mode 0600 (whoever reads
it *is* the account); ``telegram.session_string`` (per account too) replaces the file where no
writable data dir exists. :data:`CLIENTS` hands every collector and the live listener the one
client of its account in this process (an SQLite session cannot be shared); tests inject an
unconnected ``TelegramClient`` with ``CLIENTS.put``. :func:`server_for` says which MTProto server
an account talks to (``telegram.server``: Telegram's test servers or a local one, with its RSA key
and DC); :func:`make_client` points every client it makes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from telethon import TelegramClient, errors, utils
from telethon.crypto import rsa
from telethon.sessions import StringSession

from monitor.errors import ConfigError, InvalidInput, RateLimited, TransientSourceError
from monitor.settings import split_server


def session_path(settings: Any, account: str | None) -> Path:
    """Where an account's SQLite session lives (Telethon adds ``.session`` when it is missing)."""
    if account is None:
        path = Path(settings.telegram_session_path)
    else:
        acc = _account(settings, account)
        path = acc.session_path or Path(settings.data_dir) / f"telegram-{account}.session"
    path = Path(path).expanduser()
    return path if path.name.endswith(".session") else path.with_name(path.name + ".session")


def _account(settings: Any, account: str) -> Any:
    try:
        return settings.telegram.accounts[account]
    except KeyError:
        known = ", ".join(sorted(settings.telegram.accounts)) or "none configured"
        raise ConfigError(f"telegram.accounts.{account}: no such account ({known})") from None


def _secure(path: Path) -> None:
    # The session holds the account's auth key: whoever reads it *is* the account.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class TelegramServer:
    """An MTProto server other than Telegram's production data centres (``telegram.server``)."""

    host: str
    port: int
    dc: int
    public_key: Path | None  # PEM; None when Telethon already trusts the server's key


def server_for(settings: Any, account: str | None = None) -> TelegramServer | None:
    """The server ``account`` talks to (None: Telegram's own), its public key now trusted.

    An account's ``server``, ``server_public_key`` and ``server_dc`` each fall back to the
    ``telegram.*`` one. A malformed address or an unreadable or non-PEM key is a ConfigError.
    """
    tg = settings.telegram
    acc = _account(settings, account) if account is not None else None
    server = (acc.server if acc else None) or tg.server
    key = (acc.server_public_key if acc else None) or tg.server_public_key
    key_where = (f"telegram.accounts.{account}" if acc is not None and acc.server_public_key
                 else "telegram") + ".server_public_key"
    if not server:
        if key is not None:
            raise ConfigError(f"{key_where} is set but telegram.server is not: "
                              f"set the server's HOST:PORT too")
        return None
    try:
        host, port = split_server(server)
    except ValueError as exc:  # settings built in code, without validation
        raise ConfigError(f"telegram.server: {exc}") from None
    dc = (acc.server_dc if acc else None) or tg.server_dc
    if key is not None:
        key = Path(key).expanduser()
        _trust(key, key_where)
    return TelegramServer(host, port, int(dc), key)


def _trust(key: Path, where: str) -> None:
    """Let Telethon create auth keys with a server whose RSA key it does not ship."""
    try:
        pem = key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a PEM text file"
        raise ConfigError(f"{where}: cannot read {key}: {reason}") from None
    try:
        rsa.add_key(pem, old=False)  # process-wide and idempotent (keyed by fingerprint)
    except ValueError:  # binascii.Error is a ValueError too
        raise ConfigError(f"{where}: {key} is not an RSA public key in PEM form "
                          f"(-----BEGIN RSA PUBLIC KEY-----)") from None


def _point(client: TelegramClient, server: TelegramServer | None) -> TelegramClient:
    if server is not None:
        # Before connect(); the configured server wins over the address a session remembers.
        client.session.set_dc(server.dc, server.host, server.port)
    return client


def make_client(settings: Any, account: str | None = None) -> TelegramClient:
    """A new, unconnected ``TelegramClient`` for ``account`` (None = the default account),
    pointed at ``telegram.server`` when one is configured."""
    tg = settings.telegram
    acc = _account(settings, account) if account is not None else None
    api_id = (acc.api_id if acc else None) or tg.api_id
    api_hash = (acc.api_hash if acc else None) or tg.api_hash
    if not api_id or not api_hash:
        where = f"telegram.accounts.{account}" if account else "telegram"
        raise ConfigError(f"{where}: api_id and api_hash are required "
                          f"(get them at my.telegram.org)")
    secret = (acc.session_string if acc else None) if account is not None else tg.session_string
    server = server_for(settings, account)  # checked before a session file is created
    kwargs = {"flood_sleep_threshold": tg.flood_sleep_threshold}
    if secret is not None and secret.get_secret_value().strip():
        # A StringSession (e.g. from `monitor telegram session-string`) for hosts without a
        # writable data dir; it keeps no entity cache between runs.
        try:
            session = StringSession(secret.get_secret_value().strip())
        except (ValueError, struct.error):
            where = f"telegram.accounts.{account}" if account else "telegram"
            raise ConfigError(f"{where}.session_string is not a Telethon session string") from None
        return _point(TelegramClient(session, int(api_id), api_hash.get_secret_value(),
                                     **kwargs), server)
    path = session_path(settings, account)
    _secure(path)
    client = TelegramClient(str(path), int(api_id), api_hash.get_secret_value(), **kwargs)
    os.chmod(path, 0o600)  # the file existed before Telethon opened it; keep it private anyway
    return _point(client, server)


def session_string(settings: Any, account: str | None = None) -> str:
    """The account's signed-in file session as a Telethon StringSession (a secret)."""
    from telethon.sessions import SQLiteSession

    path = session_path(settings, account)
    if not path.exists():
        raise ConfigError(f"no session file at {path}: run `monitor telegram login` first")
    stored = SQLiteSession(str(path))
    try:
        if stored.auth_key is None or stored.auth_key.key is None or not stored.server_address:
            raise ConfigError(f"the session at {path} is not signed in: "
                              f"run `monitor telegram login`")
        return StringSession.save(stored)
    finally:
        stored.close()

async def _ask(prompt: Callable[[], Any]) -> str:
    value = prompt()
    if inspect.isawaitable(value):
        value = await value
    return str(value).strip()


async def login(settings: Any, account: str | None = None, *, phone: str | Callable[[], Any],
                code: Callable[[], Any], password: Callable[[], Any],
                client: TelegramClient | None = None) -> str:
    """Sign ``account`` in interactively; returns the signed-in display name.

    ``phone``, ``code`` and ``password`` are called only when needed (sync or async callables);
    none of their answers is printed or logged. ``phone`` given as a string is used as is; else a
    configured ``accounts.<name>.phone`` is used without asking.
    """
    client = client or make_client(settings, account)
    try:
        await client.connect()
        if not await client.is_user_authorized():
            configured = _account(settings, account).phone if account else None
            number = phone if isinstance(phone, str) else configured or await _ask(phone)
            await client.send_code_request(number)
            for attempt in range(3):
                try:
                    await client.sign_in(number, await _ask(code))
                    break
                except errors.SessionPasswordNeededError:
                    await client.sign_in(password=await _ask(password))
                    break
                except (errors.PhoneCodeInvalidError, errors.PhoneCodeEmptyError):
                    if attempt == 2:
                        raise InvalidInput("the login code was not accepted (3 attempts)") from None
        me = await client.get_me()
        return utils.get_display_name(me) or str(getattr(me, "id", ""))
    except errors.PasswordHashInvalidError:
        raise InvalidInput("the two-step verification password was not accepted") from None
    except errors.PhoneNumberInvalidError:
        raise InvalidInput("Telegram rejected the phone number") from None
    except errors.PhoneNumberUnoccupiedError:
        raise InvalidInput("no Telegram account uses this phone number: sign up in a Telegram "
                           "app first") from None
    except errors.PhoneNumberBannedError:
        raise InvalidInput("Telegram has banned this phone number") from None
    except (OSError, asyncio.TimeoutError) as exc:  # ConnectionError is an OSError
        raise TransientSourceError(f"cannot reach Telegram: {exc}") from None
    except errors.FloodWaitError as exc:
        raise RateLimited(f"Telegram asks to wait {exc.seconds}s before logging in again",
                          retry_after=exc.seconds) from None
    finally:
        await client.disconnect()


class ClientPool:
    """One client and one :class:`~monitor.sources.telegram_pace.AccountGate` per account per
    process; clients made here are connected on first use."""

    def __init__(self) -> None:
        self._clients: dict[str, TelegramClient] = {}
        self._made: set[str] = set()
        self._gates: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self.factory: Callable[[Any, str | None], Any] = make_client  # a simulator swaps it
        self.on_down: Callable[[str, str], Any] | None = None  # the service's: account, reason

    def put(self, account: str | None, client: TelegramClient) -> None:
        """Use ``client`` for ``account`` as is (the caller connects it; tests fake its calls)."""
        self._clients[account or ""] = client
        self._made.discard(account or "")

    def gate(self, settings: Any, account: str | None) -> Any:
        """The account's gate: its budget, concurrency, FloodWait pause and health."""
        from monitor.sources.telegram_pace import gate_for

        key = account or ""
        if key not in self._gates:
            self._gates[key] = gate_for(settings, key, on_down=self._down)
        return self._gates[key]

    def gates(self) -> dict[str, Any]:
        return dict(self._gates)

    def _down(self, account: str, reason: str) -> None:
        if self.on_down is not None:
            self.on_down(account, reason)

    async def get(self, settings: Any, account: str | None) -> TelegramClient:
        key = account or ""
        gate = self.gate(settings, account)
        if gate.down:
            raise gate._down_error()
        async with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self.factory(settings, account)
                self._made.add(key)
            if key in self._made and not client.is_connected():
                try:
                    await client.connect()
                    authorized = await client.is_user_authorized()
                except (OSError, asyncio.TimeoutError) as exc:
                    raise TransientSourceError(f"cannot reach Telegram: {exc}") from None
                if not authorized:  # dropped, so the next run checks again after a login
                    await self._clients.pop(key).disconnect()
                    self._made.discard(key)
                    gate.mark_down("not logged in")
                    raise gate._down_error()
            return client

    async def revive(self, settings: Any, account: str | None) -> TelegramClient | None:
        """Try a down account again with a fresh client (its session as a login left it): when
        it is authorized, the gate lets calls through again and the client is returned."""
        await self.drop(account)
        gate = self.gate(settings, account)
        client = self.factory(settings, account)
        try:
            await client.connect()
            authorized = await client.is_user_authorized()
        except Exception:  # noqa: BLE001 - still down; tried again later
            authorized = False
        if not authorized:
            with contextlib.suppress(Exception):
                await client.disconnect()
            return None
        async with self._lock:
            self._clients[account or ""] = client
            self._made.add(account or "")
        gate.up()
        return client

    async def drop(self, account: str | None) -> None:
        """Disconnect and forget the account's client (a new one reads the session again)."""
        key = account or ""
        async with self._lock:
            client = self._clients.pop(key, None)
            self._made.discard(key)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def close(self) -> None:
        for key in list(self._made):
            await self._clients.pop(key).disconnect()
        self._made.clear()

    def reset(self) -> None:
        """Forget every client and gate and go back to real clients (:func:`make_client`, no
        ``on_down``): tests and simulations start afresh, and leave nothing behind — a swapped
        ``factory`` left on the process-wide :data:`CLIENTS` would hand later users a
        simulator's client."""
        self._clients.clear()
        self._made.clear()
        self._gates.clear()
        self.factory = make_client
        self.on_down = None


CLIENTS = ClientPool()
