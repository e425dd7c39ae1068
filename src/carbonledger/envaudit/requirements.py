"""A suggested minimal requirements list: the used distributions and what they require.

``Requires-Dist`` lines are followed transitively among the installed distributions;
requirements behind an extra (``; extra == "x"``) are left out, and other environment
markers are evaluated with ``packaging`` when it is installed (kept otherwise, to be safe).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from carbonledger.envaudit.distributions import normalize_name

__all__ = ["Pin", "requirement_closure", "requirement_name"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    reason: str  # "used" or "required by NAME"
    editable: bool = False

    def line(self) -> str:
        if self.editable or not self.version:
            return f"{self.name}  # {'editable install' if self.editable else 'no version'}"
        return f"{self.name}=={self.version}"


def requirement_name(text: str) -> str | None:
    """The distribution a ``Requires-Dist`` line names; None when it applies only with an
    extra, when its marker is false here, or when it cannot be read."""
    req, _, marker = text.partition(";")
    match = _NAME.match(req)
    if match is None:
        return None
    marker = marker.strip()
    if marker:
        if re.search(r"\bextra\b", marker):
            return None
        if not _marker_holds(marker):
            return None
    return match.group(1)


def _marker_holds(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - packaging is nearly always there
        return True
    try:
        return bool(Marker(marker).evaluate())
    except Exception:
        return True


def requirement_closure(
    used: Iterable[str],
    installed: Sequence[tuple[str, str, Sequence[str], bool]],
) -> list[Pin]:
    """Pins for ``used`` (names) and everything they require, among ``installed``
    (``(name, version, requires, editable)``), sorted by name."""
    by_key = {
        normalize_name(name): (name, version, tuple(reqs), ed)
        for name, version, reqs, ed in installed
    }
    pins: dict[str, Pin] = {}
    todo: list[tuple[str, str]] = [(normalize_name(u), "used") for u in used]
    while todo:
        key, reason = todo.pop(0)
        if key in pins or key not in by_key:
            continue
        name, version, reqs, editable = by_key[key]
        pins[key] = Pin(name, version, reason, editable)
        for req in reqs:
            dep = requirement_name(req)
            if dep is not None:
                todo.append((normalize_name(dep), f"required by {name}"))
    return sorted(pins.values(), key=lambda p: normalize_name(p.name))
