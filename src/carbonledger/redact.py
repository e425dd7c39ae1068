"""Redaction of secrets from what a run keeps (its command line) before it is stored."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

__all__ = ["REDACTED", "redact_argv"]

REDACTED = "***"

_SECRET_NAME = re.compile(r"(token|passw(or)?d|secret|api[-_]?key|auth|credential)", re.IGNORECASE)
_SECRET_ENV = re.compile(r"(TOKEN|PASSWORD|SECRET|API_?KEY)$")
# a password inside a URL: scheme://user:PASSWORD@host, or ?password=... / &password=...
_URL_SECRET = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@|([?&]password=)[^&\s]*", re.IGNORECASE)


def redact_argv(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """``argv`` with likely secrets replaced by ``***``: the value after an option named
    like a secret (``--api-key X``), the value of ``--token=X`` or ``PASSWORD=X``, and any
    argument equal to the value of a secret-named environment variable."""
    env = os.environ if environ is None else environ
    secrets = {v for k, v in env.items() if _SECRET_ENV.search(k.upper()) and len(v) >= 4}
    out: list[str] = []
    hide_next = False
    for arg in (_URL_SECRET.sub(_hide_url_secret, a) for a in argv):
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, sep, _value = arg.partition("=")
        if sep and _SECRET_NAME.search(name):
            out.append(f"{name}={REDACTED}")
        elif arg.startswith("-") and _SECRET_NAME.search(arg):
            out.append(arg)
            hide_next = True
        elif arg in secrets or any(s in arg for s in secrets):
            out.append(REDACTED)
        else:
            out.append(arg)
    return out


def _hide_url_secret(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return f"{match.group(1)}{REDACTED}@"
    return f"{match.group(2)}{REDACTED}"
