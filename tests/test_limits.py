"""Every numeric input has a documented limit (issue 9, defect 7)."""

from __future__ import annotations

import math

import pytest

from carbonledger.errors import ConfigError
from carbonledger.limits import (
    MAX_INTENSITY_G_PER_KWH,
    MAX_RESAMPLES,
    check_cli_numbers,
    check_number,
)


def test_intensity_limit_is_above_the_dirtiest_grids() -> None:
    assert 1_500 < MAX_INTENSITY_G_PER_KWH <= 10_000


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 1e308, -1.0, 10**400])
def test_check_number_refuses_with_one_line(bad: float) -> None:
    with pytest.raises(ConfigError) as info:
        check_number(bad, "--x", high=100.0)
    assert "\n" not in str(info.value) and "--x" in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"intensity": 1e308},
        {"intensity": 5001.0},
        {"pue": 0.5},
        {"resamples": MAX_RESAMPLES + 1},
        {"a_power_w": math.inf},
        {"embodied_new_kg": math.nan},
        {"service_life_years": 1e6},
        {"count": 10**30},
        {"utilization": 1.5},
    ],
)
def test_cli_numbers_beyond_limits_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        check_cli_numbers(options)


def test_cli_numbers_within_limits_pass() -> None:
    check_cli_numbers(
        {"intensity": 1200.0, "pue": 1.2, "resamples": 10_000, "hours": 24.0, "json": True,
         "name": "x", "count": 8, "seed": -3}
    )  # fmt: skip
