"""Charts: the power maths is exact; SVG output is clean, escaped, well-formed XML and
self-contained, with gaps (never zeros) where values are missing."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from factories import HOSTILE, T0, devices, footprint, samples, series, spans
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.records import Component, Sample
from carbonledger.report import charts

SVG = "{http://www.w3.org/2000/svg}"


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


def _check_svg(svg: str | None) -> str:
    assert svg is not None
    assert svg.lstrip().startswith("<svg ")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert not re.search(r"(?:href|src)\s*=\s*[\"']https?:", svg)
    root = ET.fromstring(svg)  # well-formed XML
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.get("role") == "img" and root.get("aria-label")
    for element in root.iter():
        assert element.tag != f"{SVG}script"
        for name, value in element.attrib.items():
            assert not name.startswith("on"), name
            assert not re.search(r"\b(?:nan|inf)", value, re.I), (name, value)
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


def test_unknown_uncertainty_draws_no_error_bar() -> None:
    import dataclasses

    fp = footprint(gpus=2)
    gpu_parts = [c for c in fp.components if c.component == "gpu"]
    assert gpu_parts and any(c.component != "gpu" for c in fp.components)
    unknown_one = gpu_parts[0]
    components = tuple(
        dataclasses.replace(c, uncertainty_rel=None) if c is unknown_one else c
        for c in fp.components
    )
    svg = _check_svg(
        charts.energy_by_component_chart(dataclasses.replace(fp, components=components))
    )
    names = {c.component for c in fp.components}
    # one error bar per component but the GPU's (one part unknown: its spread is unknown)
    assert svg.count('class="errorbar"') == len(names) - 1
    assert svg.count("uncertainty unknown") == 2  # the bar's label and the description
    full = _check_svg(charts.energy_by_component_chart(fp))
    assert full.count('class="errorbar"') == len(names)
    assert "uncertainty unknown" not in full


def test_modelled_bars_are_hatched_and_measured_ones_are_not() -> None:
    svg = _check_svg(charts.energy_by_component_chart(footprint()))
    root = ET.fromstring(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    hatched = [b for b in bars if (b.get("fill") or "").startswith("url(#")]
    assert len(bars) == 3 and len(hatched) == 1  # RAM is modelled
    pattern_ids = {p.get("id") for p in root.iter(f"{SVG}pattern")}
    assert {h.get("fill")[5:-1] for h in hatched} <= pattern_ids  # type: ignore[index]


def test_failed_reads_are_gaps_not_zeros() -> None:
    devs = devices(1)
    data = samples(devs, duration_s=100, step_s=10, none_at=(3, 4))
    svg = _check_svg(charts.power_chart(footprint(gpus=1), data, devs))
    root = ET.fromstring(svg)
    gpu = next(
        p for p in root.iter(f"{SVG}path") if p.get("stroke") == charts.COMPONENT_COLORS["gpu"]
    )
    d = gpu.get("d") or ""
    assert d.count("M") == 2  # the line stops at the failed reads and starts again
    assert "no reading" not in svg and "2 of 10 intervals without a reading" in svg


def test_unknown_emissions_part_gets_no_bar() -> None:
    svg = _check_svg(charts.carbon_split_chart(footprint(embodied_g=None)))
    assert 'class="bar operational"' in svg and 'class="bar embodied"' not in svg
    assert "embodied: unknown" in svg


def test_pareto_front_ignores_non_numbers() -> None:
    rows = [
        {"run_id": "a", "name": "a", "objectives": {"x": 1.0, "y": 2.0}, "pareto": True},
        {"run_id": "b", "name": "b", "objectives": {"x": math.nan, "y": 3.0}, "pareto": False},
        {"run_id": "c", "name": "c", "objectives": {"x": True, "y": 3.0}, "pareto": False},
        {"run_id": "d", "name": "d", "objectives": {"x": 2.0, "y": 1.0}, "pareto": True},
    ]
    svg = _check_svg(charts.pareto_chart(rows, [("x", "max"), ("y", "max")]))
    assert svg.count('class="point front"') == 2 and 'class="point dominated"' not in svg
