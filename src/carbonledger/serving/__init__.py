"""Per-request energy for servers: middlewares record requests, a sink charges energy.

    from carbonledger.serving import EnergyMiddleware, RequestEnergySink, RequestLog

    log = RequestLog()
    app = EnergyMiddleware(app, log)                  # ASGI; EnergyWSGIMiddleware for WSGI
    with carbonledger.track(sinks=[RequestEnergySink(log)]):
        serve(app)

``carbonledger requests RUN`` summarises the rows. Method: docs/methodology/serving.md.
"""

from __future__ import annotations

from carbonledger.serving.asgi import TOKENS_HEADER, EnergyMiddleware
from carbonledger.serving.attribution import METHODS, TIME_SHARE, TOKENS
from carbonledger.serving.requestlog import RequestLog, current_request, report_tokens
from carbonledger.serving.rows import RequestRow, read_requests
from carbonledger.serving.sink import RequestEnergySink
from carbonledger.serving.wsgi import EnergyWSGIMiddleware

__all__ = [
    "METHODS",
    "TIME_SHARE",
    "TOKENS",
    "TOKENS_HEADER",
    "EnergyMiddleware",
    "EnergyWSGIMiddleware",
    "RequestEnergySink",
    "RequestLog",
    "RequestRow",
    "current_request",
    "read_requests",
    "report_tokens",
]
