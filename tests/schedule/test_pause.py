from dataclasses import dataclass

import pytest

from carbonledger.errors import ConfigError, ProviderError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method
from carbonledger.schedule.pause import CarbonAwarePause


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class SteppedSource:
    """Intensity as a function of (fake) time; raises while ``broken``."""

    clock: FakeClock
    values: list[tuple[float, float]]  # (from_t, g_per_kwh)
    broken: bool = False
    calls: int = 0
    name: str = "fake"

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        self.calls += 1
        if self.broken:
            raise ProviderError("signal down")
        t = self.clock()
        value = [v for start, v in self.values if start <= t][-1]
        return IntensityValue(value, zone, "average", "lifecycle", Method.MEASURED, "fake")

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        return IntensitySeries.from_pairs(
            [(float(i), float(v)) for i, v in enumerate(range(100, 1100, 10))], zone
        )


def make(clock: FakeClock, source: SteppedSource, **kw: object) -> CarbonAwarePause:
    args: dict[str, object] = dict(
        threshold_g_per_kwh=300.0,
        max_delay=3600.0,
        provider=source,
        zone="DE",
        clock=clock,
        sleep=clock.sleep,
        check_every_s=0.0,
        poll_s=60.0,
    )
    args.update(kw)
    return CarbonAwarePause(**args)  # type: ignore[arg-type]


def test_waits_until_intensity_drops() -> None:
    clock = FakeClock()
    source = SteppedSource(clock, [(0, 500.0), (600, 200.0)])
    pause = make(clock, source)
    waited = pause()
    assert waited == pytest.approx(600.0)
    assert pause.pauses == 1
    assert pause() == 0.0  # clean grid now: no wait


def test_never_waits_past_max_delay_in_total() -> None:
    clock = FakeClock()
    source = SteppedSource(clock, [(0, 900.0)])
    pause = make(clock, source, max_delay=1000.0)
    assert pause() == pytest.approx(1000.0)
    assert pause() == 0.0
    assert pause.paused_s == pytest.approx(1000.0)


def test_unavailable_signal_never_blocks(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    source = SteppedSource(clock, [(0, 900.0)], broken=True)
    pause = make(clock, source)
    assert pause() == 0.0
    assert pause() == 0.0
    assert clock.t == 0.0
    assert sum("unavailable" in r.message for r in caplog.records) == 1


def test_checks_at_most_every_check_interval() -> None:
    clock = FakeClock()
    source = SteppedSource(clock, [(0, 100.0)])
    pause = make(clock, source, check_every_s=300.0)
    for _ in range(10):
        pause()
    assert source.calls == 1


def test_percentile_threshold_from_forecast() -> None:
    clock = FakeClock()
    # forecast values 100..1090; the 30th percentile is about 397
    source = SteppedSource(clock, [(0, 450.0), (120, 350.0)])
    pause = make(clock, source, threshold_g_per_kwh=None, percentile=30)
    assert pause() == pytest.approx(120.0)


def test_pause_is_recorded_as_span() -> None:
    clock = FakeClock()
    source = SteppedSource(clock, [(0, 500.0), (60, 100.0)])
    entered: list[str] = []

    class FakeRun:
        def span(self, name: str):  # type: ignore[no-untyped-def]
            entered.append(name)
            import contextlib

            return contextlib.nullcontext()

    pause = make(clock, source, run=FakeRun())
    pause()
    assert entered == ["carbon-aware-pause"]


@pytest.mark.parametrize(
    "kw", [dict(percentile=10), dict(threshold_g_per_kwh=None), dict(max_delay=-1)]
)
def test_bad_arguments(kw: dict[str, object]) -> None:
    clock = FakeClock()
    with pytest.raises(ConfigError):
        make(clock, SteppedSource(clock, [(0, 1.0)]), **kw)
