"""Charts: the power maths is exact; SVG output is clean, escaped and self-contained."""

from __future__ import annotations

import math
import re

import pytest
from factories import HOSTILE, T0, devices, footprint, samples, series, spans
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.records import Component, Sample
from carbonledger.report import charts

mpl = pytest.importorskip("matplotlib")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.1, 20), st.floats(0, 500)), min_size=1, max_size=30),
    st.integers(1, 50),
)
def test_binned_power_conserves_energy(steps: list[tuple[float, float]], bins: int) -> None:
    out, t = [], T0
    for duration, power in steps:
        out.append(Sample("d", t, t + duration, power * duration, power * duration))
        t += duration
    powers = charts.binned_power(out, T0, t, bins)
    width = (t - T0) / bins
    assert all(p is not None for p in powers)
    total = math.fsum((p or 0.0) * width for p in powers)
    assert total == pytest.approx(math.fsum(s.energy_j or 0.0 for s in out), rel=1e-9, abs=1e-6)


def test_binned_power_marks_gaps_and_failed_reads() -> None:
    out = [
        Sample("d", T0, T0 + 10, 1000.0, 1000.0),
        Sample("d", T0 + 10, T0 + 20, None, None),
        # T0+20 .. T0+30: no sample at all
        Sample("d", T0 + 30, T0 + 40, 500.0, 500.0),
    ]
    assert charts.binned_power(out, T0, T0 + 40, 4) == [100.0, None, None, 50.0]
    with pytest.raises(ValueError):
        charts.binned_power(out, T0, T0, 4)


def test_component_power_sums_devices_and_none_wins() -> None:
    devs = devices(2)
    data = samples(devs, duration_s=100, step_s=10, none_at=(3,))
    power = charts.component_power(data, devs, T0, T0 + 100, 10)
    assert set(power) == {"cpu", "gpu", "ram"}
    assert power["gpu"][3] is None and power["gpu"][0] == pytest.approx(2 * 250.0)
    assert power["ram"][0] == pytest.approx(96.0)


def test_mpl_text_disarms_mathtext_and_hidden_labels() -> None:
    assert charts.mpl_text("$a$ and $b$") == r"\$a\$ and \$b\$"
    assert charts.mpl_text("_hidden").startswith(" _")
    assert len(charts.mpl_text("x" * 100, 10)) == 10


def _check_svg(svg: str | None) -> str:
    assert svg is not None
    assert svg.lstrip().startswith("<svg ")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert not re.search(r"(?:href|src)\s*=\s*[\"']https?:", svg)
    return svg


def test_charts_render_and_escape_user_text() -> None:
    devs = devices(2)
    fp = footprint()
    data = samples(devs)
    # top-level span names have no "/" (it nests them), so no closing tag here
    hostile_spans = spans(devs, ("a<script>x<b>$y$", "b"))
    svg = _check_svg(charts.power_chart(fp, data, devs, hostile_spans))
    assert "<script" not in svg and "a&lt;script&gt;x&lt;b&gt;" in svg
    _check_svg(charts.energy_by_component_chart(fp))
    _check_svg(charts.carbon_split_chart(fp))
    _check_svg(charts.intensity_chart(series(), fp, data))
    rows = [
        {"run_id": "a", "name": HOSTILE, "objectives": {"x": 1.0, "y": 2.0}, "pareto": True},
        {"run_id": "b", "name": "b", "objectives": {"x": 0.5, "y": 3.0}, "pareto": False},
        {"run_id": "c", "name": "c", "objectives": {"x": None, "y": 3.0}, "pareto": None},
    ]
    svg = _check_svg(charts.pareto_chart(rows, [("x", "max"), ("y", "min")]))
    assert "<script" not in svg


def test_charts_return_none_when_there_is_nothing_to_draw() -> None:
    fp = footprint(energy_j=None, operational_g=None, embodied_g=None)
    assert charts.power_chart(fp, [], devices(1)) is None
    assert charts.energy_by_component_chart(fp) is None
    assert charts.carbon_split_chart(fp) is None
    far = footprint(started_at=T0 + 400 * 86400)
    assert charts.intensity_chart(series(), far) is None
    assert charts.pareto_chart([], [("x", "max")]) is None


def test_unknown_device_goes_to_other() -> None:
    data = [Sample("mystery", T0, T0 + 10, 10.0, 10.0)]
    assert set(charts.component_power(data, [], T0, T0 + 10, 1)) == {"other"}
    assert Component.OTHER.value == "other"


def test_unknown_uncertainty_draws_no_error_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from matplotlib.axes import Axes

    fp = footprint(gpus=2)
    gpu_parts = [c for c in fp.components if c.component == "gpu"]
    assert gpu_parts and any(c.component != "gpu" for c in fp.components)
    unknown_one = gpu_parts[0]
    components = tuple(
        dataclasses.replace(c, uncertainty_rel=None) if c is unknown_one else c
        for c in fp.components
    )
    fp = dataclasses.replace(fp, components=components)
    xerrs: list[object] = []
    real_barh = Axes.barh

    def barh(self: Axes, *args: object, **kwargs: object) -> object:
        xerrs.append(kwargs.get("xerr"))
        return real_barh(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Axes, "barh", barh)
    svg = _check_svg(charts.energy_by_component_chart(fp))
    names = sorted({c.component for c in fp.components}, key=charts._component_rank)
    by_name = dict(zip(names, xerrs, strict=True))
    assert by_name["gpu"] is None  # one part unknown: the whole component's spread is unknown
    assert all(isinstance(v, float) and v > 0 for k, v in by_name.items() if k != "gpu"), by_name
    assert svg.count("uncertainty unknown") == 1
