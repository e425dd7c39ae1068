import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.schedule.forecast import forecast_total


def test_linear_extrapolation_and_carbon() -> None:
    f = forecast_total(
        done=2, total=10, energy_so_far_j=7.2e6, energy_rel=0.0, g_per_j=400 / 3.6e6, carbon_rel=0.0
    )
    assert f.energy_j == pytest.approx(3.6e7)
    assert f.carbon_g == pytest.approx(10 * 400)
    assert f.energy_interval_j == pytest.approx((3.6e7, 3.6e7))


def test_spread_of_epochs_widens_the_interval() -> None:
    steady = forecast_total(
        done=3,
        total=10,
        energy_so_far_j=300.0,
        energy_rel=0.05,
        g_per_j=None,
        carbon_rel=None,
        unit_energies_j=[100, 100, 100],
    )
    noisy = forecast_total(
        done=3,
        total=10,
        energy_so_far_j=300.0,
        energy_rel=0.05,
        g_per_j=None,
        carbon_rel=None,
        unit_energies_j=[50, 100, 150],
    )
    assert steady.energy_j == noisy.energy_j == pytest.approx(1000.0)
    w = lambda f: f.energy_interval_j[1] - f.energy_interval_j[0]  # noqa: E731
    assert w(noisy) > w(steady)
    assert steady.carbon_g is None


@given(
    done=st.floats(min_value=0.1, max_value=100),
    extra=st.floats(min_value=0, max_value=100),
    energy=st.floats(min_value=0, max_value=1e9),
    rel=st.floats(min_value=0, max_value=1),
)
def test_interval_contains_forecast_and_never_below_spent(
    done: float, extra: float, energy: float, rel: float
) -> None:
    f = forecast_total(
        done=done,
        total=done + extra,
        energy_so_far_j=energy,
        energy_rel=rel,
        g_per_j=1e-4,
        carbon_rel=0.1,
    )
    low, high = f.energy_interval_j
    assert low <= f.energy_j * (1 + 1e-12) + 1e-9
    assert f.energy_j <= high * (1 + 1e-12) + 1e-9
    assert low >= energy * (1 - 1e-12) - 1e-9


@pytest.mark.parametrize("done,total", [(0, 10), (5, 4), (-1, 3)])
def test_bad_progress_is_a_config_error(done: float, total: float) -> None:
    with pytest.raises(ConfigError):
        forecast_total(
            done=done,
            total=total,
            energy_so_far_j=1.0,
            energy_rel=None,
            g_per_j=None,
            carbon_rel=None,
        )
