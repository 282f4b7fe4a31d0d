"""Stored text written out where it could act: into a spreadsheet (CSV) or onto a terminal.

Stored text is whatever a source sent. A CSV cell starting with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return) is run as a formula by spreadsheets, so it gets a leading ``'`` (the OWASP
advice); the web's CSV export and the CLI's ``--format csv`` both use :func:`csv_cell`. On a
terminal, ESC starts control sequences (colours, cursor moves, window titles) and bidi controls
reorder what is shown: :func:`terminal_safe` shows them as escapes (``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0 and C1 controls (tab and newline too: they break a table's columns), DEL, and the bidi
# marks, embeddings, overrides and isolates
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def csv_cell(value: Any) -> Any:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with control and bidi characters shown as escapes."""
    return _TERMINAL_UNSAFE.sub(_escape, text)
