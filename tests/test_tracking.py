import json
import threading
import time
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.records import Component, RunStatus
from carbonledger.sensors.fake import FakeSensor, fake_device
from carbonledger.store import open_ledger


def fake_sensors(cpu_w: float = 40.0, ram_w: float = 6.0, **kw: object) -> list[FakeSensor]:
    devices = [fake_device("fake:cpu"), fake_device("fake:ram", Component.RAM)]
    return [FakeSensor(devices, {"fake:cpu": cpu_w, "fake:ram": ram_w}, **kw)]  # type: ignore[arg-type]


def test_track_records_spans_metrics_and_footprint(tmp_path: Path) -> None:
    tracker = cl.Tracker("job", phase="training", zone="FR", interval=0.05, sensors=fake_sensors())
    with tracker as run:
        with run.span("epoch-1"):
            time.sleep(0.15)
            with run.span("batch"):
                time.sleep(0.1)
        with run.span("epoch-2"):
            time.sleep(0.1)
        run.log(accuracy=0.91, note="ok")
        run.set_functional_unit("image", 100)
    fp = run.footprint()
    d = fp.to_dict()
    assert d["schema"] == "carbonledger.footprint/1"
    assert d["status"] == "completed"
    assert d["phase"] == "training"
    assert d["metrics"] == {"accuracy": 0.91, "note": "ok"}
    spans = {s["path"]: s for s in d["spans"]}
    assert set(spans) == {"epoch-1", "epoch-1/batch", "epoch-2"}
    assert spans["epoch-1/batch"]["energy_kwh"] <= spans["epoch-1"]["energy_kwh"]
    assert spans["epoch-1"]["energy_kwh"] == pytest.approx(46.0 * 0.25 / 3.6e6, rel=0.3)
    cpu = next(c for c in d["components"] if c["device"] == "fake:cpu")
    assert cpu["mean_power_w"] == pytest.approx(40.0, rel=0.05)
    assert d["energy_kwh"] == pytest.approx(46.0 * d["duration_s"] / 3.6e6, rel=0.1)
    assert d["intensity"]["zone"] == "FR"
    assert d["functional_unit"]["name"] == "image"
    assert d["functional_unit"]["gco2e_per_unit"] == pytest.approx(d["total_kgco2e"] * 1000 / 100)
    json.dumps(d, allow_nan=False)
    # the ledger has it too
    with open_ledger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.get_run(run.run_id[:8]).status is RunStatus.COMPLETED


def test_exception_marks_failed_and_is_reraised_unchanged() -> None:
    boom = ValueError("boom")
    tracker = cl.Tracker("fails", interval=0.05, sensors=fake_sensors())
    with pytest.raises(ValueError) as info, tracker:
        raise boom
    assert info.value is boom
    assert tracker.footprint().status == "failed"


def test_stop_twice_is_harmless_and_start_after_stop_is_a_new_run() -> None:
    tracker = cl.Tracker("twice", interval=0.05, sensors=fake_sensors())
    first = tracker.start().run_id
    fp1 = tracker.stop()
    assert tracker.stop() is fp1
    tracker._given_sensors = fake_sensors()
    second = tracker.start().run_id
    tracker.stop()
    assert first != second


def test_decorator_form() -> None:
    @cl.track("decorated", interval=0.05)
    def work(x: int) -> int:
        return x * 2

    assert work(21) == 42
    with open_ledger(Path(__import__("os").environ["CARBONLEDGER_LEDGER"])) as ledger:
        assert [r.name for r in ledger.list_runs()] == ["decorated"]


def test_failing_sensor_never_reaches_the_host() -> None:
    bad = FakeSensor([fake_device("fake:gpu", Component.GPU)], {"fake:gpu": 100.0}, fail_after=2)
    tracker = cl.Tracker("flaky", interval=0.05, sensors=[*fake_sensors(), bad])
    with tracker as run:
        time.sleep(0.3)
    d = run.footprint().to_dict()
    assert d["status"] == "completed"
    assert any("dropped" in w for w in d["warnings"])
    gpu = next(c for c in d["components"] if c["device"] == "fake:gpu")
    assert gpu["energy_kwh"] is not None  # what was measured before the failure is kept
    assert any("lower bound" in w for w in d["warnings"])


def test_unwritable_ledger_falls_back_without_crashing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    tracker = cl.Tracker(
        "fallback", interval=0.05, ledger=blocker / "ledger.sqlite", sensors=fake_sensors()
    )
    with tracker as run:
        time.sleep(0.05)
    assert run.footprint().status == "completed"
    assert any("cannot use ledger" in w for w in tracker.warnings)


def test_spans_are_thread_safe() -> None:
    tracker = cl.Tracker("threads", interval=0.05, sensors=fake_sensors())

    def worker(run: cl.Run, k: int) -> None:
        for i in range(5):
            with run.span(f"t{k}"), run.span(f"step-{i}"):
                time.sleep(0.005)

    with tracker as run:
        threads = [threading.Thread(target=worker, args=(run, k)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    paths = [s["path"] for s in run.footprint().to_dict()["spans"]]
    assert len(paths) == 40
    assert all(p.startswith("t") for p in paths)
    assert {p.split("/")[0] for p in paths} == {"t0", "t1", "t2", "t3"}


def test_budget_stop_is_cooperative_should_stop_then_check() -> None:
    budget = cl.Budget(kwh=1e-6, on_exceed="stop")  # 3.6 J: spent in well under a second at 46 W
    tracker = cl.Tracker("budgeted", interval=0.05, sensors=fake_sensors(), budget=budget)
    polls = 0
    with pytest.raises(cl.BudgetExceeded), tracker as run:
        deadline = time.time() + 10
        while time.time() < deadline and not run.should_stop():
            polls += 1
            time.sleep(0.01)
        assert run.should_stop()
        run.check()  # the loop chose to stop here: raises once
    assert budget.exceeded and polls > 0
    assert tracker.footprint().status == "interrupted"


def test_budget_interrupt_raises_into_the_loop_and_marks_run_interrupted() -> None:
    budget = cl.Budget(kwh=1e-6, on_exceed="interrupt")
    tracker = cl.Tracker("budgeted", interval=0.05, sensors=fake_sensors(), budget=budget)
    with pytest.raises(cl.BudgetExceeded), tracker:
        deadline = time.time() + 10
        while time.time() < deadline:
            sum(range(100))
    assert budget.exceeded
    assert tracker.footprint().status == "interrupted"


def test_forecast_and_its_error_once_the_run_ends() -> None:
    tracker = cl.Tracker("forecast", interval=0.05, sensors=fake_sensors(), zone="FR")
    with tracker as run:
        for epoch in range(4):
            with run.span(f"epoch-{epoch}"):
                time.sleep(0.1)
            if epoch == 1:
                f = run.forecast(done=2, total=4)
                assert f is not None
                low, high = f.energy_interval_j
                assert low <= f.energy_j <= high
                assert f.carbon_g is not None
    metrics = run.footprint().metrics
    assert metrics["forecast.done"] == 2
    assert abs(metrics["forecast.error_pct"]) < 30


def test_process_scope_attributes_a_share(tmp_path: Path) -> None:
    tracker = cl.Tracker("proc", interval=0.05, scope="process", sensors=fake_sensors())
    with tracker as run:
        time.sleep(0.3)
    d = run.footprint().to_dict()
    assert d["scope"] == "process"
    cpu = next(c for c in d["components"] if c["device"] == "fake:cpu")
    assert cpu["energy_kwh"] is not None and cpu["host_energy_kwh"] is not None
    assert cpu["energy_kwh"] <= cpu["host_energy_kwh"] * (1 + 1e-9)


def test_unknown_zone_is_refused_before_start() -> None:
    with pytest.raises(cl.UnknownZoneError):
        cl.Tracker("z", zone="Atlantis")


def test_program_exiting_without_stop_keeps_its_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    ledger = tmp_path / "exit.sqlite"
    code = (
        "import time, carbonledger as cl;"
        f"t = cl.Tracker('no-stop', ledger={str(ledger)!r}, interval=0.05);"
        "t.start(); time.sleep(0.3)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
    with open_ledger(ledger) as store:
        run = store.list_runs()[0]
        assert run.status is RunStatus.INTERRUPTED
        assert run.ended_at is not None
        assert len(store.samples(run.run_id)) >= 3


def test_misuse_after_start_warns_instead_of_raising() -> None:
    tracker = cl.Tracker("misuse", interval=0.05, sensors=fake_sensors())
    with tracker as run:
        assert run.forecast(done=0, total=10) is None
        run.set_functional_unit("req", "lots")  # type: ignore[arg-type]
        run.set_functional_unit("req", float("nan"))
        run.log(a=float("nan"), b=10**400, c=object(), d=1.5, e=3)
    d = run.footprint().to_dict()
    assert d["functional_unit"] is None
    assert d["metrics"] == {"d": 1.5, "e": 3}
    assert run.forecast(done=1, total=2) is None
    assert any("no forecast" in w for w in tracker.warnings)
    assert any("functional unit ignored" in w for w in tracker.warnings)


def test_inputs_that_would_make_a_run_unpriceable_are_refused_before_start(tmp_path: Path) -> None:
    garbage = tmp_path / "bin.csv"
    garbage.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(cl.DataError):
        cl.Tracker("x", intensity_series=garbage)
    with pytest.raises(cl.DataError):
        cl.Tracker("x", embodied="no-such-preset")
    with pytest.raises(cl.ConfigError):
        cl.Tracker("x", settings=cl.Settings(sensors=("nosuch",)))


def test_series_is_kept_with_the_run(tmp_path: Path) -> None:
    from carbonledger.intensity.live import series_path_for

    now = time.time()
    series = tmp_path / "FR.csv"
    from datetime import datetime, timezone

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()

    series.write_text(
        f"timestamp,g_per_kwh\n{iso(now - 3600)},50\n{iso(now)},60\n{iso(now + 3600)},70\n"
    )
    tracker = cl.Tracker(
        "kept", zone="FR", interval=0.05, sensors=fake_sensors(), intensity_series=series
    )
    with tracker as run:
        time.sleep(0.1)
    before = run.footprint().to_dict()["intensity"]["g_per_kwh"]
    series.write_text(
        "timestamp,g_per_kwh\n2020-01-01T00:00:00Z,999\n"
    )  # editing the file later changes nothing
    series.unlink()  # the run re-prices from the ledger alone
    ledger_path = Path(__import__("os").environ["CARBONLEDGER_LEDGER"])
    assert not series_path_for(ledger_path, run.run_id).exists()  # nothing beside the ledger
    with open_ledger(ledger_path) as ledger:
        kept = ledger.series(run.run_id)
        assert kept is not None and kept.values_g_per_kwh[:2] == (50.0, 60.0)
        assert (
            cl.footprint_for_run(ledger, run.run_id).to_dict()["intensity"]["g_per_kwh"] == before
        )


def test_a_start_in_two_halves_keeps_what_was_read_between_them() -> None:
    # the first half opens the sensors and reads the baseline (the run's start instant);
    # a span boundary read before the second half opens the ledger is held back, not lost
    tracker = cl.Tracker("halves", zone="FR", interval=60, sensors=fake_sensors())
    tracker._open_and_read()
    assert tracker.run is None and tracker.record is None
    time.sleep(0.1)
    tracker._snapshot()  # a sample of ~0.1 s, read before any consumer is attached
    run = tracker._finish_start()
    time.sleep(0.05)
    fp = tracker.stop()
    assert run is tracker.run and fp is not None and fp.energy_j is not None
    assert fp.duration_s is not None and fp.energy_j >= 0.98 * 46.0 * fp.duration_s


def test_budget_interrupts_the_thread_that_asked_for_the_start() -> None:
    # a start finished on another thread (the framework callbacks) raises into the owner
    budget = cl.Budget(kwh=1e-6, on_exceed="interrupt")
    tracker = cl.Tracker("owned", interval=0.05, sensors=fake_sensors(), budget=budget)
    tracker._open_and_read()
    finisher = threading.Thread(target=tracker._finish_start)
    finisher.start()
    finisher.join()
    with pytest.raises(cl.BudgetExceeded):
        deadline = time.time() + 10
        while time.time() < deadline:
            sum(range(100))
    tracker.stop(RunStatus.INTERRUPTED)
    assert budget.exceeded
