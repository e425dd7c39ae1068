# mypy: ignore-errors
"""carbonledger env-audit hook, copied as ``sitecustomize.py`` into a private folder that
``carbonledger run --audit-env`` puts first on the child's ``PYTHONPATH``.

At exit, each Python interpreter of the run writes, into that folder only, the files of
its imported modules, the files it has mapped, and the time its imports took (outermost
imports timed by a meta path finder). Then the ``sitecustomize`` this one hides, if any,
runs as it would have. Nothing here may break the host: every step is guarded. Written for
any Python 3 the child may run (no syntax newer than 3.6).
"""

import os as _os
import sys as _sys

_HERE = _os.path.dirname(_os.path.abspath(__file__))
_ENV = "CARBONLEDGER_ENVAUDIT_DIR"


def _carbonledger_envaudit_install():
    import atexit
    import json
    import threading
    import time

    out_dir = _os.environ.get(_ENV)
    if not out_dir or _os.path.realpath(out_dir) != _os.path.realpath(_HERE):
        return
    state = {"import_s": 0.0}
    local = threading.local()

    def wrap(loader):
        if loader is None or isinstance(loader, type) or getattr(loader, "_cl_timed", False):
            return
        inner = getattr(loader, "exec_module", None)
        if inner is None:
            return

        def exec_module(module):
            depth = getattr(local, "depth", 0)
            local.depth = depth + 1
            start = time.perf_counter()
            try:
                return inner(module)
            finally:
                local.depth = depth
                if depth == 0:
                    state["import_s"] += time.perf_counter() - start

        try:
            loader.exec_module = exec_module
            loader._cl_timed = True
        except Exception:
            pass

    class _ImportTimer:
        """Finds nothing itself: asks the finders after it, and times the search."""

        def find_spec(self, name, path=None, target=None):
            if getattr(local, "busy", False):
                return None
            local.busy = True
            start = time.perf_counter()
            spec = None
            try:
                for finder in list(_sys.meta_path):
                    if finder is self:
                        continue
                    find = getattr(finder, "find_spec", None)
                    if find is None:
                        continue
                    spec = find(name, path, target)
                    if spec is not None:
                        break
            finally:
                local.busy = False
                if getattr(local, "depth", 0) == 0:
                    state["import_s"] += time.perf_counter() - start
            if spec is not None:
                wrap(spec.loader)
            return spec

    def report():
        try:
            modules = {}
            for name, module in list(_sys.modules.items()):
                path = getattr(module, "__file__", None)
                if isinstance(path, str) and path:
                    modules[name] = _os.path.abspath(path)
            maps = set()
            try:
                with open("/proc/self/maps") as fh:
                    for line in fh:
                        parts = line.split(None, 5)
                        if len(parts) == 6 and parts[5].startswith("/"):
                            maps.add(parts[5].strip().replace(" (deleted)", ""))
            except Exception:
                pass
            data = {
                "schema": "carbonledger.envaudit.hook/1",
                "pid": _os.getpid(),
                "executable": _sys.executable,
                "site_dirs": [
                    p for p in _sys.path if p.endswith(("site-packages", "dist-packages"))
                ],
                "modules": modules,
                "maps": sorted(maps),
                "import_time_s": state["import_s"],
            }
            name = f"report-{_os.getpid()}-{int(time.time() * 1e6)}.json"
            tmp = _os.path.join(out_dir, "." + name + ".tmp")
            fd = _os.open(tmp, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o600)
            with _os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
            _os.replace(tmp, _os.path.join(out_dir, name))
        except Exception:
            pass

    _sys.meta_path.insert(0, _ImportTimer())
    atexit.register(report)


def _carbonledger_envaudit_chain():
    """Run the ``sitecustomize`` that this one shadows, as Python would have."""
    import importlib.machinery
    import importlib.util

    rest = [p for p in _sys.path if _os.path.realpath(p or _os.curdir) != _os.path.realpath(_HERE)]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


if __name__ == "sitecustomize":  # only as the hook, never when imported as a package module
    try:  # noqa: SIM105 - no contextlib import in every interpreter of the run
        _carbonledger_envaudit_install()
    except Exception:
        pass
    _carbonledger_envaudit_chain()
