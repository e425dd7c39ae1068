"""Shared fixtures: every test gets its own ledger, config and sysfs root.

The fast loop (``make test-fast``: ``-m "not slow"`` with ``HYPOTHESIS_PROFILE=fast``)
leaves out what is slow by nature: the modules below, which start real engines (servers,
schedulers, frameworks, subprocesses), and any test marked ``slow`` where it stands.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

settings.register_profile("fast", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# test modules (or folders) that are slow as a whole: real engines and subprocesses
SLOW_PATHS = (
    "tests/benchmarks/",
    "tests/e2e/",
    "tests/exporters/test_prometheus_server.py",
    "tests/exporters/test_examples.py",
    "tests/golden/",
    "tests/integrations/test_huggingface.py",
    "tests/integrations/test_keras.py",
    "tests/integrations/test_lightning.py",
    "tests/integrations/test_mlflow.py",
    "tests/integrations/test_wandb.py",
    "tests/serving/test_serving_e2e.py",
    "tests/store/test_postgres.py",
    "tests/store/test_postgres_merge.py",
    "tests/store/test_postgres_spool.py",
)


# single tests (or parameters) that take seconds: a real server, a large file, a table scan
SLOW_IDS = (
    "[env-audit-",
    "[postgres",
    "test_fast_bundled_match_agrees_with_the_full_table",
    "test_bad_line_2_of_a_large_file_is_refused_without_reading_the_rest",
    "test_a_standby_takes_over_when_the_measurer_stops",
    "test_four_ranks_count_the_node_once",
    "test_reprice_with_midpoint_step_gives_300",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = pytest.mark.slow
    for item in items:
        where = Path(str(item.fspath)).resolve().relative_to(REPO).as_posix()
        if where.startswith(SLOW_PATHS) or any(k in item.nodeid for k in SLOW_IDS):
            item.add_marker(slow)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's config or ledger, or the real environment's settings."""
    for name in list(__import__("os").environ):
        if name.startswith("CARBONLEDGER_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("CARBONLEDGER_LEDGER", str(tmp_path / "ledger.sqlite"))
    return tmp_path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    return SHARED_DATA
