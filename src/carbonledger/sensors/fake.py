"""A fake sensor with programmable power, for tests of everything above the sensors."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from carbonledger.records import Component, DeviceInfo, Method, Reading
from carbonledger.sampling.integrate import EnergyAccumulator

__all__ = ["FakeSensor", "fake_device"]


def fake_device(
    device_id: str = "fake:cpu-0",
    component: Component = Component.CPU,
    method: Method = Method.MEASURED,
    uncertainty_rel: float = 0.05,
) -> DeviceInfo:
    return DeviceInfo(
        device_id=device_id,
        component=component,
        name=device_id,
        method=method,
        source=device_id,
        uncertainty_rel=uncertainty_rel,
    )


class FakeSensor:
    """Reports energy as the exact integral of ``power_w`` (constant or a function of time).

    ``fail_after`` makes ``read`` raise after that many reads; ``none_for`` lists devices
    whose reads give ``energy_j=None``.
    """

    kind = "fake"

    def __init__(
        self,
        devices: Sequence[DeviceInfo],
        power_w: Mapping[str, float | Callable[[float], float]],
        *,
        clock: Callable[[], float] = time.time,
        fail_after: int | None = None,
        none_for: Sequence[str] = (),
        process_share: Mapping[str, float] | None = None,
    ) -> None:
        self._devices = list(devices)
        self._power = dict(power_w)
        self._clock = clock
        self._fail_after = fail_after
        self._none_for = set(none_for)
        self._process_share = dict(process_share or {})
        self._acc = {d.device_id: EnergyAccumulator() for d in self._devices}
        self._t0 = clock()
        self._last_t = self._t0
        self.reads = 0
        self.closed = False

    def devices(self) -> Sequence[DeviceInfo]:
        return list(self._devices)

    def _power_at(self, device_id: str, t: float) -> float:
        p = self._power[device_id]
        return float(p(t - self._t0)) if callable(p) else float(p)

    def read(self) -> list[Reading]:
        self.reads += 1
        if self._fail_after is not None and self.reads > self._fail_after:
            raise RuntimeError("fake sensor failure")
        t = self._clock()
        dt = max(0.0, t - self._last_t)
        self._last_t = t
        out = []
        for d in self._devices:
            p = self._power_at(d.device_id, t)
            energy = self._acc[d.device_id].add_energy(p * dt)
            if d.device_id in self._none_for:
                out.append(Reading(d.device_id, None))
            else:
                out.append(Reading(d.device_id, energy, p, self._process_share.get(d.device_id)))
        return out

    def close(self) -> None:
        self.closed = True
