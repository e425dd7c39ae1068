"""The core shared by the framework callbacks: log keys, carried segments, ranks, and
a callback that never raises into the training loop. No framework needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.integrations import fwkit

from carbonledger.integrations._common import (
    Carried,
    JobTracking,
    local_rank,
    measures_here,
    values_from,
)

finite = st.floats(min_value=0, max_value=1e12, allow_nan=False)


def test_values_leave_unknown_out() -> None:
    assert values_from(None, None, None, None) == {}
    out = values_from(3.6e6, 1000.0, (3.0e6, 4.0e6), (800.0, 1200.0), label="epoch")
    assert out == {
        "carbonledger/epoch_energy_kwh": 1.0,
        "carbonledger/epoch_energy_kwh_low": 3.0e6 / 3.6e6,
        "carbonledger/epoch_energy_kwh_high": 4.0e6 / 3.6e6,
        "carbonledger/epoch_emissions_kg": 1.0,
        "carbonledger/epoch_emissions_kg_low": 0.8,
        "carbonledger/epoch_emissions_kg_high": 1.2,
    }


@given(finite, finite, st.integers(0, 50))
def test_carried_round_trips(energy: float, grams: float, segments: int) -> None:
    c = Carried(energy, grams, (energy * 0.9, energy * 1.1), None, segments)
    assert Carried.from_dict(c.to_dict()) == c


def test_ranks_from_the_environment() -> None:
    assert local_rank({}) == 0 and measures_here({})
    assert local_rank({"LOCAL_RANK": "2"}) == 2 and not measures_here({"LOCAL_RANK": "2"})
    assert measures_here({"LOCAL_RANK": "bogus"})


def test_resumed_job_carries_energy(tmp_path: Path) -> None:
    first = JobTracking(name="job", framework="test", track_options=fwkit.track_options())
    first.start()
    first.begin("a")
    first.end("a")
    state = first.state_dict()
    first.stop()
    second = JobTracking(framework="test", track_options=fwkit.track_options())
    second.load_state_dict(state)
    second.start()
    second.begin("b")
    second.end("b")
    values = second.values()
    second.stop()
    assert second.name == "job" and second.job_key == first.job_key
    assert values["carbonledger/energy_kwh"] * 3.6e6 >= state["carried"]["energy_j"] > 0


def test_a_tracker_that_cannot_start_stays_out_of_the_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = JobTracking(framework="test", track_options={"zone": "NOT-A-ZONE"})
    assert job.start() is None
    job.begin("x")
    assert job.values() == {} and job.end("x") is None and not job.should_stop()
    assert job.stop() is None
    assert "start failed" in caplog.text
