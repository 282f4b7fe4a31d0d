"""Telegram Desktop exports: real ones from the shared corpus and our own current-format export."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from monitor.errors import InvalidInput, PermanentSourceError
from monitor.settings import Settings
from monitor.sources import source_class
from monitor.sources.base import CollectContext, SourceConfig
from monitor.settings import LimitSettings
from monitor.sources.telegram_export import (TelegramExportSource, join_text, read_chats,
                                             read_export)
from tests.sources.tgserver import CORPUS, FIXTURES

UTC = timezone.utc
OURS = FIXTURES / "export"
VU = CORPUS / "telegram-desktop-export-vu" / "tests"
MINER = CORPUS / "chat-miner" / "test" / "telegram"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not at {CORPUS}")


def by_id(chat):
    return {int(i.external_id): i for i in chat.items}


def test_join_text_parts():
    assert join_text("просто") == "просто"
    assert join_text(["a", {"type": "bold", "text": "b"}, 3, {"type": "x"}]) == "ab"
    assert join_text(None) == ""


def test_own_full_account_export():
    channel, person = read_export(OURS, usernames={1357924680: "vesti_test"})
    assert (channel.name, channel.id, channel.type) == ("Вести Тест", 1357924680, "public_channel")
    items = by_id(channel)
    assert sorted(items) == [2, 3, 4, 5, 6, 7]  # the service message (1) is skipped
    # date_unixtime, never the zone-less local "date" (12:00 on the exporter's Moscow clock)
    assert items[2].published_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert items[2].published_raw == "1709283600" and "date_zone_assumed" not in items[2].extra
    assert items[2].url == "https://t.me/vesti_test/2" and items[2].channel_id == 1357924680
    assert items[3].text == "Срочно: северокорейский офицер https://example.ru/a — подробности."
    assert items[4].forward.from_name == "Анонимный источник" and items[4].media_type == "photo"
    assert items[4].text == "Фото с места событий"  # a caption is text
    assert items[5].edited_at == datetime(2024, 3, 1, 11, 30, tzinfo=UTC)
    assert items[5].author == "Ольга Смирнова" and items[2].author is None
    assert items[6].reply_to_id == 3 and items[6].media_type == "voice"
    assert items[7].media_type == "poll" and items[7].text == "Верите ли вы прогнозам?\nДа\nНет"
    assert json.loads(items[3].raw)["id"] == 3 and items[3].raw_format == "json"
    people = by_id(person)
    assert people[10].author == "Иван" and people[10].url is None and people[10].channel_id is None
    assert people[10].extra["from_id"] == "user5550001"


def test_private_channel_permalink_without_username():
    (channel, _) = read_export(OURS / "result.json")
    assert by_id(channel)[2].url == "https://t.me/c/1357924680/2"


@needs_corpus
@pytest.mark.corpus
def test_real_old_format_export():
    (chat,) = read_export(VU / "result.json")
    raw = json.loads((VU / "result.json").read_text("utf-8"))["messages"]
    assert (chat.name, chat.id, chat.type) == ("Virtual University of Pakistan", 9999969886,
                                               "public_channel")
    services = {m["id"] for m in raw if m["type"] == "service"}
    assert len(services) == 3 and len(chat.items) == len(raw) - 3
    assert not services & set(by_id(chat))
    items = by_id(chat)
    assert items[3].text.startswith("Issuance of First Voucher to Continuing Students (Fall, 2020)"
                                    "\n\nPublished On:  Oct 29, 2020\n\nStudents are informed")
    assert items[3].reply_to_id == 2 and items[2].media_type == "photo"
    assert items[17].edited_at == datetime(2020, 11, 9, 19, 28, 55, tzinfo=UTC)
    assert items[17].media_type == "document"
    # No date_unixtime in this old format: the zone-less date is read as UTC and flagged so.
    assert items[2].published_at == datetime(2020, 10, 30, 11, 39, 19, tzinfo=UTC)
    assert items[2].extra["date_zone_assumed"] == "UTC"
    assert items[2].url == "https://t.me/c/9999969886/2"
    karachi = by_id(read_export(VU, tz="Asia/Karachi")[0])
    assert karachi[2].published_at == datetime(2020, 10, 30, 6, 39, 19, tzinfo=UTC)


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("name", ["test_single_export.json", "test_batch_export.json"])
def test_chat_miner_exports_match_target(name):
    (chat,) = read_export(MINER / name)
    target = json.loads((MINER / "target.json").read_text("utf-8"))
    assert len(chat.items) == len(target)
    for item, want in zip(chat.items, target):
        assert item.published_at == datetime.fromisoformat(want["timestamp"]).replace(tzinfo=UTC)
        assert item.author == want["author"]
        # chat-miner joins text parts with a space; Telegram's parts carry their own spacing.
        assert item.text.replace(" ", "") == want["message"].replace(" ", "")
    # No message ids in these minimal exports: stable content keys instead, the same every read.
    again = read_export(MINER / name)[0]
    assert [i.external_id for i in chat.items] == [i.external_id for i in again.items]
    assert len({i.external_id for i in chat.items}) == 2


@pytest.mark.parametrize("path, message", [
    (OURS / "not_json.json", "not_json.json: not valid JSON"),
    (OURS / "wrong_shape.json", "wrong_shape.json: not a Telegram Desktop export"),
    (OURS / "missing.json", "missing.json: no such file"),
    (FIXTURES / "web", "result.json: no such file"),
])
def test_not_an_export(path, message):
    with pytest.raises(InvalidInput, match=message):
        read_export(path)


def export_source(**options) -> SourceConfig:
    locator = TelegramExportSource.check_locator(str(OURS))
    return SourceConfig(id=9, name="import", type="telegram-export", locator=locator,
                        options=options)


async def collect(config):
    return [b async for b in TelegramExportSource().collect(config, CollectContext(Settings()))]


async def test_export_source_yields_batches_and_is_idempotent():
    assert source_class("telegram-export") is TelegramExportSource
    assert TelegramExportSource.check_locator(str(OURS)).endswith("export/result.json")
    config = export_source(chat_id=1357924680, username="vesti_test")
    first = await collect(config)
    assert [i.external_id for b in first for i in b.items] == ["2", "3", "4", "5", "6", "7"]
    assert first[-1].cursor == "7" and first[0].items[0].url == "https://t.me/vesti_test/2"
    assert first[0].state == {"chat_id": 1357924680, "chat_name": "Вести Тест",
                              "chat_type": "public_channel"}
    again = await collect(config)
    assert [i.external_id for b in again for i in b.items] == \
        [i.external_id for b in first for i in b.items]
    person = await collect(export_source(chat_id="5550001"))
    assert [i.external_id for b in person for i in b.items] == ["10", "11"]
    assert {i.url for b in person for i in b.items} == {None}  # a personal chat has no links


async def test_export_source_needs_a_chat_choice():
    with pytest.raises(PermanentSourceError, match="holds 2 chats.*1357924680: Вести Тест"):
        await collect(export_source())
    with pytest.raises(PermanentSourceError, match="no chat with id"):
        await collect(export_source(chat_id=1))
    with pytest.raises(InvalidInput, match="no such file"):
        TelegramExportSource.check_locator("/nonexistent/export")


# --- streaming, bounds and hostile exports --------------------------------------------------------

def _message(msg_id, text="текст", **kw):
    return {"id": msg_id, "type": "message", "date": "2024-03-01T12:00:00",
            "date_unixtime": str(1709283600 + (msg_id if isinstance(msg_id, int) else 0)),
            "from": "Канал", "text": text, **kw}


def _write(tmp_path, doc, name="result.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")  # \u escapes, lone surrogates too
    return path


def test_hostile_messages_cost_only_themselves_and_repeated_ids_keep_the_first(tmp_path):
    messages = [_message(1, "первое"), _message(2, "x\ud800y\u0000z"),
                _message(3, "ok", media_type={"not": "hashable"}), _message(1, "подмена"),
                _message(4, ["a", {"type": "bold", "text": "b"}, 5]),
                _message(5, "ok", date_unixtime="99999999999999999999", reply_to_message_id=-3),
                _message("x", "no id"), "junk"]
    path = _write(tmp_path, {"name": "Чат", "type": "public_channel", "id": 42,
                             "messages": messages})
    chunks = list(read_chats(path))
    items = {i.external_id: i for c in chunks for i in c.items}
    assert items["1"].text == "первое"  # the repeated id 1 did not replace it
    assert sum(c.duplicates for c in chunks) == 1 and sum(c.dropped for c in chunks) == 1
    # kept (yajl reads the lone surrogate as "?"); NUL is cleaned where the pipeline receives it
    assert items["2"].text.replace("\ud800", "?") == "x?y\x00z"
    assert json.loads(items["2"].raw)["text"] == items["2"].text  # raw evidence readable
    assert items["4"].text == "ab" and items["5"].extra["date_zone_assumed"] == "UTC"
    assert items["5"].reply_to_id is None and len(items) == 5  # "x" gets a content key


def test_an_export_over_its_caps_is_refused_naming_the_cap(tmp_path):
    path = _write(tmp_path, {"name": "c", "type": "public_channel", "id": 1,
                             "messages": [_message(1)]})
    with pytest.raises(InvalidInput, match="limits.export_bytes"):
        list(read_chats(path, limits=LimitSettings(export_bytes=100)))
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "result.json").write_text('{"name": "c", "messages": [{"id": 1, "text": '
                                      + "[" * 100 + "]" * 100 + "}]}", encoding="utf-8")
    with pytest.raises(InvalidInput, match="limits.json_depth"):
        list(read_chats(deep))
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_export("/dev/zero")  # never read forever


def _full_export(tmp_path):
    chats = [{"name": "Канал", "type": "public_channel", "id": 1, "messages": [_message(1)]},
             {"name": "Иван", "type": "personal_chat", "id": 2, "messages": [_message(1)]},
             {"name": "Группа", "type": "private_supergroup", "id": 3, "messages": [_message(1)]},
             {"name": "Бот", "type": "bot_chat", "id": 4, "messages": [_message(1)]}]
    return _write(tmp_path, {"about": "x", "chats": {"about": "y", "list": chats}})


def test_import_takes_channels_and_groups_unless_told_otherwise(store, tmp_path):
    from monitor.actions.imports import import_telegram_export
    from monitor.ingest.pipeline import Pipeline

    path = _full_export(tmp_path)
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)
    report = import_telegram_export(pipeline, path)
    assert [c.chat for c in report.chats] == ["Канал", "Группа"]
    assert report.skipped == ["Иван", "Бот"]
    assert [c.chat for c in import_telegram_export(pipeline, path, chat_id="иван").chats] == \
        ["Иван"]
    every = import_telegram_export(pipeline, path, all_chats=True)
    assert len(every.chats) == 4 and sum(c.new for c in every.chats) == 1  # Бот was new
    with pytest.raises(InvalidInput, match="no chat"):
        import_telegram_export(pipeline, path, chat_id="nobody")


def test_reimporting_an_export_with_repeated_ids_adds_no_version(store, tmp_path):
    from sqlalchemy import func, select

    from monitor.actions.imports import import_telegram_export
    from monitor.ingest.pipeline import Pipeline
    from monitor.store.models import ItemVersionRow

    path = _write(tmp_path, {"name": "Канал", "type": "public_channel", "id": 9, "messages": [
        _message(1, "первый"), _message(2, "второй"), _message(1, "подмена")]})
    pipeline = Pipeline(store, Settings(database_url=store.url), alerts_hook=False)
    first = import_telegram_export(pipeline, path)
    assert first.chats[0].new == 2 and first.chats[0].duplicates == 1
    for _ in range(2):
        again = import_telegram_export(pipeline, path).chats[0]
        assert (again.new, again.versions) == (0, 0)
    with store.unit() as s:
        assert s.scalar(select(func.count()).select_from(ItemVersionRow)) <= 2
