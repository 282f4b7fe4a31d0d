"""Settings: the example file is valid and documents every key; secrets stay secret."""

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from monitor.errors import ConfigError
from monitor.redact import redacted
from monitor.settings import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "monitor.example.toml"


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= _keys(ann, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


def test_example_config_loads_and_documents_every_setting(monkeypatch):
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    settings = load_settings(EXAMPLE)
    assert settings.fetch.max_bytes == 15 * 1024 * 1024
    text = EXAMPLE.read_text(encoding="utf-8")
    def documented(key: str) -> bool:
        leaf = key.rsplit(".", 1)[-1]
        return any(form in text for form in (f"{leaf} =", f"# {leaf}", f"[{key}."))

    missing = [k for k in sorted(_keys(Settings)) if not documented(k)]
    assert missing == []
    tomllib.loads(text)


def test_env_overrides_file_and_overrides_beat_env(tmp_path, monkeypatch):
    conf = tmp_path / "m.toml"
    conf.write_text("[fetch]\ntimeout = 5\n", encoding="utf-8")
    monkeypatch.setenv("MONITOR_FETCH__TIMEOUT", "7")
    monkeypatch.setenv("MONITOR_DATABASE_URL", "sqlite:////tmp/env.db")
    s = load_settings(conf, database_url="sqlite:////tmp/flag.db")
    assert s.fetch.timeout == 7 and s.db_url == "sqlite:////tmp/flag.db"
    monkeypatch.setenv("MONITOR_TELEGRAM_WEB_BASE_URL", "http://127.0.0.1:1")
    assert load_settings(conf).telegram.web_base_url == "http://127.0.0.1:1"


def test_errors_name_file_and_key(tmp_path):
    conf = tmp_path / "m.toml"
    conf.write_text('[dedup]\nsimilarity = 7\n[nonsense]\nx = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(conf)
    message = str(err.value)
    assert f"{conf}: dedup.similarity" in message and "less than or equal to 1" in message
    assert f"{conf}: nonsense: unknown setting" in message
    conf.write_text('database_url = "mysql://x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="database_url: Value error, expected an sqlite"):
        load_settings(conf)


def test_redacted_hides_every_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_TELEGRAM__API_HASH", "hash-secret")
    monkeypatch.setenv("MONITOR_WEB__SECRET_KEY", "web-secret")
    monkeypatch.setenv("MONITOR_TELEGRAM__ACCOUNTS__second__API_HASH", "second-secret")
    s = load_settings(database_url="postgresql://u:pw-secret@h/db")
    flat = repr(redacted(s))
    for secret in ("hash-secret", "web-secret", "second-secret", "pw-secret"):
        assert secret not in flat
    assert s.telegram.api_hash.get_secret_value() == "hash-secret"
    assert "hash-secret" not in repr(s) and "hash-secret" not in str(s)
