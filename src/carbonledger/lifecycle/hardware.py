"""The hardware catalog: GPU/TPU/CPU specs, embodied-emission figures and presets.

Three bundled tables, built by ``scripts/build_hardware_tables.py`` (provenance in
``docs/methodology/lifecycle.md`` and ``data/DATA_SOURCES.md``):

- ``data/hardware_specs.csv``: TDP (W) and memory (GB) per GPU/TPU/CPU model, from ML CO2
  Impact's ``gpus.csv`` (MIT) with documented corrections and datasheet additions;
- ``data/embodied_catalog.csv``: embodied kgCO2e of GPU cards, servers, DRAM and storage,
  each with its published source and source type (lca|literature|model|default);
- ``data/cloud_instances_embodied.csv``: Cloud Carbon Footprint's embodied kgCO2e per cloud
  host (Apache-2.0) and each instance type's share of its host.

Name lookup never guesses silently: :func:`gpu_spec` accepts nvidia-smi names, catalog
names and bare family names with a documented default ("A100" → A100 SXM4 80 GB); an
unknown or ambiguous name raises :class:`UnknownHardware` with close matches.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from carbonledger.errors import DataError, UnknownHardware
from carbonledger.lifecycle.uncertainty import embodied_rel

__all__ = [
    "CatalogEntry",
    "CloudInstance",
    "EmbodiedPreset",
    "HardwareSpec",
    "UnknownHardware",
    "catalog",
    "catalog_entry",
    "cloud_instance",
    "cpu_tdp",
    "gpu_spec",
    "hardware_specs",
    "preset",
    "preset_names",
]

SPECS_FILE = "hardware_specs.csv"
CATALOG_FILE = "embodied_catalog.csv"
CLOUD_FILE = "cloud_instances_embodied.csv"
SOURCE_TYPES = ("lca", "literature", "model", "default")


# -- records -------------------------------------------------------------------------------
@dataclass(frozen=True)
class HardwareSpec:
    """One row of ``hardware_specs.csv``."""

    name: str
    kind: str  # gpu | tpu | cpu
    tdp_w: float
    memory_gb: float | None
    aliases: tuple[str, ...]
    default_for: tuple[str, ...]
    embodied_key: str | None  # key into the embodied catalog, when a figure applies
    origin: str  # mlco2 | mlco2-corrected | carbonledger
    source: str
    note: str

    @property
    def table_source(self) -> str:
        return f"hardware-table:{SPECS_FILE}:{self.name}"


@dataclass(frozen=True)
class CatalogEntry:
    """One embodied-emission figure (kgCO2e per device, or per GB when ``unit`` is per_gb)."""

    key: str
    kind: str
    kgco2e: float
    unit: str  # per_device | per_gb
    source_type: str  # lca | literature | model | default
    source: str
    note: str

    @property
    def uncertainty_rel(self) -> float:
        return embodied_rel(self.source_type)

    @property
    def gpu_slots(self) -> int | None:
        """GPUs a server entry holds (``gpu_slots=N`` in its note), if stated."""
        m = re.search(r"gpu_slots=(\d+)", self.note)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class CloudInstance:
    """A cloud instance type: its host's embodied emissions (CCF) and its share of the host."""

    key: str  # provider:type, normalised
    provider: str
    family: str
    type: str
    te_kg: float  # the host's total embodied emissions (mean over microarchitectures)
    te_kg_min: float
    te_kg_max: float
    gpus_kg: float  # part of te_kg due to the host's GPUs
    share: float | None  # resources reserved / total resources, from the type's size
    share_basis: str

    @property
    def source(self) -> str:
        return (
            f"ccf-coefficients {self.provider} embodied (Apache-2.0): {self.type}, host "
            f"{self.te_kg:g} kgCO2e; share {self.share_basis}"
        )


@dataclass(frozen=True)
class EmbodiedPreset:
    """A named hardware configuration whose embodied emissions a run can be charged with.

    ``gpu``: the per-card figure applied to each GPU the run held; ``host``: the server
    without its GPUs, ``host_gpu_slots`` GPUs per server (the run's share of the server is
    GPUs held / slots); ``cloud``: a cloud instance (its host figure includes the GPUs).
    """

    name: str
    description: str
    gpu: CatalogEntry | None = None
    host: CatalogEntry | None = None
    host_gpu_slots: int | None = None
    cloud: CloudInstance | None = None


# -- loading -------------------------------------------------------------------------------
def _read(name: str) -> list[dict[str, str]]:
    try:
        text = (
            resources.files("carbonledger")
            .joinpath("data")
            .joinpath(name)
            .read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise DataError(f"cannot read bundled table carbonledger/data/{name}: {exc}") from None
    return list(csv.DictReader(io.StringIO(text)))


def _float(row: Mapping[str, str], field: str, table: str, line: int) -> float | None:
    text = (row.get(field) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"carbonledger/data/{table}:{line}: {field} {text!r} is not a number"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise DataError(f"carbonledger/data/{table}:{line}: {field} must be ≥ 0, got {text}")
    return value


def _required(row: Mapping[str, str], field: str, table: str, line: int) -> float:
    value = _float(row, field, table, line)
    if value is None:
        raise DataError(f"carbonledger/data/{table}:{line}: {field} is empty")
    return value


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (text or "").split(";") if p.strip())


@functools.lru_cache(maxsize=1)
def hardware_specs() -> tuple[HardwareSpec, ...]:
    """Every row of the bundled hardware spec table."""
    specs = []
    for line, row in enumerate(_read(SPECS_FILE), start=2):
        kind = (row.get("kind") or "").strip()
        if kind not in ("gpu", "tpu", "cpu"):
            raise DataError(
                f"carbonledger/data/{SPECS_FILE}:{line}: kind {kind!r} is not gpu|tpu|cpu"
            )
        specs.append(
            HardwareSpec(
                name=row["name"].strip(),
                kind=kind,
                tdp_w=_required(row, "tdp_w", SPECS_FILE, line),
                memory_gb=_float(row, "memory_gb", SPECS_FILE, line),
                aliases=_split(row.get("aliases")),
                default_for=_split(row.get("default_for")),
                embodied_key=(row.get("embodied_key") or "").strip() or None,
                origin=(row.get("origin") or "").strip(),
                source=(row.get("source") or "").strip(),
                note=(row.get("note") or "").strip(),
            )
        )
    return tuple(specs)


@functools.lru_cache(maxsize=1)
def catalog() -> MappingProxyType[str, CatalogEntry]:
    """The embodied catalog by key."""
    entries: dict[str, CatalogEntry] = {}
    for line, row in enumerate(_read(CATALOG_FILE), start=2):
        source_type = (row.get("source_type") or "").strip()
        if source_type not in SOURCE_TYPES:
            raise DataError(
                f"carbonledger/data/{CATALOG_FILE}:{line}: source_type {source_type!r} is not "
                f"one of {', '.join(SOURCE_TYPES)}"
            )
        unit = (row.get("unit") or "").strip()
        if unit not in ("per_device", "per_gb"):
            raise DataError(
                f"carbonledger/data/{CATALOG_FILE}:{line}: unit {unit!r} is not per_device|per_gb"
            )
        key = row["key"].strip()
        entries[key] = CatalogEntry(
            key=key,
            kind=(row.get("kind") or "").strip(),
            kgco2e=_required(row, "kgco2e", CATALOG_FILE, line),
            unit=unit,
            source_type=source_type,
            source=(row.get("source") or "").strip(),
            note=(row.get("note") or "").strip(),
        )
    return MappingProxyType(entries)


def catalog_entry(key: str) -> CatalogEntry:
    """One embodied catalog entry; unknown keys raise :class:`UnknownHardware`."""
    entries = catalog()
    if key not in entries:
        raise UnknownHardware(
            key, tuple(difflib.get_close_matches(key, entries, n=3)), what="embodied catalog entry"
        )
    return entries[key]


@functools.lru_cache(maxsize=1)
def _cloud_instances() -> MappingProxyType[str, CloudInstance]:
    out: dict[str, CloudInstance] = {}
    for line, row in enumerate(_read(CLOUD_FILE), start=2):
        share = _float(row, "share", CLOUD_FILE, line)
        if share is not None and not 0 < share <= 1:
            raise DataError(f"carbonledger/data/{CLOUD_FILE}:{line}: share must be in (0, 1]")
        key = row["key"].strip()
        out[key] = CloudInstance(
            key=key,
            provider=row["provider"].strip(),
            family=row["family"].strip(),
            type=row["type"].strip(),
            te_kg=_required(row, "te_kg", CLOUD_FILE, line),
            te_kg_min=_required(row, "te_kg_min", CLOUD_FILE, line),
            te_kg_max=_required(row, "te_kg_max", CLOUD_FILE, line),
            gpus_kg=_float(row, "gpus_kg", CLOUD_FILE, line) or 0.0,
            share=share,
            share_basis=(row.get("share_basis") or "").strip(),
        )
    return MappingProxyType(out)


_CLOUD_PROVIDERS = {
    "aws": "aws",
    "amazon": "aws",
    "ec2": "aws",
    "gcp": "gcp",
    "google": "gcp",
    "gce": "gcp",
    "azure": "azure",
    "microsoft": "azure",
}


def _cloud_key(name: str) -> str | None:
    if ":" not in name:
        return None
    provider, type_name = name.split(":", 1)
    provider = _CLOUD_PROVIDERS.get(provider.strip().lower(), "")
    if not provider:
        return None
    type_name = type_name.strip().lower()
    if provider == "azure":
        type_name = re.sub(r"^standard[_ ]", "", type_name)
        type_name = re.sub(r"[_\s]+", " ", type_name)
    return f"{provider}:{type_name}"


def cloud_instance(name: str) -> CloudInstance:
    """A cloud instance type by ``provider:type`` (``aws:p4d.24xlarge``,
    ``gcp:a2-highgpu-1g``, ``azure:Standard_NC24ads_A100_v4``)."""
    key = _cloud_key(name)
    table = _cloud_instances()
    if key is None or key not in table:
        close = difflib.get_close_matches(key or name.lower(), table, n=3, cutoff=0.7)
        raise UnknownHardware(name, tuple(close), what="cloud instance type")
    return table[key]


# -- name matching -------------------------------------------------------------------------
_NOISE = {"nvidia", "tesla", "geforce", "amd", "radeon", "corporation", "graphics", "gpu", "card"}
_FORMS = {
    "sxm": "sxm",
    "sxm2": "sxm",
    "sxm3": "sxm",
    "sxm4": "sxm",
    "sxm5": "sxm",
    "pcie": "pcie",
    "pci": "pcie",
    "nvl": "nvl",
}
_MEM = re.compile(r"^(\d+)gb$")


def _tokens(name: str) -> tuple[str, ...]:
    text = name.lower().replace("pci-e", "pcie").replace("pci express", "pcie")
    raw = [t for t in re.split(r"[^a-z0-9.]+", text) if t]
    out: list[str] = []
    for tok in raw:
        tok = tok.strip(".")
        if not tok or tok in _NOISE:
            continue
        if tok == "gb" and out and out[-1].isdigit():
            out[-1] = out[-1] + "gb"
            continue
        out.append(tok)
    return tuple(out)


def _norm(name: str) -> str:
    return " ".join(_tokens(name))


def _model_tokens(tokens: tuple[str, ...]) -> frozenset[str]:
    """Tokens naming the chip: with a digit, not a memory size or a form factor."""
    model = {
        t for t in tokens if any(c.isdigit() for c in t) and not _MEM.match(t) and t not in _FORMS
    }
    return frozenset(model or tokens)


def _memory(tokens: tuple[str, ...]) -> set[float]:
    return {float(m.group(1)) for t in tokens if (m := _MEM.match(t))}


def _forms(tokens: tuple[str, ...]) -> set[str]:
    return {_FORMS[t] for t in tokens if t in _FORMS}


@functools.lru_cache(maxsize=1)
def _index(
    kinds: tuple[str, ...] = ("gpu", "tpu"),
) -> tuple[dict[str, HardwareSpec], dict[str, HardwareSpec]]:
    exact: dict[str, HardwareSpec] = {}
    defaults: dict[str, HardwareSpec] = {}
    for spec in hardware_specs():
        if spec.kind not in kinds:
            continue
        for name in (spec.name, *spec.aliases):
            exact.setdefault(_norm(name), spec)
        for fam in spec.default_for:
            defaults[_norm(fam)] = spec
    return exact, defaults


def _conflicts(query: tuple[str, ...], spec: HardwareSpec) -> bool:
    cand = _tokens(spec.name)
    q_forms, c_forms = _forms(query), _forms(cand)
    if q_forms and c_forms and not q_forms & c_forms:
        return True
    q_mem = _memory(query)
    c_mem = _memory(cand) | ({spec.memory_gb} if spec.memory_gb is not None else set())
    return bool(q_mem and c_mem and not q_mem & c_mem)


def gpu_spec(name: str) -> HardwareSpec:
    """The spec row for a GPU or TPU name (nvidia-smi names, catalog names, family names).

    Order: exact (normalised) name or alias; a family default ("A100", "V100", "H100");
    then the rows whose model tokens all appear in the name and whose form factor and memory
    do not contradict it, preferring those with the fewest unmatched words. Unknown or
    ambiguous names raise :class:`UnknownHardware` with suggestions.
    """
    if not name or not name.strip():
        raise UnknownHardware(name, what="GPU")
    exact, defaults = _index()
    key = _norm(name)
    if key in exact:
        return exact[key]
    if key in defaults:
        return defaults[key]
    query = _tokens(name)
    qset = set(query)
    candidates = [
        spec
        for spec in dict.fromkeys(exact.values())
        if _model_tokens(_tokens(spec.name)) <= qset and not _conflicts(query, spec)
    ]
    if candidates:

        def extra(spec: HardwareSpec) -> int:
            toks = (
                set(_tokens(spec.name))
                - set(_FORMS)
                - {t for t in _tokens(spec.name) if _MEM.match(t)}
            )
            return len(toks - qset)

        best = min(extra(s) for s in candidates)
        top = [s for s in candidates if extra(s) == best]
        if len(top) == 1:
            return top[0]
        # a family default among the tied rows settles it ("a100 sxm" → the default A100)
        fam = [defaults[k] for k in defaults if set(k.split()) <= qset and defaults[k] in top]
        if len(set(fam)) == 1:
            return fam[0]
        raise UnknownHardware(name, tuple(s.name for s in top), what="GPU", ambiguous=True)
    names = {_norm(n): n for s in exact.values() for n in (s.name, *s.aliases)}
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    raise UnknownHardware(name, tuple(names[c] for c in close), what="GPU")


def cpu_tdp(name: str) -> tuple[float, str]:
    """``(TDP in W, source)`` of a CPU model: the sensors' CPU table, else this catalog's rows."""
    try:
        from carbonledger.lifecycle.cpu_table import CpuTable

        entry = CpuTable.load().match(name)
    except (ImportError, DataError):
        entry = None
    if entry is not None:
        return entry.tdp_w, f"tdp-table:cpu_power.csv:{entry.name}"
    cpus = {_norm(s.name): s for s in hardware_specs() if s.kind == "cpu"}
    key = _norm(name)
    if key in cpus:
        return cpus[key].tdp_w, cpus[key].table_source
    query = set(_tokens(name))
    hits = [s for s in cpus.values() if _model_tokens(_tokens(s.name)) <= query]
    if len(hits) == 1:
        return hits[0].tdp_w, hits[0].table_source
    close = difflib.get_close_matches(key, list(cpus), n=3, cutoff=0.5)
    raise UnknownHardware(name, tuple(cpus[c].name for c in close), what="CPU")


# -- presets -------------------------------------------------------------------------------
_GPU_PRESETS = {
    "a100": "A100",
    "v100": "V100",
    "h100": "H100",
    "h200": "H200",
    "t4": "T4",
    "l4": "L4",
    "a10g": "A10G",
}


def _named_presets() -> dict[str, EmbodiedPreset]:
    cat = catalog()
    presets: dict[str, EmbodiedPreset] = {}
    for key, gpu_name in _GPU_PRESETS.items():
        spec = gpu_spec(gpu_name)
        entry = cat[spec.embodied_key or "gpu-generic"]
        presets[key] = EmbodiedPreset(
            key, f"{spec.name} cards ({entry.kgco2e:g} kgCO2e each)", gpu=entry
        )
    for key in ("server-8gpu-bloom", "server-meta", "server-ccf"):
        entry = cat[key]
        presets[key] = EmbodiedPreset(
            key,
            f"server without GPUs ({entry.kgco2e:g} kgCO2e)",
            host=entry,
            host_gpu_slots=entry.gpu_slots,
        )
    presets["bloom-a100-node"] = EmbodiedPreset(
        "bloom-a100-node",
        "BLOOM's node: 8 × A100 (150 kg each) in an HPE Apollo 6500 server (2,500 kg)",
        gpu=cat["gpu-a100"],
        host=cat["server-8gpu-bloom"],
        host_gpu_slots=8,
    )
    return presets


def preset_names() -> tuple[str, ...]:
    """Named presets (cloud instance types are presets too: ``aws:p4d.24xlarge``)."""
    return tuple(sorted(_named_presets()))


def preset(name: str) -> EmbodiedPreset:
    """A preset by name: a named one (``bloom-a100-node``, ``a100``, ``server-meta`` …) or a
    cloud instance type (``aws:p4d.24xlarge``)."""
    named = _named_presets()
    key = name.strip().lower()
    if key in named:
        return named[key]
    if _cloud_key(name) is not None:
        inst = cloud_instance(name)
        return EmbodiedPreset(inst.key, f"{inst.type} ({inst.provider})", cloud=inst)
    close = difflib.get_close_matches(key, list(named), n=3, cutoff=0.5)
    raise UnknownHardware(name, tuple(close), what="embodied preset")
