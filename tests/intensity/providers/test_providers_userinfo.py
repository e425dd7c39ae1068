"""A password inside a provider URL (user:password@host) never reaches the cache."""

from __future__ import annotations

from pathlib import Path

from servers import NOW, ElectricityMapsServer

from carbonledger.intensity.providers import HttpSettings
from carbonledger.intensity.providers.electricitymaps import ElectricityMapsProvider


def test_url_password_is_not_cached(
    em_server: ElectricityMapsServer, settings: HttpSettings, cache_dir: Path
) -> None:
    host = em_server.url.removeprefix("http://")
    provider = ElectricityMapsProvider(
        token=em_server.TOKEN,
        base_url=f"http://user:PW-SECRET-42@{host}/v3",
        settings=settings,
        clock=lambda: NOW,
    )
    assert provider.intensity("DE").g_per_kwh > 0
    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "PW-SECRET-42" not in text
        assert em_server.TOKEN not in text
