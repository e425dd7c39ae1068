import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.intensity.base import IntensityValue
from carbonledger.intensity.series import IntensitySeries
from carbonledger.lifecycle.footprint import EmbodiedItem
from carbonledger.lifecycle.pricing import PUEChoice, price_run
from carbonledger.records import (
    Component,
    DeviceInfo,
    Method,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.sensors.fake import fake_device

T0 = 1_700_000_000.0
AVERAGE = IntensityValue(
    g_per_kwh=400.0,
    zone="XX",
    signal="average",
    basis="lifecycle",
    method=Method.MODELED,
    source="test-table",
    year=2023,
    uncertainty_rel=0.15,
)


def make_run(duration_s: float, **kw: object) -> RunRecord:
    base = dict(
        run_id="r1",
        name="job",
        phase="training",
        status=RunStatus.COMPLETED,
        started_at=T0,
        ended_at=T0 + duration_s,
        scope=Scope.MACHINE,
        zone="XX",
        pue=None,
        interval_s=1.0,
    )
    base.update(kw)
    return RunRecord(**base)  # type: ignore[arg-type]


def constant_samples(
    device_id: str, power_w: float, duration_s: float, step_s: float = 1.0
) -> list[Sample]:
    n = round(duration_s / step_s)
    return [
        Sample(
            device_id, T0 + i * step_s, T0 + (i + 1) * step_s, power_w * step_s, power_w * step_s
        )
        for i in range(n)
    ]


def test_time_aligned_midpoint_step_gives_mean_intensity() -> None:
    """A 100 W run re-priced with a series stepping 100 → 500 g/kWh at its midpoint."""
    dev = fake_device("fake:gpu", Component.GPU)
    samples = constant_samples("fake:gpu", 100.0, 60.0)
    series = IntensitySeries.from_pairs(
        [(T0 + i, 100.0 if i < 30 else 500.0) for i in range(60)], "XX", last_step_s=1.0
    )
    fp = price_run(
        make_run(60.0), [dev], samples, series=series, average=AVERAGE, pue=PUEChoice(1.0, "t")
    )
    d = fp.to_dict()
    assert d["intensity"]["g_per_kwh"] == pytest.approx(300.0)
    assert d["intensity"]["time_aligned"] is True
    assert d["intensity"]["coverage"] == pytest.approx(1.0)
    energy_kwh = 100.0 * 60 / 3.6e6
    assert d["operational_kgco2e"] == pytest.approx(energy_kwh * 300.0 / 1000)


def test_partial_series_coverage_is_reported_and_not_time_aligned() -> None:
    dev = fake_device("fake:cpu")
    samples = constant_samples("fake:cpu", 50.0, 10.0)
    series = IntensitySeries.from_pairs([(T0, 100.0)], "XX", last_step_s=5.0)  # first half only
    fp = price_run(
        make_run(10.0), [dev], samples, series=series, average=AVERAGE, pue=PUEChoice(1.0, "t")
    )
    i = fp.to_dict()["intensity"]
    assert i["time_aligned"] is False
    assert i["coverage"] == pytest.approx(0.5)
    assert i["g_per_kwh"] == pytest.approx((100.0 + 400.0) / 2)
    assert any("covered 50.0%" in w for w in fp.warnings)


def test_average_pricing_with_pue_and_embodied() -> None:
    devs = [fake_device("fake:cpu"), fake_device("fake:ram", Component.RAM, Method.MODELED, 0.5)]
    samples = constant_samples("fake:cpu", 40.0, 3600.0, 60.0) + constant_samples(
        "fake:ram", 6.0, 3600.0, 60.0
    )
    emb = EmbodiedItem(
        "gpu",
        total_g=150_000.0,
        g=10.0,
        lifetime_years=5,
        lifetime_use=1.0,
        share=1.0,
        source="test",
        uncertainty_rel=0.3,
    )
    fp = price_run(
        make_run(3600.0), devs, samples, average=AVERAGE, pue=PUEChoice(1.5, "user"), embodied=[emb]
    )
    d = fp.to_dict()
    assert d["energy_kwh"] == pytest.approx(0.046)
    assert d["facility_energy_kwh"] == pytest.approx(0.069)
    assert d["operational_kgco2e"] == pytest.approx(0.069 * 400 / 1000)
    assert d["embodied_kgco2e"] == pytest.approx(0.010)
    assert d["total_kgco2e"] == pytest.approx(0.069 * 0.4 + 0.010)
    assert d["intensity"]["time_aligned"] is False
    low, high = d["uncertainty"]["total_kgco2e"]
    assert low < d["total_kgco2e"] < high
    comps = {c["device"]: c for c in d["components"]}
    assert comps["fake:cpu"]["mean_power_w"] == pytest.approx(40.0)
    assert comps["fake:ram"]["method"] == "modeled"


def test_missing_readings_are_null_not_zero() -> None:
    dev = fake_device("fake:gpu", Component.GPU)
    samples = [Sample("fake:gpu", T0, T0 + 5, None, None)]
    fp = price_run(make_run(5.0), [dev], samples, average=AVERAGE, pue=PUEChoice(1.0, "t"))
    d = fp.to_dict()
    assert d["energy_kwh"] is None
    assert d["total_kgco2e"] is None
    assert d["components"][0]["energy_kwh"] is None
    assert d["components"][0]["method"] == "unavailable"


def test_spans_and_functional_unit() -> None:
    dev = fake_device("fake:cpu")
    samples = constant_samples("fake:cpu", 100.0, 10.0)
    span = SpanRecord("epoch-1", T0, T0 + 4, {"fake:cpu": 400.0}, {"fake:cpu": 400.0})
    fp = price_run(
        make_run(10.0),
        [dev],
        samples,
        [span],
        {"accuracy": 0.9},
        ("request", 1000.0),
        average=AVERAGE,
        pue=PUEChoice(1.0, "t"),
    )
    d = fp.to_dict()
    assert d["spans"][0]["energy_kwh"] == pytest.approx(400.0 / 3.6e6)
    assert d["metrics"] == {"accuracy": 0.9}
    assert d["functional_unit"]["gco2e_per_unit"] == pytest.approx(
        d["total_kgco2e"] * 1000 / 1000.0
    )


@given(
    powers=st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=20),
    values=st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=20),
)
def test_time_aligned_carbon_is_between_min_and_max_intensity(
    powers: list[float], values: list[float]
) -> None:
    dev = fake_device("fake:cpu")
    samples = [Sample("fake:cpu", T0 + i, T0 + i + 1, p, p) for i, p in enumerate(powers)]
    n = len(powers)
    series = IntensitySeries.from_pairs(
        [(T0 + i * n / len(values), v) for i, v in enumerate(values)],
        "XX",
        last_step_s=n / len(values),
    )
    fp = price_run(
        make_run(float(n)), [dev], samples, series=series, average=AVERAGE, pue=PUEChoice(1.0, "t")
    )
    energy_kwh = sum(powers) / 3.6e6
    assert fp.operational_g is not None
    assert min(values) * energy_kwh - 1e-9 <= fp.operational_g <= max(values) * energy_kwh + 1e-9
    assert not math.isnan(fp.operational_g)


def test_a_gap_makes_the_total_a_lower_bound_without_a_symmetric_interval() -> None:
    dev = fake_device("fake:cpu")
    samples = constant_samples("fake:cpu", 100.0, 6.0)
    whole = price_run(make_run(6.0), [dev], samples, average=AVERAGE)
    assert whole.energy_interval_j is not None and whole.total_interval_g is not None
    lost = [*samples[:2], Sample("fake:cpu", T0 + 2, T0 + 6, None, None)]  # zone vanished
    fp = price_run(make_run(6.0), [dev], lost, average=AVERAGE)
    assert fp.energy_j == pytest.approx(200.0)
    assert fp.energy_interval_j is None and fp.total_interval_g is None  # no upper end claimed
    assert any("lower bound" in w for w in fp.warnings)
    d = fp.to_dict()
    assert d["uncertainty"]["energy_kwh"] is None


def _power_only_gpu(counter: bool = False) -> DeviceInfo:
    """As the NVML sensor labels a GPU (details.energy_counter False: power integrated)."""
    return DeviceInfo(
        device_id="nvml:GPU-0000",
        component=Component.GPU,
        name="NVIDIA H100",
        method=Method.MEASURED,
        source="nvml:GPU-0000",
        uncertainty_rel=0.05 if counter else 0.10,
        details={"energy_counter": counter, "mig": False},
    )


@pytest.mark.parametrize("counter", [False, True])
def test_power_integrated_gpu_gets_a_wider_interval_for_a_short_window(counter: bool) -> None:
    dev = _power_only_gpu(counter)
    rels = {}
    for duration in (0.3, 60.0):
        step = 0.1 if duration < 1 else 1.0
        samples = constant_samples(dev.device_id, 300.0, duration, step_s=step)
        fp = price_run(make_run(duration), [dev], samples, average=AVERAGE, pue=PUEChoice(1.0, "t"))
        (component,) = fp.components
        assert fp.energy_j == pytest.approx(300.0 * duration)
        _lo, hi = fp.energy_interval_j or (0.0, 0.0)
        assert hi - fp.energy_j == pytest.approx(component.uncertainty_rel * fp.energy_j)
        rels[duration] = component.uncertainty_rel
    if counter:  # the energy counter is not widened
        assert rels == {0.3: 0.05, 60.0: 0.05}
    else:
        assert rels[0.3] == 1.0
        assert rels[60.0] == pytest.approx(0.10 + 1.1 / 60)
        assert rels[0.3] > rels[60.0] > 0.10


def test_span_of_a_power_integrated_gpu_is_widened_by_its_own_duration() -> None:
    dev = _power_only_gpu()
    samples = constant_samples(dev.device_id, 300.0, 60.0)
    short = SpanRecord("short", T0 + 10.0, T0 + 10.3, {dev.device_id: 90.0})
    long = SpanRecord("long", T0, T0 + 60.0, {dev.device_id: 18_000.0})
    fp = price_run(
        make_run(60.0), [dev], samples, [short, long], average=AVERAGE, pue=PUEChoice(1.0, "t")
    )
    rows = {s.path: s for s in fp.spans}
    assert rows["short"].energy_interval_j == pytest.approx((0.0, 180.0))
    _lo, hi = rows["long"].energy_interval_j or (0.0, 0.0)
    assert hi / 18_000.0 - 1 == pytest.approx(0.10 + 1.1 / 60)
