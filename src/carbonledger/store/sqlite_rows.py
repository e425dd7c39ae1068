"""Small helpers the SQLite ledger's modules share: placeholders, the prefix range of a
run id, and the checks of a few stored values (also used by the other backends)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbonledger.errors import CorruptRunError
from carbonledger.store._rows import loads_blob

if TYPE_CHECKING:
    from carbonledger.intensity.series import IntensitySeries

__all__ = [
    "as_object",
    "functional_unit_or_none",
    "marks",
    "series_from_json",
    "stored_functional_unit",
    "successor",
]


def marks(n: int) -> str:
    """``n`` SQL placeholders: ``?, ?, ?``."""
    return ", ".join("?" * n)


def successor(key: str) -> str | None:
    """The smallest string greater than every string that starts with ``key`` (None: no
    such string), in SQLite's BINARY order (UTF-8 bytes, which follow code points)."""
    while key:
        last = ord(key[-1])
        if last < 0x10FFFF:
            nxt = last + 1 if not 0xD800 <= last + 1 <= 0xDFFF else 0xE000
            return key[:-1] + chr(nxt)
        key = key[:-1]
    return None


def as_object(data: Mapping[str, Any], key: str, run_id: str) -> dict[str, Any]:
    """An attachment as a dict; DataError when it is not a mapping."""
    from carbonledger.errors import DataError

    if not isinstance(data, Mapping):
        raise DataError(f"run {run_id}: attachment {key!r} must be a mapping (a JSON object)")
    return dict(data)


def stored_functional_unit(name: Any, count: Any, run_id: str, where: str) -> tuple[str, float]:
    """``(name, count)`` as stored, or CorruptRunError naming the run."""
    if not isinstance(name, str) or isinstance(count, bool) or not isinstance(count, (int, float)):
        raise CorruptRunError(
            f"ledger {where}: run {run_id} is damaged: functional unit {name!r}, {count!r}",
            run_id=run_id,
            field="functional_unit",
        )
    return name, float(count)


def series_from_json(text: Any, run_id: str, where: str) -> IntensitySeries:
    """A stored series back, or CorruptRunError naming the run."""
    from carbonledger.errors import DataError
    from carbonledger.intensity.series import IntensitySeries

    data = loads_blob(text, "series", run_id, where)
    try:
        if not isinstance(data, dict):
            raise DataError("not a JSON object")
        return IntensitySeries.from_dict(data)
    except DataError as exc:
        raise CorruptRunError(
            f"ledger {where}: run {run_id} is damaged: series {exc}", run_id=run_id, field="series"
        ) from None


def functional_unit_or_none(
    name: Any, count: Any, run_id: str, where: str
) -> tuple[str, float] | None:
    """The stored functional unit, None when none was set (either column NULL)."""
    if name is None or count is None:
        return None
    return stored_functional_unit(name, count, run_id, where)
