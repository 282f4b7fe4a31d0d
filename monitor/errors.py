"""The domain error tree.

The library raises these; the CLI and the web layer translate them into exit codes, messages and
pages. Nothing below ``MonitorError`` should ever reach an operator as a traceback.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1


class ConfigError(MonitorError):
    """A configuration file or value is invalid (the message names the file and key path)."""

    exit_code = 2


class NotFound(MonitorError):
    """A named thing (source, watchlist, desk ...) does not exist."""


class AlreadyExists(MonitorError):
    """A named thing already exists; names are unique."""


class InvalidInput(MonitorError):
    """Input from an operator that cannot be accepted (bad option value, bad file)."""

    exit_code = 2


class QuerySyntaxError(InvalidInput):
    """A watch-term query that does not parse.

    ``position`` is the 0-based character offset in the query where parsing failed and ``expected``
    says what the parser wanted there.
    """

    def __init__(self, message: str, *, query: str = "", position: int = 0, expected: str = ""):
        self.query = query
        self.position = position
        self.expected = expected
        super().__init__(message)

    def pointer(self) -> str:
        """The query with a caret under the failing position (for terminals)."""
        return f"{self.query}\n{' ' * self.position}^"


class SourceError(MonitorError):
    """A source could not be collected. Subclasses say whether to retry."""

    transient = True

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class TransientSourceError(SourceError):
    """Worth retrying later with backoff (timeouts, 5xx, connection errors)."""

    transient = True


class PermanentSourceError(SourceError):
    """Retrying will not help until an operator acts (404, not a feed, channel does not exist)."""

    transient = False


class SourceGone(PermanentSourceError):
    """The source is gone for good (HTTP 410): it is retired."""


class RateLimited(TransientSourceError):
    """The server asked us to wait (429/503 Retry-After, Telegram FloodWait)."""


class AccountUnavailable(TransientSourceError):
    """The account a source is read with cannot be used now (Telegram: logged out, banned, a
    FloodWait pausing the account's whole queue). Not the source's fault: the source is paused
    for ``retry_after`` seconds with ``label`` as its status, its error streak untouched, and it
    is never disabled for it."""

    def __init__(self, message: str, *, label: str, retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.label = label


class DeliveryError(MonitorError):
    """An alert could not be delivered to a target."""

    def __init__(self, message: str, *, transient: bool = True, retry_after: float | None = None):
        self.transient = transient
        self.retry_after = retry_after  # seconds the receiver asked us to wait (Retry-After)
        super().__init__(message)
