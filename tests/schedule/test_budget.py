import threading
import time

import pytest

from carbonledger.errors import BudgetExceeded, ConfigError
from carbonledger.schedule.budget import Budget


def test_warn_budget_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    b = Budget(kwh=1.0)
    b.update(spent_kwh=0.5, spent_kgco2e=None)
    assert not b.exceeded
    b.update(spent_kwh=1.5, spent_kgco2e=None)
    b.update(spent_kwh=2.5, spent_kgco2e=None)
    assert b.exceeded
    assert sum("budget exceeded" in r.message for r in caplog.records) == 1
    b.check()  # warn budgets never raise


def test_stop_budget_is_cooperative() -> None:
    b = Budget(kgco2e=0.001, on_exceed="stop")
    b.bind(threading.get_ident())
    b.update(spent_kwh=1.0, spent_kgco2e=0.002)  # raises nothing by itself
    assert b.should_stop
    with pytest.raises(BudgetExceeded) as info:
        b.check()
    assert info.value.spent == pytest.approx(0.002)
    b.check()  # raised once only
    assert b.should_stop  # still says so


def test_interrupt_budget_raises_on_update_in_owner_thread() -> None:
    b = Budget(kgco2e=0.001, on_exceed="interrupt")
    b.bind(threading.get_ident())
    with pytest.raises(BudgetExceeded) as info:
        b.update(spent_kwh=1.0, spent_kgco2e=0.002)
    assert info.value.unit == "kgCO2e"
    assert info.value.spent == pytest.approx(0.002)
    b.check()  # raised once only


def test_stop_budget_never_raises_from_the_sampler_thread() -> None:
    b = Budget(kwh=1.0, on_exceed="stop")
    b.bind(threading.get_ident())
    timer = threading.Thread(target=lambda: b.update(spent_kwh=2.0, spent_kgco2e=None))
    timer.start()
    timer.join()
    deadline = time.time() + 0.2
    while time.time() < deadline:  # no asynchronous raise arrives
        sum(range(1000))
    assert b.should_stop


def test_interrupt_budget_interrupts_owner_thread_from_sampler_thread() -> None:
    b = Budget(kwh=1.0, on_exceed="interrupt")
    b.bind(threading.get_ident())
    timer = threading.Timer(0.05, lambda: b.update(spent_kwh=2.0, spent_kgco2e=None))
    timer.start()
    with pytest.raises(BudgetExceeded) as info:
        deadline = time.time() + 5
        while time.time() < deadline:
            sum(range(1000))
    timer.join()
    assert "kWh budget exceeded" in str(info.value)
    assert info.value.limit == 1.0


def test_forecast_budget_acts_early() -> None:
    b = Budget(kwh=10.0, use_forecast=True)
    b.update_forecast(energy_kwh=12.0, kgco2e=None)
    assert b.exceeded and b.spent == 0.0


@pytest.mark.parametrize(
    "kw", [{}, {"kwh": 1, "kgco2e": 1}, {"kwh": -1}, {"kwh": 1, "on_exceed": "explode"}]
)
def test_bad_budgets(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Budget(**kw)  # type: ignore[arg-type]
