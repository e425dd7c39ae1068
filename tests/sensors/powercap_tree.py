"""Build fake Linux powercap (RAPL) trees in a temporary folder, for tests of any layer.

Usage (from any test directory; ``tests/sensors/conftest.py`` puts the repository root on
``sys.path``, and ``python -m pytest`` from the root does too)::

    from tests.sensors.powercap_tree import advance, make_powercap_tree, server_domains

    root = make_powercap_tree(tmp_path, server_domains(sockets=1, dram=False))
    settings = Settings(sysfs_root=root)            # or CARBONLEDGER_SYSFS_ROOT=<root>
    ...
    advance(root, "intel-rapl:0", 12.5)             # package-0 used 12.5 J more

``root`` is a fake ``/sys``: zones are written to ``<root>/class/powercap/<zone>/`` with the
files the kernel exposes (``name``, ``energy_uj``, ``max_energy_range_uj``). Counters wrap
at ``max_energy_range_uj`` like the hardware's, so ``advance`` past the range exercises
the sensor's wrap-around handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_RANGE_UJ",
    "advance",
    "energy_uj",
    "make_powercap_tree",
    "server_domains",
    "write_energy",
]

# A typical Intel package counter range (32-bit raw counter × 61 µJ units).
DEFAULT_MAX_RANGE_UJ = 262_143_328_850


def _powercap(root: Path) -> Path:
    return root / "class" / "powercap"


def make_powercap_tree(root: Path, domains: Mapping[str, str | Mapping[str, Any]]) -> Path:
    """Write a powercap tree under ``root`` and return ``root`` (use it as ``sysfs_root``).

    ``domains`` maps a zone directory (``"intel-rapl:0"``, ``"intel-rapl:0:2"``,
    ``"intel-rapl-mmio:0"``) to its ``name`` (``"package-0"``, ``"dram"``, ``"core"``,
    ``"psys"``) or to a mapping with ``name`` and optionally ``energy_uj`` (default 0) and
    ``max_energy_range_uj`` (default :data:`DEFAULT_MAX_RANGE_UJ`; ``None`` leaves the
    file out). Also creates the ``intel-rapl`` control-type folder, as the kernel does.
    """
    powercap = _powercap(root)
    (powercap / "intel-rapl").mkdir(parents=True, exist_ok=True)
    (powercap / "intel-rapl" / "enabled").write_text("1\n")
    for zone, spec in domains.items():
        fields: Mapping[str, Any] = {"name": spec} if isinstance(spec, str) else spec
        zone_dir = powercap / zone
        zone_dir.mkdir(parents=True, exist_ok=True)
        (zone_dir / "name").write_text(f"{fields['name']}\n")
        (zone_dir / "energy_uj").write_text(f"{int(fields.get('energy_uj', 0))}\n")
        max_range = fields.get("max_energy_range_uj", DEFAULT_MAX_RANGE_UJ)
        if max_range is not None:
            (zone_dir / "max_energy_range_uj").write_text(f"{int(max_range)}\n")
    return root


def server_domains(
    sockets: int = 2,
    *,
    dram: bool = True,
    subdomains: bool = True,
    psys: bool = False,
    energy_uj: int = 0,
) -> dict[str, str | Mapping[str, Any]]:
    """Zones of a typical Intel server: per socket ``package-N`` with ``core`` and
    ``uncore`` sub-zones (``subdomains``) and a ``dram`` sub-zone (``dram``), plus an
    optional ``psys`` platform zone after the packages."""
    domains: dict[str, str | Mapping[str, Any]] = {}
    for n in range(sockets):
        domains[f"intel-rapl:{n}"] = {"name": f"package-{n}", "energy_uj": energy_uj}
        if subdomains:
            domains[f"intel-rapl:{n}:0"] = "core"
            domains[f"intel-rapl:{n}:1"] = "uncore"
        if dram:
            domains[f"intel-rapl:{n}:2"] = {"name": "dram", "energy_uj": energy_uj}
    if psys:
        domains[f"intel-rapl:{sockets}"] = "psys"
    return domains


def energy_uj(root: Path, zone: str) -> int:
    """The zone's current ``energy_uj``."""
    return int((_powercap(root) / zone / "energy_uj").read_text().strip())


def write_energy(root: Path, zone: str, value: int | str) -> None:
    """Write ``value`` (a number, or any text to simulate garbage) to the zone's ``energy_uj``."""
    (_powercap(root) / zone / "energy_uj").write_text(f"{value}\n")


def advance(root: Path, zone: str, joules: float) -> int:
    """Add ``joules`` to the zone's counter, wrapping at ``max_energy_range_uj``; returns
    the new raw value in µJ."""
    zone_dir = _powercap(root) / zone
    range_path = zone_dir / "max_energy_range_uj"
    max_range = int(range_path.read_text().strip()) if range_path.exists() else None
    value = energy_uj(root, zone) + round(joules * 1_000_000)
    if max_range is not None:
        value %= max_range
    write_energy(root, zone, value)
    return value
