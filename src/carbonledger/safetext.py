"""User text made safe for terminals and spreadsheets: one helper for each.

:func:`term` is applied to every user-given string (run names, tags, metric names, span
paths, warnings that quote them) printed to a terminal: control characters (C0, DEL, C1,
so no escape sequence can retitle, clear or recolour the terminal), bidirectional overrides
("Trojan Source", CVE-2021-42574) and lone surrogates (bytes of a name that was not UTF-8)
are shown as visible escapes (``\\x1b``, ``\\n``, ``\\u202e``), so a name stays on one line
and a table keeps its columns.

:func:`csv_cell` is applied to every text cell written to CSV: a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single quote, as
OWASP recommends against formula ("CSV") injection, so a spreadsheet shows it as text.
Numbers are written as numbers and are never changed.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

__all__ = ["FORMULA_PREFIXES", "SafeStream", "csv_cell", "term", "term_block"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_UNSAFE_BLOCK = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff]"
)


def term_block(text: str) -> str:
    """Like :func:`term` but keeps newlines, tabs and carriage returns: for whole outputs
    (tables, reports) whose layout uses them."""
    return _UNSAFE_BLOCK.sub(_escape, text)


class SafeStream:
    """A text stream wrapper that passes everything written through :func:`term_block`.

    The CLI wraps stdout and stderr in it, so no command (present or future) can print an
    escape sequence or an unencodable byte from user text, whatever it forgets to escape.
    """

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(term_block(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self.inner, name)


def term(text: object) -> str:
    """``text`` (any object, through ``str``) with no character that acts on a terminal."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, s)


_SURROGATE = re.compile("[\ud800-\udfff]")


def csv_cell(value: object) -> object:
    """A CSV cell: text starting like a formula gets a leading ``'``, bytes that were not
    UTF-8 are written as ``\\xNN``; other values (numbers, booleans) are unchanged."""
    if not isinstance(value, str):
        return value
    if _SURROGATE.search(value):
        value = _SURROGATE.sub(_escape, value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
