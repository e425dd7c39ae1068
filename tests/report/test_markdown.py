"""The model-card block parses as YAML and carries the Hub's co2_eq_emissions fields."""

from __future__ import annotations

from dataclasses import replace

import pytest
from factories import HOSTILE, footprint, hostile_input, report_input
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.report import markdown
from carbonledger.report.base import ReportInput, render

yaml = pytest.importorskip("yaml")


def front_matter(text: str) -> dict[str, object]:
    assert text.startswith("---\n")
    block = text.split("---\n")[1]
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    return data


def test_block_has_the_hub_fields() -> None:
    text = render("markdown", report_input())
    co2 = front_matter(text)["co2_eq_emissions"]
    fp = footprint()
    assert isinstance(co2, dict)
    # operational grams, comparable with other cards; embodied and total beside it
    assert co2["emissions"] == pytest.approx(fp.operational_g, rel=1e-5)
    assert co2["total_emissions"] == pytest.approx(fp.total_g, rel=1e-5)
    assert isinstance(co2["emissions"], float)
    assert co2["source"] == "carbonledger"
    assert "training_type" not in co2  # untagged: the Hub documents pre-training/fine-tuning
    assert co2["geographical_location"] == "FR"
    assert co2["hardware_used"] == "2 x NVIDIA A100-SXM4-80GB, 1 x Intel(R) Xeon(R) Platinum 8380"
    assert "## Environmental impact" in text and "kWh" in text and "gCO2e" in text


def test_default_zone_is_unknown_and_tag_sets_training_type() -> None:
    fp = footprint(zone=None, intensity_method="default", tags={"training_type": "fine-tuning"})
    co2 = front_matter(markdown.render(ReportInput(footprints=[fp])))["co2_eq_emissions"]
    assert isinstance(co2, dict)
    assert co2["geographical_location"] == "unknown"
    assert co2["training_type"] == "fine-tuning"
    fp = footprint(zone="DE", intensity_method="default")
    co2 = front_matter(markdown.render(ReportInput(footprints=[fp])))["co2_eq_emissions"]
    assert co2["geographical_location"] == "unknown"  # type: ignore[index]


def test_phase_mapping() -> None:
    for phase, expected in markdown.PHASE_TRAINING_TYPE.items():
        assert markdown.training_type(footprint(phase=phase, tags={})) == expected


def test_unknown_emissions_are_left_out_not_zero() -> None:
    fp = footprint(operational_g=None, embodied_g=None)
    text = markdown.render(ReportInput(footprints=[fp]))
    co2 = front_matter(text)["co2_eq_emissions"]
    assert isinstance(co2, dict) and "emissions" not in co2
    assert "# emissions: unknown" in text


def test_several_runs_are_summed() -> None:
    a, b = footprint(run_id="a"), footprint(run_id="b", gpus=4)
    co2 = front_matter(markdown.render(ReportInput(footprints=[a, b])))["co2_eq_emissions"]
    assert isinstance(co2, dict)
    ops = (a.operational_g or 0) + (b.operational_g or 0)
    assert co2["emissions"] == pytest.approx(ops, rel=1e-5)
    assert co2["total_emissions"] == pytest.approx((a.total_g or 0) + (b.total_g or 0), rel=1e-5)
    assert "4 x NVIDIA A100-SXM4-80GB" in str(co2["hardware_used"])


def test_hostile_strings_stay_strings_and_markup_is_escaped() -> None:
    data = hostile_input()
    fp = replace(data.footprints[0], tags={"training_type": f'x"\n: {HOSTILE}\\'})
    text = markdown.render(replace(data, footprints=[fp]))
    co2 = front_matter(text)["co2_eq_emissions"]
    assert co2["training_type"] == f'x"\n: {HOSTILE}\\'  # type: ignore[index]
    body = text.split("---\n", 2)[2]
    assert "<script" not in body


@given(st.text(max_size=40))
def test_yaml_quote_round_trips(text: str) -> None:
    assert yaml.safe_load(f"k: {markdown.yaml_quote(text)}") == {"k": text}


@given(st.floats(min_value=1e-9, max_value=1e12, allow_nan=False))
def test_yaml_number_reads_back_as_a_float(value: float) -> None:
    parsed = yaml.safe_load(f"k: {markdown.yaml_number(value)}")["k"]
    assert isinstance(parsed, float)
    assert parsed == pytest.approx(value, rel=1e-5)


def test_the_paragraph_lists_the_caveats() -> None:
    fp = replace(footprint(), warnings=("VM share of the host assumed",))
    text = markdown.render(ReportInput(footprints=[fp]))
    assert "Caveats that changed these numbers: VM share of the host assumed" in text
