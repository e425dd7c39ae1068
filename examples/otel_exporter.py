"""OpenTelemetry metrics of a toy training job, printed by the SDK's console exporter.

    pip install 'carbonledger[otel]'
    python examples/otel_exporter.py

In production, give the MeterProvider an OTLP exporter instead
(``opentelemetry-exporter-otlp``) and your collector receives ``hw.energy``,
``hw.host.energy``, ``carbonledger.energy`` and ``carbonledger.emissions``.
"""

from __future__ import annotations

import math

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    PeriodicExportingMetricReader,
)

import carbonledger as cl
from carbonledger.exporters.otel import OtelExporter


def epoch(n: int = 300_000) -> float:
    return sum(math.sin(i) * math.sqrt(i) for i in range(1, n))


def main() -> None:
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=2000)
    provider = MeterProvider(metric_readers=[reader])
    with cl.track("toy-training", phase="training", sinks=[OtelExporter(provider)]) as run:
        for k in range(3):
            with run.span(f"epoch-{k + 1}"):
                epoch()
    provider.shutdown()  # exports once more: the final cumulative values


if __name__ == "__main__":
    main()
