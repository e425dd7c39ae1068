from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from carbonledger.serving.routes import collapse_ids, route_name, template_from_params


def test_collapse_ids() -> None:
    assert collapse_ids("/users/42/orders/3f2a9c1e-1111-2222-3333-444455556666") == (
        "/users/{id}/orders/{id}"
    )
    assert collapse_ids("/v1/chat/completions?x=1") == "/v1/chat/completions"


def test_template_from_params() -> None:
    assert template_from_params("/items/42", {"item_id": 42}) == "/items/{item_id}"
    assert template_from_params("/items/42", {"item_id": 43}) is None
    assert route_name("/items/42", None, {"item_id": 42}) == "/items/{item_id}"


@given(st.text(max_size=300))
def test_route_names_are_printable_and_short(path: str) -> None:
    name = route_name(path)
    assert len(name) <= 200
    assert not any(ord(c) < 32 or ord(c) == 127 for c in name)
