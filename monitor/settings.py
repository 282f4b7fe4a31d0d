"""One typed settings object for the whole program.

Sources, strongest first: explicit overrides (``--db``), ``MONITOR_*`` environment variables
(nested keys with ``__``, e.g. ``MONITOR_FETCH__TIMEOUT=30``), the TOML file (``--config PATH`` or
``MONITOR_CONFIG``), then the defaults below. ``config/monitor.example.toml`` documents every key.

Secrets are ``SecretStr``: they print as ``**********`` and :func:`redacted` never reveals them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
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
    parse_workers: int = Field(0, ge=0, description="processes for feed parsing and the "
                               "per-item work ahead of the writer; 0 = the cores but one")
    allowed_private_networks: list[IPvAnyNetwork] = Field(
        default_factory=list, description="networks content fetches may reach although they are "
        "loopback, private, link-local or reserved (CIDR, e.g. 10.1.0.0/16 for an intranet RSSHub)")
    proxy: str | None = Field(None, description="proxy URL for content fetches (http://, "
                              "https://, socks5://); none by default")
    trust_env: bool = Field(False, description="take the proxy from HTTP(S)_PROXY / ALL_PROXY / "
                            "NO_PROXY (ignored by default)")
    max_retry_after: int = Field(86400, ge=0, description="longest Retry-After honoured, seconds")
    max_entries: int = Field(5000, ge=1, description="entries kept from one fetch (the newest)")

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://", "socks5://", "socks5h://")):
            raise ValueError("expected an http://, https:// or socks5:// proxy URL")
        return value or None


def split_server(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as ``(host, port)``; ValueError when malformed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit("//" + value.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number or out of range
        host = port = None
    if not host or not port or parts.path or parts.query or parts.username:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:44300), got {value!r}")
    return host, port


def _check_server(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None  # Telegram's own data centres
    host, port = split_server(value)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TelegramAccount(_Section):
    api_id: int | None = None
    api_hash: SecretStr | None = None
    session_path: Path | None = None
    session_string: SecretStr | None = None  # a Telethon StringSession instead of the file
    phone: str | None = None
    # Unset: the account uses telegram.server / server_public_key / server_dc.
    server: str | None = None
    server_public_key: Path | None = None
    server_dc: int | None = Field(None, ge=1)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        return _check_server(value)


class TelegramBudget(_Section):
    """Requests per hour per account and method class (conservative: far below where Telegram
    starts answering FloodWait); a FloodWait halves the class's rate for a while."""

    history: float = Field(2400.0, gt=0, description="channel history pages (polls, backfills)")
    messages: float = Field(1200.0, gt=0, description="posts re-read by id (the recheck window)")
    resolve: float = Field(40.0, gt=0, description="usernames resolved")
    join: float = Field(20.0, gt=0, description="channels joined")
    dialogs: float = Field(12.0, gt=0, description="dialog list pages (membership sync)")
    resolve_daily: int = Field(200, ge=1, description="usernames resolved per account per day")
    burst: float = Field(5.0, ge=1, description="requests a class may make at once after a pause")


class TelegramSettings(_Section):
    api_id: int | None = None
    api_hash: SecretStr | None = None
    session_path: Path | None = None  # default: <data_dir>/telegram.session
    session_string: SecretStr | None = None
    accounts: dict[str, TelegramAccount] = Field(default_factory=dict)
    server: str | None = Field(None, description="HOST:PORT of an MTProto server other than "
                               "Telegram's production data centres (test servers, a local one)")
    server_public_key: Path | None = Field(None, description="that server's RSA public key (PEM)")
    server_dc: int = Field(2, ge=1, description="the data centre number the server answers as")
    web_base_url: str = "https://t.me"
    web_request_spacing: float = Field(1.0, ge=0, description="seconds between t.me/s requests per host")
    backfill_limit: int | None = Field(None, ge=0, description="at most this many posts per new channel")
    backfill_days: int | None = Field(None, ge=0, description="backfill no further back than this")
    # 0: every FloodWait reaches the account gate, which pauses the whole account for it
    flood_sleep_threshold: int = Field(0, ge=0)
    gap_fill_interval: int = Field(1800, ge=10, description="seconds between polls of a joined "
                                   "channel (its posts arrive live; the poll fills gaps)")
    poll_min_interval: int = Field(60, ge=10, description="a channel that is not joined is "
                                   "polled at its own posting rate, at most this often ...")
    poll_max_interval: int = Field(3600, ge=10, description="... and at least this often")
    budget: TelegramBudget = Field(default_factory=TelegramBudget)
    account_concurrency: int = Field(4, ge=1, description="requests in flight per account")
    account_runs: int = Field(16, ge=1, description="source runs at once per account (they "
                              "share its budget)")
    max_flood_in_call: int = Field(60, ge=0, description="a FloodWait up to this long is waited "
                                   "out inside the run; longer ones pause the account's sources")
    pages_per_run: int = Field(5, ge=1, description="history pages (100 posts) one run reads; "
                               "a longer backfill goes on in later runs, between the polls")
    max_channels: int = Field(450, ge=0, le=499, description="channels an account joins at most "
                              "(Telegram refuses a 501st)")
    auto_assign: bool = Field(True, description="assign channels to accounts automatically "
                              "(balanced, sticky; --account pins one)")
    catch_up: bool = Field(True, description="fetch the updates missed while the service was "
                           "down when a listener starts")
    membership_sync: int = Field(1800, ge=60, description="seconds between membership syncs "
                                 "with each account's dialogs")
    recheck: list[tuple[int, int]] = Field(
        default_factory=lambda: [(3600, 300), (21600, 1800), (172800, 21600)],
        description="recheck window: [max age, every] pairs in seconds; posts up to max age "
        "old are re-read by id every so often (edits, deletions, views); [] turns it off")

    @field_validator("server")
    @classmethod
    def _server(cls, value: str | None) -> str | None:
        return _check_server(value)


class MatchSettings(_Section):
    min_prefix: int = Field(3, ge=1, description="minimum stem length before a * wildcard")
    max_query_length: int = Field(2000, ge=10)
    max_nesting: int = Field(20, ge=1)


class DedupSettings(_Section):
    window_days: int = Field(7, ge=1)
    num_perm: int = Field(128, ge=16)
    lsh_threshold: float = Field(0.6, gt=0, lt=1)
    similarity: float = Field(0.75, gt=0, le=1, description="Jaccard needed to confirm a near-duplicate")
    coverage: bool = Field(True, description="fold rewritten coverage of one event into its story")
    coverage_window: str = Field("72h", description="how recent a story must be to be joined")

    @field_validator("coverage_window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        return _duration_setting(value, allow_none=False)


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

    @field_validator("default_max_age", "silent_after", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _duration_setting(value, allow_none=True)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    secret_key: SecretStr | None = None
    secure_cookies: bool = False
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or "
        "networks); none by default: the client address is the connection's",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="bearer token /metrics requires (Authorization: Bearer ...); without one, "
        "/metrics needs an admin login (monitor run --web) or is off",
    )


class LimitSettings(_Section):
    """Bounds on what one item or one file may cost, whatever its source."""

    item_chars: int = Field(100_000, ge=1000, description="characters of text (and HTML) kept per "
                            "item; longer ones are cut and marked in extra['truncated']")
    export_bytes: int = Field(8 * 1024 ** 3, ge=1, description="largest Telegram export file read")
    json_depth: int = Field(64, ge=8, description="deepest JSON nesting accepted in an export")


class RetentionSettings(_Section):
    raw_days: int | None = Field(None, ge=1, description="prune raw payloads older than this")
    unmatched_days: int | None = Field(None, ge=1, description="prune items without hits older than this")


def _periodic(seconds: float) -> float:
    """A period a cron schedule can express: a divisor of a minute, or whole minutes dividing an hour."""
    if seconds < 60 and float(seconds).is_integer() and 60 % int(seconds) == 0:
        return seconds
    if seconds % 60 == 0 and 60 % int(seconds // 60) == 0:
        return seconds
    raise ValueError("expected seconds dividing a minute (1, 2, 5, 10, 15, 30) or whole minutes "
                     "dividing an hour (60, 120, 300, ...)")


class ClusterSettings(_Section):
    """``monitor worker`` nodes sharing one PostgreSQL (see docs/deployment-nodes.md)."""

    tick: float = Field(5.0, description="seconds between scans for due sources (cluster-wide)")
    concurrency: int = Field(10, ge=1, description="source runs at once per node (--concurrency)")
    heartbeat: float = Field(10.0, gt=0, description="seconds between a node's heartbeats")
    stalled_after: float = Field(30.0, gt=0, description="a node silent this long is dead: its "
                                 "jobs are retried elsewhere")
    recover_every: float = Field(10.0, description="seconds between sweeps for jobs of dead nodes")
    deliver_every: float = Field(2.0, description="seconds between alert delivery passes")
    grace: float = Field(20.0, ge=0, le=25, description="seconds running jobs get to finish on "
                         "SIGTERM before they are released (the node is gone 3 s later at most)")
    lease_ttl: float = Field(45.0, gt=0, description="seconds a Telegram account lease lasts "
                             "unless renewed")
    lease_renew: float = Field(10.0, gt=0, description="seconds between lease renewals and takeover "
                               "attempts")
    keep_jobs: bool = Field(False, description="keep finished jobs in procrastinate_jobs (debugging, "
                            "benchmarks); by default successful ones are deleted at once")
    account_runtime: str = Field("monitor.service.cluster.telethon:TelethonAccounts",
                                 description="module:factory that connects an owned account's client")

    @field_validator("tick", "recover_every", "deliver_every")
    @classmethod
    def _cron_period(cls, value: float) -> float:
        return _periodic(value)

    @model_validator(mode="after")
    def _timing(self) -> "ClusterSettings":
        if self.stalled_after < 2 * self.heartbeat:
            raise ValueError("stalled_after must be at least twice heartbeat (a late beat is not a death)")
        if self.lease_renew * 2 > self.lease_ttl:
            raise ValueError("lease_renew must be at most half of lease_ttl (a lease must survive a "
                             "missed renewal)")
        return self


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
    limits: LimitSettings = Field(default_factory=LimitSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

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
    """A TOML settings file: at most ``monitor.files.CONFIG_MAX_BYTES``, a regular file (never a
    device or a pipe that would hang the start), nesting the parser can take; ConfigError else."""
    from monitor.files import CONFIG_MAX_BYTES, parse_toml, read_bounded

    data = read_bounded(path, CONFIG_MAX_BYTES, error=ConfigError, what="config file")
    return parse_toml(data, str(path), error=ConfigError)


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
