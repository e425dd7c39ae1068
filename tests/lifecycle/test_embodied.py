"""SCI embodied emissions: the formula, and attribution to the devices a run held."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.embodied import (
    DEFAULT_LIFETIME_YEARS,
    EmbodiedResult,
    embodied_for_run,
    sci_embodied_g,
)
from carbonledger.lifecycle.hardware import UnknownHardware
from carbonledger.records import Component, DeviceInfo, Method
from carbonledger.units import S_PER_YEAR

HOUR = 3600.0
A100 = "NVIDIA A100-SXM4-80GB"


def gpu(i: int, name: str = A100) -> DeviceInfo:
    return DeviceInfo(f"nvml:GPU-{i}", Component.GPU, name, Method.MEASURED, "nvml", 0.05)


CPU = DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl", 0.05)


def test_sci_formula() -> None:
    # 1,000 kg over 4 years, reserved for one year, half the machine
    g = sci_embodied_g(1_000_000.0, S_PER_YEAR, 4.0, 1.0, 0.5)
    assert g == pytest.approx(125_000.0)
    # lifetime use: the hardware is used only 85 % of its life
    assert sci_embodied_g(1.0, 0.85 * S_PER_YEAR, 1.0, 0.85) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"total_g": -1.0}, "total_g"),
        ({"time_reserved_s": -1.0}, "time_reserved_s"),
        ({"lifetime_years": 0.0}, "lifetime_years"),
        ({"lifetime_use": 0.0}, "lifetime_use"),
        ({"lifetime_use": 1.5}, "lifetime_use"),
        ({"share": 1.5}, "share"),
        ({"share": math.nan}, "share"),
    ],
)
def test_sci_formula_rejects_bad_values(kwargs: dict[str, float], field: str) -> None:
    args = {
        "total_g": 1.0,
        "time_reserved_s": 1.0,
        "lifetime_years": 1.0,
        "lifetime_use": 1.0,
        "share": 1.0,
    }
    args.update(kwargs)
    with pytest.raises(ConfigError, match=field):
        sci_embodied_g(**args)


nonneg = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(
    nonneg,
    st.floats(min_value=0, max_value=1e9),
    st.floats(min_value=0.1, max_value=20),
    st.floats(min_value=0.01, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=10),
)
def test_embodied_is_linear_in_time_and_share(
    te: float, t: float, life: float, use: float, share: float, k: float
) -> None:
    base = sci_embodied_g(te, t, life, use, share)
    assert sci_embodied_g(te, k * t, life, use, share) == pytest.approx(
        k * base, rel=1e-9, abs=1e-9
    )
    assert sci_embodied_g(te, t, life, use, share) == pytest.approx(
        share * sci_embodied_g(te, t, life, use, 1.0), rel=1e-9, abs=1e-9
    )


def test_idle_allocated_gpus_count_and_unknown_ones_are_not_invented() -> None:
    devices = [gpu(0), gpu(1), gpu(2, "Mystery GPU"), CPU]
    r = embodied_for_run(devices, HOUR)
    assert isinstance(r, EmbodiedResult)
    gpus = [i for i in r.items if i.item.startswith("GPU")]
    assert len(gpus) == 1 and gpus[0].count == 2  # both A100s count, busy or idle
    assert gpus[0].total_g == pytest.approx(300_000.0)
    assert gpus[0].g == pytest.approx(300_000.0 * HOUR / (DEFAULT_LIFETIME_YEARS * S_PER_YEAR))
    assert gpus[0].uncertainty_rel == 0.5 and "BLOOM" in gpus[0].source
    assert any("Mystery GPU" in w for w in r.warnings)
    host = [i for i in r.items if i.item.startswith("server")]
    assert len(host) == 1 and host[0].source.startswith("default:")
    assert host[0].uncertainty_rel == 1.0
    assert any("default server" in w for w in r.warnings)
    assert r.total_g == pytest.approx(sum(i.g for i in r.items))


def test_bloom_node_preset_charges_the_server_by_gpu_share() -> None:
    devices = [gpu(i) for i in range(2)] + [CPU]
    r = embodied_for_run(
        devices, HOUR, preset="bloom-a100-node", lifetime_years=6, lifetime_use=0.85
    )
    by = {i.item.split()[0]: i for i in r.items}
    assert by["GPU"].count == 2
    assert by["server"].share == pytest.approx(2 / 8)
    assert by["server"].total_g == pytest.approx(2_500_000.0)
    assert r.warnings == ()
    expected = (2 * 150 + 2500 * 2 / 8) * 1000 * HOUR / (6 * S_PER_YEAR * 0.85)
    assert r.total_g == pytest.approx(expected)


def test_bloom_whole_training_embodied_is_11_2_tonnes() -> None:
    # 384 A100s on 48 nodes for 1,082,990 GPU-hours / 384 = 2,820.3 h (Luccioni et al. 2022)
    devices = [gpu(i) for i in range(384)]
    r = embodied_for_run(
        devices,
        1_082_990 / 384 * HOUR,
        preset="bloom-a100-node",
        lifetime_years=6,
        lifetime_use=0.85,
    )
    by = {i.item.split()[0]: i for i in r.items}
    assert by["server"].count == 48 and by["server"].share == pytest.approx(1.0)
    assert r.total_g / 1e6 == pytest.approx(11.2, abs=0.05)
    # the paper's split: servers 7.57 t, GPUs 3.64 t (with 8,760-hour years; ours are 8,766)
    assert by["server"].g / 1e6 == pytest.approx(7.57, abs=0.01)
    assert by["GPU"].g / 1e6 == pytest.approx(3.64, abs=0.01)


def test_more_gpus_than_slots_spread_over_servers() -> None:
    r = embodied_for_run([gpu(i) for i in range(10)], HOUR, preset="server-8gpu-bloom")
    server = next(i for i in r.items if i.item.startswith("server"))
    assert server.count == 2 and server.share == pytest.approx(10 / 16)


def test_cloud_instance_preset_uses_ccf_host_total_and_share() -> None:
    r = embodied_for_run([CPU, gpu(0, "Tesla V100-SXM2-16GB")], HOUR, preset="aws:p3.2xlarge")
    assert len(r.items) == 1
    item = r.items[0]
    assert item.total_g == pytest.approx(3_543_790.0)
    assert item.share == pytest.approx(1 / 8)
    assert "ccf-coefficients" in item.source


def test_cloud_instance_with_unknown_share_charges_the_whole_host_and_warns() -> None:
    r = embodied_for_run([CPU], HOUR, preset="gcp:e2-micro")
    assert r.items[0].share == 1.0
    assert any("upper bound" in w for w in r.warnings)
    r2 = embodied_for_run([CPU], HOUR, preset="gcp:e2-micro", overrides={"share": 0.125})
    assert r2.items[0].share == 0.125 and r2.warnings == ()


def test_every_number_is_overridable() -> None:
    r = embodied_for_run(
        [gpu(0), CPU],
        HOUR,
        preset="bloom-a100-node",
        overrides={
            "gpu_kg": 200,
            "host_kg": 3000,
            "host_gpu_slots": 4,
            "dram_gb": 512,
            "ssd_gb": 1000,
        },
    )
    by = {i.item.split()[0]: i for i in r.items}
    assert by["GPU"].total_g == pytest.approx(200_000.0)
    assert by["GPU"].source == "user override"
    assert by["server"].total_g == pytest.approx(3_000_000.0)
    assert by["server"].share == pytest.approx(1 / 4)
    assert by["dram"].total_g == pytest.approx(512 * 533 / 384 * 1000, rel=1e-5)
    assert by["ssd"].total_g == pytest.approx(160_000.0)
    r2 = embodied_for_run([CPU], HOUR, preset="aws:p4d.24xlarge", overrides={"te_kg": 5000})
    assert r2.items[0].total_g == pytest.approx(5_000_000.0)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown embodied override"):
        embodied_for_run([CPU], HOUR, overrides={"gpu_kgs": 1})
    with pytest.raises(ConfigError, match="duration_s"):
        embodied_for_run([CPU], -1.0)
    with pytest.raises(ConfigError, match="lifetime_years"):
        embodied_for_run([CPU], HOUR, lifetime_years=0)
    with pytest.raises(UnknownHardware):
        embodied_for_run([CPU], HOUR, preset="no-such-preset")


def test_no_devices_no_items() -> None:
    r = embodied_for_run([], HOUR)
    assert r.items == () and r.warnings
