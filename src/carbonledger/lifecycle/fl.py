"""Federated learning: energy and carbon of training rounds spread over many clients.

After Qiu et al. (2023, "A first look into the carbon footprint of federated learning",
JMLR 24(129)) and Wu et al. (2022, "Sustainable AI", MLSys): per round and client,

    compute       = compute time × compute power        (or a measured energy per round)
    communication = (download + upload time) × (device power + router power)
    transfer time = model size (MB) × 8 / bandwidth (Mbps), each direction

plus the server's aggregation energy per round. Each client is priced at its own zone's
(or given) intensity, the server at its own; a client's ``participation`` is the expected
share of rounds it takes part in. Every figure is modelled. Usage::

    import carbonledger as cl
    r = cl.fl.estimate([cl.fl.Client("phone-fr", upload_mbps=10, download_mbps=50,
                                     compute_s_per_round=60, compute_power_w=3.0, zone="FR")],
                       rounds=100, model_size_mb=20)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from carbonledger.errors import ConfigError
from carbonledger.lifecycle.uncertainty import interval, product_rel, rel_for, sum_rel
from carbonledger.units import J_PER_KWH, g_to_kg, j_to_kwh, megabytes_to_megabits

__all__ = [
    "DEFAULT_DEVICE_POWER_W",
    "DEFAULT_ROUTER_POWER_W",
    "Client",
    "ClientResult",
    "FLEstimate",
    "Server",
    "estimate",
]

#: Client device power while transferring (W), and a home router's (W): the defaults of the
#: federated-learning estimate (Qiu et al. 2023); override them with your own figures.
DEFAULT_DEVICE_POWER_W = 3.0
DEFAULT_ROUTER_POWER_W = 7.5


def _num(value: object, name: str, *, low_open: bool = False, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (v > 0 if low_open else v >= 0)
    if high is not None:
        ok = ok and v <= high
    if not ok:
        bound = "> 0" if low_open else "≥ 0"
        raise ConfigError(
            f"{name} must be {bound}{f' and ≤ {high:g}' if high else ''}, got {value}"
        )
    return v


@dataclass(frozen=True)
class Client:
    """One federated client: its compute per round, its links, and where it is.

    Give ``compute_s_per_round`` (with ``compute_power_w``, else the estimate's
    ``device_power_w``) or ``compute_energy_j_per_round``; ``zone`` or
    ``intensity_g_per_kwh`` (neither: the world average, with a warning).
    """

    name: str
    upload_mbps: float
    download_mbps: float
    compute_s_per_round: float | None = None
    compute_power_w: float | None = None
    compute_energy_j_per_round: float | None = None
    zone: str | None = None
    intensity_g_per_kwh: float | None = None
    participation: float = 1.0


@dataclass(frozen=True)
class Server:
    """The aggregation server: its power while aggregating and the time per round."""

    power_w: float
    seconds_per_round: float
    pue: float = 1.0
    zone: str | None = None
    intensity_g_per_kwh: float | None = None


@dataclass(frozen=True)
class ClientResult:
    """One client's energy (J) and carbon (g) per round it takes part in, and in total."""

    name: str
    zone: str | None
    intensity_g_per_kwh: float
    intensity_source: str
    intensity_uncertainty_rel: float | None
    participation: float
    compute_j: float
    upload_s: float
    download_s: float
    communication_j: float
    energy_j: float  # per round taken part in
    g: float  # per round taken part in
    total_energy_j: float  # over all rounds, × participation
    total_g: float


@dataclass(frozen=True)
class FLEstimate:
    """Energy and carbon of a federated training: per round, per client and in total."""

    rounds: int
    model_size_mb: float
    clients: tuple[ClientResult, ...]
    server_j_per_round: float
    server_g_per_round: float
    warnings: tuple[str, ...] = field(default=())
    uncertainty_rel: float | None = None

    @property
    def per_round_energy_j(self) -> float:
        """Expected energy of one round: clients × participation, plus the server."""
        return (
            math.fsum(c.energy_j * c.participation for c in self.clients) + self.server_j_per_round
        )

    @property
    def per_round_g(self) -> float:
        return math.fsum(c.g * c.participation for c in self.clients) + self.server_g_per_round

    @property
    def energy_j(self) -> float:
        return self.per_round_energy_j * self.rounds

    @property
    def g(self) -> float:
        return self.per_round_g * self.rounds

    @property
    def energy_kwh(self) -> float:
        return j_to_kwh(self.energy_j)

    @property
    def kgco2e(self) -> float:
        return g_to_kg(self.g)

    @property
    def interval_g(self) -> tuple[float, float] | None:
        return interval(self.g, self.uncertainty_rel)

    def cumulative_g(self, round_index: int) -> float:
        """Carbon after ``round_index`` rounds (rounds are identical in expectation)."""
        if not 0 <= round_index <= self.rounds:
            raise ConfigError(f"round_index must be in [0, {self.rounds}], got {round_index}")
        return self.per_round_g * round_index

    def to_dict(self) -> dict[str, Any]:
        iv = self.interval_g
        return {
            "rounds": self.rounds,
            "model_size_mb": self.model_size_mb,
            "per_round": {
                "energy_kwh": j_to_kwh(self.per_round_energy_j),
                "kgco2e": g_to_kg(self.per_round_g),
            },
            "server": {
                "energy_kwh_per_round": j_to_kwh(self.server_j_per_round),
                "kgco2e_per_round": g_to_kg(self.server_g_per_round),
            },
            "clients": [asdict(c) for c in self.clients],
            "energy_kwh": self.energy_kwh,
            "kgco2e": self.kgco2e,
            "uncertainty": {
                "kgco2e": None if iv is None else [g_to_kg(iv[0]), g_to_kg(iv[1])],
                "rel": self.uncertainty_rel,
            },
            "method": "modeled",
            "warnings": list(self.warnings),
        }


def _intensity(
    g_per_kwh: float | None,
    zone: str | None,
    label: str,
    cache: dict[str | None, tuple[float, str, float | None]],
) -> tuple[float, str, float | None]:
    if g_per_kwh is not None:
        if zone is not None:
            raise ConfigError(f"{label}: give intensity_g_per_kwh or zone, not both")
        g = _num(g_per_kwh, f"{label}.intensity_g_per_kwh")
        return g, f"user: {g:g} gCO2e/kWh", rel_for("intensity_annual")
    if zone not in cache:
        from carbonledger.intensity.bundled import bundled_intensity, world_default

        v = bundled_intensity(zone) if zone is not None else world_default()
        cache[zone] = (v.g_per_kwh, v.source, v.uncertainty_rel)
    return cache[zone]


def estimate(
    clients: Sequence[Client],
    rounds: int,
    *,
    model_size_mb: float,
    upload_size_mb: float | None = None,
    server: Server | None = None,
    device_power_w: float = DEFAULT_DEVICE_POWER_W,
    router_power_w: float = DEFAULT_ROUTER_POWER_W,
) -> FLEstimate:
    """Energy and carbon of ``rounds`` federated rounds over ``clients``.

    Each round a client downloads the model (``model_size_mb``) and uploads its update
    (``upload_size_mb``, default the model size), at its own bandwidths, with the device
    (``device_power_w``) and router (``router_power_w``) powered during the transfers; it
    computes for ``compute_s_per_round`` seconds (or spends ``compute_energy_j_per_round``).
    ``server`` adds its aggregation energy each round (omitted: not counted, with a warning).
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ConfigError(f"rounds must be a whole number ≥ 0, got {rounds!r}")
    if not clients:
        raise ConfigError("clients must list at least one client")
    size_down = _num(model_size_mb, "model_size_mb")
    size_up = size_down if upload_size_mb is None else _num(upload_size_mb, "upload_size_mb")
    dev_w = _num(device_power_w, "device_power_w")
    router_w = _num(router_power_w, "router_power_w")
    cache: dict[str | None, tuple[float, str, float | None]] = {}
    warnings: list[str] = []
    results: list[ClientResult] = []
    unzoned: list[str] = []
    model_rel = rel_for("model")
    terms: list[tuple[float, float | None]] = []
    names = [c.name for c in clients]
    if len(set(names)) != len(names):
        raise ConfigError("client names must be unique")
    for c in clients:
        label = f"client {c.name!r}"
        up_mbps = _num(c.upload_mbps, f"{label}.upload_mbps", low_open=True)
        down_mbps = _num(c.download_mbps, f"{label}.download_mbps", low_open=True)
        part = _num(c.participation, f"{label}.participation", high=1.0)
        if c.compute_energy_j_per_round is not None:
            if c.compute_s_per_round is not None:
                raise ConfigError(
                    f"{label}: give compute_s_per_round or compute_energy_j_per_round, not both"
                )
            compute_j = _num(c.compute_energy_j_per_round, f"{label}.compute_energy_j_per_round")
        elif c.compute_s_per_round is not None:
            power = (
                dev_w
                if c.compute_power_w is None
                else _num(c.compute_power_w, f"{label}.compute_power_w")
            )
            compute_j = _num(c.compute_s_per_round, f"{label}.compute_s_per_round") * power
        else:
            raise ConfigError(f"{label}: give compute_s_per_round or compute_energy_j_per_round")
        upload_s = megabytes_to_megabits(size_up) / up_mbps
        download_s = megabytes_to_megabits(size_down) / down_mbps
        comm_j = (upload_s + download_s) * (dev_w + router_w)
        energy_j = compute_j + comm_j
        if c.zone is None and c.intensity_g_per_kwh is None:
            unzoned.append(c.name)
        g_per_kwh, source, i_rel = _intensity(c.intensity_g_per_kwh, c.zone, label, cache)
        g = energy_j / J_PER_KWH * g_per_kwh
        results.append(
            ClientResult(
                name=c.name,
                zone=c.zone,
                intensity_g_per_kwh=g_per_kwh,
                intensity_source=source,
                intensity_uncertainty_rel=i_rel,
                participation=part,
                compute_j=compute_j,
                upload_s=upload_s,
                download_s=download_s,
                communication_j=comm_j,
                energy_j=energy_j,
                g=g,
                total_energy_j=energy_j * part * rounds,
                total_g=g * part * rounds,
            )
        )
        terms.append((g * part * rounds, product_rel(model_rel, i_rel)))
    if unzoned:
        warnings.append(
            f"no zone or intensity for {len(unzoned)} client(s) ({', '.join(unzoned[:5])}"
            f"{', …' if len(unzoned) > 5 else ''}): priced at the world average"
        )
    server_j = server_g = 0.0
    if server is None:
        warnings.append("no server given: the aggregation server's energy is not counted")
    else:
        s_pue = _num(server.pue, "server.pue")
        if s_pue < 1.0:
            raise ConfigError(f"server.pue must be ≥ 1.0, got {server.pue}")
        server_j = (
            _num(server.power_w, "server.power_w")
            * _num(server.seconds_per_round, "server.seconds_per_round")
            * s_pue
        )
        s_g_per_kwh, _, s_rel = _intensity(server.intensity_g_per_kwh, server.zone, "server", cache)
        server_g = server_j / J_PER_KWH * s_g_per_kwh
        terms.append((server_g * rounds, product_rel(model_rel, s_rel)))
    return FLEstimate(
        rounds=rounds,
        model_size_mb=size_down,
        clients=tuple(results),
        server_j_per_round=server_j,
        server_g_per_round=server_g,
        warnings=tuple(warnings),
        uncertainty_rel=sum_rel(terms),
    )
