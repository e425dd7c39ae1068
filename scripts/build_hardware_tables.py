#!/usr/bin/env python3
"""Build carbonledger's bundled hardware tables from the public reference data.

Writes three CSV files under ``src/carbonledger/data/``:

``hardware_specs.csv``
    GPUs, TPUs and a few CPUs with their TDP (W) and memory (GB), from the ML CO2 Impact
    calculator's ``gpus.csv`` (MIT licence, https://github.com/mlco2/impact), with the
    corrections and additions listed in ``CORRECTIONS`` and ``ADDITIONS`` below (each with its
    source), plus lookup aliases (nvidia-smi names) and family defaults.
``embodied_catalog.csv``
    Embodied-emission figures (kgCO2e) for GPU cards, servers, DRAM and storage, each with its
    published source (``CATALOG`` below; hand-curated, no upstream file).
``cloud_instances_embodied.csv``
    Cloud Carbon Footprint's embodied emissions per cloud instance type
    (``ccf_coefficients_{aws,azure,gcp}_embodied.csv``, Apache-2.0,
    https://github.com/cloud-carbon-footprint/ccf-coefficients), one row per type, with the
    instance's share of its host estimated from the type's size (see ``_share_units``).

Usage: ``python scripts/build_hardware_tables.py [--data DIR] [--out DIR]``.
``DIR`` defaults to ``../shared/data`` next to the repository. The output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "carbonledger" / "data"

MLCO2 = "mlco2/impact gpus.csv (MIT)"
NVIDIA_V100 = "https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf"
NVIDIA_A100 = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
NVIDIA_H100 = "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet"
NVIDIA_H200 = "https://www.nvidia.com/en-us/data-center/h200/"

# name in mlco2 -> (field, corrected value, reason). Applied on top of the upstream rows.
CORRECTIONS: dict[str, list[tuple[str, object, str]]] = {
    "Tesla V100-SXM2-16GB": [
        ("tdp_w", 300.0, "upstream 250 W; NVIDIA V100 datasheet: SXM2 300 W, PCIe 250 W"),
    ],
    "Tesla V100-PCIE-16GB": [
        ("tdp_w", 250.0, "upstream 300 W; NVIDIA V100 datasheet: SXM2 300 W, PCIe 250 W"),
    ],
    "A100 PCIe 40/80GB": [
        ("name", "A100 PCIe 40GB", "upstream row covers 40 and 80 GB; its 250 W is the 40 GB card"),
        ("memory_gb", 40.0, "the 40 GB card"),
    ],
    "A10G": [
        ("memory_gb", 24.0, "upstream row has a missing column; 24 GB per techpowerup.com"),
    ],
    "GTX 750": [
        ("tdp_w", 55.0, "upstream 250 W/24 GB is wrong; techpowerup.com: 55 W, 1 GB"),
        ("memory_gb", 1.0, "techpowerup.com"),
    ],
    "Tesla M40 24GB": [
        ("memory_gb", 24.0, "upstream 12 GB contradicts the card's name"),
    ],
}

# Rows not in mlco2, from the vendors' datasheets.
ADDITIONS: list[dict[str, object]] = [
    {
        "name": "A100 SXM4 40GB",
        "kind": "gpu",
        "tdp_w": 400.0,
        "memory_gb": 40.0,
        "source": NVIDIA_A100,
    },
    {
        "name": "A100 PCIe 80GB",
        "kind": "gpu",
        "tdp_w": 300.0,
        "memory_gb": 80.0,
        "source": NVIDIA_A100,
    },
    {"name": "H100 PCIe", "kind": "gpu", "tdp_w": 350.0, "memory_gb": 80.0, "source": NVIDIA_H100},
    {"name": "H200 SXM", "kind": "gpu", "tdp_w": 700.0, "memory_gb": 141.0, "source": NVIDIA_H200},
    {"name": "V100S PCIe", "kind": "gpu", "tdp_w": 250.0, "memory_gb": 32.0, "source": NVIDIA_V100},
    {
        "name": "A10",
        "kind": "gpu",
        "tdp_w": 150.0,
        "memory_gb": 24.0,
        "source": "https://www.nvidia.com/en-us/data-center/products/a10-gpu/",
    },
    {
        "name": "A40",
        "kind": "gpu",
        "tdp_w": 300.0,
        "memory_gb": 48.0,
        "source": "https://www.nvidia.com/en-us/data-center/a40/",
    },
    {
        "name": "L40",
        "kind": "gpu",
        "tdp_w": 300.0,
        "memory_gb": 48.0,
        "source": "https://www.nvidia.com/en-us/data-center/l40/",
    },
    {
        "name": "Instinct MI250X",
        "kind": "gpu",
        "tdp_w": 560.0,
        "memory_gb": 128.0,
        "source": "https://www.amd.com/en/products/accelerators/instinct/mi200/mi250x.html",
    },
    {
        "name": "Instinct MI300X",
        "kind": "gpu",
        "tdp_w": 750.0,
        "memory_gb": 192.0,
        "source": "https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
    },
]

# name -> lookup aliases (device names as nvidia-smi / NVML report them, common spellings)
ALIASES: dict[str, list[str]] = {
    "H100 SXM": ["NVIDIA H100 80GB HBM3", "H100 SXM5", "H100 SXM5 80GB", "H100-SXM5-80GB"],
    "H100 PCIe": ["NVIDIA H100 PCIe", "H100 PCIe 80GB"],
    "H100 NVL": ["NVIDIA H100 NVL"],
    "H200 SXM": ["NVIDIA H200", "H200 141GB HBM3e", "NVIDIA H200 141GB HBM3e"],
    "A100 SXM4 80 GB": ["NVIDIA A100-SXM4-80GB", "A100 80GB SXM"],
    "A100 SXM4 40GB": ["NVIDIA A100-SXM4-40GB", "A100 40GB SXM"],
    "A100 PCIe 40GB": ["NVIDIA A100-PCIE-40GB"],
    "A100 PCIe 80GB": ["NVIDIA A100 80GB PCIe", "NVIDIA A100-PCIE-80GB"],
    "Tesla V100-SXM2-16GB": ["V100 SXM2 16GB"],
    "Tesla V100-SXM2-32GB": ["V100 SXM2 32GB"],
    "Tesla V100-PCIE-16GB": ["V100 PCIe 16GB"],
    "V100S PCIe": ["Tesla V100S-PCIE-32GB"],
    "T4": ["Tesla T4"],
    "A10G": ["NVIDIA A10G"],
    "L4": ["NVIDIA L4"],
    "TPUv2 Chip": ["TPU v2", "TPUv2"],
    "TPUv3 Chip": ["TPU v3", "TPUv3"],
    "Instinct MI250X": ["AMD Instinct MI250X", "MI250X"],
    "Instinct MI300X": ["AMD Instinct MI300X", "MI300X"],
}

# bare family names -> the row they mean (the data-centre part most used for training)
DEFAULT_FOR: dict[str, list[str]] = {
    "A100 SXM4 80 GB": ["A100"],
    "H100 SXM": ["H100"],
    "Tesla V100-SXM2-16GB": ["V100", "Tesla V100"],
    "H200 SXM": ["H200"],
}

# rows whose embodied figure is the A100-specific one; other GPUs get the generic figure
A100_ROWS = {"A100 SXM4 80 GB", "A100 SXM4 40GB", "A100 PCIe 40GB", "A100 PCIe 80GB"}

SPEC_COLUMNS = (
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
)

# ---------------------------------------------------------------------------------------
# Embodied catalog: every figure with its source. kgco2e per device, or per GB for *_per_gb.
# source_type: lca (manufacturer life-cycle assessment), literature (published estimate),
# model (a modelling tool's coefficient), default (a placeholder carbonledger could not verify).
CATALOG: list[dict[str, object]] = [
    {
        "key": "gpu-a100",
        "kind": "gpu",
        "kgco2e": 150.0,
        "unit": "per_device",
        "source_type": "literature",
        "source": "Luccioni et al. 2022, Estimating the Carbon Footprint of BLOOM "
        "(arXiv:2211.02001), 150 kgCO2e per A100 card; the same figure is Cloud "
        "Carbon Footprint's per-GPU coefficient",
        "note": "extrapolated by the authors; no manufacturer LCA of the A100 was public",
    },
    {
        "key": "gpu-generic",
        "kind": "gpu",
        "kgco2e": 150.0,
        "unit": "per_device",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads: 150 kgCO2e per additional GPU, for any GPU "
        "(ccf-coefficients embodied tables: additional_gpus = 150 × GPUs)",
        "note": "not specific to the GPU model",
    },
    {
        "key": "server-8gpu-bloom",
        "kind": "server",
        "kgco2e": 2500.0,
        "unit": "per_device",
        "source_type": "literature",
        "source": "Luccioni et al. 2022 (BLOOM): 2,500 kgCO2e for an 8-GPU HPE Apollo 6500 "
        "Gen10 Plus node without its GPUs",
        "note": "gpu_slots=8",
    },
    {
        "key": "server-meta",
        "kind": "server",
        "kgco2e": 2000.0,
        "unit": "per_device",
        "source_type": "default",
        "source": "about 2,000 kgCO2e per GPU server as attributed to Meta; carbonledger could "
        "not trace the primary publication, so it is labelled default",
        "note": "gpu_slots=8",
    },
    {
        "key": "server-ccf",
        "kind": "server",
        "kgco2e": 1000.0,
        "unit": "per_device",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads minimal rack server (1 CPU, 16 GB DRAM, no "
        "storage), derived from the Dell PowerEdge R740 LCA",
        "note": "add cpu-additional, dram-per-gb, ssd/hdd items for larger servers",
    },
    {
        "key": "cpu-additional",
        "kind": "cpu",
        "kgco2e": 100.0,
        "unit": "per_device",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads: 100 kgCO2e per additional CPU socket",
        "note": "",
    },
    {
        "key": "dram-per-gb",
        "kind": "dram",
        "kgco2e": round(533.0 / 384.0, 6),
        "unit": "per_gb",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads: 533 kgCO2e for 384 GB of DRAM (Dell "
        "PowerEdge R740 LCA), i.e. 1.388 kgCO2e/GB beyond the base server's 16 GB",
        "note": "",
    },
    {
        "key": "ssd-per-drive",
        "kind": "ssd",
        "kgco2e": 100.0,
        "unit": "per_device",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads: 100 kgCO2e per SSD drive",
        "note": "",
    },
    {
        "key": "hdd-per-drive",
        "kind": "hdd",
        "kgco2e": 50.0,
        "unit": "per_device",
        "source_type": "model",
        "source": "Cloud Carbon Footprint / Teads: 50 kgCO2e per HDD drive",
        "note": "",
    },
    {
        "key": "ssd-per-gb",
        "kind": "ssd",
        "kgco2e": 0.16,
        "unit": "per_gb",
        "source_type": "literature",
        "source": "Tannu & Nair 2023, The Dirty Secret of SSDs: Embodied Carbon (HotCarbon "
        "2022, arXiv:2207.10793): 0.16 kgCO2e per GB of flash, from 94 SSD LCAs",
        "note": "",
    },
]
CATALOG_COLUMNS = ("key", "kind", "kgco2e", "unit", "source_type", "source", "note")

CLOUD_COLUMNS = (
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
)


def _num(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    if not text or text.lower() in {"nan", "unk", "none"}:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.1f}"
    return str(value)


def read_mlco2(path: Path) -> list[dict[str, object]]:
    """Rows of the mlco2 table; a row with a missing column (A10G) is realigned."""
    rows: list[dict[str, object]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        for line_no, raw in enumerate(reader, start=2):
            if not raw or not raw[0].strip():
                continue
            cells = dict(zip(header, raw, strict=False))
            memory_text = cells.get("memory", "")
            source = cells.get("source", "")
            if memory_text.strip().startswith("http") or len(raw) < len(header):
                source, memory_text = memory_text, ""
            kind = cells["type"].strip().lower()
            tdp = _num(cells["tdp_watts"])
            if tdp is None:
                sys.exit(f"{path}:{line_no}: no tdp_watts for {cells['name']!r}")
            rows.append(
                {
                    "name": cells["name"].strip(),
                    "kind": kind,
                    "tdp_w": tdp,
                    "memory_gb": _num(memory_text),
                    "source": (source or "").strip() or MLCO2,
                    "origin": "mlco2",
                    "note": "",
                }
            )
    return rows


def build_specs(mlco2_rows: Iterable[dict[str, object]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in mlco2_rows:
        row = dict(row)
        upstream = str(row["name"])
        notes = []
        for field, value, why in CORRECTIONS.get(upstream, []):
            row[field] = value
            notes.append(f"{field}: {why}")
        if notes:
            row["origin"] = "mlco2-corrected"
            row["note"] = f"upstream name {upstream!r}; " + "; ".join(notes)
        out.append(row)
    for add in ADDITIONS:
        out.append({**add, "origin": "carbonledger", "note": "vendor datasheet"})
    names = [str(r["name"]) for r in out]
    if len(set(names)) != len(names):
        sys.exit("duplicate names in hardware specs")
    for row in out:
        name = str(row["name"])
        row["aliases"] = ";".join(ALIASES.get(name, []))
        row["default_for"] = ";".join(DEFAULT_FOR.get(name, []))
        if row["kind"] == "gpu":
            row["embodied_key"] = "gpu-a100" if name in A100_ROWS else "gpu-generic"
        else:
            row["embodied_key"] = ""
    for key in list(ALIASES) + list(DEFAULT_FOR):
        if key not in names:
            sys.exit(f"alias/default for unknown row {key!r}")
    out.sort(key=lambda r: (str(r["kind"]), str(r["name"]).lower()))
    return out


# ---------------------------------------------------------------------------------------
# cloud instances

_AWS_SIZES = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}
_AWS_SIZE_RE = re.compile(r"^(\d+)xlarge$")


def _aws_split(type_name: str) -> tuple[str, float | None, bool]:
    """(family, size units, is_metal) of an AWS type (db.* and *.elasticsearch included)."""
    parts = type_name.split(".")
    for i, part in enumerate(parts):
        m = _AWS_SIZE_RE.match(part)
        if part in _AWS_SIZES or m or part == "metal":
            family = ".".join(parts[:i] + parts[i + 1 :])
            if part == "metal":
                return family, None, True
            units = float(int(m.group(1)) * 4) if m else float(_AWS_SIZES[part])
            # Graviton (a1, *g, *gd) medium instances have one vCPU
            base = parts[i - 1] if i > 0 else ""
            if part == "medium" and (base == "a1" or re.match(r"^[a-su-z][a-z]*\dg[a-z]*$", base)):
                units = 1.0
            return family, units, False
    return type_name, None, False


def _azure_units(type_name: str) -> float | None:
    m = re.match(r"^[A-Za-z]+(\d+)", type_name.strip())
    return float(m.group(1)) if m else None


def _gcp_units(type_name: str) -> float | None:
    m = re.search(r"-(\d+)g?$", type_name.strip())
    return float(m.group(1)) if m else None


def read_ccf(path: Path, provider: str) -> list[dict[str, object]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            grouped[row["type"].strip()].append(row)
    out: list[dict[str, object]] = []
    for type_name, rows in grouped.items():
        totals = [float(r["total"]) for r in rows]
        gpus = [float(r["additional_gpus"]) for r in rows]
        archs = sorted({r.get("microarchitecture", "").strip() for r in rows} - {""})
        if provider == "aws":
            family, units, metal = _aws_split(type_name)
        elif provider == "azure":
            family, units, metal = rows[0]["family"].strip(), _azure_units(type_name), False
        else:
            family, units, metal = rows[0]["family"].strip(), _gcp_units(type_name), False
        out.append(
            {
                "provider": provider,
                "family": family,
                "type": type_name,
                "microarchitectures": ";".join(archs),
                "te_kg": round(statistics.fmean(totals), 2),
                "te_kg_min": min(totals),
                "te_kg_max": max(totals),
                "gpus_kg": round(statistics.fmean(gpus), 2),
                "size_units": units,
                "metal": metal,
            }
        )
    by_family: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in out:
        by_family[str(row["family"])].append(row)
    for rows_ in by_family.values():
        sized = [float(r["size_units"]) for r in rows_ if r["size_units"] is not None]  # type: ignore[arg-type]
        family_max = max(sized) if sized else None
        for row in rows_:
            row["family_max_units"] = family_max
            if row["metal"]:
                row["share"], row["share_basis"] = 1.0, "bare-metal: whole host"
            elif row["size_units"] is None or family_max is None:
                row["share"], row["share_basis"] = None, "unknown: size not in the type name"
            else:
                row["share"] = round(float(row["size_units"]) / family_max, 6)  # type: ignore[arg-type]
                row["share_basis"] = "size / largest size in family (from type names)"
    for row in out:
        row["key"] = cloud_key(provider, str(row["type"]))
    out.sort(key=lambda r: str(r["key"]))
    return out


def cloud_key(provider: str, type_name: str) -> str:
    """``provider:type`` in the normal form carbonledger looks instance types up by."""
    name = type_name.strip().lower()
    if provider == "azure":
        name = re.sub(r"^standard[_ ]", "", name)
        name = re.sub(r"[_\s]+", " ", name)
    return f"{provider}:{name}"


def write_csv(path: Path, columns: tuple[str, ...], rows: Iterable[dict[str, object]]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row.get(c)) for c in columns])
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    hw = args.data / "hardware"
    args.out.mkdir(parents=True, exist_ok=True)

    specs = build_specs(read_mlco2(hw / "mlco2_impact_gpus.csv"))
    n_specs = write_csv(args.out / "hardware_specs.csv", SPEC_COLUMNS, specs)
    n_cat = write_csv(args.out / "embodied_catalog.csv", CATALOG_COLUMNS, CATALOG)
    cloud: list[dict[str, object]] = []
    for provider in ("aws", "azure", "gcp"):
        cloud.extend(read_ccf(hw / f"ccf_coefficients_{provider}_embodied.csv", provider))
    keys = [str(r["key"]) for r in cloud]
    if len(set(keys)) != len(keys):
        sys.exit("duplicate cloud instance keys")
    n_cloud = write_csv(args.out / "cloud_instances_embodied.csv", CLOUD_COLUMNS, cloud)
    print(
        f"hardware_specs.csv: {n_specs} rows; embodied_catalog.csv: {n_cat} rows; "
        f"cloud_instances_embodied.csv: {n_cloud} rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
