"""Value types shared by every layer: methods, devices, readings, samples, figures.

All are small frozen dataclasses. Units are in the field names; a missing value is ``None``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Method(str, enum.Enum):
    """How a number was obtained."""

    MEASURED = "measured"
    MODELED = "modeled"
    DEFAULT = "default"
    UNAVAILABLE = "unavailable"
    #: a share of a measured whole (a MIG slice of its board, a request of its server):
    #: the whole was measured, the split is a rule, so it is never labelled measured
    ATTRIBUTED = "attributed"

    def __str__(self) -> str:
        return self.value


class Component(str, enum.Enum):
    CPU = "cpu"
    GPU = "gpu"
    RAM = "ram"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


class Scope(str, enum.Enum):
    MACHINE = "machine"
    PROCESS = "process"

    def __str__(self) -> str:
        return self.value


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


PHASES = ("data", "experimentation", "training", "inference", "other")


@dataclass(frozen=True)
class Figure:
    """A number with its provenance: how it was obtained, from where, and how far off."""

    value: float | None
    unit: str
    method: Method
    source: str
    uncertainty_rel: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.value is None or self.uncertainty_rel is None:
            return None
        return (self.value * (1 - self.uncertainty_rel), self.value * (1 + self.uncertainty_rel))


@dataclass(frozen=True)
class DeviceInfo:
    """One energy-consuming device a sensor reports on.

    ``device_id`` is stable within a host and names the sensor: ``rapl:package-0``,
    ``nvml:GPU-3f2…``, ``model:cpu``. ``source`` is what a footprint shows as provenance.
    """

    device_id: str
    component: Component
    name: str
    method: Method
    source: str
    uncertainty_rel: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reading:
    """One read of one device.

    ``energy_j`` is the device's cumulative energy since its sensor was opened, already
    unwrapped and monotonic (sensors integrate power themselves when no counter exists).
    ``None`` means the read failed. ``power_w`` is the instantaneous or mean power, if known.
    ``process_share`` is the tracked process tree's share of this device's energy over the
    interval since the previous read, when the sensor can tell (NVML per-process use);
    ``None`` lets the sampler attribute it. ``lost`` says the energy since the previous good
    read is unknown for good (a counter step rejected as impossible, the sensor re-based on
    this read): the sampler records that time as a gap. ``lower_bound`` says the energy since
    the previous read may miss counter wraps (a gap longer than the counter's wrap period).
    """

    device_id: str
    energy_j: float | None
    power_w: float | None = None
    process_share: float | None = None
    lost: bool = False
    lower_bound: bool = False


@dataclass(frozen=True)
class Sample:
    """Energy of one device over one sampling interval, as stored in the ledger.

    ``host_energy_j`` is what the sensor saw for the whole device; ``energy_j`` is the
    run's share under its scope. Both are ``None`` when the read failed.
    """

    device_id: str
    t_start: float  # unix seconds
    t_end: float  # unix seconds
    host_energy_j: float | None
    energy_j: float | None

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True)
class SpanRecord:
    """A named part of a run; ``path`` joins nested names with ``/``."""

    path: str
    started_at: float  # unix seconds
    ended_at: float | None
    energy_j: dict[str, float | None]  # per device_id, attributed to the run's scope
    host_energy_j: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class JobInfo:
    """Where a run sits in a distributed job (:mod:`carbonledger.distributed`).

    ``key`` names the job (``slurm:<cluster>:<id>``, ``torchrun:<run id>``, ``mpi:<id>``,
    or an explicit name); ``node`` the machine; ``rank``/``local_rank`` the process's
    global and node-local rank (``None`` when the launcher gave none); ``restart`` the
    restart (requeue) count; ``launcher`` what the identity was read from.
    """

    key: str
    node: str
    rank: int | None = None
    local_rank: int | None = None
    restart: int = 0
    launcher: str = "explicit"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "node": self.node,
            "rank": self.rank,
            "local_rank": self.local_rank,
            "restart": self.restart,
            "launcher": self.launcher,
        }


@dataclass(frozen=True)
class RunRecord:
    """A run's metadata as the ledger stores it (no carbon: that is derived)."""

    run_id: str
    name: str
    phase: str
    status: RunStatus
    started_at: float  # unix seconds
    ended_at: float | None
    scope: Scope
    zone: str | None
    pue: float | None
    interval_s: float
    host: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    pid: int | None = None
    heartbeat_at: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # what pricing needs, in typed ledger columns (also kept in ``settings`` for old readers)
    embodied: str | None = None  # embodied-emissions preset name
    intensity_provider: str | None = None  # live intensity provider that recorded the series
    intensity_series: str | None = None  # where the run's intensity series came from
    job: JobInfo | None = None  # the distributed job the run belongs to, if any

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return self.ended_at - self.started_at
