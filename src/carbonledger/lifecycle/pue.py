"""Default PUE for cloud regions, used only when the user set none.

A zone written ``aws:<region>``, ``gcp:<region>`` or ``azure:<region>`` is priced with that
provider's published fleet-wide PUE, the values Cloud Carbon Footprint uses (its
methodology page, "Power Usage Effectiveness"). Any other zone gets ``None`` and the caller
uses 1.0, labelled as a default (IT energy only). Sources in docs/methodology/lifecycle.md.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["PROVIDER_PUE", "default_pue"]

#: provider prefix -> (PUE, source)
PROVIDER_PUE: MappingProxyType[str, tuple[float, str]] = MappingProxyType(
    {
        "aws": (
            1.135,
            "default: AWS 1.135 (Cloud Carbon Footprint's estimate; AWS publishes no fleet PUE)",
        ),
        "gcp": (
            1.10,
            "default: Google Cloud fleet PUE 1.10 (google.com/about/datacenters/efficiency, "
            "as used by Cloud Carbon Footprint)",
        ),
        "azure": (
            1.185,
            "default: Azure fleet PUE 1.185 (Microsoft statement quoted by Cloud Carbon Footprint)",
        ),
    }
)

# provider spellings accepted by carbonledger.intensity.zones
_ALIASES = {
    "amazon": "aws",
    "amazonwebservices": "aws",
    "ec2": "aws",
    "google": "gcp",
    "googlecloud": "gcp",
    "gce": "gcp",
    "microsoft": "azure",
    "microsoftazure": "azure",
}


def default_pue(zone: str | None) -> tuple[float, str] | None:
    """``(pue, source)`` for a cloud region zone (``aws:…``, ``gcp:…``, ``azure:…``), else None."""
    if not zone or ":" not in zone:
        return None
    provider = "".join(ch for ch in zone.split(":", 1)[0].lower() if ch.isalnum())
    provider = _ALIASES.get(provider, provider)
    return PROVIDER_PUE.get(provider)
