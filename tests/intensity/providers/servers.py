"""Local fake servers speaking the documented formats of the three provider APIs.

Each runs ``http.server`` in a daemon thread on 127.0.0.1 at an ephemeral port, records
every request, and can be told to misbehave for the next requests (:meth:`FakeAPI.push`):
an error status with headers, a delay, a malformed body. Values are deterministic
functions of time (:func:`em_value`, :func:`wt_value_lbs`, :func:`uk_value`), so tests can
compute what the client must return.

Formats follow:
- Electricity Maps v3 (api.electricitymaps.com/v3): ``/carbon-intensity/{latest,history,
  past-range,forecast}``, ``auth-token`` header, items ``{zone, carbonIntensity, datetime,
  updatedAt, createdAt, emissionFactorType, isEstimated, estimationMethod}``; history under
  ``history``, past-range under ``data`` (at most 10 days), forecast under ``forecast``.
- WattTime v3 (api.watttime.org): ``/login`` (HTTP Basic → ``{"token"}``), ``/v3/forecast``,
  ``/v3/historical`` (at most 32 days), ``/v3/region-from-loc``; responses ``{data:
  [{point_time, value}], meta: {data_point_period_seconds, region, signal_type, model,
  units, warnings, generated_at}}``.
- GB Carbon Intensity (api.carbonintensity.org.uk): ``/intensity``, ``/intensity/{from}/{to}``,
  ``/intensity/{from}/fw48h`` → ``{data: [{from, to, intensity: {forecast, actual, index}}]}``;
  ``/regional/regionid/{id}`` → ``{data: [{regionid, dnoregion, shortname, data: [...]}]}``;
  ``/regional/intensity/{from}/{to|fw48h}/regionid/{id}`` → ``{data: {regionid, ..., data}}``.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

NOW = 1_717_243_200.0  # 2024-06-01T12:00:00Z, the fake servers' and tests' clock
HOUR = 3600.0

Response = tuple[int, dict[str, str], bytes]


def iso_z(t: float) -> str:
    """Electricity Maps style: 2024-06-01T12:00:00.000Z."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_offset(t: float) -> str:
    """WattTime style: 2024-06-01T12:00:00+00:00."""
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat()


def iso_minutes(t: float) -> str:
    """Carbon Intensity style: 2024-06-01T12:00Z."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def parse_any(text: str) -> float:
    value = text.strip().replace("Z", "+00:00").replace(" ", "+")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Fault:
    """Replace (or delay) the answer to the next ``times`` requests whose path starts with
    ``path``: ``status``/``body``/``headers`` replace it; ``delay_s`` sleeps first."""

    status: int | None = None
    body: bytes | Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    times: int = 1
    path: str = ""


class FakeAPI:
    """A recording HTTP server; subclasses implement :meth:`route`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.lock = threading.Lock()
        self.now = NOW
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                api._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> FakeAPI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def push(self, **kwargs: Any) -> None:
        """Queue a :class:`Fault` for the next matching requests."""
        with self.lock:
            self.faults.append(Fault(**kwargs))

    def count(self, prefix: str = "") -> int:
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    # --- serving ------------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self.requests.append(Recorded("GET", parts.path, query, headers))
        fault = self._take_fault(parts.path)
        try:
            if fault is not None and fault.delay_s:
                time.sleep(fault.delay_s)
            if fault is not None and fault.status is not None:
                body = fault.body
                if not isinstance(body, bytes):
                    body = json.dumps(body if body is not None else {"message": "fault"}).encode()
                status, extra, payload = fault.status, fault.headers, body
            else:
                status, extra, payload = self.route(parts.path, query, headers)
            handler.send_response(status)
            for key, value in extra.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        raise NotImplementedError


# --- Electricity Maps -------------------------------------------------------------------
def em_value(t: float, basis: str = "lifecycle") -> float:
    """The fake Electricity Maps intensity for the hour starting at ``t``."""
    hour = int(t // HOUR)
    base = 200.0 + 10.0 * (hour % 24)
    return base if basis == "lifecycle" else base * 0.8


def em_estimated(t: float) -> bool:
    return int(t // HOUR) % 5 == 0


class ElectricityMapsServer(FakeAPI):
    TOKEN = "em-SECRET-token-0123456789"
    ZONES = ("DE", "FR")
    FORBIDDEN = ("US-CAL-CISO",)
    MAX_RANGE_S = 10 * 24 * HOUR

    def _item(self, zone: str, t: float, basis: str) -> dict[str, Any]:
        estimated = em_estimated(t)
        return {
            "zone": zone,
            "carbonIntensity": em_value(t, basis),
            "datetime": iso_z(t),
            "updatedAt": iso_z(self.now),
            "createdAt": iso_z(t),
            "emissionFactorType": basis,
            "isEstimated": estimated,
            "estimationMethod": "TIME_SLICER_AVERAGE" if estimated else None,
        }

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        if headers.get("auth-token") != self.TOKEN:
            return json_response(
                401, {"status": "error", "message": "Invalid authentication token"}
            )
        zone = "FR" if "lat" in query and "lon" in query else query.get("zone", "")
        if zone in self.FORBIDDEN:
            return json_response(
                403, {"status": "error", "message": f"Token does not have access to zone {zone}"}
            )
        if zone not in self.ZONES:
            return json_response(
                404, {"status": "error", "message": f"Zone '{zone}' does not exist"}
            )
        basis = query.get("emissionFactorType", "lifecycle")
        hour = math.floor(self.now / HOUR) * HOUR
        if path == "/v3/carbon-intensity/latest":
            return json_response(
                200, {**self._item(zone, hour, basis), "temporalGranularity": "hourly"}
            )
        if path == "/v3/carbon-intensity/history":
            items = [self._item(zone, hour - i * HOUR, basis) for i in range(23, -1, -1)]
            return json_response(200, {"zone": zone, "history": items})
        if path == "/v3/carbon-intensity/past-range":
            start, end = parse_any(query["start"]), parse_any(query["end"])
            if end - start > self.MAX_RANGE_S:
                return json_response(
                    400,
                    {"status": "error", "message": "The maximum range is 10 days for hourly data"},
                )
            t = math.ceil(start / HOUR) * HOUR
            items = []
            while t < end:
                items.append(self._item(zone, t, basis))
                t += HOUR
            return json_response(
                200, {"zone": zone, "data": items, "temporalGranularity": "hourly"}
            )
        if path == "/v3/carbon-intensity/forecast":
            horizon = int(query.get("horizonHours", "24"))
            forecast = [
                {
                    "carbonIntensity": em_value(hour + h * HOUR, basis),
                    "datetime": iso_z(hour + h * HOUR),
                }
                for h in range(horizon + 1)
            ]
            return json_response(
                200, {"zone": zone, "forecast": forecast, "updatedAt": iso_z(self.now)}
            )
        return json_response(404, {"status": "error", "message": "Not found"})


# --- WattTime ---------------------------------------------------------------------------
def wt_value_lbs(t: float) -> float:
    """The fake WattTime MOER (lbs/MWh) for the 5-minute period starting at ``t``."""
    return 800.0 + (int(t // 300) % 12) * 10.0


class WattTimeServer(FakeAPI):
    USERNAME = "wt-user"
    PASSWORD = "wt-PASSWORD-s3cret"
    REGIONS = ("CAISO_NORTH", "PJM_NJ")
    FORBIDDEN = ("ERCOT_EASTTX",)
    MAX_RANGE_S = 32 * 24 * HOUR
    PERIOD = 300.0

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()
        self.logins = 0
        self.units = "lbs_co2_per_mwh"
        self.signal_type_override: str | None = None

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def _meta(self, region: str, signal_type: str) -> dict[str, Any]:
        return {
            "data_point_period_seconds": 300,
            "region": region,
            "warnings": [],
            "signal_type": self.signal_type_override or signal_type,
            "model": {"date": "2023-03-01"},
            "units": self.units,
            "generated_at_period_seconds": 300,
            "generated_at": iso_offset(math.floor(self.now / 300) * 300),
        }

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        if path == "/login":
            expected = base64.b64encode(f"{self.USERNAME}:{self.PASSWORD}".encode()).decode()
            if headers.get("authorization") != f"Basic {expected}":
                return json_response(401, {"error": "Unauthorized"})
            with self.lock:
                self.logins += 1
                token = f"wt-TOKEN-{self.logins}-abcdef0123456789"
                self.tokens.add(token)
            return json_response(200, {"token": token})
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return json_response(401, {"error": "Unauthorized"})
        if path == "/v3/region-from-loc":
            return json_response(
                200,
                {
                    "region": "CAISO_NORTH",
                    "region_full_name": "California ISO Northern",
                    "signal_type": query.get("signal_type", "co2_moer"),
                },
            )
        region = query.get("region", "")
        signal_type = query.get("signal_type", "co2_moer")
        if region in self.FORBIDDEN:
            return json_response(403, {"error": "Forbidden", "message": "No access to this region"})
        if region not in self.REGIONS:
            return json_response(
                400, {"error": "Invalid region", "message": f"Unknown region {region}"}
            )
        now5 = math.floor(self.now / 300) * 300
        if path == "/v3/forecast":
            horizon = int(query.get("horizon_hours", "24"))
            count = horizon * 12 + 1
            data = [
                {"point_time": iso_offset(now5 + i * 300), "value": wt_value_lbs(now5 + i * 300)}
                for i in range(count)
            ]
            return json_response(200, {"data": data, "meta": self._meta(region, signal_type)})
        if path == "/v3/historical":
            start, end = parse_any(query["start"]), parse_any(query["end"])
            if end - start > self.MAX_RANGE_S:
                return json_response(
                    400, {"error": "Bad request", "message": "Time range must be at most 32 days"}
                )
            t = math.ceil(start / 300) * 300
            data = []
            while t <= end:  # WattTime ranges are inclusive
                data.append({"point_time": iso_offset(t), "value": wt_value_lbs(t)})
                t += 300
            return json_response(200, {"data": data, "meta": self._meta(region, signal_type)})
        return json_response(404, {"error": "Not found"})


# --- GB Carbon Intensity ----------------------------------------------------------------
def uk_value(t: float, region: int | None = None) -> float:
    """The fake GB forecast for the half hour starting at ``t`` (region None: national)."""
    base = 150.0 + (int(t // 1800) % 48) * 2.0
    return base + (region or 0)


def uk_actual(t: float, now: float) -> float | None:
    """The fake national actual: known for past periods except every third one."""
    if t + 1800 > now or int(t // 1800) % 3 == 0:
        return None
    return uk_value(t) - 5.0


def _index(value: float) -> str:
    return "low" if value < 180 else "moderate"


class UKGridServer(FakeAPI):
    MAX_RANGE_S = 14 * 24 * HOUR
    SHORTNAMES: ClassVar[dict[int, str]] = {13: "London", 1: "North Scotland", 16: "Scotland"}

    def _national(self, t: float) -> dict[str, Any]:
        forecast = uk_value(t)
        return {
            "from": iso_minutes(t),
            "to": iso_minutes(t + 1800),
            "intensity": {
                "forecast": forecast,
                "actual": uk_actual(t, self.now),
                "index": _index(forecast),
            },
        }

    def _regional(self, t: float, region: int) -> dict[str, Any]:
        forecast = uk_value(t, region)
        return {
            "from": iso_minutes(t),
            "to": iso_minutes(t + 1800),
            "intensity": {"forecast": forecast, "index": _index(forecast)},
            "generationmix": [{"fuel": "gas", "perc": 40.0}, {"fuel": "wind", "perc": 60.0}],
        }

    def _region_head(self, region: int) -> dict[str, Any]:
        return {
            "regionid": region,
            "dnoregion": "UKPN London" if region == 13 else f"DNO {region}",
            "shortname": self.SHORTNAMES.get(region, f"Region {region}"),
        }

    def _range(self, a: float, b: float) -> list[float]:
        # like the real API, a range also returns the half hour that ends at ``from``
        t = float(math.floor(a / 1800) * 1800 - 1800)
        out: list[float] = []
        while t < b:
            out.append(t)
            t += 1800
        return out

    def _bad(self, message: str) -> Response:
        return json_response(400, {"error": {"code": "400 Bad Request", "message": message}})

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        parts = [p for p in path.split("/") if p]
        current = math.floor(self.now / 1800) * 1800
        if parts == ["intensity"]:
            return json_response(200, {"data": [self._national(current)]})
        if len(parts) == 3 and parts[0] == "intensity":
            a = parse_any(parts[1])
            b = a + 48 * HOUR if parts[2] == "fw48h" else parse_any(parts[2])
            if b - a > self.MAX_RANGE_S:
                return self._bad("Please enter a valid date range (maximum 14 days)")
            return json_response(200, {"data": [self._national(t) for t in self._range(a, b)]})
        if parts[:2] == ["regional", "regionid"] and len(parts) == 3:
            region = int(parts[2]) if parts[2].isdigit() else -1
            if not 1 <= region <= 17:
                return self._bad("Please enter a valid region ID i.e. 1-17")
            head = self._region_head(region)
            return json_response(
                200, {"data": [{**head, "data": [self._regional(current, region)]}]}
            )
        if parts[:2] == ["regional", "intensity"] and len(parts) == 6 and parts[4] == "regionid":
            region = int(parts[5]) if parts[5].isdigit() else -1
            if not 1 <= region <= 17:
                return self._bad("Please enter a valid region ID i.e. 1-17")
            a = parse_any(parts[2])
            b = a + 48 * HOUR if parts[3] == "fw48h" else parse_any(parts[3])
            if b - a > self.MAX_RANGE_S:
                return self._bad("Please enter a valid date range (maximum 14 days)")
            data = [self._regional(t, region) for t in self._range(a, b)]
            return json_response(200, {"data": {**self._region_head(region), "data": data}})
        return json_response(404, {"error": {"code": "404 Not Found", "message": "Not found"}})


class EchoServer(FakeAPI):
    """Answers every path with ``{"path": ..., "query": ...}`` (for the generic client)."""

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
        return json_response(200, {"path": path, "query": query})
