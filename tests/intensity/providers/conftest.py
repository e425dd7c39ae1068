"""Fixtures: the three fake API servers, fast HTTP settings, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import ElectricityMapsServer, UKGridServer, WattTimeServer

from carbonledger.intensity.providers import HttpSettings


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the client asked for (nothing really sleeps)."""
    return []


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def settings(sleeps: list[float], cache_dir: Path) -> HttpSettings:
    return HttpSettings(
        connect_timeout_s=2.0,
        read_timeout_s=2.0,
        max_retries=2,
        backoff_base_s=0.01,
        cache_dir=cache_dir,
        sleep=sleeps.append,
        rng=lambda: 0.5,
    )


@pytest.fixture
def em_server() -> Iterator[ElectricityMapsServer]:
    server = ElectricityMapsServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wt_server() -> Iterator[WattTimeServer]:
    server = WattTimeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def uk_server() -> Iterator[UKGridServer]:
    server = UKGridServer()
    server.start()
    yield server
    server.stop()
