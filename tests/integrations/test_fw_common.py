"""The core shared by the framework callbacks: log keys, carried segments, ranks, and
a callback that never raises into the training loop. No framework needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class _HeldStart:
    """A sink whose ``on_start`` waits: the start's second half (ledger, consumers) is
    held on its own thread while the "training" goes on."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def on_start(self, event: object) -> None:
        self.release.wait(10)


def _duration_s(span: Any) -> float:
    from datetime import datetime

    return (
        datetime.fromisoformat(span.ended_at) - datetime.fromisoformat(span.started_at)
    ).total_seconds()


def test_a_start_without_waiting_loses_no_span_and_no_energy() -> None:
    import time

    held = _HeldStart()
    job = JobTracking(
        name="bg", framework="test", track_options={**fwkit.track_options(), "sinks": [held]}
    )
    assert job.start(wait=False) is None  # returns while the ledger is still opening
    assert job.started and job.run is None
    job.begin("fit")
    job.begin("epoch", "epoch-0")
    time.sleep(0.05)
    assert job.end("epoch") == "fit/epoch-0"  # a span that ended before the run existed
    job.begin("epoch", "epoch-1")  # and one that is still open when it does
    assert job.is_open("epoch") and not job.should_stop()
    held.release.set()
    time.sleep(0.05)
    values = job.values(("epoch", "epoch"))  # waits for the start
    assert job.run is not None and "carbonledger/epoch_energy_kwh" in values
    job.end("epoch")
    job.end("fit")
    final = job.stop()
    assert final is not None and final.energy_j is not None
    spans = {s.path: s for s in final.spans}
    assert set(spans) == {"fit", "fit/epoch-0", "fit/epoch-1"}
    for span in spans.values():  # the fake CPU draws 50 W: energy = 50 W x duration
        assert span.energy_j == pytest.approx(fwkit.POWER_W * _duration_s(span), rel=0.05)
    # every read taken while starting reached the ledger: the run's energy covers it all
    # (the last read comes a moment after the run's end instant: a little more, not less)
    assert final.duration_s is not None
    assert final.energy_j >= 0.98 * fwkit.POWER_W * final.duration_s
    assert final.energy_j >= sum(s.energy_j or 0.0 for s in spans.values() if "/" in s.path)
    assert set(job.start_timing) == {"baseline_s", "finish_wall_s", "finish_cpu_s"}


def test_stop_waits_for_a_start_in_progress() -> None:
    import threading

    held = _HeldStart()
    job = JobTracking(
        name="bg", framework="test", track_options={**fwkit.track_options(), "sinks": [held]}
    )
    job.start(wait=False)
    job.begin("fit")
    threading.Timer(0.1, held.release.set).start()
    final = job.stop()
    assert final is not None and [s.path for s in final.spans] == ["fit"]
    assert job.run is None and not job.started


def test_a_start_without_waiting_that_fails_stays_out_of_the_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = JobTracking(framework="test", track_options={"zone": "NOT-A-ZONE"})
    assert job.start(wait=False) is None and not job.started
    job.begin("x")
    assert job.values() == {} and job.end("x") is None and not job.should_stop()
    assert job.stop() is None
    assert "start failed" in caplog.text


def test_a_callback_can_be_pickled_before_and_after_a_fit() -> None:
    import pickle

    job = JobTracking(name="p", framework="test", track_options={"zone": "FR"})
    clone = pickle.loads(pickle.dumps(job))
    assert clone.name == "p" and not clone.started
