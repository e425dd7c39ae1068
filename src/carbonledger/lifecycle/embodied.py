"""Embodied emissions (SCI): the share of hardware manufacturing a run is charged with.

    M = TE × (time reserved / (lifetime × lifetime_use)) × (resources reserved / total resources)

(Green Software Foundation, Software Carbon Intensity specification, "Embodied emissions";
``lifetime_use`` is the fraction of the lifetime the hardware is in use, as BLOOM's 85 %.)
:func:`sci_embodied_g` is the formula; :func:`embodied_for_run` applies it to the devices a
measured run held, from the hardware catalog (:mod:`carbonledger.lifecycle.hardware`).
Method and sources: docs/methodology/lifecycle.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.footprint import EmbodiedItem
from carbonledger.lifecycle.hardware import (
    CatalogEntry,
    EmbodiedPreset,
    UnknownHardware,
    catalog,
    gpu_spec,
)
from carbonledger.lifecycle.hardware import (
    preset as get_preset,
)
from carbonledger.lifecycle.uncertainty import rel_for
from carbonledger.records import Component, DeviceInfo
from carbonledger.units import S_PER_YEAR, kg_to_g

__all__ = [
    "DEFAULT_HOST_KEY",
    "DEFAULT_LIFETIME_YEARS",
    "OVERRIDE_KEYS",
    "EmbodiedResult",
    "HostShare",
    "embodied_for_run",
    "gpu_share",
    "host_share",
    "sci_embodied_g",
]

#: Expected lifetime when none is given: 4 years, as Cloud Carbon Footprint and Teads (from
#: the Dell PowerEdge R740 LCA). BLOOM used 6 years at 85 % use; pass those to reproduce it.
DEFAULT_LIFETIME_YEARS = 4.0
#: The host charged when no preset names one: CCF's minimal rack server (1,000 kgCO2e).
DEFAULT_HOST_KEY = "server-ccf"

#: Numbers a caller may override (``overrides={...}``), all in the catalog's units.
OVERRIDE_KEYS = (
    "gpu_kg",  # embodied kgCO2e per GPU card
    "host_kg",  # embodied kgCO2e of the server without its GPUs
    "host_gpu_slots",  # GPUs per server (the run's share of the server = GPUs held / slots)
    "share",  # resources reserved / total resources (host share, or cloud instance share)
    "te_kg",  # a cloud instance's host total embodied kgCO2e
    "dram_gb",  # extra DRAM (GB) charged at the catalog's dram-per-gb figure
    "ssd_gb",  # SSD capacity (GB) charged at the catalog's ssd-per-gb figure
)


def _check(
    value: float, name: str, *, low: float = 0.0, low_open: bool = False, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    ok = math.isfinite(value) and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and value <= high
    if not ok:
        bound = f"> {low:g}" if low_open else f"≥ {low:g}"
        if high is not None:
            bound += f" and ≤ {high:g}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
    return float(value)


def sci_embodied_g(
    total_g: float,
    time_reserved_s: float,
    lifetime_years: float,
    lifetime_use: float = 1.0,
    share: float = 1.0,
) -> float:
    """SCI's M in grams: ``total_g × time / (lifetime × use) × share``.

    ``lifetime_years`` uses Julian years (365.25 days); ``lifetime_use`` ∈ (0, 1] is the
    fraction of the lifetime the hardware is used; ``share`` ∈ [0, 1] the resources reserved
    over the total. Invalid values raise :class:`ConfigError` naming the argument.
    """
    total_g = _check(total_g, "embodied total_g")
    time_reserved_s = _check(time_reserved_s, "time_reserved_s")
    lifetime_years = _check(lifetime_years, "lifetime_years", low_open=True)
    lifetime_use = _check(lifetime_use, "lifetime_use", low_open=True, high=1.0)
    share = _check(share, "share", high=1.0)
    return total_g * time_reserved_s / (lifetime_years * S_PER_YEAR * lifetime_use) * share


@dataclass(frozen=True)
class HostShare:
    """The share of its physical host a VM or container reserves, and how it was found.

    SCI's "resources reserved / total resources" measured in CPU threads: the CPUs the run
    could use (a VM's vCPUs, or a cgroup's CPU limit) over the host's hardware threads.
    CPU rather than memory: the host's CPU count is what the machine can tell (or the
    CPU model and cloud tables can), while the host's memory is not visible from a guest.
    """

    share: float
    basis: str
    kind: str  # vm | container | vm+container


def host_share(host: Mapping[str, Any] | None) -> HostShare | None:
    """The host share recorded with a run's host facts (:mod:`carbonledger.hostinfo`), or
    None on bare metal, for older runs, or when the facts are incomplete."""
    if not host:
        return None
    kind, share = host.get("host_share_kind"), host.get("host_share")
    if not kind or isinstance(share, bool) or not isinstance(share, (int, float)):
        return None
    if not (math.isfinite(share) and 0 < share <= 1):
        return None
    return HostShare(float(share), str(host.get("host_share_basis") or "unknown basis"), str(kind))


def gpu_share(device: DeviceInfo) -> float:
    """The share of a GPU board a device stands for: a MIG slice's attributed share, else 1."""
    share = device.details.get("attributed_share") if device.details else None
    if isinstance(share, bool) or not isinstance(share, (int, float)):
        return 1.0
    return float(share) if math.isfinite(share) and 0 < share <= 1 else 1.0


_KIND_WORDS = {
    "mig": "MIG slice",
    "vm": "virtual machine",
    "container": "container",
    "vm+container": "container in a VM",
}


@dataclass(frozen=True)
class EmbodiedResult:
    """The embodied items attributed to a run, and what could not be attributed (warnings)."""

    items: tuple[EmbodiedItem, ...]
    warnings: tuple[str, ...] = ()

    @property
    def total_g(self) -> float:
        return math.fsum(item.g for item in self.items)


@dataclass(frozen=True)
class _Life:
    duration_s: float
    lifetime_years: float
    lifetime_use: float


def _item(
    name: str,
    per_item_g: float,
    count: float,
    share: float,
    life: _Life,
    *,
    source: str,
    rel: float,
) -> EmbodiedItem:
    """An EmbodiedItem for ``count`` identical items; ``total_g`` is their whole-life TE."""
    total_g = per_item_g * count
    duration_s, lifetime_years, lifetime_use = (
        life.duration_s,
        life.lifetime_years,
        life.lifetime_use,
    )
    return EmbodiedItem(
        item=name,
        total_g=total_g,
        g=sci_embodied_g(total_g, duration_s, lifetime_years, lifetime_use, share),
        lifetime_years=lifetime_years,
        lifetime_use=lifetime_use,
        share=share,
        source=source,
        uncertainty_rel=rel,
        count=count,
    )


def _overrides(overrides: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (overrides or {}).items():
        if key not in OVERRIDE_KEYS:
            raise ConfigError(
                f"unknown embodied override {key!r}; known: {', '.join(OVERRIDE_KEYS)}"
            )
        if key == "share":
            out[key] = _check(value, "override share", high=1.0)
        elif key == "host_gpu_slots":
            out[key] = _check(value, "override host_gpu_slots", low=1.0)
        else:
            out[key] = _check(value, f"override {key}")
    return out


def _entry_source(entry: CatalogEntry, overridden: bool) -> tuple[str, float]:
    if overridden:
        return "user override", rel_for("embodied_literature")
    return f"embodied-catalog:{entry.key}: {entry.source}", entry.uncertainty_rel


def embodied_for_run(
    devices: Sequence[DeviceInfo],
    duration_s: float,
    *,
    preset: str | None = None,
    overrides: Mapping[str, float] | None = None,
    lifetime_years: float = DEFAULT_LIFETIME_YEARS,
    lifetime_use: float = 1.0,
    host: Mapping[str, Any] | None = None,
    reserved: HostShare | None = None,
) -> EmbodiedResult:
    """Embodied emissions of the hardware a run held for ``duration_s`` seconds.

    - GPUs: every GPU device counts, busy or idle (a job holding 8 GPUs and using 1 still
      holds 8). Each is charged the preset's per-card figure, else the catalog's figure for
      its model (``DeviceInfo.name`` via :func:`~carbonledger.lifecycle.hardware.gpu_spec`).
      A GPU the catalog cannot identify gets no item, only a warning: nothing is invented.
    - Host: the preset's server, else :data:`DEFAULT_HOST_KEY` (labelled default, with a
      warning). Its share is GPUs held / GPUs per server when the server's slots are known
      (on ⌈held / slots⌉ servers), else the VM's or container's share of the host
      (``reserved``, or :func:`host_share` of the run's ``host`` facts: CPUs usable / host
      threads), else the whole server.
    - A cloud instance preset (``aws:p4d.24xlarge``) replaces both: the host's CCF total
      (which includes its GPUs) × the instance's share of the host.

    ``overrides`` replace any number (:data:`OVERRIDE_KEYS`). Returns the items and the
    warnings the caller should show. Invalid arguments raise :class:`ConfigError`;
    an unknown preset raises :class:`~carbonledger.lifecycle.hardware.UnknownHardware`.
    """
    duration_s = _check(duration_s, "duration_s")
    lifetime_years = _check(lifetime_years, "lifetime_years", low_open=True)
    lifetime_use = _check(lifetime_use, "lifetime_use", low_open=True, high=1.0)
    over = _overrides(overrides)
    if reserved is None:
        reserved = host_share(host)
    chosen: EmbodiedPreset | None = get_preset(preset) if preset else None
    common = _Life(duration_s, lifetime_years, lifetime_use)
    items: list[EmbodiedItem] = []
    warnings: list[str] = []

    if chosen is not None and chosen.cloud is not None:
        inst = chosen.cloud
        te_kg = over.get("te_kg", inst.te_kg)
        share = over.get("share", inst.share)
        source = inst.source if "te_kg" not in over else "user override (te_kg)"
        if share is None:
            share = 1.0
            warnings.append(
                f"embodied: the share of {inst.type}'s host is unknown; the whole host is "
                "charged (an upper bound); pass overrides={'share': vCPUs / host vCPUs}"
            )
        items.append(
            _item(
                inst.key,
                kg_to_g(te_kg),
                1.0,
                share,
                common,
                source=source,
                rel=rel_for("embodied_model"),
            )
        )
        items.extend(_extras(over, common))
        return EmbodiedResult(tuple(items), tuple(warnings))

    if not devices:
        warnings.append("embodied: no devices were seen, so no hardware was charged")
        return EmbodiedResult((), tuple(warnings))

    cat = catalog()
    gpus = [d for d in devices if d.component == Component.GPU]
    held = math.fsum(gpu_share(d) for d in gpus)
    sliced = [d for d in gpus if gpu_share(d) < 1.0]
    if sliced and reserved is None and len(sliced) == len(gpus):
        # a job on MIG slices holds that share of its board's server too (SCI: resources
        # reserved / total), the host-share rule a VM or container gets
        reserved = HostShare(
            held / len(gpus),
            "MIG slice(s): the share of the GPU's compute slices held",
            "mig",
        )
    if sliced:
        warnings.append(
            f"embodied: {len(sliced)} GPU(s) are MIG slices, charged their share of the board "
            "(attributed, as their energy)"
        )
    for (name, share), count in Counter((d.name, gpu_share(d)) for d in gpus).items():
        if (chosen is not None and chosen.gpu is not None) or "gpu_kg" in over:
            entry = (
                chosen.gpu if chosen is not None and chosen.gpu is not None else cat["gpu-generic"]
            )
            kg = over.get("gpu_kg", entry.kgco2e)
            source, rel = _entry_source(entry, "gpu_kg" in over)
        else:
            try:
                spec = gpu_spec(name)
            except UnknownHardware as exc:
                warnings.append(f"embodied: {count} GPU(s) not charged: {exc}")
                continue
            if spec.embodied_key is None:
                warnings.append(
                    f"embodied: no embodied figure for {spec.name} ({spec.kind}); "
                    f"{count} device(s) not charged"
                )
                continue
            entry = cat[spec.embodied_key]
            kg = entry.kgco2e
            source, rel = _entry_source(entry, False)
        items.append(
            _item(f"GPU {name}", kg_to_g(kg), float(count), share, common, source=source, rel=rel)
        )

    server = chosen.host if chosen is not None and chosen.host is not None else None
    if server is None and "host_kg" not in over:
        server = cat[DEFAULT_HOST_KEY]
        warnings.append(
            f"embodied: host charged as the default server ({server.kgco2e:,.0f} kgCO2e, "
            f"{server.source}); set an embodied preset for your hardware"
        )
        host_source, host_rel = (
            f"default: embodied-catalog:{server.key}: {server.source}",
            rel_for("embodied_default"),
        )
    else:
        entry = server or cat[DEFAULT_HOST_KEY]
        host_source, host_rel = _entry_source(entry, "host_kg" in over)
    host_kg = over.get("host_kg", server.kgco2e if server is not None else 0.0)
    slots_f = over.get("host_gpu_slots", chosen.host_gpu_slots if chosen is not None else None)
    slots = int(slots_f) if slots_f else None
    if "share" in over:
        servers, fraction = 1.0, over["share"]
    elif slots and held:
        n = math.ceil(held / slots)
        servers, fraction = float(n), held / (n * slots)
    elif reserved is not None:
        servers, fraction = 1.0, reserved.share
        host_source = f"{host_source}; share {reserved.share:.4g} = {reserved.basis}"
        warnings.append(
            f"embodied: a {_KIND_WORDS.get(reserved.kind, reserved.kind)} is charged its share "
            f"of the host server, {reserved.share:.1%} ({reserved.basis}), as SCI's resources "
            "reserved / total resources"
        )
    else:
        servers, fraction = 1.0, 1.0
        if slots and not held:
            warnings.append(
                "embodied: no GPU was seen on a GPU server; the whole server is charged"
            )
    label = server.key if server is not None else "host"
    items.append(
        _item(
            f"server {label}",
            kg_to_g(host_kg),
            servers,
            fraction,
            common,
            source=host_source,
            rel=host_rel,
        )
    )
    items.extend(_extras(over, common))
    return EmbodiedResult(tuple(items), tuple(warnings))


def _extras(over: Mapping[str, float], life: _Life) -> list[EmbodiedItem]:
    cat = catalog()
    out = []
    for key, entry_key in (("dram_gb", "dram-per-gb"), ("ssd_gb", "ssd-per-gb")):
        if over.get(key):
            entry = cat[entry_key]
            out.append(
                _item(
                    f"{entry.kind} {over[key]:g} GB",
                    kg_to_g(entry.kgco2e * over[key]),
                    1.0,
                    1.0,
                    life,
                    source=f"embodied-catalog:{entry.key}: {entry.source}",
                    rel=entry.uncertainty_rel,
                )
            )
    return out
