"""Fixtures for the environment audit: a real venv with tiny distributions, and a ledger
that keeps attachments (the real one once it can; an in-memory double until then)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.envaudit.fakeenv import install_fake_dists, make_venv, site_packages


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """(venv, its site-packages, RECORD bytes per distribution)."""
    root = tmp_path_factory.mktemp("envaudit")
    venv = make_venv(root)
    site = site_packages(venv)
    so = getattr(math, "__file__", None)
    sizes = install_fake_dists(site, Path(so) if so else None)
    return venv, site, sizes


@pytest.fixture
def attachment_ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[tuple[str, str], Any]]:
    """Makes the SQLite ledger keep attachments: its own API when it has one, otherwise
    an in-memory double of ``put_attachment``/``attachments`` (keyed by ledger path)."""
    from carbonledger.store.sqlite import SqliteLedger

    store: dict[tuple[str, str], Any] = {}
    if not hasattr(SqliteLedger, "put_attachment"):

        def put_attachment(self: Any, run_id: str, key: str, data: Mapping[str, Any]) -> None:
            store[(str(self.path), run_id)] = {**store.get((str(self.path), run_id), {}), key: data}

        def attachments(self: Any, run_id: str) -> dict[str, Any]:
            return dict(store.get((str(self.path), run_id), {}))

        monkeypatch.setattr(SqliteLedger, "put_attachment", put_attachment, raising=False)
        monkeypatch.setattr(SqliteLedger, "attachments", attachments, raising=False)
    yield store
