"""The live totals behind the exporters: per-run sums, host energy counted once, the cap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.exporters.events import CPU, GPU, started

from carbonledger.events import RunEnded
from carbonledger.exporters._live import LiveTotals
from carbonledger.lifecycle.plan import plan_for
from carbonledger.records import RunStatus, Sample


def test_attributed_energy_and_emissions_sum_the_run_samples() -> None:
    totals = LiveTotals()
    totals.on_start(started("a"))
    samples = [
        Sample(CPU.device_id, 1000.0, 1001.0, 50.0, 20.0),
        Sample(GPU.device_id, 1000.0, 1001.0, 300.0, 300.0),
        Sample(CPU.device_id, 1001.0, 1002.0, 50.0, None),  # unknown: not counted as 0
    ]
    totals.on_samples("a", samples)
    (run,) = totals.snapshot().runs
    assert run.energy_j == {CPU.device_id: 20.0, GPU.device_id: 300.0}
    plan = plan_for("FR", None)
    expected = sum(c.g for s in samples if (c := plan.grams(s)) is not None)
    assert run.operational_g == pytest.approx(expected)
    assert run.embodied_g is not None and run.embodied_g > 0
    assert run.status == "running" and run.footprint is None


def test_host_energy_is_counted_once_when_runs_overlap() -> None:
    totals = LiveTotals()
    totals.on_start(started("a"))
    totals.on_start(started("b", at=1000.5))
    totals.on_samples("a", [Sample(CPU.device_id, 1000.0, 1002.0, 100.0, 50.0)])
    # run b's sampler saw the same device over [1000.5, 1002.5]: only 1002..1002.5 is new
    totals.on_samples("b", [Sample(CPU.device_id, 1000.5, 1002.5, 100.0, 50.0)])
    snap = totals.snapshot()
    (cpu,) = [d for d in snap.devices if d.device_id == CPU.device_id]
    assert cpu.host_energy_j == pytest.approx(100.0 + 100.0 * 0.5 / 2.0)
    (gpu,) = [d for d in snap.devices if d.device_id == GPU.device_id]
    assert gpu.host_energy_j is None  # never read: unknown, not 0
    assert snap.host_energy_j == pytest.approx(125.0)
    assert snap.host_id == "abc123"
    assert sum(r.energy_j[CPU.device_id] for r in snap.runs) == 100.0


@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0.01, 10), st.floats(0, 1e4)),
        min_size=1,
        max_size=30,
    )
)
def test_host_energy_never_exceeds_what_samples_report(
    spans: list[tuple[float, float, float]],
) -> None:
    totals = LiveTotals()
    totals.on_start(started("a", at=0.0))
    for start, length, joules in spans:
        totals.on_samples("a", [Sample(CPU.device_id, start, start + length, joules, joules)])
    (cpu,) = [d for d in totals.snapshot().devices if d.device_id == CPU.device_id]
    assert cpu.host_energy_j is not None
    assert 0 <= cpu.host_energy_j <= sum(j for _, _, j in spans) + 1e-6


def test_at_most_max_runs_are_kept_and_ended_runs_go_first() -> None:
    totals = LiveTotals(max_runs=2)
    totals.on_start(started("a"))
    totals.on_start(started("b"))
    event = started("b")
    totals.on_end(RunEnded(event.record, RunStatus.COMPLETED, 1010.0, 0, None))
    totals.on_start(started("c"))
    assert [r.run_id for r in totals.snapshot().runs] == ["a", "c"]
    totals.on_start(started("d"))  # none ended: the oldest goes
    assert [r.run_id for r in totals.snapshot().runs] == ["c", "d"]
    with pytest.raises(ValueError):
        LiveTotals(max_runs=0)


def test_a_zone_no_bundled_table_knows_is_priced_like_a_run_without_a_zone() -> None:
    """Only a provider object's run can carry such a zone (preflight refuses it otherwise);
    live, it is priced at the labelled world default, as a run with no zone is."""
    totals = LiveTotals()
    totals.on_start(started("a", zone="NOWHERE-LAND"))
    totals.on_start(started("b", zone=None))
    for run_id in ("a", "b"):
        totals.on_samples(run_id, [Sample(CPU.device_id, 1000.0, 1001.0, 5.0, 5.0)])
    a, b = sorted(totals.snapshot().runs, key=lambda r: r.run_id)
    assert a.energy_j == {CPU.device_id: 5.0}
    assert a.operational_g is not None and a.operational_g > 0
    assert a.operational_g == b.operational_g
