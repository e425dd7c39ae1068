"""A job footprint never shows a part as the whole: modelled gap energy is split from the
measured, a span with a device of unknown energy has no total, unknown embodied
emissions stay unknown, and rounding-sized gaps raise no note."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from carbonledger.distributed.job import job_footprint
from carbonledger.records import (
    Component,
    DeviceInfo,
    JobInfo,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.base import Ledger

T0 = 1_699_999_200.0
GPU = fake_device("nvml:GPU-aaaa", Component.GPU, uncertainty_rel=0.05)
CPU = fake_device("rapl:package-0", Component.CPU, uncertainty_rel=0.05)


def _run(
    led: Ledger, run_id: str, local: int, start: float, end: float, devices: list[DeviceInfo]
) -> None:
    led.create_run(
        RunRecord(
            run_id=run_id,
            name="train",
            phase="training",
            status=RunStatus.RUNNING,
            started_at=start,
            ended_at=None,
            scope=Scope.MACHINE,
            zone="FR",
            pue=1.0,
            interval_s=1.0,
            host={"hostname": "n1", "machine_id": "m-n1"},
            job=JobInfo("j", "n1", local, local, 0, "explicit"),
        ),
        devices,
    )
    led.finish_run(run_id, RunStatus.COMPLETED, end)


def _samples(
    led: Ledger, run_id: str, a: float, b: float, devices: list[DeviceInfo], watts: float
) -> None:
    rows = [
        Sample(d.device_id, t, t + 1.0, watts, watts)
        for t in (a + k for k in range(int(b - a)))
        for d in devices
    ]
    led.append_samples(run_id, rows, b)


def test_gap_energy_is_split_from_the_measured(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        # the measurer's first reading comes 20 s after the job's start: 20 s modelled
        _run(led, "m", 0, T0, T0 + 100, [GPU])
        _samples(led, "m", T0 + 20, T0 + 100, [GPU], 50.0)
        job = job_footprint(led, "j")
    dev = job.to_dict()["nodes"][0]["devices"][0]
    assert dev["gap_s"] == pytest.approx(20.0)
    assert dev["gap_filled_kwh"] * 3.6e6 == pytest.approx(1000.0)  # 20 s at the mean 50 W
    assert dev["measured_kwh"] * 3.6e6 == pytest.approx(4000.0)
    assert dev["measured_kwh"] + dev["gap_filled_kwh"] == pytest.approx(dev["energy_kwh"])
    assert dev["measured_share"] == pytest.approx(0.8)
    assert any("nobody measured nvml:GPU-aaaa for 20 s" in w for w in job.warnings)


def test_a_gap_of_rounding_size_is_filled_without_a_note(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        _run(led, "m", 0, T0, T0 + 100, [GPU])
        _samples(led, "m", T0 + 0.0004, T0 + 100.0004, [GPU], 50.0)
        job = job_footprint(led, "j")
    assert not any("nobody measured" in w for w in job.warnings), job.warnings


def test_a_span_with_a_device_of_unknown_energy_has_no_total(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        _run(led, "m", 0, T0, T0 + 50, [GPU, CPU])
        _samples(led, "m", T0, T0 + 50, [GPU, CPU], 10.0)
        led.add_span(
            "m",
            SpanRecord(
                "step",
                T0 + 5,
                None,  # still open: its energy per device was not closed
                {GPU.device_id: 30.0, CPU.device_id: None},
                {GPU.device_id: 30.0, CPU.device_id: None},
            ),
        )
        job = job_footprint(led, "j")
    span = job.to_dict()["ranks"][0]["spans"][0]
    assert span["energy_kwh"] is None
    assert span["known_energy_kwh"] * 3.6e6 == pytest.approx(30.0)
    assert span["unknown_devices"] == [CPU.device_id]


def test_embodied_is_unknown_when_no_node_counted_any(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        _run(led, "m", 0, T0, T0 + 50, [])  # a process with no device of its own
        job = job_footprint(led, "j")
    d = job.to_dict()
    assert job.nodes[0].footprint.embodied_g is None
    assert job.embodied_g is None and d["embodied_kgco2e"] is None  # not 0.0


def test_operational_plus_embodied_is_the_total(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        _run(led, "m", 0, T0, T0 + 50, [GPU, CPU])
        _samples(led, "m", T0, T0 + 50, [GPU, CPU], 10.0)
        job = job_footprint(led, "j")
    assert job.embodied_g is not None and job.embodied_g > 0
    assert job.operational_g is not None and job.total_g is not None
    assert job.operational_g + job.embodied_g == pytest.approx(job.total_g)


def test_a_standby_rank_carries_no_embodied_of_the_devices_its_measurer_carries(
    tmp_path: Path,
) -> None:
    """Four ranks on one node hold the same devices; one measures. Their own footprints
    add up to the node's embodied emissions once, not four times."""
    from carbonledger.lifecycle.pricing import footprint_for_run

    with open_ledger(tmp_path / "l.sqlite") as led:
        for local in range(4):
            run_id = f"r{local}"
            _run(led, run_id, local, T0, T0 + 600, [GPU, CPU])
            since = T0 if local == 0 else None
            led.put_attachment(  # type: ignore[attr-defined]
                run_id,
                "job",
                {"key": "j", "measured_since": {GPU.device_id: since, CPU.device_id: since}},
            )
        _samples(led, "r0", T0, T0 + 600, [GPU, CPU], 10.0)
        fps = [footprint_for_run(led, f"r{i}") for i in range(4)]
        job = job_footprint(led, "j")
    assert fps[0].embodied_g is not None and fps[0].embodied_g > 0
    for fp in fps[1:]:
        assert fp.embodied_g is None and fp.energy_j is None
        assert any("carried by the process of the job that measured them" in w for w in fp.warnings)
    assert job.embodied_g == pytest.approx(fps[0].embodied_g)
    ranks_embodied = math.fsum(fp.embodied_g or 0.0 for fp in fps)
    assert ranks_embodied == pytest.approx(job.embodied_g)  # once, not 4 times
