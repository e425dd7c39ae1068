"""Environment audit: what a run's Python environment installed but never used.

Nothing here is imported unless asked for (``carbonledger run --audit-env``,
``track(..., audit_env=True)``, ``carbonledger env-audit``): the feature costs nothing
otherwise. One module per job:

- :mod:`.distributions`  the distributions of an environment, their installed bytes (RECORD)
- :mod:`.procmaps`       shared objects mapped by a process tree (``/proc/PID/maps``)
- :mod:`.observe`        what one process or a tree used: modules, mapped files, import time
- :mod:`.hook`           the ``sitecustomize`` hook that reports each child Python's imports
- :mod:`.analyse`        pure: observations × distributions → :class:`~.model.EnvAudit`
- :mod:`.sink`           :class:`~.sink.EnvAuditSink`, the run-event consumer
- :mod:`.requirements`   the requirement closure of the used distributions
- :mod:`.image`          container images (``docker save`` tar, OCI layout): layers, packages
- :mod:`.cost`           modelled energy and carbon of moving the unused bytes
- :mod:`.render`         text, HTML and JSON views
- :mod:`.storage`        the one place that talks to the ledger

Every audit is a **lower bound** of what is unused: a module imported dynamically later,
another entry point of the same environment, or a data file read without an import are not
seen.
"""

from __future__ import annotations

__all__: list[str] = []
