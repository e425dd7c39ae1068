"""MIG slices: charged their share of the board (energy and embodied), labelled
attributed, with an interval that spans the idle ambiguity; activity-weighted through
a dcgm-exporter endpoint when one is configured."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from tests.sensors.fake_clock import FakeClock
from tests.sensors.fake_pynvml import FakeGpu, gpu_uuid, install, mig_uuid

from carbonledger.lifecycle.embodied import embodied_for_run
from carbonledger.lifecycle.pricing import price_run
from carbonledger.records import Method, RunRecord, RunStatus, Sample, Scope
from carbonledger.sensors import nvml
from carbonledger.sensors.base import ProbeContext
from carbonledger.sensors.dcgm import DcgmActivity, parse_activity

BOARD_W = 350.0


@pytest.fixture(autouse=True)
def driver_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nvml._presence, "nvidia_driver_present", lambda: True)


def _open(clock: FakeClock, environ: dict[str, str]) -> nvml.NvmlSensor:
    sensor = nvml.probe(ProbeContext(environ=environ), clock=clock, wall_clock=lambda: 0.0)
    assert isinstance(sensor, nvml.NvmlSensor), sensor
    return sensor


def _run_samples(
    sensor: nvml.NvmlSensor, gpu: FakeGpu, clock: FakeClock, n: int = 60
) -> list[Sample]:
    (device,) = sensor.devices()
    last = sensor.read()[0].energy_j or 0.0
    out = []
    for i in range(n):
        gpu.energy_mj = (gpu.energy_mj or 0) + int(BOARD_W * 1000)  # 350 J per second
        clock.advance(1.0)
        e = sensor.read()[0].energy_j
        assert e is not None
        out.append(Sample(device.device_id, 1000.0 + i, 1001.0 + i, e - last, e - last))
        last = e
    return out


def _record() -> RunRecord:
    return RunRecord(
        "r", "mig", "inference", RunStatus.COMPLETED, 1000.0, 1060.0, Scope.MACHINE, "FR", None, 1.0
    )


def test_a_1g_slice_of_a_7_slice_gpu_is_charged_a_seventh(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(7)]
    board = FakeGpu(gpu_uuid(0), name="NVIDIA A100-SXM4-80GB", mig_uuids=migs)
    install(monkeypatch, [board])
    whole = _open(clock, {})
    whole_samples = _run_samples(whole, board, clock)
    sliced = _open(clock, {"CUDA_VISIBLE_DEVICES": migs[3]})
    slice_samples = _run_samples(sliced, board, clock)
    (dev_whole,) = whole.devices()
    (dev_slice,) = sliced.devices()
    assert dev_whole.method is Method.MEASURED
    assert dev_slice.method is Method.ATTRIBUTED
    assert dev_slice.details["attributed_share"] == pytest.approx(1 / 7)
    assert dev_slice.details["gpu_instance_ids"] == [4]

    fp_whole = price_run(
        _record(),
        [dev_whole],
        whole_samples,
        embodied=embodied_for_run([dev_whole], 60.0).items,
    )
    notes: list[str] = []
    result = embodied_for_run([dev_slice], 60.0)
    notes.extend(result.warnings)
    fp_slice = price_run(
        _record(), [dev_slice], slice_samples, embodied=result.items, warnings=notes
    )
    assert fp_whole.energy_j == pytest.approx(60 * BOARD_W)
    assert fp_slice.energy_j == pytest.approx(fp_whole.energy_j / 7, rel=0.01)
    assert fp_slice.embodied_g == pytest.approx((fp_whole.embodied_g or 0) / 7, rel=0.01)
    (component,) = fp_slice.components
    assert component.method == "attributed"
    lo_w, hi_w = fp_whole.energy_interval_j or (0, 0)
    lo_s, hi_s = fp_slice.energy_interval_j or (0, 0)
    assert (hi_s - lo_s) / fp_slice.energy_j > (hi_w - lo_w) / fp_whole.energy_j
    assert hi_s >= fp_slice.energy_j * 1.5  # covers "active share plus all idle"
    assert any("MIG slice" in w for w in fp_slice.warnings)
    data = fp_slice.to_dict()
    assert data["components"][0]["method"] == "attributed"


def test_two_3g_instances_and_slice_counts(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(3)]
    board = FakeGpu(gpu_uuid(0), mig_uuids=migs, mig_slices=[3, 3, 1])
    install(monkeypatch, [board])
    (device,) = _open(clock, {"CUDA_VISIBLE_DEVICES": migs[0]}).devices()
    assert device.details["attributed_share"] == pytest.approx(3 / 7)


def test_ambiguity_bounds() -> None:
    assert nvml.mig_ambiguity_rel(1 / 7, 0.3) == pytest.approx(0.3 * 6)
    assert nvml.mig_ambiguity_rel(1.0, 0.3) == pytest.approx(0.3)
    assert nvml.mig_ambiguity_rel(0.5, 0.0) == 0.0


_LABELS = 'gpu="0",UUID="%(uuid)s",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB"'
EXPORTER_TEXT = "\n".join(
    [
        "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
        "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
        *(
            f'DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{_LABELS},GPU_I_PROFILE="1g.10gb",'
            f'GPU_I_ID="{gi}",Hostname="h"}} {value:.6f}'
            for gi, value in ((1, 0.6), (2, 0.2), (3, 0.2))
        ),
        f"DCGM_FI_DEV_POWER_USAGE{{{_LABELS}}} 300.0",
        "",
    ]
)


@pytest.fixture
def exporter() -> Iterator[str]:
    text = (EXPORTER_TEXT % {"uuid": gpu_uuid(0)}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_parse_exporter_text() -> None:
    found = parse_activity(EXPORTER_TEXT % {"uuid": "GPU-x"})
    assert found == {("GPU-x", 1): 0.6, ("GPU-x", 2): 0.2, ("GPU-x", 3): 0.2}
    assert parse_activity('garbage\nDCGM_FI_PROF_GR_ENGINE_ACTIVE{GPU_I_ID="x"} nan') == {}


def test_activity_weighted_share_from_a_dcgm_exporter(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock, exporter: str
) -> None:
    migs = [mig_uuid(0, k) for k in range(3)]
    board = FakeGpu(gpu_uuid(0), mig_uuids=migs)
    install(monkeypatch, [board])
    sensor = _open(clock, {"CUDA_VISIBLE_DEVICES": migs[0], "CARBONLEDGER_DCGM_URL": exporter})
    (device,) = sensor.devices()
    assert device.details["attribution"] == "mig-activity"
    assert device.method is Method.ATTRIBUTED
    samples = _run_samples(sensor, board, clock, n=3)
    # instance 1 did 0.6 of the work on the board: 60 % of 350 J each second
    assert [s.energy_j for s in samples] == [pytest.approx(0.6 * BOARD_W)] * 3


def test_unreachable_exporter_falls_back_to_slices(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    migs = [mig_uuid(0, k) for k in range(3)]
    board = FakeGpu(gpu_uuid(0), mig_uuids=migs)
    install(monkeypatch, [board])
    sensor = _open(
        clock, {"CUDA_VISIBLE_DEVICES": migs[0], "CARBONLEDGER_DCGM_URL": "http://127.0.0.1:9/m"}
    )
    samples = _run_samples(sensor, board, clock, n=2)
    assert [s.energy_j for s in samples] == [pytest.approx(BOARD_W / 7)] * 2
    assert DcgmActivity("file:///etc/passwd").activity() is None
