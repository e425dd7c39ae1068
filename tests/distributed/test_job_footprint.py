"""Ranks of one job on one node: one measurer, the node's energy counted once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.distributed.job import job_footprint
from carbonledger.records import Component
from carbonledger.sensors.fake import FakeSensor, fake_device
from carbonledger.store import open_ledger

CPU = fake_device("fake:cpu-0", Component.CPU, uncertainty_rel=0.05)
GPU = fake_device("fake:gpu-0", Component.GPU, uncertainty_rel=0.05)


@pytest.fixture(autouse=True)
def _private_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock_dir = tmp_path / "locks"
    monkeypatch.setenv("CARBONLEDGER_LOCK_DIR", str(lock_dir))
    for var in ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "OMPI_COMM_WORLD_RANK", "CARBONLEDGER_JOB"):
        monkeypatch.delenv(var, raising=False)


def _rank(
    ledger: Path, local_rank: int, monkeypatch: pytest.MonkeyPatch, job: str = "j1"
) -> cl.Tracker:
    monkeypatch.setenv("CARBONLEDGER_JOB", job)
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    monkeypatch.setenv("RANK", str(local_rank))
    monkeypatch.setenv("GROUP_RANK", "0")
    sensor = FakeSensor([CPU, GPU], {"fake:cpu-0": 60.0, "fake:gpu-0": 40.0})
    tracker = cl.Tracker(
        f"rank{local_rank}", ledger=ledger, interval=0.1, zone="FR", sensors=[sensor]
    )
    tracker.start()
    return tracker


def test_four_ranks_count_the_node_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = tmp_path / "l.sqlite"
    trackers = [_rank(ledger, i, monkeypatch) for i in range(4)]
    for i, t in enumerate(trackers):
        assert t.run is not None
        with t.run.span(f"step-{i}"):
            time.sleep(0.3)
    time.sleep(0.5)
    fps = [t.stop() for t in reversed(trackers)][::-1]  # the measurer last: no handover
    with open_ledger(ledger) as led:
        job = job_footprint(led, "j1")
        duration = job.duration_s
        assert duration is not None and job.energy_j is not None
        node_power = job.energy_j / duration
        assert node_power == pytest.approx(100.0, rel=0.1)  # not 400 W
        assert [len(r.spans) for r in job.ranks] == [1, 1, 1, 1]
        measurers = [r for r in job.ranks if r.measured]
        assert len(measurers) == 1 and measurers[0].local_rank == 0
        for r in job.ranks:
            span = r.spans[0]
            assert span["energy_kwh"] is not None and span["energy_kwh"] > 0
            assert span["filled_from_measurer"] is (r.local_rank != 0)
        d = job.to_dict()
        assert d["uncertainty"]["method"] == "quadrature"
        lo, hi = d["uncertainty"]["energy_kwh"]
        assert lo < d["energy_kwh"] < hi
        assert d["nodes"][0]["devices"][0]["measured_by"] == [measurers[0].run_id]
        assert d["ranks"][0]["rank"] == 0
    # each rank's own footprint says where it sits; only the measurer has energy
    assert all(fp is not None and fp.job is not None for fp in fps)
    assert fps[0] is not None and fps[0].energy_j is not None
    assert fps[1] is not None and fps[1].energy_j is None
    assert fps[1].embodied_g is None  # the measurer carries the node's devices' embodied
    assert fps[0].embodied_g is not None and fps[0].embodied_g > 0
    assert any("another process of the job" in w for w in fps[1].warnings)
    assert fps[1].to_dict()["job"] == {
        "key": "j1",
        "node": fps[1].job["node"],
        "rank": 1,
        "local_rank": 1,
        "restart": 0,
    }


def test_a_standby_takes_over_when_the_measurer_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "l.sqlite"
    first = _rank(ledger, 0, monkeypatch)
    second = _rank(ledger, 1, monkeypatch)
    time.sleep(0.4)
    first.stop()
    time.sleep(1.5)  # the standby retries on its sampling cadence and takes over
    fp = second.stop()
    assert fp is not None and fp.energy_j is not None  # measured from the takeover on
    assert any("took over" in w for w in fp.warnings)
    with open_ledger(ledger) as led:
        job = job_footprint(led, "j1")
        assert job.duration_s is not None and job.energy_j is not None
        # the handover gap is modelled at the mean power and said so; never doubled
        assert job.energy_j == pytest.approx(100.0 * job.duration_s, rel=0.02)
        devices = job.to_dict()["nodes"][0]["devices"]
        assert {len(d["measured_by"]) for d in devices} == {2}
        assert all(d["gap_s"] > 0 and d["gap_filled_kwh"] > 0 for d in devices)
        assert any("nobody measured" in w for w in job.warnings)


def test_ranks_seeing_overlapping_devices_measure_each_device_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rank 0 sees GPUs a and b, rank 1 sees b and c (different CUDA_VISIBLE_DEVICES):
    the lock is per device, so b is measured by one of them only."""
    ledger = tmp_path / "l.sqlite"
    a, b, c = (fake_device(f"fake:gpu-{x}", Component.GPU) for x in "abc")
    watts = {"fake:gpu-a": 10.0, "fake:gpu-b": 20.0, "fake:gpu-c": 40.0}
    trackers = []
    for local, devices in ((0, [a, b]), (1, [b, c])):
        monkeypatch.setenv("CARBONLEDGER_JOB", "j-overlap")
        monkeypatch.setenv("LOCAL_RANK", str(local))
        monkeypatch.setenv("RANK", str(local))
        sensor = FakeSensor(devices, {d.device_id: watts[d.device_id] for d in devices})
        tracker = cl.Tracker(f"rank{local}", ledger=ledger, interval=0.1, sensors=[sensor])
        tracker.start()
        trackers.append(tracker)
    time.sleep(0.8)
    fps = [t.stop() for t in reversed(trackers)][::-1]
    assert fps[0] is not None and fps[1] is not None
    own = [{x.device: x.energy_j for x in fp.components} for fp in fps]
    assert own[0]["fake:gpu-a"] and own[0]["fake:gpu-b"]  # rank 0 measures a and b
    assert own[1]["fake:gpu-c"] and own[1].get("fake:gpu-b") is None  # rank 1 only c
    with open_ledger(ledger) as led:
        job = job_footprint(led, "j-overlap")
    devices = {d["device"]: d for d in job.to_dict()["nodes"][0]["devices"]}
    assert [len(devices[f"fake:gpu-{x}"]["measured_by"]) for x in "abc"] == [1, 1, 1]
    assert not any("two processes at once" in w for w in job.warnings)


def test_jobs_are_listed_by_the_ledger_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "l.sqlite"
    for key in ("a", "b"):
        t = _rank(ledger, 0, monkeypatch, job=key)
        t.stop()
    with open_ledger(ledger) as led:
        assert [r.job.key for r in led.job_runs("a")] == ["a"]  # type: ignore[attr-defined, union-attr]
        with pytest.raises(cl.errors.RunNotFoundError):
            job_footprint(led, "zzz")


def test_the_job_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from carbonledger.cli.main import main

    ledger = tmp_path / "l.sqlite"
    trackers = [_rank(ledger, i, monkeypatch, job="cli-job") for i in range(2)]
    time.sleep(0.3)
    for t in reversed(trackers):
        t.stop()
    capsys.readouterr()
    assert main(["job", "cli-job", "--ledger", str(ledger), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "carbonledger.job/1" and len(data["ranks"]) == 2
    assert main(["job", "cli-job", "--ledger", str(ledger)]) == 0
    text = capsys.readouterr().out
    assert "quadrature" in text and "measures" in text and "standby" in text
    assert main(["job", "nope", "--ledger", str(ledger)]) == 3
    assert main(["summary", "--by", "job", "--ledger", str(ledger), "--json"]) == 0
    assert "cli-job" in capsys.readouterr().out
    assert main(["runs", "--job", "cli-job", "--ledger", str(ledger), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_a_standby_that_is_stopping_does_not_take_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measurer stops, then the standby stops before its next sampling tick: its last
    reading must not take the lock (a baseline with nothing after it, which showed as
    "0 J measured"); it stays a standby and records no samples."""
    ledger = tmp_path / "l.sqlite"
    first = _rank(ledger, 0, monkeypatch)
    second = _rank(ledger, 1, monkeypatch)
    time.sleep(1.3)  # the standby has tried (and failed) to take over at least once
    first.stop()
    coordinator = second._coordinator  # the race made certain: its retry is due now
    assert coordinator is not None
    for gated in coordinator.gated:
        gated._next_try = 0.0
    fp = second.stop()
    assert fp is not None
    assert not any("took over" in w for w in fp.warnings), fp.warnings
    assert any("another process of the job" in w for w in fp.warnings)
    for c in fp.components:
        assert c.energy_j is None  # unknown, never a measured 0
    with open_ledger(ledger) as led:
        assert led.samples(second.run_id) == []
        job = job_footprint(led, "j1")
    standby = [r for r in job.ranks if r.local_rank == 1]
    assert len(standby) == 1 and not standby[0].measured


def test_stopping_coordinator_never_takes_the_lock(tmp_path: Path) -> None:
    """With a fake clock: a standby whose retry is due does not take the freed lock once
    its run is stopping, but one that is not stopping does."""
    from carbonledger.distributed.coordinator import JobCoordinator
    from carbonledger.distributed.identity import detect_job

    now = [0.0]
    env = {"CARBONLEDGER_LOCK_DIR": str(tmp_path / "locks")}

    def coordinator(local_rank: int) -> JobCoordinator:
        detected = detect_job({"CARBONLEDGER_JOB": "j", "LOCAL_RANK": str(local_rank)})
        assert detected is not None
        return JobCoordinator(detected, interval_s=0.1, environ=env, clock=lambda: now[0])

    def sensor() -> FakeSensor:
        return FakeSensor([CPU], {"fake:cpu-0": 60.0})

    measurer, stopping, waiting = coordinator(0), coordinator(1), coordinator(2)
    (m,), (s,), (w,) = (
        measurer.gate([sensor()]),
        stopping.gate([sensor()]),
        waiting.gate([sensor()]),
    )
    assert m.read()[0].energy_j is not None
    now[0] = 5.0
    assert s.read()[0].energy_j is None and w.read()[0].energy_j is None  # the lock is held
    m.close()  # the measurer ends: the lock is free
    stopping.stopping()
    now[0] = 10.0
    assert s.read()[0].energy_j is None
    assert stopping.measured() == {"fake:cpu-0": None}
    assert w.read()[0].energy_j is not None  # a standby that runs on takes over
    assert waiting.measured()["fake:cpu-0"] is not None
    s.close()
    w.close()


def test_a_rank_of_a_pmi_only_launcher_says_it_is_in_no_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMI_RANK", "2")
    monkeypatch.setenv("PMI_SIZE", "4")
    sensor = FakeSensor([CPU], {"fake:cpu-0": 60.0})
    t = cl.Tracker("r", ledger=tmp_path / "l.sqlite", interval=0.1, zone="FR", sensors=[sensor])
    t.start()
    fp = t.stop()
    assert fp is not None and fp.job is None
    assert any("PMI launcher" in w and "CARBONLEDGER_JOB" in w for w in fp.warnings)
    monkeypatch.setenv("CARBONLEDGER_JOB", "k")
    t = cl.Tracker("r", ledger=tmp_path / "l.sqlite", interval=0.1, zone="FR", sensors=[sensor])
    t.start()
    fp = t.stop()
    assert fp is not None and fp.job is not None and fp.job["rank"] == 2
    assert not any("PMI launcher" in w for w in fp.warnings)
