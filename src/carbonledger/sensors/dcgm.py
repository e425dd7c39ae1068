"""MIG instance activity from a DCGM exporter (Prometheus text), as Kepler reads it.

NVML reports no power and no utilisation per MIG instance; dcgm-exporter does report
``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (field 1001, the fraction of time the graphics engine
was active) per GPU instance, labelled ``GPU_I_ID``. :func:`parse_activity` reads that
metric from the exporter's text format; :class:`DcgmActivity` scrapes an endpoint
(``CARBONLEDGER_DCGM_URL``, e.g. ``http://localhost:9400/metrics``) with a short timeout
and a 2 s cache (Kepler's), never raising: a failed scrape reads as "unknown" and the
caller falls back to the static slice share.
"""

from __future__ import annotations

import logging
import math
import re
import time
import urllib.request
from collections.abc import Callable

__all__ = ["ACTIVITY_METRIC", "ENV_URL", "DcgmActivity", "parse_activity"]

log = logging.getLogger(__name__)

ACTIVITY_METRIC = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
ENV_URL = "CARBONLEDGER_DCGM_URL"
CACHE_S = 2.0
_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

Key = tuple[str, int]  # (GPU uuid, GPU instance id)


def parse_activity(text: str) -> dict[Key, float]:
    """``{(GPU uuid, GPU_I_ID): activity in [0, 1]}`` from exporter text; lines without a
    UUID or GPU_I_ID label (whole GPUs) or with a bad value are left out."""
    out: dict[Key, float] = {}
    for line in text.splitlines():
        if not line.startswith(ACTIVITY_METRIC):
            continue
        m = _LINE.match(line)
        if m is None or m.group(1) != ACTIVITY_METRIC:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        uuid, gi = labels.get("UUID"), labels.get("GPU_I_ID")
        if not uuid or gi is None or not gi.strip().isdigit():
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        if math.isfinite(value):
            out[(uuid, int(gi))] = min(1.0, max(0.0, value))
    return out


class DcgmActivity:
    """Scrapes a dcgm-exporter endpoint, at most every ``cache_s`` seconds."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.5,
        cache_s: float = CACHE_S,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, float], str] | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._clock = clock
        self._fetch = fetch or _http_get
        self._at: float | None = None
        self._last: dict[Key, float] | None = None
        self._warned = False

    def activity(self) -> dict[Key, float] | None:
        """The latest activity per instance, or None when the endpoint cannot be read."""
        now = self._clock()
        if self._at is not None and now - self._at < self.cache_s:
            return self._last
        self._at = now
        try:
            self._last = parse_activity(self._fetch(self.url, self.timeout_s))
        except Exception as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "dcgm exporter %s unreadable (%s); static MIG shares used", self.url, exc
                )
            self._last = None
        return self._last


def _http_get(url: str, timeout_s: float) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        data: bytes = resp.read(8_000_000)
    return data.decode("utf-8", "replace")
