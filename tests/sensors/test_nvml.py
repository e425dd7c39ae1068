from __future__ import annotations

import logging

import pytest
from tests.sensors.fake_clock import FakeClock
from tests.sensors.fake_pynvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_SUPPORTED,
    FakeGpu,
    FakeProcess,
    NVMLError,
    gpu_uuid,
    install,
    mig_uuid,
    uninstall,
)

from carbonledger.records import Component, Method, Reading
from carbonledger.sensors import nvml
from carbonledger.sensors.base import Absent, ProbeContext


def open_sensor(
    clock: FakeClock,
    *,
    environ: dict[str, str] | None = None,
    tracked: set[int] | None = None,
    pid_exists: object = lambda pid: True,
) -> nvml.NvmlSensor | Absent:
    ctx = ProbeContext(
        environ=environ or {},
        tracked_pids=(lambda: set(tracked)) if tracked is not None else None,
    )
    return nvml.probe(ctx, clock=clock, wall_clock=lambda: 0.0, pid_exists=pid_exists)  # type: ignore[arg-type]


def sensor_of(result: object) -> nvml.NvmlSensor:
    assert isinstance(result, nvml.NvmlSensor), result
    return result


def by_id(readings: list[Reading]) -> dict[str, Reading]:
    return {r.device_id: r for r in readings}


# -- starting ---------------------------------------------------------------------------------
def test_error_classes_mimic_pynvml() -> None:
    err = NVMLError(NVML_ERROR_NOT_SUPPORTED)
    assert type(err).__name__ == "NVMLError_NotSupported"
    assert isinstance(err, NVMLError) and err.value == NVML_ERROR_NOT_SUPPORTED
    assert str(err) == "Not Supported"


def test_not_installed(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    uninstall(monkeypatch)
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert result.reason == "nvidia-ml-py not installed"
    assert result.fix == "pip install 'carbonledger[nvidia]'"
    assert result.component is Component.GPU


@pytest.mark.parametrize("code", [NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_LIBRARY_NOT_FOUND])
def test_no_driver(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, code: int) -> None:
    install(monkeypatch, [], init_error=code)
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert result.reason.startswith("NVML could not start: no NVIDIA driver")
    assert result.fix and "NVIDIA driver" in result.fix


def test_init_permission_error(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    install(monkeypatch, [], init_error=NVML_ERROR_NO_PERMISSION)
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert "permission denied" in result.reason


def test_no_gpu(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    fake = install(monkeypatch, [])
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert result.reason == "NVML found no NVIDIA GPU"
    assert fake.shutdown_calls == 1


# -- energy ------------------------------------------------------------------------------------
def test_energy_counter(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpus = [FakeGpu(gpu_uuid(0), energy_mj=5_000_000), FakeGpu(gpu_uuid(1), name="NVIDIA H100")]
    fake = install(monkeypatch, gpus)
    sensor = sensor_of(open_sensor(clock))
    devices = sensor.devices()
    assert [d.device_id for d in devices] == [f"nvml:{gpu_uuid(0)}", f"nvml:{gpu_uuid(1)}"]
    d0 = devices[0]
    assert d0.component is Component.GPU and d0.method is Method.MEASURED
    assert d0.source == f"nvml:{gpu_uuid(0)}"
    assert d0.name == "NVIDIA A100-SXM4-80GB"
    assert d0.uncertainty_rel == pytest.approx(0.05)
    assert d0.details == {
        "index": 0,
        "uuid": gpu_uuid(0),
        "memory_total_gb": pytest.approx(80.0),
        "power_limit_w": pytest.approx(400.0),
        "energy_counter": True,
        "mig": False,
    }
    gpus[0].energy_mj += 600_000  # 600 J
    gpus[1].energy_mj += 200_000
    clock.advance(2.0)
    readings = by_id(sensor.read())
    r0 = readings[f"nvml:{gpu_uuid(0)}"]
    assert r0.energy_j == pytest.approx(600.0)
    assert r0.power_w == pytest.approx(300.0)
    assert r0.process_share is None  # no tracked pids given
    assert readings[f"nvml:{gpu_uuid(1)}"].energy_j == pytest.approx(200.0)
    gpus[0].energy_mj += 100_000
    clock.advance(1.0)
    assert by_id(sensor.read())[f"nvml:{gpu_uuid(0)}"].energy_j == pytest.approx(700.0)
    sensor.close()
    sensor.close()
    assert fake.shutdown_calls == 1
    assert all(r.energy_j is None for r in sensor.read())


def test_power_only_is_integrated(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeGpu(gpu_uuid(0), name="Tesla T4", energy_mj=None, power_mw=250_000)
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock))
    (device,) = sensor.devices()
    assert device.details["energy_counter"] is False
    assert device.uncertainty_rel == pytest.approx(0.10)
    assert sensor.read()[0].energy_j == pytest.approx(0.0)  # first power sample
    gpu.power_mw = 350_000
    clock.advance(2.0)
    (reading,) = sensor.read()
    assert reading.energy_j == pytest.approx(600.0)  # (250 + 350) / 2 × 2 s
    assert reading.power_w == pytest.approx(350.0)


def test_gpu_with_neither_energy_nor_power_is_left_out(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    install(monkeypatch, [FakeGpu(gpu_uuid(0), energy_mj=None, power_mw=None)])
    result = open_sensor(clock)
    assert isinstance(result, Absent)
    assert "neither energy nor power" in result.reason


def test_lost_gpu_gives_none_and_logs_once(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    gpus = [FakeGpu(gpu_uuid(0)), FakeGpu(gpu_uuid(1))]
    install(monkeypatch, gpus)
    sensor = sensor_of(open_sensor(clock))
    gpus[0].lost = True
    gpus[1].energy_mj += 1000
    with caplog.at_level(logging.WARNING, logger="carbonledger.sensors.nvml"):
        for _ in range(3):
            clock.advance(1.0)
            readings = by_id(sensor.read())
            assert readings[f"nvml:{gpu_uuid(0)}"].energy_j is None
    assert readings[f"nvml:{gpu_uuid(1)}"].energy_j == pytest.approx(1.0)
    assert len(caplog.records) == 1
    gpus[0].lost = False
    gpus[0].energy_mj += 30_000
    clock.advance(1.0)
    assert by_id(sensor.read())[f"nvml:{gpu_uuid(0)}"].energy_j == pytest.approx(30.0)


def test_counter_reset_is_not_counted(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeGpu(gpu_uuid(0), energy_mj=9_000_000)
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock))
    gpu.energy_mj = 1_000  # driver reloaded
    clock.advance(1.0)
    assert sensor.read()[0].energy_j is None
    gpu.energy_mj += 50_000
    clock.advance(1.0)
    assert sensor.read()[0].energy_j == pytest.approx(50.0)


# -- CUDA_VISIBLE_DEVICES ------------------------------------------------------------------
def three_gpus(monkeypatch: pytest.MonkeyPatch) -> list[FakeGpu]:
    gpus = [FakeGpu(gpu_uuid(n)) for n in range(3)]
    install(monkeypatch, gpus)
    return gpus


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", [1]),
        ("2,0", [2, 0]),
        ("0,7,1", [0]),  # an invalid entry ends the list, as in CUDA
        ("1,1", [1]),
        (gpu_uuid(2), [2]),
        ("GPU-00000001", [1]),  # unique prefix
        (f" {gpu_uuid(0)} , 2", [0, 2]),
    ],
)
def test_cuda_visible_devices(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, value: str, expected: list[int]
) -> None:
    three_gpus(monkeypatch)
    sensor = sensor_of(open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": value}))
    assert [d.details["index"] for d in sensor.devices()] == expected


@pytest.mark.parametrize("value", ["", "-1", "GPU-0000000", "GPU-ffff", "nonsense", " "])
def test_cuda_visible_devices_hiding_everything(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, value: str
) -> None:
    three_gpus(monkeypatch)
    result = open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": value})
    assert isinstance(result, Absent)
    assert result.reason.startswith("no GPU visible to this process")
    assert result.fix and "CUDA_VISIBLE_DEVICES" in result.fix


def test_parse_visible_devices() -> None:
    assert nvml.parse_visible_devices(None) is None
    assert nvml.parse_visible_devices("") == []
    assert nvml.parse_visible_devices("0, 1") == ["0", "1"]


def test_mig_instances_share_their_parent_counter_once(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(3)]
    gpus = [FakeGpu(gpu_uuid(0), mig_uuids=migs), FakeGpu(gpu_uuid(1), mig_uuids=[])]
    install(monkeypatch, gpus)
    environ = {"CUDA_VISIBLE_DEVICES": f"{migs[0]},{migs[2]}"}
    sensor = sensor_of(open_sensor(clock, environ=environ))
    (device,) = sensor.devices()
    # two 1g instances of a 7-slice board: one device, charged 2/7 of the board's counter
    assert device.device_id == f"nvml:{migs[0]}+{migs[2]}"
    assert device.method is Method.ATTRIBUTED
    assert device.details["mig"] is True
    assert device.details["mig_instances"] == [migs[0], migs[2]]
    assert device.details["attributed_share"] == pytest.approx(2 / 7)
    assert "parent" in device.details["counter_scope"]
    assert "MIG share" in device.source
    gpus[0].energy_mj += 100_000
    clock.advance(1.0)
    assert sensor.read() == [
        Reading(device.device_id, pytest.approx(100.0 * 2 / 7), pytest.approx(100.0 * 2 / 7))
    ]


def test_all_mig_instances_visible_is_the_whole_board(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(2)]
    gpus = [FakeGpu(gpu_uuid(0), mig_uuids=migs)]
    install(monkeypatch, gpus)
    sensor = sensor_of(open_sensor(clock))
    (device,) = sensor.devices()
    assert device.device_id == f"nvml:{gpu_uuid(0)}" and device.method is Method.MEASURED
    assert "MIG parent" in device.source


def test_mig_uuid_prefix_and_legacy_form(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    migs = [mig_uuid(1, k) for k in range(2)]
    install(monkeypatch, [FakeGpu(gpu_uuid(0)), FakeGpu(gpu_uuid(1), mig_uuids=migs)])
    sensor = sensor_of(open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": migs[1][:13]}))
    assert [d.details["mig_instances"] for d in sensor.devices()] == [[migs[1]]]
    legacy = f"MIG-{gpu_uuid(1)}/1/0"
    sensor = sensor_of(open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": legacy}))
    (device,) = sensor.devices()
    assert device.device_id == f"nvml:{legacy}"
    assert device.details["mig"] is True
    assert device.details["board_uuid"] == gpu_uuid(1)
    assert device.details["gpu_instance_ids"] == [1]


def test_whole_mig_gpu_lists_all_instances(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(2)]
    install(monkeypatch, [FakeGpu(gpu_uuid(0), mig_uuids=migs)])
    sensor = sensor_of(open_sensor(clock))
    assert sensor.devices()[0].details["mig_instances"] == migs


# -- per-process share -----------------------------------------------------------------------
def test_share_from_process_utilization(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeGpu(gpu_uuid(0), utilization=[(100, 50, 10), (101, 10, 11), (200, 20, 12)])
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock, tracked={100, 101}))
    clock.advance(1.0)
    assert sensor.read()[0].process_share == pytest.approx(60 / 80)
    # only samples newer than the last one seen count
    gpu.utilization = [*(gpu.utilization or []), (200, 30, 20), (100, 10, 21)]
    clock.advance(1.0)
    assert sensor.read()[0].process_share == pytest.approx(10 / 40)


def test_no_new_samples_falls_back_to_processes(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    gpu = FakeGpu(gpu_uuid(0), utilization=[], processes=[FakeProcess(100, 1 << 30)])
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock, tracked={100}))
    clock.advance(1.0)
    assert sensor.read()[0].process_share == 1.0


@pytest.mark.parametrize(
    ("processes", "share"),
    [
        ([FakeProcess(100, 4 << 30), FakeProcess(101, 4 << 30)], 1.0),  # only ours
        ([FakeProcess(100, 3 << 30), FakeProcess(200, 1 << 30)], 0.75),  # memory-weighted
        ([FakeProcess(100, None), FakeProcess(200, 5 << 30)], 0.5),  # memory unknown: count
        ([FakeProcess(200, 1 << 30)], 0.0),  # the tracked tree holds nothing here
        ([], 0.0),  # nobody holds anything
    ],
)
def test_share_from_running_processes(
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    processes: list[FakeProcess],
    share: float,
) -> None:
    gpu = FakeGpu(gpu_uuid(0), utilization=None, processes=processes)  # no per-process util
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock, tracked={100, 101}))
    clock.advance(1.0)
    assert sensor.read()[0].process_share == pytest.approx(share)


def test_pids_from_another_namespace_leave_the_share_unknown(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    gpu = FakeGpu(gpu_uuid(0), utilization=None, processes=[FakeProcess(4242, 1 << 30)])
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock, tracked={100}, pid_exists=lambda pid: False))
    clock.advance(1.0)
    (reading,) = sensor.read()
    assert reading.process_share is None
    assert reading.energy_j is not None


def test_mig_share_uses_processes(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpu = FakeGpu(
        gpu_uuid(0),
        mig_uuids=[mig_uuid(0, 0), mig_uuid(0, 1)],
        utilization=[(100, 90, 5)],  # unsupported under MIG anyway
        processes=[FakeProcess(100, None), FakeProcess(300, None)],
    )
    install(monkeypatch, [gpu])
    sensor = sensor_of(open_sensor(clock, tracked={100}))
    clock.advance(1.0)
    assert sensor.read()[0].process_share == pytest.approx(0.5)


def test_failing_tracked_pids_callback(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    install(monkeypatch, [FakeGpu(gpu_uuid(0))])

    def broken() -> set[int]:
        raise RuntimeError("psutil went away")

    sensor = sensor_of(
        nvml.probe(ProbeContext(tracked_pids=broken), clock=clock, wall_clock=lambda: 0.0)
    )
    clock.advance(1.0)
    (reading,) = sensor.read()
    assert reading.energy_j is not None and reading.process_share is None


def test_a_lost_gpu_at_start_is_left_out(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gpus = [FakeGpu(gpu_uuid(0), lost=True), FakeGpu(gpu_uuid(1))]
    install(monkeypatch, gpus)
    sensor = sensor_of(open_sensor(clock))
    assert [d.details["index"] for d in sensor.devices()] == [1]
    sensor = sensor_of(open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": "1"}))
    assert [d.details["index"] for d in sensor.devices()] == [1]
    result = open_sensor(clock, environ={"CUDA_VISIBLE_DEVICES": "0"})
    assert isinstance(result, Absent)


def test_no_driver_means_absent_without_importing_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(nvml._presence, "NVIDIA_DRIVER_PATHS", ("/nonexistent/nvidiactl",))
    result = nvml.probe(ProbeContext())
    assert isinstance(result, Absent)
    assert "no NVIDIA driver" in result.reason and result.fix
    assert "pynvml" not in sys.modules


# -- SLURM_STEP_GPUS ----------------------------------------------------------------------
def test_parse_slurm_gpus() -> None:
    assert nvml.parse_slurm_gpus({}) is None
    assert nvml.parse_slurm_gpus({"SLURM_STEP_GPUS": "0,2"}) == [0, 2]
    assert nvml.parse_slurm_gpus({"SLURM_JOB_GPUS": "4-6,1"}) == [4, 5, 6, 1]
    assert nvml.parse_slurm_gpus({"SLURM_STEP_GPUS": "2", "SLURM_JOB_GPUS": "0-3"}) == [2]
    for bad in ("gpu:2", "3-1", "1,,2", "x", "0-99999"):
        assert nvml.parse_slurm_gpus({"SLURM_STEP_GPUS": bad}) is None


def four_gpus_by_minor(monkeypatch: pytest.MonkeyPatch) -> list[FakeGpu]:
    # NVML (PCI) order differs from the /dev/nvidia<minor> numbers Slurm uses
    gpus = [FakeGpu(gpu_uuid(n), minor=m) for n, m in enumerate((1, 0, 3, 2))]
    install(monkeypatch, gpus)
    return gpus


def uuids(sensor: nvml.NvmlSensor) -> list[str]:
    return [d.details["uuid"] for d in sensor.devices()]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"SLURM_STEP_GPUS": "2,3"}, [gpu_uuid(3), gpu_uuid(2)]),  # minors 2, 3
        # without a device cgroup Slurm's CUDA_VISIBLE_DEVICES holds the global ids
        ({"SLURM_STEP_GPUS": "2,3", "CUDA_VISIBLE_DEVICES": "3"}, [gpu_uuid(2)]),
        ({"SLURM_STEP_GPUS": "0", "CUDA_VISIBLE_DEVICES": gpu_uuid(3)}, [gpu_uuid(3)]),
        ({"SLURM_JOB_GPUS": "0", "CUDA_VISIBLE_DEVICES": "0,1"}, [gpu_uuid(1), gpu_uuid(0)]),
    ],
)
def test_slurm_step_gpus_map_to_uuids(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, environ: dict[str, str], expected: list[str]
) -> None:
    four_gpus_by_minor(monkeypatch)
    assert uuids(sensor_of(open_sensor(clock, environ=environ))) == expected


def test_a_device_cgroup_numbers_the_step_gpus_from_zero(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    gpus = four_gpus_by_minor(monkeypatch)
    for g in gpus:
        g.hidden = g.minor not in (2, 3)  # NVML opens only the step's GPUs
    environ = {"SLURM_STEP_GPUS": "2,3", "CUDA_VISIBLE_DEVICES": "1"}
    assert uuids(sensor_of(open_sensor(clock, environ=environ))) == [gpu_uuid(2)]  # minor 3
    environ["CUDA_VISIBLE_DEVICES"] = "0,1"
    assert uuids(sensor_of(open_sensor(clock, environ=environ))) == [gpu_uuid(3), gpu_uuid(2)]
    environ["CUDA_VISIBLE_DEVICES"] = "2"  # past the step's GPUs: none, as CUDA says
    result = open_sensor(clock, environ=environ)
    assert isinstance(result, Absent) and "Slurm's GPUs [2, 3]" in result.reason


def test_without_minor_numbers_slurm_ids_are_nvml_indices(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    three_gpus(monkeypatch)
    sensor = sensor_of(open_sensor(clock, environ={"SLURM_STEP_GPUS": "1,2"}))
    assert uuids(sensor) == [gpu_uuid(1), gpu_uuid(2)]
    assert all(d.device_id == f"nvml:{d.details['uuid']}" for d in sensor.devices())
