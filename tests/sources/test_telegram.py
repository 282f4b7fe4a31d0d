"""TelegramSource: the Telethon adapter, locators, client factory, backfill and FloodWait.

Real TL objects built offline and a real, unconnected ``TelegramClient``; only its network call
is replaced by :class:`tests.sources.tgserver.FakeTelegram`.
"""

from __future__ import annotations

import logging
import stat
from datetime import datetime, timedelta, timezone

import pytest
from telethon import TelegramClient, errors
from telethon.extensions import BinaryReader
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession, SQLiteSession, StringSession
from telethon.tl import types

from monitor.errors import (AccountUnavailable, ConfigError, InvalidInput, PermanentSourceError,
                            RateLimited)
from monitor.settings import Settings, TelegramAccount, TelegramSettings
from monitor.sources import source_class
from monitor.sources.base import CollectContext, SourceConfig
from monitor.sources.telegram import TelegramSource, message_to_item
from monitor.sources.telegram_accounts import ClientPool, login, make_client, session_path, session_string
from tests.sources.tgserver import FakeTelegram, channel

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CH = 1234567890


def msg(i: int, text: str = "", *, date: datetime | None = None, **kw) -> types.Message:
    return types.Message(id=i, peer_id=types.PeerChannel(CH),
                         date=date or T0 + timedelta(minutes=i),
                         message=text or f"Сообщение номер {i}", post=True, **kw)


def settings(tmp_path, **tg) -> Settings:
    return Settings(data_dir=tmp_path, telegram=TelegramSettings(api_id=1, api_hash="x", **tg))


def src(state=None, cursor=None, locator="novosti_test", **options) -> SourceConfig:
    return SourceConfig(id=1, name="@novosti_test", type="telegram", locator=locator,
                        options=options, cursor=cursor, state=state or {})


@pytest.fixture
def fake():
    return FakeTelegram(channel(), [msg(i) for i in range(1, 251)])


@pytest.fixture
def source_with(fake):
    def build(**kw):
        client = fake.install(TelegramClient(MemorySession(), api_id=1, api_hash="x"))
        pool = ClientPool()
        pool.put(None, client)
        return TelegramSource(pool, wait_time=0, **kw)
    return build


async def run(source: TelegramSource, config: SourceConfig, ctx: CollectContext):
    return [b async for b in source.collect(config, ctx)]


def test_registry_and_locators():
    assert source_class("telegram") is TelegramSource
    check = TelegramSource.check_locator
    assert check("@Novosti_Test") == "novosti_test"
    assert check("https://t.me/novosti_test/123") == "novosti_test"
    assert check("t.me/s/novosti_test") == "novosti_test"
    assert check("t.me/c/1234567890/456") == "-1001234567890"
    assert check("-1001234567890") == "-1001234567890"
    assert check("1234567890") == "-1001234567890"
    for bad in ("", "t.me/+AbCdEf", "t.me/joinchat/AbCd", "no spaces", "t.me/s/", "ab", "@1abc"):
        with pytest.raises(InvalidInput):
            check(bad)


def test_adapter_forward_from_channel_and_provenance():
    m = msg(42, "Перепост", fwd_from=types.MessageFwdHeader(
        date=T0 - timedelta(days=1), from_id=types.PeerChannel(555), channel_post=77),
        post_author="Иван Петров", grouped_id=999, views=214400, forwards=12,
        reply_to=types.MessageReplyHeader(reply_to_msg_id=40), edit_date=T0 + timedelta(hours=1))
    item = message_to_item(m, channel_id=CH, username="novosti_test", fetched_at=T0)
    assert item.external_id == "42"
    assert item.url == "https://t.me/novosti_test/42"
    assert item.published_at == m.date and item.edited_at == T0 + timedelta(hours=1)
    assert item.forward.origin_channel_id == 555 and item.forward.origin_post_id == 77
    assert item.forward.origin_date == T0 - timedelta(days=1)
    assert item.forward.origin_url == "https://t.me/c/555/77" and item.forward.from_name is None
    assert (item.author, item.grouped_id, item.views, item.forwards, item.reply_to_id) == \
        ("Иван Петров", 999, 214400, 12, 40)
    assert item.raw_format == "tl"
    assert BinaryReader(item.raw).tgread_object().message == "Перепост"


def test_adapter_hidden_forward_private_permalink_and_caption():
    m = msg(7, "Подпись к фото", media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1)),
            fwd_from=types.MessageFwdHeader(date=T0, from_name="Скрытый автор"))
    item = message_to_item(m, channel_id=None, username=None, fetched_at=T0)
    assert item.channel_id == CH
    assert item.url == f"https://t.me/c/{CH}/7"
    assert item.text == "Подпись к фото" and item.media_type == "photo"
    assert item.forward.from_name == "Скрытый автор" and item.forward.origin_channel_id is None


@pytest.mark.parametrize("media, kind, text", [
    (types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=1, file_reference=b"", date=T0, mime_type="video/mp4", size=1, dc_id=1,
        attributes=[types.DocumentAttributeVideo(duration=3, w=1, h=1)])), "video", ""),
    (types.MessageMediaDocument(voice=True, document=types.Document(
        id=1, access_hash=1, file_reference=b"", date=T0, mime_type="audio/ogg", size=1, dc_id=1,
        attributes=[types.DocumentAttributeAudio(duration=3, voice=True)])), "voice", ""),
    (types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=1, file_reference=b"", date=T0, mime_type="image/webp", size=1, dc_id=1,
        attributes=[types.DocumentAttributeSticker(alt="😀",
                                                   stickerset=types.InputStickerSetEmpty())])),
     "sticker", ""),
    (types.MessageMediaDocument(document=types.Document(
        id=1, access_hash=1, file_reference=b"", date=T0, mime_type="application/pdf", size=1,
        dc_id=1, attributes=[types.DocumentAttributeFilename("отчёт.pdf")])), "document", ""),
    (types.MessageMediaPoll(poll=types.Poll(
        id=1, question=types.TextWithEntities("Как лучше?", []),
        answers=[types.PollAnswer(types.TextWithEntities("Так", []), b"0")]),
        results=types.PollResults()), "poll", "Как лучше?\nТак"),
    (types.MessageMediaWebPage(webpage=types.WebPage(
        id=1, url="https://example.ru", display_url="example.ru", hash=0, title="Заголовок",
        description="Описание статьи")), "webpage", "Заголовок\nОписание статьи"),
    (types.MessageMediaGeo(geo=types.GeoPointEmpty()), "geo", ""),
])
def test_adapter_media_kinds(media, kind, text):
    item = message_to_item(msg(1, "Текст", media=media), channel_id=CH, username="x_channel",
                           fetched_at=T0)
    assert item.media_type == kind
    assert item.text == ("Текст\n\n" + text if text else "Текст")


async def test_session_file_is_private(tmp_path):  # Telethon 1.39 wants a loop
    s = Settings(data_dir=tmp_path / "data", telegram=TelegramSettings(
        api_id=1, api_hash="x", accounts={"second": TelegramAccount(api_id=2, api_hash="y")}))
    default = make_client(s)
    named = make_client(s, "second")
    for client, path in ((default, tmp_path / "data" / "telegram.session"),
                         (named, tmp_path / "data" / "telegram-second.session")):
        assert client.session.filename == str(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert client.flood_sleep_threshold == 0  # every FloodWait reaches the account gate
        client.session.close()
    assert session_path(s, "second").name == "telegram-second.session"
    with pytest.raises(ConfigError):
        make_client(Settings(data_dir=tmp_path), None)
    with pytest.raises(ConfigError, match="nobody"):
        make_client(s, "nobody")



async def test_session_string_round_trip_and_bad_strings(tmp_path):
    s = settings(tmp_path / "data")
    with pytest.raises(ConfigError, match="telegram login"):
        session_string(s)  # no session file yet
    path = session_path(s, None)
    path.parent.mkdir(parents=True)
    stored = SQLiteSession(str(path))
    stored.save()
    stored.close()
    with pytest.raises(ConfigError, match="not signed in"):
        session_string(s)
    stored = SQLiteSession(str(path))
    stored.set_dc(2, "149.154.167.51", 443)
    stored.auth_key = AuthKey(bytes(range(256)))
    stored.save()
    stored.close()
    secret = session_string(s)
    # the string is what telegram.session_string takes: the client then uses it, not the file
    client = make_client(settings(tmp_path / "elsewhere", session_string=secret))
    assert isinstance(client.session, StringSession)
    assert client.session.auth_key.key == bytes(range(256))
    assert (client.session.dc_id, client.session.port) == (2, 443)
    assert not (tmp_path / "elsewhere" / "telegram.session").exists()
    named = Settings(data_dir=tmp_path, telegram=TelegramSettings(
        api_id=1, api_hash="x", session_string="garbage",
        accounts={"second": TelegramAccount(api_id=2, api_hash="y", session_string=secret)}))
    assert make_client(named, "second").session.auth_key.key == bytes(range(256))
    for bad in ("garbage", "1abc", "1" + "A" * 20):
        with pytest.raises(ConfigError, match="session_string"):
            make_client(settings(tmp_path, session_string=bad))
    assert isinstance(make_client(settings(tmp_path / "blank", session_string="  ")).session, SQLiteSession)

async def test_backfill_ascending_batches_and_cursor(tmp_path, fake, source_with):
    progress = []
    ctx = CollectContext(settings(tmp_path), progress=progress.append)
    batches = await run(source_with(batch_size=60), src(), ctx)
    assert not batches[0].items and batches[0].state == {
        "channel_id": CH, "access_hash": 987654321, "username": "novosti_test", "title": "Новости"}
    data = batches[1:]
    ids = [int(i.external_id) for b in data for i in b.items]
    assert ids == list(range(1, 251))
    assert [b.cursor for b in data] == [str(max(int(i.external_id) for i in b.items)) for b in data]
    assert [len(b.items) for b in data] == [60, 60, 60, 60, 10]
    assert sum(progress) == 250
    assert data[0].items[0].url == "https://t.me/novosti_test/1"


async def test_resume_from_cursor_reuses_stored_channel(tmp_path, fake, source_with):
    ctx = CollectContext(settings(tmp_path))
    first = await run(source_with(), src(), ctx)
    assert fake.resolves() == 1
    state, cursor = first[0].state, first[-1].cursor
    fake.messages += [msg(i) for i in (251, 253)]  # 252 was deleted before we saw it
    again = await run(source_with(), src(state=state, cursor=cursor), ctx)
    assert fake.resolves() == 1  # never resolved again once stored
    assert [i.external_id for b in again for i in b.items] == ["251", "253"]
    assert again[-1].cursor == "253" and all(b.state is None for b in again)
    nothing = await run(source_with(), src(state=state, cursor="253"), ctx)
    assert [i for b in nothing for i in b.items] == []


async def test_backfill_depth_by_count_and_days(tmp_path, fake, source_with):
    ctx = CollectContext(settings(tmp_path, backfill_limit=5))
    ids = [i.external_id for b in await run(source_with(), src(), ctx) for i in b.items]
    assert ids == ["246", "247", "248", "249", "250"]
    batches = await run(source_with(), src(), CollectContext(settings(tmp_path, backfill_limit=0)))
    assert [b.cursor for b in batches if b.cursor] == ["250"]  # no history, new posts from here
    assert not [i for b in batches for i in b.items]
    # Messages are a minute apart: 30 minutes back from the newest.
    fake.messages = [msg(i, date=datetime.now(UTC) - timedelta(minutes=250 - i))
                     for i in range(1, 251)]
    ctx = CollectContext(settings(tmp_path))
    config = src(backfill_days=30 / 1440)  # per-source option, in (fractional) days
    ids = [int(i.external_id) for b in await run(source_with(), config, ctx) for i in b.items]
    assert ids and ids[-1] == 250 and 215 <= ids[0] <= 225 and ids == sorted(ids)


async def test_floodwait_yields_what_was_read_then_pauses(tmp_path, fake, source_with):
    fake.flood_on = 2  # the second history page answers FLOOD_WAIT_600
    ctx = CollectContext(settings(tmp_path))
    got = []
    with pytest.raises(AccountUnavailable) as info:  # the whole account waits, not one channel
        async for batch in source_with(batch_size=30).collect(src(), ctx):
            got.append(batch)
    assert round(info.value.retry_after) == 600 and info.value.label == "flood_wait"
    ids = [int(i.external_id) for b in got for i in b.items]
    assert ids == list(range(1, 101))  # the first page of 100, all of it
    assert got[-1].cursor == "100" and len(got[-1].items) == 10
    resumed = await run(source_with(), src(state=got[0].state, cursor=got[-1].cursor), ctx)
    assert [int(i.external_id) for b in resumed for i in b.items] == list(range(101, 251))


async def test_unknown_username_and_non_channel(tmp_path, fake, source_with):
    ctx = CollectContext(settings(tmp_path))
    with pytest.raises(PermanentSourceError, match="no Telegram channel"):
        await run(source_with(), src(locator="nobody_here"), ctx)
    fake.channel = types.User(id=5, access_hash=1, username="novosti_test", first_name="Bot")
    with pytest.raises(PermanentSourceError, match="not a channel"):
        await run(source_with(), src(), ctx)
    with pytest.raises(PermanentSourceError, match="does not know"):
        await run(source_with(), src(locator="-1009999"), ctx)


async def test_not_logged_in_account_is_down_not_a_channel_error(tmp_path, monkeypatch):
    pool = ClientPool()

    async def connect(self):
        return None

    async def authorized(self):
        return False

    monkeypatch.setattr(TelegramClient, "connect", connect)
    monkeypatch.setattr(TelegramClient, "is_connected", lambda self: False)
    monkeypatch.setattr(TelegramClient, "is_user_authorized", authorized)
    with pytest.raises(AccountUnavailable, match="not logged in") as info:
        await pool.get(settings(tmp_path), None)
    assert info.value.label == "account down"
    assert pool._clients == {}  # checked again after a login (the keeper revives it)
    assert pool.gate(settings(tmp_path), None).down
    with pytest.raises(AccountUnavailable, match="monitor telegram login"):
        await run(TelegramSource(pool), src(), CollectContext(settings(tmp_path)))
    with pytest.raises(PermanentSourceError, match="api_id"):  # config problem: this source fails
        await run(TelegramSource(ClientPool()), src(), CollectContext(Settings(data_dir=tmp_path)))


async def test_login_with_two_step_password_never_logs_secrets(tmp_path, caplog, capsys):
    client = TelegramClient(MemorySession(), api_id=1, api_hash="x")
    calls = []

    async def connect():
        calls.append("connect")

    async def is_user_authorized():
        return False

    async def send_code_request(phone):
        calls.append(("code to", phone))

    async def sign_in(phone=None, code=None, *, password=None):
        calls.append(("sign_in", phone, code, password))
        if password is None:
            raise errors.SessionPasswordNeededError(None)

    async def get_me():
        return types.User(id=1, first_name="Анна", last_name="Редактор")

    async def disconnect():
        calls.append("disconnect")

    for fn in (connect, is_user_authorized, send_code_request, sign_in, get_me, disconnect):
        setattr(client, fn.__name__, fn)

    async def code():
        return "24680"

    caplog.set_level(logging.DEBUG)
    name = await login(settings(tmp_path), phone=lambda: "+79990001122", code=code,
                       password=lambda: "s3cret-pass", client=client)
    assert name == "Анна Редактор"
    assert ("sign_in", "+79990001122", "24680", None) in calls
    assert ("sign_in", None, None, "s3cret-pass") in calls and calls[-1] == "disconnect"
    out = capsys.readouterr()
    for secret in ("24680", "s3cret-pass", "+79990001122"):
        assert secret not in caplog.text + out.out + out.err
