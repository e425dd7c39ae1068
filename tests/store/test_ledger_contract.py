"""The backend-neutral ledger contract, run against every backend (see conftest.py)."""

from __future__ import annotations

import pytest

from carbonledger.testing import LEDGER_CHECKS, LedgerBackend, check_bad_rows, check_ledger_contract


@pytest.mark.parametrize("check", sorted(LEDGER_CHECKS))
def test_contract(ledger_factory: LedgerBackend, check: str) -> None:
    LEDGER_CHECKS[check](ledger_factory.factory)


def test_bad_rows(ledger_factory: LedgerBackend) -> None:
    assert ledger_factory.tamper is not None
    check_bad_rows(ledger_factory.factory, ledger_factory.tamper)


def test_the_whole_contract_in_one_call(ledger_factory: LedgerBackend) -> None:
    """What a plug-in author's test looks like."""
    check_ledger_contract(ledger_factory.factory, tamper=ledger_factory.tamper)


def test_a_broken_backend_fails_the_contract_naming_the_check() -> None:
    from carbonledger.store import MemoryLedger

    class Forgetful(MemoryLedger):
        def metrics(self, run_id: str) -> dict[str, object]:  # type: ignore[override]
            return {}

    with pytest.raises(AssertionError, match="spans_metrics_functional_unit"):
        check_ledger_contract(Forgetful)
