"""One typed settings object for the whole program.

Sources, strongest first: explicit overrides (``--db``), ``MONITOR_*`` environment variables
(nested keys with ``__``, e.g. ``MONITOR_FETCH__TIMEOUT=30``), the TOML file (``--config PATH`` or
``MONITOR_CONFIG``), then the defaults below. ``config/monitor.example.toml`` documents every key.

Secrets are ``SecretStr``: they print as ``**********`` and :func:`redacted` never reveals them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.errors import ConfigError


def default_data_dir() -> Path:
    """``$MONITOR_DATA_DIR``, else ``$XDG_DATA_HOME/monitor``, else ``~/.local/share/monitor``."""
    if env := os.environ.get("MONITOR_DATA_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "monitor"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, alias="json")


class FetchSettings(_Section):
    connect_timeout: float = Field(10.0, gt=0)
    timeout: float = Field(30.0, gt=0, description="wall-clock deadline for one whole fetch, seconds")
    max_bytes: int = Field(15 * 1024 * 1024, gt=0, description="body cap, also after decompression")
    max_redirects: int = Field(5, ge=0)
    user_agent: str = "monitor/0.1 (+https://github.com/monitor-osint/monitor)"
    concurrency: int = Field(20, ge=1)
    per_host_concurrency: int = Field(2, ge=1)
    min_interval: int = Field(300, ge=1, description="adaptive interval floor, seconds; a pinned "
                              "interval below it needs --force")
    # A desk needs news within hours: a quiet feed is still looked at every 2 h (a reader's 24 h
    # would leave every quiet source a day behind).
    max_interval: int = Field(7200, ge=1, description="adaptive interval ceiling, seconds")
    default_interval: int = Field(3600, ge=1)
    error_limit: int = Field(10, ge=1, description="consecutive errors after which polling stops")
    max_clock_skew: int = Field(600, ge=0, description="future dates beyond this are implausible")
    parse_workers: int = Field(0, ge=0, description="processes for feed parsing; 0 = number of cores")


class TelegramAccount(_Section):
    api_id: int | None = None
    api_hash: SecretStr | None = None
    session_path: Path | None = None
    session_string: SecretStr | None = None  # a Telethon StringSession instead of the file
    phone: str | None = None


class TelegramSettings(_Section):
    api_id: int | None = None
    api_hash: SecretStr | None = None
    session_path: Path | None = None  # default: <data_dir>/telegram.session
    session_string: SecretStr | None = None
    accounts: dict[str, TelegramAccount] = Field(default_factory=dict)
    web_base_url: str = "https://t.me"
    web_request_spacing: float = Field(1.0, ge=0, description="seconds between t.me/s requests per host")
    backfill_limit: int | None = Field(None, ge=0, description="at most this many posts per new channel")
    backfill_days: int | None = Field(None, ge=0, description="backfill no further back than this")
    flood_sleep_threshold: int = Field(60, ge=1)
    gap_fill_interval: int = Field(300, ge=10)


class MatchSettings(_Section):
    min_prefix: int = Field(3, ge=1, description="minimum stem length before a * wildcard")
    max_query_length: int = Field(2000, ge=10)
    max_nesting: int = Field(20, ge=1)


class DedupSettings(_Section):
    window_days: int = Field(7, ge=1)
    num_perm: int = Field(128, ge=16)
    lsh_threshold: float = Field(0.6, gt=0, lt=1)
    similarity: float = Field(0.75, gt=0, le=1, description="Jaccard needed to confirm a near-duplicate")


def _duration_setting(value: Any, *, allow_none: bool) -> Any:
    """A duration setting: a number is seconds (``172800``), a string has a unit (``48h``);
    stored as text with its unit so every reader parses it the same way."""
    from monitor.durations import duration_value, format_duration
    from monitor.errors import InvalidInput

    try:
        seconds = duration_value(value, allow_none=allow_none, where="duration")
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    if isinstance(value, str) and not value.strip().isdigit():
        return value.strip()  # as written (48h stays 48h, so `config show` round-trips)
    return format_duration(seconds) if seconds is not None else "none"


class AlertSettings(_Section):
    operators_desk: str | None = None
    default_max_age: str = "48h"
    first_retry: int = Field(30, ge=1, description="seconds before the first retry")
    max_retry: int = Field(3600, ge=1)
    max_attempts: int = Field(20, ge=1)
    delivery_lease: int = Field(60, ge=1, description="seconds a claimed delivery stays reserved")
    spike_factor: float = Field(3.0, gt=1)
    spike_min_hits: int = Field(10, ge=1)
    spike_baseline_days: int = Field(14, ge=1)
    silent_after: str = Field("48h", description="longest silence before a source is flagged "
                              "(sooner for sources that post often)")

    @field_validator("default_max_age", mode="before")
    @classmethod
    def _max_age(cls, value: Any) -> Any:
        return _duration_setting(value, allow_none=True)

    @field_validator("silent_after", mode="before")
    @classmethod
    def _silent_after(cls, value: Any) -> Any:
        return _duration_setting(value, allow_none=True)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    secret_key: SecretStr | None = None
    secure_cookies: bool = False


class RetentionSettings(_Section):
    raw_days: int | None = Field(None, ge=1, description="prune raw payloads older than this")
    unmatched_days: int | None = Field(None, ge=1, description="prune items without hits older than this")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    database_url: str = ""
    data_dir: Path = Field(default_factory=default_data_dir)
    log: LogSettings = Field(default_factory=LogSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("expected an sqlite:/// or postgresql:// URL")
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        return value

    @property
    def db_url(self) -> str:
        """The effective database URL (default: an SQLite file in the data directory)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'monitor.db'}"

    @property
    def telegram_session_path(self) -> Path:
        return self.telegram.session_path or self.data_dir / "telegram.session"

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


_CURRENT_TOML: list[Path | None] = [None]


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file chosen by :func:`load_settings` (errors name the file and line)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused, required by ABC
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _CURRENT_TOML[0]
        if path is None:
            return {}
        return read_toml(path)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from file, environment and overrides; ``ConfigError`` when invalid.

    The error names the file (or environment), the key path (``fetch.timeout``) and what was
    expected, so an operator can fix it without reading code.
    """
    path = Path(config).expanduser() if config else None
    if path is None and os.environ.get("MONITOR_CONFIG"):
        path = Path(os.environ["MONITOR_CONFIG"]).expanduser()
    if path is not None:
        read_toml(path)  # surface file errors before pydantic sees anything
    overrides = {k: v for k, v in overrides.items() if v is not None}
    env_web_base = os.environ.get("MONITOR_TELEGRAM_WEB_BASE_URL")
    _CURRENT_TOML[0] = path
    try:
        settings = Settings(**overrides)
        if env_web_base:
            settings.telegram.web_base_url = env_web_base
        return settings
    except ValidationError as exc:
        where = str(path) if path else "environment"
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown setting"
            lines.append(f"{where}: {key}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    finally:
        _CURRENT_TOML[0] = None


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with every secret replaced by a marker."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "**********" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            # by the key a file uses (``log.json``, not the attribute ``json_format``), so the
            # output loads back
            return {(f.alias or k): walk(getattr(value, k)) for k, f in type(value).model_fields.items()}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    data = walk(settings)
    data["database_url"] = redact_url(settings.db_url)
    return data


def redact_url(url: str) -> str:
    """Hide the password in a database or service URL (``user:***@host``)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "**********"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url
