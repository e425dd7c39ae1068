"""Opt-in detection of the cloud region a machine runs in, from local facts only.

No network: no metadata service, no IP geolocation. The **provider** comes from the DMI
strings the firmware exposes under ``<sysfs_root>/class/dmi/id/`` (``sys_vendor``,
``product_name``, ``product_version``, ``bios_vendor``, ``board_vendor``,
``chassis_asset_tag``); the **region** comes from the environment variables the provider's
tools and runtimes use:

- AWS (``Amazon EC2`` vendor strings, or Xen firmware whose version ends in ``amazon``):
  ``AWS_REGION``, then ``AWS_DEFAULT_REGION`` (the AWS SDKs' own precedence);
- Google Cloud (``Google`` / ``Google Compute Engine``): ``GOOGLE_CLOUD_REGION``, then
  ``CLOUDSDK_COMPUTE_REGION``, then ``CLOUDSDK_COMPUTE_ZONE`` (its region: ``europe-west1-b``
  → ``europe-west1``);
- Azure (``Microsoft Corporation`` / ``Virtual Machine`` with Azure's chassis asset tag
  ``7783-7084-3265-9085-8269-3286-77``; a Hyper-V guest without that tag is not Azure):
  ``AZURE_REGION``, then ``AZURE_LOCATION``, then ``REGION_NAME`` (set by Azure App Service
  and Functions).

A region variable alone never decides: ``AWS_REGION`` is set on many laptops. Both the
provider and the region must be known, otherwise the answer is None.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from carbonledger.errors import UnknownZoneError
from carbonledger.intensity.zones import cloud_key, normalize_zone

__all__ = ["AZURE_ASSET_TAG", "REGION_VARIABLES", "detect_cloud_provider", "detect_cloud_zone"]

log = logging.getLogger(__name__)

AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
REGION_VARIABLES: dict[str, tuple[str, ...]] = {
    "aws": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "gcp": ("GOOGLE_CLOUD_REGION", "CLOUDSDK_COMPUTE_REGION", "CLOUDSDK_COMPUTE_ZONE"),
    "azure": ("AZURE_REGION", "AZURE_LOCATION", "REGION_NAME"),
}
_DMI_FILES = (
    "sys_vendor",
    "product_name",
    "product_version",
    "bios_vendor",
    "board_vendor",
    "chassis_asset_tag",
)


def _read_dmi(sysfs_root: Path) -> dict[str, str]:
    """The DMI strings that can be read (unreadable or missing files are left out)."""
    found: dict[str, str] = {}
    base = sysfs_root / "class" / "dmi" / "id"
    for name in _DMI_FILES:
        try:
            found[name] = (base / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
    return found


def detect_cloud_provider(sysfs_root: str | os.PathLike[str] = "/sys") -> str | None:
    """``aws``, ``gcp`` or ``azure`` when the DMI strings name that cloud, else None."""
    dmi = _read_dmi(Path(sysfs_root))
    vendors = {dmi.get(k, "").lower() for k in ("sys_vendor", "bios_vendor", "board_vendor")}
    product = dmi.get("product_name", "").lower()
    if "amazon ec2" in vendors or dmi.get("product_version", "").lower().endswith("amazon"):
        return "aws"
    if "google" in vendors or product == "google compute engine":
        return "gcp"
    if dmi.get("chassis_asset_tag", "") == AZURE_ASSET_TAG:
        return "azure"
    return None


def detect_cloud_zone(
    environ: Mapping[str, str], sysfs_root: str | os.PathLike[str] = "/sys"
) -> str | None:
    """The bundled-table zone of the cloud region this machine runs in, or None.

    Returns the canonical key (``aws:eu-west-1``) when the table knows the region, the
    ``provider:region`` spelling otherwise (so the caller can say which region is missing),
    and None when the provider or the region cannot be told from local facts.
    """
    provider = detect_cloud_provider(sysfs_root)
    if provider is None:
        return None
    region = next(
        (environ[v].strip() for v in REGION_VARIABLES[provider] if environ.get(v, "").strip()),
        None,
    )
    if region is None:
        log.debug(
            "cloud detection: %s machine, but none of %s is set",
            provider,
            ", ".join(REGION_VARIABLES[provider]),
        )
        return None
    spelled = cloud_key(provider, region)
    try:
        return normalize_zone(spelled)
    except UnknownZoneError:
        log.debug("cloud detection: %s is not in the bundled table", spelled)
        return spelled
