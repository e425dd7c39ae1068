"""The renderer contract: one module per output format, one registry entry to add one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import DeviceInfo, RunRecord, Sample, SpanRecord

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "Renderer",
    "ReportInput",
    "format_for_path",
    "get_renderer",
    "render",
]


@dataclass(frozen=True)
class ReportInput:
    """Everything a renderer may show about one or more runs."""

    footprints: Sequence[Footprint]
    runs: Sequence[RunRecord] = ()
    devices: dict[str, Sequence[DeviceInfo]] = field(default_factory=dict)  # by run_id
    samples: dict[str, Sequence[Sample]] = field(default_factory=dict)  # by run_id
    spans: dict[str, Sequence[SpanRecord]] = field(default_factory=dict)  # by run_id
    series: IntensitySeries | None = None
    include_samples: bool = False  # CSV: one row per sample instead of per run
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by run_id: key -> data


class Renderer(Protocol):
    def __call__(self, data: ReportInput) -> str: ...


# built-in format names (the plug-in registry, carbonledger.plugins, says where each lives)
FORMATS: tuple[str, ...] = ("text", "json", "csv", "html", "markdown", "statement")

# file suffix -> format, for ``report -o FILE`` without --format
SUFFIXES: dict[str, str] = {
    ".txt": "text",
    ".json": "json",
    ".csv": "csv",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
}


def format_for_path(path: str | None) -> str | None:
    """The format a file name asks for by its suffix (None when it says nothing)."""
    if not path or path == "-":
        return None
    from pathlib import PurePath

    return SUFFIXES.get(PurePath(path).suffix.lower())


def get_renderer(format_name: str) -> Renderer:
    """The renderer of a format: built-in, or a ``carbonledger.formats`` plug-in."""
    from carbonledger import plugins

    renderer: Renderer = plugins.load(
        "carbonledger.formats", format_name, check=plugins.callable_check
    )
    return renderer


def render(format_name: str, data: ReportInput) -> str:
    return get_renderer(format_name)(data)
