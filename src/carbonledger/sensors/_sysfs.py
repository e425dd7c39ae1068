"""Thin sysfs readers. Every sysfs read of the sensors goes through here (tests patch it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_int", "read_text"]


def read_text(path: Path) -> str:
    """The file's text, stripped. Raises ``OSError`` (missing, permission denied, ...)."""
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read().strip()


def read_int(path: Path) -> int:
    """A non-negative decimal integer. Raises ``OSError``, or ``ValueError`` for garbage."""
    text = read_text(path)
    if not (text.isascii() and text.isdigit()):  # rejects signs, blanks and decimals
        raise ValueError(f"{path}: not a non-negative integer: {text[:40]!r}")
    return int(text)
