"""The hardware catalog: robust GPU lookup, CPU TDPs, embodied figures, presets, tables."""

import csv
from importlib import resources

import pytest

from carbonledger.errors import DataError
from carbonledger.lifecycle.hardware import (
    UnknownHardware,
    catalog,
    catalog_entry,
    cloud_instance,
    cpu_tdp,
    gpu_spec,
    hardware_specs,
    preset,
    preset_names,
)


@pytest.mark.parametrize(
    ("name", "row", "tdp_w"),
    [
        ("A100", "A100 SXM4 80 GB", 400),
        ("a100-sxm4-80gb", "A100 SXM4 80 GB", 400),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80 GB", 400),
        ("NVIDIA A100-SXM4-40GB", "A100 SXM4 40GB", 400),
        ("NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB", 250),
        ("NVIDIA A100 80GB PCIe", "A100 PCIe 80GB", 300),
        ("Tesla V100-SXM2-16GB", "Tesla V100-SXM2-16GB", 300),
        ("V100", "Tesla V100-SXM2-16GB", 300),
        ("Tesla V100-PCIE-16GB", "Tesla V100-PCIE-16GB", 250),
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 700),
        ("H100", "H100 SXM", 700),
        ("NVIDIA H100 PCIe", "H100 PCIe", 350),
        ("NVIDIA H100 NVL", "H100 NVL", 400),
        ("Tesla T4", "T4", 70),
        ("NVIDIA GeForce RTX 3090", "RTX 3090", 350),
        ("NVIDIA GeForce RTX 3080 Ti", "RTX 3080 TI", 350),
        ("GTX 1080", "GTX 1080", 180),
        ("NVIDIA A10G", "A10G", 150),
        ("NVIDIA L4", "L4", 72),
        ("TPU v3", "TPUv3 Chip", 283),
        ("AMD Instinct MI300X", "Instinct MI300X", 750),
    ],
)
def test_gpu_lookup(name: str, row: str, tdp_w: float) -> None:
    spec = gpu_spec(name)
    assert spec.name == row
    assert spec.tdp_w == tdp_w


def test_ambiguous_name_lists_the_candidates() -> None:
    with pytest.raises(UnknownHardware, match="ambiguous") as err:
        gpu_spec("A100 PCIe")
    assert set(err.value.suggestions) == {"A100 PCIe 40GB", "A100 PCIe 80GB"}
    assert isinstance(err.value, DataError)


@pytest.mark.parametrize("name", ["", "Mystery 9000", "rtx"])
def test_unknown_names_raise_with_suggestions(name: str) -> None:
    with pytest.raises(UnknownHardware, match="unknown GPU"):
        gpu_spec(name)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownHardware) as err:
        gpu_spec("rtx 309")
    assert any("3090" in s for s in err.value.suggestions)


def test_corrections_of_the_upstream_table_are_applied_and_noted() -> None:
    by_name = {s.name: s for s in hardware_specs()}
    a10g = by_name["A10G"]
    assert a10g.memory_gb == 24 and a10g.source.startswith("https://")
    assert by_name["GTX 750"].tdp_w == 55
    for spec in by_name.values():
        if spec.origin == "mlco2-corrected":
            assert "upstream" in spec.note
        assert spec.tdp_w > 0
        assert spec.source


def test_cpu_tdp() -> None:
    tdp, source = cpu_tdp("AMD EPYC 7763 64-Core Processor")
    assert tdp == 280
    assert source
    with pytest.raises(UnknownHardware, match="unknown CPU"):
        cpu_tdp("Imaginary CPU 123456")


def test_catalog_figures_and_sources() -> None:
    cat = catalog()
    assert cat["gpu-a100"].kgco2e == 150
    assert cat["gpu-a100"].source_type == "literature"
    assert cat["server-8gpu-bloom"].kgco2e == 2500
    assert cat["server-8gpu-bloom"].gpu_slots == 8
    assert cat["server-ccf"].kgco2e == 1000
    assert cat["dram-per-gb"].kgco2e == pytest.approx(533 / 384, rel=1e-5)
    assert cat["dram-per-gb"].unit == "per_gb"
    assert cat["server-meta"].source_type == "default"  # primary source not verified
    for entry in cat.values():
        assert entry.source and 0 < entry.uncertainty_rel <= 1
    with pytest.raises(UnknownHardware, match="embodied catalog entry"):
        catalog_entry("gpu-a1000")


def test_cloud_instances_from_ccf() -> None:
    p4d = cloud_instance("aws:p4d.24xlarge")
    assert p4d.te_kg == pytest.approx(4676.79)
    assert p4d.gpus_kg == pytest.approx(1200.0)  # 8 GPUs × 150 kg
    assert p4d.share == pytest.approx(1.0)
    assert cloud_instance("aws:p3.2xlarge").share == pytest.approx(8 / 64)  # 1 of 8 V100s
    assert cloud_instance("gcp:a2-highgpu-1g").share == pytest.approx(1 / 8)
    assert cloud_instance("azure:NC6s v3").te_kg == pytest.approx(2349.62)
    assert cloud_instance("azure:Standard_NC6s_v3") == cloud_instance("azure:NC6s v3")
    assert cloud_instance("gcp:e2-micro").share is None  # shared-core: size not in the name
    with pytest.raises(UnknownHardware, match="cloud instance type"):
        cloud_instance("aws:p9.huge")


def test_gcp_types_average_over_microarchitectures() -> None:
    e2 = cloud_instance("gcp:e2-standard-2")
    assert e2.te_kg_min < e2.te_kg < e2.te_kg_max


def test_presets() -> None:
    names = preset_names()
    for name in ("bloom-a100-node", "a100", "v100", "h100", "server-8gpu-bloom", "server-meta"):
        assert name in names
    node = preset("bloom-a100-node")
    assert node.gpu is not None and node.gpu.kgco2e == 150
    assert node.host is not None and node.host.kgco2e == 2500
    assert node.host_gpu_slots == 8
    assert preset("aws:p4d.24xlarge").cloud is not None
    with pytest.raises(UnknownHardware, match="embodied preset"):
        preset("bloom-a100-nod")


def test_bundled_tables_have_their_documented_columns() -> None:
    data = resources.files("carbonledger").joinpath("data")
    expected = {
        "hardware_specs.csv": [
            "name",
            "kind",
            "tdp_w",
            "memory_gb",
            "aliases",
            "default_for",
            "embodied_key",
            "origin",
            "source",
            "note",
        ],
        "embodied_catalog.csv": ["key", "kind", "kgco2e", "unit", "source_type", "source", "note"],
        "cloud_instances_embodied.csv": [
            "key",
            "provider",
            "family",
            "type",
            "microarchitectures",
            "te_kg",
            "te_kg_min",
            "te_kg_max",
            "gpus_kg",
            "size_units",
            "family_max_units",
            "share",
            "share_basis",
        ],
    }
    for name, columns in expected.items():
        text = data.joinpath(name).read_text(encoding="utf-8")
        header = next(csv.reader(text.splitlines()))
        assert header == columns, name
