"""The on-disk response cache."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from carbonledger.intensity.providers._cache import ResponseCache, cache_key, default_cache_dir

PARAMS = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=5)


@given(PARAMS)
def test_key_ignores_param_order(params: dict[str, str]) -> None:
    reordered = dict(reversed(list(params.items())))
    assert cache_key("p", "/e", params) == cache_key("p", "/e", reordered)
    assert cache_key("p", "/e", params) != cache_key("q", "/e", params)


def test_round_trip_and_ttl(tmp_path: Path) -> None:
    now = [1000.0]
    cache = ResponseCache(tmp_path, clock=lambda: now[0])
    assert cache.get("p", "/e", {"a": "1"}, ttl_s=60) is None
    assert cache.put("p", "/e", {"a": "1"}, {"v": [1, 2]})
    assert cache.get("p", "/e", {"a": "1"}, ttl_s=60) == {"v": [1, 2]}
    assert cache.get("p", "/e", {"a": "2"}, ttl_s=60) is None
    now[0] += 61
    assert cache.get("p", "/e", {"a": "1"}, ttl_s=60) is None
    assert cache.get("p", "/e", {"a": "1"}, ttl_s=3600) == {"v": [1, 2]}
    now[0] -= 1000  # a clock that went back: not trusted
    assert cache.get("p", "/e", {"a": "1"}, ttl_s=3600) is None


def test_entry_names_the_request_but_not_in_its_file_name(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("prov", "https://x/v3/latest", {"zone": "DE"}, {"ok": True})
    (path,) = tmp_path.rglob("*.json")
    assert path.parent.name == "prov" and "DE" not in path.name
    entry = json.loads(path.read_text())
    assert entry["endpoint"] == "https://x/v3/latest" and entry["params"] == {"zone": "DE"}


def test_refuses_to_store_secrets(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert not cache.put("p", "/login", {}, {"token": "abc-SECRET"}, secrets=["abc-SECRET"])
    assert not list(tmp_path.rglob("*.json"))


def test_corrupt_or_foreign_entries_are_ignored(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("p", "/e", {}, {"ok": True})
    (path,) = tmp_path.rglob("*.json")
    path.write_text("{broken")
    assert cache.get("p", "/e", {}, ttl_s=60) is None
    path.write_text(json.dumps({"schema": "other", "stored_at": 0, "payload": 1}))
    assert cache.get("p", "/e", {}, ttl_s=1e12) is None


def test_unwritable_directory_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = ResponseCache(blocker / "cache")
    assert cache.put("p", "/e", {}, {"ok": True}) is False
    assert cache.get("p", "/e", {}, ttl_s=60) is None


def test_unserialisable_payload_is_not_stored(tmp_path: Path) -> None:
    assert ResponseCache(tmp_path).put("p", "/e", {}, {"x": float("nan")}) is False


def test_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("a", "/e", {}, 1)
    cache.put("b", "/e", {}, 2)
    assert cache.clear("a") == 1
    assert cache.get("b", "/e", {}, ttl_s=60) == 2
    assert cache.clear() == 1


def test_default_directory(tmp_path: Path) -> None:
    assert (
        default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)})
        == tmp_path / "carbonledger" / "providers"
    )
    assert default_cache_dir({}).parts[-3:] == (".cache", "carbonledger", "providers")
