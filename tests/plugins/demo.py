"""Plug-ins as a third-party package would write them (used through fake entry points)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from carbonledger.events import BaseSink, RunEnded
from carbonledger.intensity.base import IntensityValue
from carbonledger.records import Component, DeviceInfo, Method, Reading, Sample
from carbonledger.sensors.base import ProbeContext

NOT_CALLABLE = 42


def render_upper(data: Any) -> str:
    return "UPPER"


class CountingSink(BaseSink):
    instances: ClassVar[list[CountingSink]] = []

    def __init__(self) -> None:
        self.samples = 0
        self.ended = 0
        CountingSink.instances.append(self)

    def on_samples(self, run_id: str, samples: Sequence[Sample]) -> None:
        self.samples += len(samples)

    def on_end(self, event: RunEnded) -> None:
        self.ended += 1


class FlatProvider:
    name = "flat"

    def __init__(self, environ: Any) -> None:
        self.environ = environ

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        return IntensityValue(
            g_per_kwh=123.0,
            zone=zone,
            signal="average",
            basis="unknown",
            method=Method.MODELED,
            source="flat",
            uncertainty_rel=0.5,
            at=at,
        )


class BoardSensor:
    """25 W, measured by a (pretend) board power meter."""

    kind = "demo"

    def __init__(self) -> None:
        self._t0 = time.time()

    def devices(self) -> list[DeviceInfo]:
        return [
            DeviceInfo("demo:board", Component.OTHER, "demo board", Method.MEASURED, "demo", 0.02)
        ]

    def read(self) -> list[Reading]:
        return [Reading("demo:board", 25.0 * (time.time() - self._t0), 25.0)]

    def close(self) -> None:
        return None


class BackwardsSensor(BoardSensor):
    def __init__(self) -> None:
        super().__init__()
        self._n = 10.0

    def read(self) -> list[Reading]:
        self._n -= 1
        return [Reading("demo:board", self._n)]


def probe(ctx: ProbeContext) -> BoardSensor:
    return BoardSensor()


def probe_not_a_sensor(ctx: ProbeContext) -> object:
    class Thing:
        kind = "liar"

    return Thing()
