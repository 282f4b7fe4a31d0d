"""Reading a small input file named on the command line or in the environment, with a size cap.

``--config /dev/zero``, ``--file /dev/urandom`` or a FIFO nobody writes to must not hang or eat
the memory: at most ``limit`` bytes are read, and more is an error naming the cap. Parsing what
was read is the caller's; :func:`parse_toml` also turns a nesting too deep for the parser into
an error instead of a RecursionError.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from monitor.errors import InvalidInput

CONFIG_MAX_BYTES = 1024 * 1024  # a settings or exported-config TOML file
INPUT_MAX_BYTES = 16 * 1024 * 1024  # a text to test a query on, an OPML file


def read_bounded(path: str | os.PathLike, limit: int, *, error: type[Exception] = InvalidInput,
                 what: str = "file") -> bytes:
    """The bytes of ``path``; ``error`` when missing, unreadable, a directory or longer than
    ``limit`` (``/dev/zero`` never ends: it is read up to the cap, then refused). A pipe (``--file
    <(...)``) is read like a file."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not block before we can look at it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise error(f"{path}: is a directory, not a file")
    with os.fdopen(fd, "rb") as fh:
        os.set_blocking(fh.fileno(), True)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise error(f"{path}: longer than {limit} bytes, the {what} cap")
    return data


def parse_toml(data: bytes, where: str, *, error: type[Exception] = InvalidInput) -> dict[str, Any]:
    """TOML ``data`` as a dict; ``error`` naming ``where`` when invalid or nested too deep."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: invalid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: invalid TOML: nested too deeply") from None
