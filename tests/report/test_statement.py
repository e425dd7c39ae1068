"""The compute statement: honest wording for each method, the interval, the sources."""

from __future__ import annotations

from dataclasses import replace

from factories import footprint, report_input

from carbonledger.lifecycle.footprint import ComponentEnergy
from carbonledger.report import statement
from carbonledger.report.base import ReportInput, render


def test_statement_names_hardware_hours_energy_pue_intensity_interval() -> None:
    text = render("statement", report_input())
    assert "2 x NVIDIA A100-SXM4-80GB" in text and "2 GPU-hours" in text
    assert "kWh of IT energy" in text and "PUE" in text and "1.2" in text
    assert "46.5 gCO2e/kWh" in text and "annual" in text and "zone FR" in text
    assert "uncertainty interval" in text
    assert "measured with RAPL" in text and "measured with NVML" in text
    assert "estimated from installed memory" in text
    assert "embodied" in text.lower()


def test_modelled_cpu_is_never_called_measured() -> None:
    cpu = ComponentEnergy(
        "cpu",
        "model:cpu",
        1e6,
        1e6,
        100.0,
        "modeled",
        "tdp-table:cpu_power.csv",
        0.4,
        name="AMD EPYC 7763",
    )
    fp = replace(footprint(), components=(cpu,))
    text = statement.statement(fp)
    assert "estimated from TDP" in text and "measured" not in text


def test_missing_values_are_said_not_zeroed() -> None:
    fp = footprint(energy_j=None, operational_g=None, embodied_g=None)
    text = statement.statement(fp)
    assert "could not be determined" in text and "could not be computed" in text
    assert " 0 kWh" not in text


def test_default_intensity_is_called_a_default() -> None:
    fp = footprint(zone=None, intensity_method="default")
    text = statement.statement(fp)
    assert "world-average default" in text and "unrecorded location" in text


def test_time_aligned_intensity_wording() -> None:
    fp = footprint()
    fp = replace(
        fp, intensity=replace(fp.intensity, time_aligned=True, method="measured", coverage=1.0)
    )
    assert "time-aligned" in statement.intensity_phrase(fp.intensity)


def test_several_runs_get_a_total() -> None:
    text = statement.render(ReportInput(footprints=[footprint(run_id="a"), footprint(run_id="b")]))
    assert text.count("\n\n") == 2 and "Across the 2 runs" in text


def test_method_phrases_and_numbers() -> None:
    assert statement.method_phrase("measured", "rapl:package-0") == "measured with RAPL"
    assert statement.method_phrase("measured", "nvml:GPU-1") == "measured with NVML"
    assert statement.method_phrase("measured", "acme:x") == "measured (acme:x)"
    assert statement.method_phrase("modeled", "tdp-table:cpu").startswith("estimated from TDP")
    assert statement.method_phrase("default", "x").startswith("assumed")
    assert statement.method_phrase("unavailable", "x") == "not available"
    assert statement.fmt_number(None) == "n/a"
    assert statement.fmt_number(0.000123456) == "0.000123"
    assert statement.fmt_number(1234567.0) == "1,234,567"
    assert statement.fmt_number(1.0) == "1"
    assert statement.fmt_number(2.5e-9) == "2.50e-09"


def test_the_statement_lists_the_caveats() -> None:
    from dataclasses import replace as _replace

    from factories import footprint as _footprint

    from carbonledger.report.statement import statement as _statement

    fp = _replace(_footprint(), warnings=("CPU modelled as a VM share",))
    assert "Caveats that changed these figures: CPU modelled as a VM share." in _statement(fp)
