"""A run tracked with a live provider is priced time-aligned from what was recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

import carbonledger as cl
from carbonledger.errors import ProviderError
from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.live import series_path_for
from carbonledger.intensity.series import IntensitySeries
from carbonledger.records import Method
from carbonledger.sensors.fake import FakeSensor, fake_device
from carbonledger.store import open_ledger


@dataclass
class FakeProvider:
    value_g_per_kwh: float = 123.0
    history_works: bool = True
    name: str = "fakeprovider"
    calls: list[str] = field(default_factory=list)

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        self.calls.append("intensity")
        return IntensityValue(
            self.value_g_per_kwh,
            zone,
            "marginal",
            "direct",
            Method.MEASURED,
            "fake:live",
            at=time.time() - 1,
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        self.calls.append("history")
        if not self.history_works:
            raise ProviderError("no history here")
        return IntensitySeries.from_pairs(
            [(start - 10, 200.0)],
            zone,
            signal="marginal",
            basis="direct",
            source="fake:history",
            last_step_s=end - start + 60,
        )

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        raise ProviderError("no forecast")


def run_with(provider: FakeProvider) -> dict[str, object]:
    sensor = FakeSensor([fake_device("fake:cpu")], {"fake:cpu": 50.0})
    tracker = cl.Tracker("live", zone="DE", interval=0.05, sensors=[sensor], provider=provider)  # type: ignore[arg-type]
    with tracker as run:
        time.sleep(0.3)
    return run.footprint().to_dict()


def test_history_at_the_end_prices_the_run_time_aligned() -> None:
    provider = FakeProvider()
    d = run_with(provider)
    i = d["intensity"]
    assert i["time_aligned"] is True
    assert i["g_per_kwh"] == pytest.approx(200.0)
    assert i["signal"] == "marginal" and i["basis"] == "direct"
    assert i["source"] == "fake:history"
    assert provider.calls[0] == "intensity" and provider.calls[-1] == "history"


def test_observations_are_kept_when_history_fails(tmp_path: object) -> None:
    d = run_with(FakeProvider(history_works=False))
    i = d["intensity"]
    assert i["g_per_kwh"] == pytest.approx(123.0)
    assert i["signal"] == "marginal"
    assert any("history unavailable" in w for w in d["warnings"])


def test_recorded_series_survives_for_repricing() -> None:
    d = run_with(FakeProvider())
    import os
    from pathlib import Path

    ledger_path = Path(os.environ["CARBONLEDGER_LEDGER"])
    assert series_path_for(ledger_path, str(d["run_id"])).is_file()
    with open_ledger(ledger_path) as ledger:
        again = cl.footprint_for_run(ledger, str(d["run_id"])).to_dict()
    assert again["intensity"]["g_per_kwh"] == pytest.approx(200.0)


def test_provider_needs_a_zone() -> None:
    with pytest.raises(cl.ConfigError):
        cl.Tracker("nozone", provider=FakeProvider())  # type: ignore[arg-type]
