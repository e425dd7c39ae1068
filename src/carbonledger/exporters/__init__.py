"""Live exporters: run sinks that publish a run's energy and emissions as it goes.

``prometheus`` (pull endpoint, your registry, or a node_exporter textfile) and ``otel``
(OpenTelemetry metrics after the hardware semantic conventions). Both are plug-ins of the
``carbonledger.exporters`` family, so ``cl.track(..., sinks=["prometheus"])`` works; each
imports its client library only when made.
"""
