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


@dataclass
class LabelledProvider:
    """History with one measured and one estimated hour, as Electricity Maps gives it."""

    name: str = "fakeprovider"

    def intensity(self, zone: str, at: float | None = None) -> IntensityValue:
        return IntensityValue(
            300.0, zone, "average", "lifecycle", Method.MODELED, "fake:live", uncertainty_rel=0.2
        )

    def history(self, zone: str, start: float, end: float) -> IntensitySeries:
        mid = (start + end) / 2
        return IntensitySeries(
            times=(start - 10, mid),
            values_g_per_kwh=(100.0, 300.0),
            zone=zone,
            signal="average",
            basis="lifecycle",
            source="fake:history",
            estimated=(False, True),
            last_step_s=end - mid + 60,
        )

    def forecast(self, zone: str, hours: float = 24) -> IntensitySeries:
        raise ProviderError("no forecast")


def test_each_point_keeps_its_label_and_the_run_is_priced_with_them(tmp_path: object) -> None:
    sensor = FakeSensor([fake_device("fake:cpu")], {"fake:cpu": 50.0})
    tracker = cl.Tracker(
        "live", zone="DE", interval=0.05, sensors=[sensor], provider=LabelledProvider()
    )  # type: ignore[arg-type]
    with tracker as run:
        time.sleep(0.4)
    recorder = tracker._recorder
    assert recorder is not None
    series = recorder.recorded_series()
    assert series is not None
    assert series.methods == ("measured", "modeled")
    assert series.uncertainties_rel == pytest.approx((0.10, 0.20))
    assert IntensitySeries.from_dict(series.to_dict()) == series
    i = run.footprint().to_dict()["intensity"]
    assert i["method"] == "modeled"  # one estimated hour: not measured
    assert 0.10 < i["uncertainty_rel"] < 0.20  # grams-weighted between the two points


def test_the_zone_is_asked_in_the_providers_words(tmp_path: object) -> None:
    from pathlib import Path

    from carbonledger.intensity.live import LiveIntensityRecorder

    class Named(FakeProvider):
        pass

    p = Named(name="electricitymaps")
    rec = LiveIntensityRecorder(p, "aws:us-east-1", Path(str(tmp_path)) / "s.csv")
    assert rec.provider_zone == "US-MIDA-PJM"


def test_a_users_plain_csv_is_modeled_not_measured(tmp_path: object) -> None:
    from pathlib import Path

    from carbonledger.intensity.live import load_recorded_series

    path = Path(str(tmp_path)) / "FR.csv"
    path.write_text(
        "datetime,g_per_kwh,estimated\n2024-01-01T00:00Z,50,\n2024-01-01T01:00Z,60,true\n"
    )
    series = load_recorded_series(path, "FR")
    assert series.methods == ("modeled", "modeled")
    assert series.intensity("FR", series.times[0]).uncertainty_rel == pytest.approx(0.15)
    assert series.intensity("FR", series.times[1]).uncertainty_rel == pytest.approx(0.20)
    assert str(series.intensity("FR", series.times[0]).method) == "modeled"


def test_a_provider_object_judges_its_own_zones() -> None:
    """A third-party provider's zone need not be in the bundled tables; the run is priced
    with what the provider gave, and the zone it was asked for is kept."""
    provider = FakeProvider()
    sensor = FakeSensor([fake_device("fake:cpu")], {"fake:cpu": 50.0})
    tracker = cl.Tracker(
        "own-zone", zone="MYGRID-NORTH", interval=0.05, sensors=[sensor], provider=provider
    )  # type: ignore[arg-type]
    with tracker as run:
        time.sleep(0.3)
    d = run.footprint().to_dict()
    assert d["intensity"]["g_per_kwh"] == pytest.approx(200.0)
    assert d["intensity"]["source"] == "fake:history"
    assert d["intensity"]["zone"] == "MYGRID-NORTH"
    ledger_path = __import__("os").environ["CARBONLEDGER_LEDGER"]
    with open_ledger(ledger_path) as ledger:  # re-priced later, without the provider object
        again = cl.footprint_for_run(ledger, str(d["run_id"])).to_dict()
    assert again["intensity"]["g_per_kwh"] == pytest.approx(200.0)


def test_a_zone_no_bundled_table_knows_falls_back_to_the_labelled_world_default() -> None:
    from carbonledger.lifecycle.plan import average_intensity

    value = average_intensity("MYGRID-NORTH")
    assert value.method == Method.DEFAULT and value.zone == "WORLD"
    assert "no bundled zone stands for 'MYGRID-NORTH'" in value.source


def test_a_named_provider_still_refuses_a_zone_it_does_not_map() -> None:
    with pytest.raises(cl.CarbonLedgerError, match="MYGRID-NORTH"):
        cl.Tracker("bad-zone", zone="MYGRID-NORTH")
