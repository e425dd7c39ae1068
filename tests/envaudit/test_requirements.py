from __future__ import annotations

from carbonledger.envaudit.requirements import requirement_closure, requirement_name

INSTALLED = [
    ("alpha", "1.0", ("beta>=1", 'gamma; extra == "full"'), False),
    ("Beta", "2.0", ("zeta (>=1)", 'never; python_version < "3"'), False),
    ("gamma", "0.3", (), False),
    ("zeta", "5", ("notinstalled",), False),
    ("mine", "0.1", (), True),
]


def test_names_from_requires_dist() -> None:
    assert requirement_name("numpy>=1.24") == "numpy"
    assert requirement_name("zope.interface (>=5)") == "zope.interface"
    assert requirement_name("torch[cuda]==2.3") == "torch"
    assert requirement_name('pytest; extra == "test"') is None
    assert requirement_name('tomli; python_version < "2"') is None
    assert requirement_name("!!!") is None


def test_closure_follows_requirements_but_not_extras() -> None:
    pins = requirement_closure(["alpha", "mine"], INSTALLED)
    assert [p.line() for p in pins] == [
        "alpha==1.0",
        "Beta==2.0",
        "mine  # editable install",
        "zeta==5",
    ]
    reasons = {p.name: p.reason for p in pins}
    assert reasons["zeta"] == "required by Beta"
    assert reasons["alpha"] == "used"


def test_nothing_used_nothing_required() -> None:
    assert requirement_closure([], INSTALLED) == []
