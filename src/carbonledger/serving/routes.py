"""Route names for per-request rows: the framework's template, else the path with ids
collapsed, so ``/items/42`` and ``/items/43`` add up under one route."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_ROUTE_CHARS", "collapse_ids", "route_name", "template_from_params"]

MAX_ROUTE_CHARS = 200
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|[A-Za-z0-9_-]{24,})$"
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def collapse_ids(path: str) -> str:
    """``/users/42/orders/9f1c…`` → ``/users/{id}/orders/{id}`` (numbers, UUIDs, hex,
    long opaque tokens)."""
    path = path.split("?", 1)[0]
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return "/".join(parts) or "/"


def template_from_params(path: str, params: Mapping[str, Any]) -> str | None:
    """The template a router matched, rebuilt from its path parameters:
    ``/items/42`` with ``{"item_id": 42}`` → ``/items/{item_id}``; None when a value
    does not appear as a whole segment."""
    parts = path.split("/")
    for name, value in params.items():
        text = str(value)
        hits = [i for i, p in enumerate(parts) if p == text]
        if not hits:
            return None
        parts[hits[0]] = "{" + str(name) + "}"
    return "/".join(parts)


def route_name(path: str, route: Any = None, params: Mapping[str, Any] | None = None) -> str:
    """The route a request is grouped under, safe to print (no control characters)."""
    name: str | None = None
    if isinstance(route, str):
        name = route
    elif route is not None:
        for attr in ("path_format", "path", "rule"):
            value = getattr(route, attr, None)
            if isinstance(value, str) and value:
                name = value
                break
    if name is not None and name.rstrip("/").endswith(("{path}", "{path:path}")):
        name = None  # a mount's catch-all says nothing: the path below it does
    named = {k: v for k, v in (params or {}).items() if k != "path"}
    if name is None and named:
        try:
            name = template_from_params(path, named)
        except Exception:
            name = None
    if name is None:
        name = collapse_ids(path)
    return _UNSAFE.sub("?", name)[:MAX_ROUTE_CHARS]
