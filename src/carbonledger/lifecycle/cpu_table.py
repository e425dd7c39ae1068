"""The CPU TDP table and the matching of CPU names to it: one catalog that the CPU model
(:mod:`carbonledger.sensors.cpu_model`) and estimates and embodied look-ups
(:mod:`carbonledger.lifecycle.hardware`) share.

Matching never guesses: names are normalised (vendor marks, clock speeds, core counts and
generation words removed), the *model tokens* (tokens with a digit: ``6248``,
``e5 2670 v3``, ``9 5950x``) must be identical, and the table entry's other words
(``xeon``, ``gold``) must all appear in the CPU's name. No match, or more than one, means
unknown.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from carbonledger.errors import DataError

__all__ = [
    "TABLE_FILE",
    "TABLE_HEADER",
    "CpuEntry",
    "CpuKey",
    "CpuTable",
    "match_bundled",
    "normalise_cpu_name",
    "parse_cpu_name",
]

TABLE_FILE = "cpu_tdp.csv"
TABLE_HEADER = ("model_key", "name", "tdp_w")

# -- name normalisation --------------------------------------------------------------------
_VENDORS = {"intel": "intel", "amd": "amd", "genuineintel": "intel", "authenticamd": "amd"}
_STOP_WORDS = {"cpu", "processor", "apu"}
_NOISE = [
    re.compile(p)
    for p in (
        r"\(r\)|\(tm\)|\(c\)|®|™",
        r"\s0\s*(?=@)",  # "E5-2670 0 @ 2.60GHz": Intel's mark for the first version
        r"@\s*\d+(?:\.\d+)?\s*[gm]hz",  # "@ 2.50GHz"
        r"\b\d+(?:\.\d+)?\s*[gm]hz\b",  # "3.06GHz"
        r"\b(?:with|w/)\s.*$",  # "with Radeon Graphics", "w/ Radeon 780M Graphics"
        r"\bradeon\b.*$",  # "Radeon R7, 12 Compute Cores 4C+8G"
        r",?\s*\d+\s+compute\s+cores?\b.*$",
        r"\b\d+(?:st|nd|rd|th)\s+gen(?:eration)?\b",  # "12th Gen", "7th Gen"
        r"\b\d+-cores?\b",  # "64-Core", "64-Cores"
        r"\b\d+\s+cores?\b",
        r"\bx-series\b",
    )
]
_SPLIT = re.compile(r"[\s,;/()\[\]_\-]+")
_has_digit = re.compile(r"\d").search


@dataclass(frozen=True)
class CpuKey:
    """A CPU name reduced to what identifies it: vendor and normalised tokens."""

    vendor: str | None
    tokens: tuple[str, ...]

    @functools.cached_property
    def model(self) -> tuple[str, ...]:
        """The model tokens: those with a digit, in order (``("e5", "2670", "v3")``)."""
        return tuple(t for t in self.tokens if _has_digit(t))

    @functools.cached_property
    def words(self) -> frozenset[str]:
        """The other tokens (``{"xeon", "gold"}``)."""
        return frozenset(t for t in self.tokens if not _has_digit(t))

    @property
    def text(self) -> str:
        return " ".join([self.vendor, *self.tokens] if self.vendor else self.tokens)

    @classmethod
    def from_key(cls, key: str) -> CpuKey:
        """Split an already normalised key (as the table stores it), without re-normalising."""
        tokens = key.split()
        if tokens and tokens[0] in _VENDORS.values():
            return cls(tokens[0], tuple(tokens[1:]))
        return cls(None, tuple(tokens))


def parse_cpu_name(name: str) -> CpuKey:
    """Normalise a CPU name (``/proc/cpuinfo``, a table, a user) into a :class:`CpuKey`."""
    text = name.lower()
    for pattern in _NOISE:
        text = pattern.sub(" ", text)
    vendor: str | None = None
    tokens: list[str] = []
    for token in _SPLIT.split(text):
        if not token or token in _STOP_WORDS:
            continue
        if token in _VENDORS:
            vendor = vendor or _VENDORS[token]
            continue
        tokens.append(token)
    return CpuKey(vendor, tuple(tokens))


def normalise_cpu_name(name: str) -> str:
    """The table key of a CPU name: ``"Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"`` →
    ``"intel xeon gold 6248"``. Idempotent."""
    return parse_cpu_name(name).text


# -- the TDP table -------------------------------------------------------------------------
@dataclass(frozen=True)
class CpuEntry:
    """One row of the TDP table."""

    key: str
    name: str
    tdp_w: float


class CpuTable:
    """The bundled TDP table, indexed by model tokens. Keys must be normalised
    (:func:`normalise_cpu_name`), as ``scripts/build_cpu_table.py`` writes them."""

    def __init__(self, entries: Sequence[CpuEntry]) -> None:
        self.entries = tuple(entries)
        self._index: dict[tuple[str, ...], list[tuple[CpuKey, CpuEntry]]] = {}
        for entry in self.entries:
            key = CpuKey.from_key(entry.key)
            if key.model:
                self._index.setdefault(key.model, []).append((key, entry))

    @classmethod
    def parse(cls, text: str, origin: str) -> CpuTable:
        """Parse the table's CSV text; malformed rows raise :class:`DataError` naming the line."""
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or tuple(header) != TABLE_HEADER:
            raise DataError(f"{origin}:1: expected header {','.join(TABLE_HEADER)}, got {header}")
        entries = []
        for row in reader:
            line = reader.line_num
            if len(row) != len(TABLE_HEADER):
                raise DataError(f"{origin}:{line}: expected 3 fields, got {len(row)}")
            key, name, tdp_text = row
            try:
                tdp_w = float(tdp_text)
            except ValueError:
                raise DataError(f"{origin}:{line}: tdp_w {tdp_text!r} is not a number") from None
            if not (math.isfinite(tdp_w) and tdp_w > 0) or not key or not name:
                raise DataError(f"{origin}:{line}: invalid row {row!r}")
            entries.append(CpuEntry(key, name, tdp_w))
        return cls(entries)

    @classmethod
    def load(cls, path: Path | None = None) -> CpuTable:
        """The table at ``path``, or the bundled ``data/cpu_tdp.csv``."""
        if path is not None:
            try:
                return cls.parse(path.read_text(encoding="utf-8"), str(path))
            except OSError as exc:
                raise DataError(f"cannot read CPU table {path}: {exc}") from None
        return _bundled_table()

    def match(self, name: str) -> CpuEntry | None:
        """The entry for CPU ``name``, or ``None`` when unknown or ambiguous."""
        cpu = parse_cpu_name(name)
        if not cpu.model:
            return None
        candidates = [
            (key, entry)
            for key, entry in self._index.get(cpu.model, ())
            if (key.vendor is None or cpu.vendor is None or key.vendor == cpu.vendor)
            and key.words <= cpu.words
        ]
        if len(candidates) == 1:
            return candidates[0][1]
        exact = [entry for key, entry in candidates if key.words == cpu.words]
        return exact[0] if len(exact) == 1 else None


def match_bundled(name: str) -> CpuEntry | None:
    """:meth:`CpuTable.match` against the bundled table, parsing only the rows that can
    match (those holding every model token of ``name``): fast enough for ``start()``."""
    model = parse_cpu_name(name).model
    if not model:
        return None
    text = _bundled_text()
    header, _, body = text.partition("\n")
    rows = [
        line
        for line in body.splitlines()
        if all(token in line.partition(",")[0].split() for token in model)
    ]
    subset = CpuTable.parse("\n".join([header, *rows]), f"carbonledger/data/{TABLE_FILE}")
    return subset.match(name)


@functools.lru_cache(maxsize=1)
def _bundled_text() -> str:
    resource = resources.files("carbonledger").joinpath("data").joinpath(TABLE_FILE)
    try:
        return resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read bundled CPU table {TABLE_FILE}: {exc}") from None


@functools.lru_cache(maxsize=1)
def _bundled_table() -> CpuTable:
    return CpuTable.parse(_bundled_text(), f"carbonledger/data/{TABLE_FILE}")
