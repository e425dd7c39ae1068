"""How records are encoded into, and checked when decoded from, a ledger's rows.

Shared by every built-in backend so they store and refuse the same things. Writing:
text is made storable (:func:`clean_text`), blobs must be JSON. Reading: every field is
checked, and a damaged one raises :class:`~carbonledger.errors.CorruptRunError` naming
the ledger, the run and the field, so one bad row never breaks a whole listing.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from carbonledger.errors import CorruptRunError, DataError
from carbonledger.records import (
    Component,
    DeviceInfo,
    JobInfo,
    Method,
    RunRecord,
    RunStatus,
    Sample,
    Scope,
    SpanRecord,
)
from carbonledger.store.base import MetricValue

__all__ = [
    "JOB_FIELDS",
    "RUN_COLUMNS",
    "RUN_FIELDS",
    "clean",
    "clean_text",
    "decode_device",
    "decode_metric",
    "decode_run",
    "decode_sample",
    "decode_span",
    "dumps",
    "encode_device",
    "encode_metric",
    "encode_run",
    "encode_sample",
    "encode_span",
    "loads_blob",
]

TYPED_SETTINGS = ("embodied", "intensity_provider", "intensity_series")
"""Run fields kept in typed columns, also mirrored in the settings blob (compatibility)."""

JOB_FIELDS = ("job_key", "job_node", "job_rank", "job_local_rank", "job_restart", "job_launcher")
"""The run's distributed-job identity in typed, indexed columns (schema v3)."""

RUN_FIELDS = (
    "run_id",
    "name",
    "phase",
    "status",
    "started_at",
    "ended_at",
    "scope",
    "zone",
    "pue",
    "interval_s",
    "host_json",
    "tags_json",
    "exit_code",
    "pid",
    "heartbeat_at",
    "settings_json",
    *TYPED_SETTINGS,
    *JOB_FIELDS,
)
RUN_COLUMNS = ", ".join(RUN_FIELDS)


# -- text -------------------------------------------------------------------------------
def clean_text(text: str) -> str:
    """``text`` made storable as UTF-8: lone surrogates become ``\\xNN`` / ``\\uNNNN``.

    A byte that was not UTF-8 (``--name $'\\xff'`` reaches Python as U+DCFF through
    ``surrogateescape``) is shown as ``\\xff``; any other lone surrogate as ``\\udXXX``.
    Valid text is returned unchanged.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def clean(value: Any) -> Any:
    """``value`` with every string (keys too) in nested dicts, lists and tuples cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def dumps(value: Any, what: str, run_id: str) -> str:
    """JSON text of ``value`` (strings cleaned); DataError when it is not serialisable."""
    try:
        return json.dumps(clean(value), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DataError(f"run {run_id}: {what} is not JSON-serialisable: {exc}") from None


# -- runs -------------------------------------------------------------------------------
def encode_run(run: RunRecord) -> dict[str, Any]:
    """The run's row, column -> value. Typed columns fall back to the settings blob."""
    settings = dict(run.settings)
    typed: dict[str, Any] = {}
    for key in TYPED_SETTINGS:
        value = getattr(run, key)
        if value is None and isinstance(settings.get(key), str):
            value = settings[key]
        if value is not None:
            settings.setdefault(key, value)
        typed[key] = None if value is None else clean_text(str(value))
    return {
        "run_id": clean_text(run.run_id),
        "name": clean_text(run.name),
        "phase": clean_text(run.phase),
        "status": RunStatus(run.status).value,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "scope": Scope(run.scope).value,
        "zone": None if run.zone is None else clean_text(run.zone),
        "pue": run.pue,
        "interval_s": run.interval_s,
        "host_json": dumps(run.host, "host", run.run_id),
        "tags_json": dumps(run.tags, "tags", run.run_id),
        "exit_code": run.exit_code,
        "pid": run.pid,
        "heartbeat_at": run.heartbeat_at,
        "settings_json": dumps(settings, "settings", run.run_id),
        **typed,
        **_encode_job(run.job),
    }


def _encode_job(job: JobInfo | None) -> dict[str, Any]:
    if job is None:
        return dict.fromkeys(JOB_FIELDS)
    return {
        "job_key": clean_text(job.key),
        "job_node": clean_text(job.node),
        "job_rank": job.rank,
        "job_local_rank": job.local_rank,
        "job_restart": job.restart,
        "job_launcher": clean_text(job.launcher),
    }


def _decode_job(c: _Checker, row: Mapping[str, Any]) -> JobInfo | None:
    key = c.text("job_key", row.get("job_key"), optional=True)
    if key is None:
        return None
    return JobInfo(
        key=key,
        node=c.text("job_node", row.get("job_node")),
        rank=c.integer("job_rank", row.get("job_rank")),
        local_rank=c.integer("job_local_rank", row.get("job_local_rank")),
        restart=c.integer("job_restart", row.get("job_restart")) or 0,
        launcher=c.text("job_launcher", row.get("job_launcher"), optional=True) or "explicit",
    )


class _Checker:
    """Field checks for one stored run; each failure names ledger, run and field."""

    def __init__(self, where: str, run_id: str) -> None:
        self.where = where
        self.run_id = run_id

    def fail(self, field: str, problem: str) -> CorruptRunError:
        return CorruptRunError(
            f"ledger {self.where}: run {self.run_id} is damaged: {field} {problem}",
            run_id=self.run_id,
            field=field,
        )

    def text(self, field: str, value: Any, *, optional: bool = False) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"is {_shown(value)}, not text")
        return value

    def number(
        self, field: str, value: Any, *, optional: bool = False, minimum: float | None = None
    ) -> Any:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(field, f"is {_shown(value)}, not a number")
        if not math.isfinite(value):
            raise self.fail(field, f"is {value!r}, not a finite number")
        if minimum is not None and value < minimum:
            raise self.fail(field, f"is {value!r}, below {minimum:g}")
        return float(value)

    def integer(self, field: str, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"is {_shown(value)}, not an integer")
        return value

    def json_object(self, field: str, value: Any) -> dict[str, Any]:
        parsed = self.json(field, value)
        if not isinstance(parsed, dict):
            raise self.fail(field, f"is JSON {type(parsed).__name__}, not an object")
        return parsed

    def json(self, field: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.fail(field, f"is {_shown(value)}, not JSON text")
        try:
            return json.loads(value)
        except ValueError as exc:
            raise self.fail(field, f"is not valid JSON ({exc})") from None

    def choice(self, field: str, value: Any, enum: Any) -> Any:
        try:
            return enum(value)
        except ValueError:
            known = ", ".join(str(m.value) for m in enum)
            raise self.fail(field, f"is {_shown(value)}, not one of {known}") from None


def decode_run(values: Sequence[Any] | Mapping[str, Any], where: str) -> RunRecord:
    """A RunRecord from its row (in RUN_FIELDS order, or a mapping); CorruptRunError if bad."""
    if not isinstance(values, Mapping):
        found = _decode_run_fast(values)
        if found is not None:
            return found
    row = values if isinstance(values, Mapping) else dict(zip(RUN_FIELDS, values, strict=False))
    run_id = row.get("run_id")
    c = _Checker(where, run_id if isinstance(run_id, str) else repr(run_id))
    c.text("run_id", run_id)
    tags = c.json_object("tags_json", row.get("tags_json"))
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise c.fail("tags_json", "has a key or value that is not text")
    return RunRecord(
        run_id=run_id,  # type: ignore[arg-type]  # checked above
        name=c.text("name", row.get("name")),
        phase=c.text("phase", row.get("phase")),
        status=c.choice("status", row.get("status"), RunStatus),
        started_at=c.number("started_at", row.get("started_at")),
        ended_at=c.number("ended_at", row.get("ended_at"), optional=True),
        scope=c.choice("scope", row.get("scope"), Scope),
        zone=c.text("zone", row.get("zone"), optional=True),
        pue=c.number("pue", row.get("pue"), optional=True),
        interval_s=c.number("interval_s", row.get("interval_s"), minimum=0.0),
        host=c.json_object("host_json", row.get("host_json")),
        tags=tags,
        exit_code=c.integer("exit_code", row.get("exit_code")),
        pid=c.integer("pid", row.get("pid")),
        heartbeat_at=c.number("heartbeat_at", row.get("heartbeat_at"), optional=True),
        settings=c.json_object("settings_json", row.get("settings_json")),
        embodied=c.text("embodied", row.get("embodied"), optional=True),
        intensity_provider=c.text(
            "intensity_provider", row.get("intensity_provider"), optional=True
        ),
        intensity_series=c.text("intensity_series", row.get("intensity_series"), optional=True),
        job=_decode_job(c, row),
    )


_STATUSES = {m.value: m for m in RunStatus}
_SCOPES = {m.value: m for m in Scope}


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


def _finite(value: Any, minimum: float | None = None) -> bool:
    """A number :meth:`_Checker.number` accepts."""
    if not _is_number(value) or not math.isfinite(value):
        return False
    return minimum is None or value >= minimum


def _json_object(value: Any) -> dict[str, Any] | None:
    if type(value) is not str:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if type(parsed) is dict else None


def _decode_run_fast(values: Sequence[Any]) -> RunRecord | None:
    """:func:`decode_run` of a row whose every field is as the ledger writes it, with
    the same checks done directly; None for anything else (the checked path then
    decodes it, or names what is wrong)."""
    if len(values) != len(RUN_FIELDS):
        return None
    (
        run_id, name, phase, status, started_at, ended_at, scope, zone, pue, interval_s,
        host_json, tags_json, exit_code, pid, heartbeat_at, settings_json,
        embodied, provider, series, job_key, *_job,
    ) = values  # fmt: skip
    if (
        type(run_id) is not str
        or type(name) is not str
        or type(phase) is not str
        or job_key is not None
        or not _finite(started_at)
        or not (ended_at is None or _finite(ended_at))
        or not (pue is None or _finite(pue))
        or not _finite(interval_s, 0.0)
        or not (heartbeat_at is None or _finite(heartbeat_at))
        or not (exit_code is None or type(exit_code) is int)
        or not (pid is None or type(pid) is int)
        or not all(v is None or type(v) is str for v in (zone, embodied, provider, series))
    ):
        return None
    status_value, scope_value = _STATUSES.get(status), _SCOPES.get(scope)
    tags, host, settings = (_json_object(v) for v in (tags_json, host_json, settings_json))
    if status_value is None or scope_value is None or tags is None:
        return None
    if host is None or settings is None:
        return None
    if not all(type(k) is str and type(v) is str for k, v in tags.items()):
        return None
    return RunRecord(
        run_id=run_id,
        name=name,
        phase=phase,
        status=status_value,
        started_at=float(started_at),
        ended_at=None if ended_at is None else float(ended_at),
        scope=scope_value,
        zone=zone,
        pue=None if pue is None else float(pue),
        interval_s=float(interval_s),
        host=host,
        tags=tags,
        exit_code=exit_code,
        pid=pid,
        heartbeat_at=None if heartbeat_at is None else float(heartbeat_at),
        settings=settings,
        embodied=embodied,
        intensity_provider=provider,
        intensity_series=series,
        job=None,
    )


def loads_blob(value: Any, field: str, run_id: str, where: str) -> Any:
    """A stored JSON blob of a run (series, attachment), or CorruptRunError."""
    return _Checker(where, run_id).json(field, value)


# -- devices, samples, spans ------------------------------------------------------------
def encode_device(run_id: str, position: int, d: DeviceInfo) -> tuple[Any, ...]:
    return (
        clean_text(run_id),
        position,
        clean_text(d.device_id),
        Component(d.component).value,
        clean_text(d.name),
        Method(d.method).value,
        clean_text(d.source),
        d.uncertainty_rel,
        dumps(d.details, f"device {d.device_id} details", run_id),
    )


def decode_device(r: Sequence[Any], run_id: str, where: str) -> DeviceInfo:
    """A device from ``(device_id, component, name, method, source, uncertainty, details)``."""
    c = _Checker(where, run_id)
    return DeviceInfo(
        device_id=c.text("device_id", r[0]),
        component=c.choice(f"device {r[0]!r} component", r[1], Component),
        name=c.text(f"device {r[0]!r} name", r[2]),
        method=c.choice(f"device {r[0]!r} method", r[3], Method),
        source=c.text(f"device {r[0]!r} source", r[4]),
        uncertainty_rel=c.number(f"device {r[0]!r} uncertainty_rel", r[5], minimum=0.0),
        details=c.json_object(f"device {r[0]!r} details_json", r[6]),
    )


def encode_sample(run_id: str, s: Sample) -> tuple[Any, ...]:
    """A sample's row; an energy that is negative or not finite is stored as unknown."""
    return (
        run_id,
        clean_text(s.device_id),
        s.t_start,
        s.t_end,
        _energy_or_none(s.host_energy_j),
        _energy_or_none(s.energy_j),
    )


def _energy_or_none(value: float | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def decode_sample(r: Sequence[Any], run_id: str, index: int, where: str) -> Sample:
    """A sample from ``(device_id, t_start, t_end, host_energy_j, energy_j)``.

    A negative or non-finite energy cannot come from a tracker: it is damage, refused.
    """
    c = _Checker(where, run_id)
    what = f"sample {index} (device {r[0]!r})"
    return Sample(
        device_id=c.text(f"sample {index} device_id", r[0]),
        t_start=c.number(f"{what} t_start", r[1]),
        t_end=c.number(f"{what} t_end", r[2]),
        host_energy_j=c.number(f"{what} host_energy_j", r[3], optional=True, minimum=0.0),
        energy_j=c.number(f"{what} energy_j", r[4], optional=True, minimum=0.0),
    )


def encode_span(run_id: str, span: SpanRecord) -> tuple[Any, ...]:
    return (
        clean_text(run_id),
        clean_text(span.path),
        span.started_at,
        span.ended_at,
        dumps(span.energy_j, f"span {span.path} energy", run_id),
        dumps(span.host_energy_j, f"span {span.path} host energy", run_id),
    )


def decode_span(r: Sequence[Any], run_id: str, where: str) -> SpanRecord:
    """A span from ``(path, started_at, ended_at, energy_json, host_energy_json)``."""
    c = _Checker(where, run_id)
    path = c.text("span path", r[0])
    what = f"span {path!r}"

    def energies(field: str, value: Any) -> dict[str, float | None]:
        parsed = c.json_object(field, value)
        return {
            str(k): c.number(f"{field}[{k!r}]", v, optional=True, minimum=0.0)
            for k, v in parsed.items()
        }

    return SpanRecord(
        path=path,
        started_at=c.number(f"{what} started_at", r[1]),
        ended_at=c.number(f"{what} ended_at", r[2], optional=True),
        energy_j=energies(f"{what} energy_json", r[3]),
        host_energy_j=energies(f"{what} host_energy_json", r[4]),
    )


# -- metrics ----------------------------------------------------------------------------
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def encode_metric(name: str, value: object) -> tuple[str, Any]:
    """``(kind, stored value)``; NaN is stored as NULL, ints beyond 64 bits as text."""
    if isinstance(value, bool):
        return "bool", int(value)
    if isinstance(value, numbers.Integral):
        number = int(value)
        return "int", number if _INT64_MIN <= number <= _INT64_MAX else str(number)
    if isinstance(value, numbers.Real):
        real = float(value)
        return "float", None if math.isnan(real) else real
    if isinstance(value, str):
        return "str", clean_text(value)
    raise DataError(
        f"metric {clean_text(name)!r}: unsupported type {type(value).__name__} "
        "(use int, float, str or bool)"
    )


def decode_metric(kind: str, value: Any) -> MetricValue:
    """The stored metric back; ValueError/TypeError when the row does not fit its kind."""
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return math.nan if value is None else float(value)
    if kind == "str":
        return str(value)
    raise ValueError(f"unknown metric kind {kind!r}")


def decode_metric_row(name: Any, kind: Any, value: Any, run_id: str, where: str) -> MetricValue:
    c = _Checker(where, run_id)
    c.text("metric name", name)
    try:
        return decode_metric(kind, value)
    except (TypeError, ValueError) as exc:
        raise c.fail(f"metric {name!r}", f"cannot be read ({exc})") from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
