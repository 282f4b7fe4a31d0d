"""``telegram.server`` / ``server_public_key`` / ``server_dc`` (per account too): where the clients
we make connect, which RSA key they trust, and the clear errors for a bad address or key."""

from __future__ import annotations

import pytest
from telethon.crypto import AuthKey, rsa
from telethon.sessions import SQLiteSession, StringSession

from monitor.errors import ConfigError
from monitor.settings import Settings, TelegramAccount, TelegramSettings, load_settings
from monitor.sources.telegram_accounts import TelegramServer, make_client, server_for

# A throw-away 2048-bit RSA public key (PKCS#1 PEM, the form Telegram servers publish).
PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAosCrhhet6g78Vpx3UhrsrSR/FxjiKVit1AsRt29K408mD3jW/UCL
TpcHJCSo6RIqjubmOyxyHWrV+xf5V+BBVX6CGhg69MbfllNjMuc6ILk+4rn44472
67IS0hoycXgcsSQWrxWEgpdiNPjf5Xk8myTdAvvSupNMwm257yOG7ShMsZDb5lAJ
kUvBFo3+WM2mhec5vcLEDaytmzp2nClEuhOEQfzHGKZcBPtoehD/AUir1cd/a07r
Q99NCkMdJQUNIk4sO82r6LRx7nihyAQ0vdJURyAkQmSG1WUMS3UeNcd5BHr/84WH
2FL4r3aKZWAW0TUWqSybvOJXzzn4rS9AmQIDAQAB
-----END RSA PUBLIC KEY-----
"""


def tg(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path, telegram=TelegramSettings(api_id=1, api_hash="x", **kw))


def trusted(pem: str) -> bool:
    """Telethon encrypts new auth keys only with keys in this table (``old=False`` ones)."""
    key = rsa.rsa.PublicKey.load_pkcs1(pem)
    return rsa._server_keys.get(rsa._compute_fingerprint(key), (None, True))[1] is False


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "pubkey.asc"
    path.write_text(PEM, encoding="ascii")
    return path


async def test_clients_connect_to_the_configured_server_and_trust_its_key(tmp_path, key):
    assert not trusted(PEM)
    s = tg(tmp_path, server="127.0.0.1:44300", server_public_key=key)
    client = make_client(s)
    assert isinstance(client.session, SQLiteSession)
    assert (client.session.dc_id, client.session.server_address, client.session.port) == (
        2, "127.0.0.1", 44300)
    client.session.close()
    assert trusted(PEM)
    # the file remembers the server: reopened without set_dc it still names it
    stored = SQLiteSession(str(tmp_path / "telegram.session"))
    assert (stored.server_address, stored.port) == ("127.0.0.1", 44300)
    stored.close()
    # a session string is pointed at the configured server too, keeping its auth key
    elsewhere = StringSession()
    elsewhere.set_dc(2, "149.154.167.51", 443)
    elsewhere.auth_key = AuthKey(bytes(range(256)))
    other = make_client(tg(tmp_path / "s", server="10.0.0.5:443", server_dc=4,
                           session_string=elsewhere.save()))
    assert isinstance(other.session, StringSession)
    assert (other.session.dc_id, other.session.server_address, other.session.port) == (
        4, "10.0.0.5", 443)
    assert other.session.auth_key.key == bytes(range(256))


async def test_without_a_server_the_client_keeps_telegrams_data_centre(tmp_path):
    client = make_client(tg(tmp_path))
    assert client.session.server_address not in ("127.0.0.1", None) and client.session.port == 443
    client.session.close()
    assert server_for(tg(tmp_path)) is None


async def test_accounts_override_each_server_setting_on_its_own(tmp_path, key):
    s = Settings(data_dir=tmp_path, telegram=TelegramSettings(
        api_id=1, api_hash="x", server="127.0.0.1:44300", server_public_key=key, accounts={
            "test": TelegramAccount(api_id=2, api_hash="y", server="[::1]:5443", server_dc=3),
            "plain": TelegramAccount(api_id=3, api_hash="z")}))
    assert server_for(s, "test") == TelegramServer("::1", 5443, 3, key)
    assert server_for(s, "plain") == TelegramServer("127.0.0.1", 44300, 2, key)
    client = make_client(s, "test")
    assert (client.session.server_address, client.session.port, client.session.dc_id) == (
        "::1", 5443, 3)
    client.session.close()


def test_server_settings_from_file_and_environment(tmp_path, monkeypatch, key):
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    conf = tmp_path / "m.toml"
    conf.write_text(f'[telegram]\nserver = " 127.0.0.1:1 "\nserver_public_key = "{key}"\n'
                    f'[telegram.accounts.second]\nserver = "tg.example:443"\n', encoding="utf-8")
    s = load_settings(conf)
    assert s.telegram.server == "127.0.0.1:1" and s.telegram.server_public_key == key
    assert s.telegram.server_dc == 2 and s.telegram.accounts["second"].server == "tg.example:443"
    monkeypatch.setenv("MONITOR_TELEGRAM__SERVER", "127.0.0.1:44300")
    monkeypatch.setenv("MONITOR_TELEGRAM__SERVER_DC", "5")
    s = load_settings(conf)
    assert (s.telegram.server, s.telegram.server_dc) == ("127.0.0.1:44300", 5)


@pytest.mark.parametrize("bad", ["127.0.0.1", "nonsense", "host:0", "host:70000", "host:port",
                                 ":443", "user@host:443", "host:443/path", "[::1"])
def test_a_malformed_server_address_is_a_config_error(tmp_path, monkeypatch, bad):
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.setenv("MONITOR_TELEGRAM__SERVER", bad)
    with pytest.raises(ConfigError, match=r"telegram\.server: .*expected HOST:PORT"):
        load_settings()
    monkeypatch.delenv("MONITOR_TELEGRAM__SERVER")
    monkeypatch.setenv("MONITOR_TELEGRAM__ACCOUNTS__second__SERVER", bad)
    with pytest.raises(ConfigError, match=r"telegram\.accounts\.second\.server: "):
        load_settings()


async def test_an_unreadable_or_foreign_key_is_a_config_error_before_any_session_file(tmp_path):
    missing = tmp_path / "nope.asc"
    with pytest.raises(ConfigError, match=rf"telegram\.server_public_key: cannot read {missing}"):
        make_client(tg(tmp_path, server="127.0.0.1:1", server_public_key=missing))
    for name, body in (("garbage.asc", "not a key"), ("x509.pem", PEM.replace("RSA PUBLIC", "X")),
                       ("binary.asc", b"\xff\xfe\x00")):
        path = tmp_path / name
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        with pytest.raises(ConfigError, match="server_public_key: .*(PEM|cannot read)"):
            make_client(tg(tmp_path, server="127.0.0.1:1", server_public_key=path))
    with pytest.raises(ConfigError, match=r"accounts\.b\.server_public_key: cannot read"):
        make_client(Settings(data_dir=tmp_path, telegram=TelegramSettings(
            server="127.0.0.1:1", accounts={"b": TelegramAccount(
                api_id=1, api_hash="x", server_public_key=missing)})), "b")
    with pytest.raises(ConfigError, match="server_public_key is set but telegram.server is not"):
        make_client(tg(tmp_path, server_public_key=missing))
    assert not (tmp_path / "telegram.session").exists()
    with pytest.raises(ConfigError, match=r"telegram\.server: expected HOST:PORT"):
        server_for(Settings.model_construct(telegram=TelegramSettings.model_construct(
            server="oops", server_public_key=None, server_dc=2, accounts={})))
