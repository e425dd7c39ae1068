"""The renderer contract: one module per output format, one registry entry to add one."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from carbonledger.errors import ConfigError
from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import Footprint
from carbonledger.records import DeviceInfo, RunRecord, Sample, SpanRecord

__all__ = ["FORMATS", "Renderer", "ReportInput", "get_renderer", "render"]


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


# format name -> module under carbonledger.report exposing `render(data) -> str`
FORMATS: dict[str, str] = {
    "text": "text",
    "json": "json_format",
    "csv": "csv_format",
    "html": "html",
    "markdown": "markdown",
    "statement": "statement",
}


def get_renderer(format_name: str) -> Renderer:
    module_name = FORMATS.get(format_name)
    if module_name is None:
        raise ConfigError(
            f"unknown report format {format_name!r}; choose from {', '.join(FORMATS)}"
        )
    try:
        module = importlib.import_module(f"carbonledger.report.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"carbonledger.report.{module_name}":
            raise ConfigError(f"report format {format_name!r} is not available yet") from None
        raise
    renderer: Renderer = module.render
    return renderer


def render(format_name: str, data: ReportInput) -> str:
    return get_renderer(format_name)(data)
