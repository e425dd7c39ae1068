"""estimate(): published figures reproduced, properties, provenance and validation."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import carbonledger as cl
from carbonledger.errors import ConfigError
from carbonledger.lifecycle.estimate import ESTIMATE_STATUS, MEMORY_W_PER_GB, estimate
from carbonledger.lifecycle.hardware import UnknownHardware
from carbonledger.units import KG_PER_LB, S_PER_YEAR, lbs_per_mwh_to_g_per_kwh

# Strubell, Ganesh & McCallum 2019, "Energy and Policy Considerations for Deep Learning in
# NLP", Table 3: model, hardware, power (W), hours, kWh·PUE, CO2e (lbs). Their formula:
# p_t = 1.58 t (p_c + p_r + g p_g) / 1000 kWh; CO2e = 0.954 p_t lbs. The power column is the
# whole sum p_c + p_r + g p_g. BERT base trained for 79.2 h (the paper's text; the table
# rounds it to 79). TPU rows have no published power, so no energy or CO2e.
STRUBELL_PUE = 1.58
STRUBELL_LBS_PER_KWH = 0.954
STRUBELL_TABLE_3 = [
    ("T2T_base", "P100x8", 1415.78, 12, 27, 26),
    ("T2T_big", "P100x8", 1515.43, 84, 201, 192),
    ("ELMo", "P100x3", 517.66, 336, 275, 262),
    ("BERT_base", "V100x64", 12041.51, 79.2, 1507, 1438),
    ("NAS", "P100x8", 1515.43, 274120, 656347, 626155),
]


@pytest.mark.parametrize(
    ("model", "hardware", "power_w", "hours", "kwh_pue", "co2e_lbs"), STRUBELL_TABLE_3
)
def test_strubell_2019_table_3(
    model: str, hardware: str, power_w: float, hours: float, kwh_pue: int, co2e_lbs: int
) -> None:
    # 0.954 lbs/kWh = 954 lbs/MWh, converted by units.py
    intensity = lbs_per_mwh_to_g_per_kwh(STRUBELL_LBS_PER_KWH * 1000)
    fp = estimate(
        power_w=power_w, hours=hours, pue=STRUBELL_PUE, intensity_g_per_kwh=intensity, name=model
    )
    d = fp.to_dict()
    assert round(d["facility_energy_kwh"]) == kwh_pue
    assert round(d["total_kgco2e"] / KG_PER_LB) == co2e_lbs


def test_strubell_bert_with_79_hours_misses_the_table() -> None:
    intensity = lbs_per_mwh_to_g_per_kwh(954)
    fp = estimate(power_w=12041.51, hours=79, pue=1.58, intensity_g_per_kwh=intensity)
    assert round(fp.to_dict()["facility_energy_kwh"]) == 1503  # the table says 1507: 79.2 h


def test_green_algorithms_bert_example() -> None:
    # Lannelongue et al. 2021: 64 V100 at 300 W, 62.7 % use, 79 h, PUE 1.67, 475 g/kWh
    # -> 754,407 gCO2e. Exact with no memory term: any memory adds 0.3725 W/GB.
    fp = estimate(
        power_w=300, count=64, utilization=0.627, hours=79, pue=1.67, intensity_g_per_kwh=475
    )
    assert fp.total_g is not None
    assert round(fp.total_g) == 754_407
    by_gpu = estimate(
        gpu="V100", count=64, utilization=0.627, hours=79, pue=1.67, intensity_g_per_kwh=475
    )
    # the published figure is operational; carbonledger adds the GPUs' embodied share
    assert by_gpu.operational_g == pytest.approx(fp.total_g)
    assert by_gpu.embodied_g is not None and by_gpu.embodied_g > 0
    off = estimate(
        gpu="V100",
        count=64,
        utilization=0.627,
        hours=79,
        pue=1.67,
        intensity_g_per_kwh=475,
        include_embodied=False,
    )
    assert off.total_g == pytest.approx(fp.total_g)
    with_memory = estimate(
        power_w=300,
        count=64,
        utilization=0.627,
        hours=79,
        pue=1.67,
        intensity_g_per_kwh=475,
        memory_gb=1,
    )
    assert with_memory.operational_g is not None
    assert with_memory.operational_g - fp.total_g == pytest.approx(
        MEMORY_W_PER_GB * 79 * 1.67 * 0.475
    )


def test_bloom_dynamic_and_embodied() -> None:
    # Luccioni et al. 2022: 1,082,990 A100-hours at TDP 400 W = 433,196 kWh, 57 g/kWh,
    # PUE not applied to the "dynamic" figure -> 24.69 t; embodied 11.2 t with 150 kg per
    # GPU + 2,500 kg per 8-GPU server = 462.5 kg per GPU, 6 years at 85 % use.
    fp = estimate(
        power_w=400,
        device_hours=1_082_990,
        intensity_g_per_kwh=57,
        embodied_kg=462.5,
        lifetime_years=6,
        lifetime_use=0.85,
    )
    d = fp.to_dict()
    assert d["energy_kwh"] == pytest.approx(433_196)
    assert d["pue"] == 1.0
    assert d["operational_kgco2e"] / 1000 == pytest.approx(24.69, abs=0.005)
    assert d["embodied_kgco2e"] / 1000 == pytest.approx(11.2, abs=0.05)
    assert d["embodied_kgco2e"] == pytest.approx(462.5 * 1_082_990 * 3600 / (6 * S_PER_YEAR * 0.85))


def test_footprint_shape_and_labels() -> None:
    fp = cl.estimate(
        gpu="A100",
        count=8,
        hours=10,
        utilization=0.5,
        memory_gb=64,
        pue=1.2,
        intensity_g_per_kwh=100,
        embodied_kg=150,
        lifetime_years=5,
        name="x",
        phase="training",
    )
    d = fp.to_dict()
    assert d["run_id"] is None and d["status"] == ESTIMATE_STATUS == "estimate"
    assert d["name"] == "x" and d["phase"] == "training"
    assert d["duration_s"] == 36_000
    assert {c["component"] for c in d["components"]} == {"gpu", "ram"}
    assert all(c["method"] == "modeled" for c in d["components"])
    gpu = next(c for c in d["components"] if c["component"] == "gpu")
    assert gpu["energy_kwh"] == pytest.approx(8 * 400 * 0.5 * 10 / 1000)
    assert gpu["mean_power_w"] == pytest.approx(1600)
    assert "A100 SXM4 80 GB" in gpu["source"]
    assert d["intensity"]["method"] == "modeled" and d["intensity"]["source"].startswith("user")
    assert d["pue_source"] == "user"
    emb = d["embodied"][0]
    assert emb["count"] == 8 and emb["total_kgco2e"] == pytest.approx(1200)
    assert emb["kgco2e"] == pytest.approx(150 * 80 * 3600 / (5 * S_PER_YEAR))
    mem = d["embodied"][1]  # the memory's catalog figure, 1.388 kg/GB, for the wall time
    assert mem["total_kgco2e"] == pytest.approx(64 * 1.38802)
    assert mem["kgco2e"] == pytest.approx(64 * 1.38802 * 10 * 3600 / (5 * S_PER_YEAR))
    low, high = d["uncertainty"]["total_kgco2e"]
    assert low < d["total_kgco2e"] < high
    assert d["warnings"] == []


def test_no_place_means_world_default_and_a_warning() -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    fp = estimate(power_w=100, hours=1)
    assert fp.intensity.method == "default"
    assert len(fp.warnings) == 1 and "zone" in fp.warnings[0]


def test_zone_prices_at_its_average_and_cloud_zones_get_the_provider_pue() -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    fp = estimate(power_w=100, hours=1, zone="FR")
    assert fp.intensity.zone == "FR" and fp.pue == 1.0
    assert fp.pue_source.startswith("default")
    cloud = estimate(power_w=100, hours=1, zone="aws:us-east-1")
    assert cloud.pue == pytest.approx(1.135)
    assert estimate(power_w=100, hours=1, zone="aws:us-east-1", pue=1.3).pue == 1.3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": -1}, "hours must be ≥ 0"),
        ({"hours": 1, "device_hours": 2}, "exactly one of hours, device_hours"),
        ({}, "exactly one of hours, device_hours"),
        ({"hours": 1, "gpu": "A100"}, "exactly one of power_w, gpu, cpu"),
        ({"hours": math.inf}, "hours"),
        ({"hours": 1, "count": 0}, "count"),
        ({"hours": 1, "count": 2.5}, "count"),
        ({"device_hours": 10, "count": 2}, "count must be 1 with device_hours"),
        ({"hours": 1, "utilization": 1.5}, "utilization"),
        ({"hours": 1, "memory_gb": -2}, "memory_gb"),
        ({"device_hours": 1, "memory_gb": 2}, "memory_gb needs hours"),
        ({"hours": 1, "pue": 0.9}, "pue"),
        ({"hours": 1, "intensity_g_per_kwh": -5}, "intensity_g_per_kwh"),
        ({"hours": 1, "intensity_g_per_kwh": 5, "zone": "FR"}, "not both"),
        ({"hours": 1, "embodied_kg": -1}, "embodied_kg"),
        ({"hours": 1, "embodied_kg": 1, "lifetime_years": 0}, "lifetime_years"),
        ({"hours": 1, "embodied_kg": 1, "lifetime_use": 0}, "lifetime_use"),
        ({"hours": 1, "lifetime_years": 4}, "lifetime_years needs embodied_kg"),
        ({"hours": 1, "phase": "lunch"}, "phase"),
    ],
)
def test_invalid_values_name_the_argument(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"power_w": 100, "intensity_g_per_kwh": 100}
    if "zone" in kwargs:
        args.pop("intensity_g_per_kwh")
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        estimate(**args)  # type: ignore[arg-type]


def test_unknown_gpu_is_a_data_error() -> None:
    with pytest.raises(UnknownHardware):
        estimate(gpu="Mystery 9000", hours=1, intensity_g_per_kwh=1)


def test_embodied_without_lifetime_uses_the_default_and_says_so() -> None:
    fp = estimate(power_w=1, hours=1, intensity_g_per_kwh=1, embodied_kg=100)
    assert fp.embodied[0].lifetime_years == 4.0
    assert any("lifetime_years" in w for w in fp.warnings)


positive = st.floats(min_value=0.001, max_value=1e5, allow_nan=False)


@settings(max_examples=60)
@given(
    positive,
    positive,
    positive,
    positive,
    st.integers(min_value=1, max_value=64),
    st.floats(min_value=0, max_value=1),
)
def test_monotone_in_power_and_hours(
    p1: float, p2: float, h1: float, h2: float, count: int, util: float
) -> None:
    def total(p: float, h: float) -> float:
        fp = estimate(
            power_w=p,
            hours=h,
            count=count,
            utilization=util,
            intensity_g_per_kwh=300,
            pue=1.2,
            embodied_kg=100,
            lifetime_years=4,
        )
        assert fp.total_g is not None
        return fp.total_g

    lo_p, hi_p = sorted((p1, p2))
    lo_h, hi_h = sorted((h1, h2))
    assert total(lo_p, h1) <= total(hi_p, h1) * (1 + 1e-12)
    assert total(p1, lo_h) <= total(p1, hi_h) * (1 + 1e-12)


@settings(max_examples=60)
@given(
    positive,
    positive,
    st.floats(min_value=0, max_value=1000),
    st.one_of(st.none(), st.floats(min_value=0, max_value=1000)),
    st.one_of(st.none(), st.floats(min_value=0, max_value=2000)),
)
def test_intervals_contain_the_values(
    power: float, hours: float, intensity: float, memory: float | None, embodied: float | None
) -> None:
    fp = estimate(
        power_w=power,
        hours=hours,
        intensity_g_per_kwh=intensity,
        memory_gb=memory,
        embodied_kg=embodied,
        lifetime_years=None if embodied is None else 5,
    )
    assert fp.energy_interval_j is not None and fp.energy_j is not None
    assert fp.energy_interval_j[0] <= fp.energy_j <= fp.energy_interval_j[1]
    assert fp.total_interval_g is not None and fp.total_g is not None
    assert fp.total_interval_g[0] <= fp.total_g * (1 + 1e-12)
    assert fp.total_g <= fp.total_interval_g[1] * (1 + 1e-12) + 1e-12


def test_a100_estimate_includes_the_catalogs_embodied_share_and_says_what_it_leaves_out() -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    fp = estimate(gpu="A100", count=8, hours=24, zone="FR")
    d = fp.to_dict()
    emb = d["embodied"][0]
    assert emb["total_kgco2e"] == pytest.approx(8 * 150)  # BLOOM's 150 kg per A100
    assert emb["kgco2e"] == pytest.approx(8 * 150 * 24 * 3600 / (4 * S_PER_YEAR))
    assert "gpu-a100" in emb["source"]
    assert d["embodied_kgco2e"] == pytest.approx(emb["kgco2e"])
    assert any("A100" in x and "100 %" in x for x in d["included"])
    assert any("CPU" in x for x in d["excluded"]) and any("memory" in x for x in d["excluded"])
    assert any("host" in x for x in d["excluded"])
    assert any("lifetime_years" in w for w in d["warnings"])
    off = estimate(gpu="A100", count=8, hours=24, zone="FR", include_embodied=False)
    assert off.embodied_g is None and "embodied emissions (turned off)" in off.excluded


def test_green_algorithms_combination_of_gpus_cores_and_memory_with_psf() -> None:
    # E = t × (n_c P_c u_c + n_gpu P_gpu u_gpu + n_m P_m) × PUE × PSF (Lannelongue et al. 2021)
    fp = estimate(
        gpu="V100",
        count=2,
        hours=10,
        utilization=0.5,
        cpu_cores=12,
        cpu_core_w=10,
        cpu_utilization=0.8,
        memory_gb=64,
        pue=1.5,
        psf=3,
        intensity_g_per_kwh=300,
        include_embodied=False,
    )
    watts = 12 * 10 * 0.8 + 2 * 300 * 0.5 + 64 * MEMORY_W_PER_GB
    assert fp.energy_j == pytest.approx(watts * 10 * 3 * 3600)
    assert fp.operational_g == pytest.approx(watts * 10 * 3 / 1000 * 1.5 * 300)
    assert {c.device for c in fp.components} == {
        "estimate:gpu",
        "estimate:cpu-cores",
        "estimate:ram",
    }
    cores_only = estimate(cpu_cores=4, cpu_core_w=12, hours=1, intensity_g_per_kwh=100)
    assert cores_only.energy_j == pytest.approx(4 * 12 * 3600)
    with pytest.raises(ConfigError, match="cpu_core_w"):
        estimate(cpu_cores=4, hours=1, intensity_g_per_kwh=100)
    with pytest.raises(ConfigError, match="psf"):
        estimate(power_w=1, hours=1, intensity_g_per_kwh=1, psf=0.5)
