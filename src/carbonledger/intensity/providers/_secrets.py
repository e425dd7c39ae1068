"""Credentials of the live providers: held so that they never print, and scrubbed from
every message, log line and cache entry."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

__all__ = ["REDACTED", "Secret", "redact", "userinfo_secrets", "without_userinfo"]

REDACTED = "***"


class Secret:
    """A credential: ``repr``/``str`` show ``***``; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # never pickled with its value
        raise TypeError("a Secret cannot be pickled")


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (a short secret only where it
    stands as a whole token, so it cannot garble the message)."""
    from carbonledger.redact import mask_secrets

    return mask_secrets(text, secrets)


def without_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    if "@" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # unparseable: drop everything up to the last @ of the authority
        return re.sub(r"//[^/]*@", "//", url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def userinfo_secrets(url: str) -> list[Secret]:
    """The password of a ``user:password@`` URL, and its Basic-auth form, as secrets."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    if not parts.password:
        return []
    import base64

    pair = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password)}"
    basic = base64.b64encode(pair.encode()).decode()
    return [Secret(urllib.parse.unquote(parts.password)), Secret(parts.password), Secret(basic)]
