"""What a wrapped launcher's ranks will call their job: read from its command line.

``carbonledger run -- torchrun ...`` starts a launcher whose workers name their job
themselves (:mod:`carbonledger.distributed.identity`). So that the wrapper and the
workers, and the wrappers on every node of a multi-node launch, share one key, the
wrapper works out from the command line the key the workers will derive, where it can:

* **torchrun** (``torchrun``, ``python -m torch.distributed.run`` or ``.launch``): the
  workers' ``TORCHELASTIC_RUN_ID`` is ``--rdzv-id`` (``PET_RDZV_ID``; default ``none``).
  With the default id and the static rendezvous (the default backend) the key is named
  by the rendezvous address the workers get as ``MASTER_ADDR``/``MASTER_PORT``: the
  ``--rdzv-endpoint``, else ``--master-addr`` (127.0.0.1) and ``--master-port`` (29500).
  ``--standalone``, and a single-node static launch without ``--master-port``, make a
  random id inside torchrun; a dynamic backend (c10d, etcd) with the default id names
  its address at run time: no key then.
* **MPI** (``mpirun``, ``mpiexec``, ``orterun``, ``prterun``) and **srun**: the job's id
  is made when the launcher starts, so it cannot be known here. The wrapper exports its
  own key as ``CARBONLEDGER_JOB``; it reaches every rank when the launcher forwards the
  environment (srun by default; Open MPI only with ``-x CARBONLEDGER_JOB``; MPICH's
  Hydra by default), and only the ranks on this host otherwise.

Pure functions of an argument list and an environment mapping; option names as torch
2.x's ``torch.distributed.run`` parser has them (checked against torch 2.13).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from carbonledger.distributed.identity import JOB_ENV as _JOB_VAR
from carbonledger.distributed.identity import parse_job_key
from carbonledger.errors import ConfigError

__all__ = ["Launch", "read_launch"]

# torchrun's options that take no value (all the others take one); dest names
_TORCHRUN_FLAGS = frozenset(
    {"standalone", "module", "no_python", "run_path", "virtual_local_rank", "use_env", "help"}
)
_TORCHRUN_SHORT = {"-m": "module", "-h": "help", "-r": "redirects", "-t": "tee"}
_TORCHRUN_DESTS = (
    "nnodes",
    "nproc_per_node",
    "rdzv_backend",
    "rdzv_endpoint",
    "rdzv_id",
    "rdzv_conf",
    "standalone",
    "max_restarts",
    "monitor_interval",
    "start_method",
    "event_log_handler",
    "role",
    "module",
    "no_python",
    "run_path",
    "log_dir",
    "redirects",
    "tee",
    "local_ranks_filter",
    "duplicate_stdout_filters",
    "duplicate_stderr_filters",
    "node_rank",
    "master_addr",
    "master_port",
    "local_addr",
    "logs_specs",
    "numa_binding",
    "signals_to_handle",
    "shutdown_timeout",
    "virtual_local_rank",
    "use_env",
    "help",
)
_TORCH_MODULES = ("torch.distributed.run", "torch.distributed.launch")
_MPI_NAMES = ("mpirun", "mpiexec", "orterun", "prterun", "oshrun")
# Open MPI options that name hosts (mpirun(1)); MPICH's -hosts and -f/-machinefile too
_HOST_LIST_OPTS = frozenset({"-host", "--host", "-H", "-hosts", "--hosts"})
_HOSTFILE_OPTS = frozenset(
    {"-hostfile", "--hostfile", "-machinefile", "--machinefile", "-f", "--default-hostfile"}
)


@dataclass(frozen=True)
class Launch:
    """What a command line says about the launcher it starts (``launcher`` None: none)."""

    launcher: str | None = None
    key: str | None = None
    """The job key the launcher's ranks will derive themselves (None: not knowable here)."""
    multi_node: bool = False
    """Whether it starts ranks on more than one host, as far as its arguments say."""
    forwards_env: bool = True
    """Whether ``CARBONLEDGER_JOB`` set here reaches its ranks on every host."""

    def warning(self, key_given: bool) -> str | None:
        """The one-line warning ``carbonledger run`` prints before starting it, if any:
        ``key_given`` is True when the key came from ``--job``/``CARBONLEDGER_JOB`` or a
        launcher variable, so the nodes' wrappers agree on it."""
        if self.launcher == "srun" and not self.forwards_env:
            return (
                f"carbonledger run: srun's --export leaves out {_JOB_VAR}, so its tasks "
                f"will not join this run's job; add {_JOB_VAR} to --export"
            )
        if self.launcher is None or not self.multi_node:
            return None
        if not self.forwards_env:
            return (
                f"carbonledger run: {self.launcher} starts ranks on other hosts, which see "
                f"{_JOB_VAR} only if it is forwarded; add -x {_JOB_VAR} (Open MPI; MPICH's "
                "mpiexec forwards it by default) so that all ranks share this run's job"
            )
        if self.key is None and not key_given:
            hint = " or give torchrun --rdzv-id" if self.launcher == "torchrun" else ""
            return (
                f"carbonledger run: {self.launcher} spans several nodes and its job key "
                f"cannot be known here; pass --job KEY (the same on every node) or set "
                f"{_JOB_VAR}{hint}, so that the nodes share one job"
            )
        return None


def read_launch(argv: Sequence[str], environ: Mapping[str, str]) -> Launch:
    """The launcher ``argv`` starts and the job key its ranks will derive, if knowable."""
    if not argv:
        return Launch()
    name = os.path.basename(argv[0])
    if name == "torchrun":
        return _torchrun(argv[1:], environ)
    rest = _python_module_args(argv)
    if rest is not None:
        return _torchrun(rest, environ)
    base = name.split(".", 1)[0]
    if base in _MPI_NAMES:
        return _mpi(name, argv[1:])
    if name == "srun":
        return _srun(argv[1:], environ)
    return Launch()


def _python_module_args(argv: Sequence[str]) -> list[str] | None:
    """The arguments after ``-m torch.distributed.run`` of a Python command, else None."""
    if not re.match(r"^python(\d+(\.\d+)?)?$", os.path.basename(argv[0])):
        return None
    i = 1
    while i < len(argv):
        token = argv[i]
        if token == "-m" and i + 1 < len(argv):
            return list(argv[i + 2 :]) if argv[i + 1] in _TORCH_MODULES else None
        if token.startswith("-m") and len(token) > 2:
            return list(argv[i + 1 :]) if token[2:] in _TORCH_MODULES else None
        if not token.startswith("-") or token in ("-c", "-"):
            return None  # a script, or code: not a module launch
        i += 2 if token in ("-W", "-X") else 1
    return None


def _dest(option: str) -> str | None:
    """torchrun's dest for a long option as typed (argparse takes unique prefixes)."""
    name = option.lstrip("-").replace("-", "_")
    if name in _TORCHRUN_DESTS:
        return name
    matches = [d for d in _TORCHRUN_DESTS if d.startswith(name)] if name else []
    return matches[0] if len(matches) == 1 else None


def torchrun_options(args: Sequence[str]) -> dict[str, str]:
    """torchrun's options before the training script, by dest (flags as ``"1"``)."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--" or not token.startswith("-") or token == "-":
            break
        if token.startswith("--"):
            option, eq, inline = token.partition("=")
            dest = _dest(option)
            flag = dest in _TORCHRUN_FLAGS
        else:
            option, inline = token[:2], token[2:]
            eq = "=" if inline else ""
            dest = _TORCHRUN_SHORT.get(option)
            flag = dest in _TORCHRUN_FLAGS
            inline = inline.removeprefix("=")
        if flag:
            value = "1"
            i += 1
        elif eq:
            value = inline
            i += 1
        else:
            value = args[i + 1] if i + 1 < len(args) else ""
            i += 2
        if dest is not None:
            found[dest] = value
    return found


def _option(found: Mapping[str, str], environ: Mapping[str, str], dest: str, default: str) -> str:
    """An option's value: the command line, else torchrun's ``PET_<DEST>``, else default."""
    if dest in found:
        return found[dest]
    return environ.get("PET_" + dest.upper(), default)


def _flag(found: Mapping[str, str], environ: Mapping[str, str], dest: str) -> bool:
    if dest in found:
        return True
    try:
        return bool(int(environ.get("PET_" + dest.upper(), "0")))
    except ValueError:
        return False


def _max_nodes(nnodes: str) -> int | None:
    parts = nnodes.split(":")
    try:
        return int(parts[-1]) if len(parts) in (1, 2) else None
    except ValueError:
        return None


def _endpoint(endpoint: str) -> tuple[str, int] | None:
    """(host, port) of a rendezvous endpoint as torch parses it; None without a port."""
    endpoint = endpoint.strip()
    if not endpoint:
        return None
    if endpoint[0] == "[" and endpoint[-1] == "]":
        return None
    host, sep, port = endpoint.rpartition(":")
    if not sep:
        return None
    if len(host) > 1 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        return None
    return (host, number) if host and 0 <= number < 2**16 else None


def _valid(key: str) -> str | None:
    """``key`` if ranks would accept it as ``CARBONLEDGER_JOB``, else None."""
    try:
        return parse_job_key(key)
    except ConfigError:
        return None


def _torchrun(args: Sequence[str], environ: Mapping[str, str]) -> Launch:
    found = torchrun_options(args)
    max_nodes = _max_nodes(_option(found, environ, "nnodes", "1:1"))
    multi = max_nodes is None or max_nodes > 1
    if _flag(found, environ, "standalone"):
        return Launch("torchrun", None, multi_node=False)
    backend = _option(found, environ, "rdzv_backend", "static")
    endpoint = _option(found, environ, "rdzv_endpoint", "")
    run_id = _option(found, environ, "rdzv_id", "none")
    port = _option(found, environ, "master_port", "")
    if backend == "static" and not endpoint and not port and max_nodes == 1:
        return Launch("torchrun", None, multi_node=False)  # torchrun makes a random id
    if run_id != "none":
        return Launch("torchrun", _valid(f"torchrun:{run_id}"), multi_node=multi)
    if backend != "static":
        return Launch("torchrun", None, multi_node=multi)  # the address is known at run time
    addr = _option(found, environ, "master_addr", "127.0.0.1")
    parsed = _endpoint(endpoint or f"{addr}:{port or 29500}")
    if parsed is None:
        return Launch("torchrun", None, multi_node=multi)
    host, number = parsed
    return Launch("torchrun", _valid(f"torchrun:none@{host}:{number}"), multi_node=multi)


def _hosts(value: str) -> set[str]:
    """Host names of an ``--host a,b:2,c`` list (slot counts dropped)."""
    return {h.strip().split(":", 1)[0] for h in value.split(",") if h.strip()}


def _hostfile_hosts(path: str) -> set[str] | None:
    """Host names in a hostfile (first word of each line, comments skipped); None when
    it cannot be read."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as fh:
            lines = fh.read(1_000_000).splitlines()
    except OSError:
        return None
    hosts = set()
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            hosts.add(text.split()[0].split(":", 1)[0])
    return hosts


def _scan(
    args: Sequence[str], flags: frozenset[str], two: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """(option, value) pairs before the program: an option takes ``=value`` or, unless
    it is a known flag, the next word that does not start with ``-``. Best effort: an
    unknown flag just before the program hides the options after the program's name."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--" or not token.startswith("-") or token == "-":
            break
        option, eq, inline = token.partition("=")
        if eq or option in flags:
            pairs.append((option, inline))
            i += 1
        elif option in two:  # -genv NAME VALUE
            pairs.append((option, " ".join(args[i + 1 : i + 3])))
            i += 3
        elif i + 1 < len(args) and not args[i + 1].startswith("-"):
            pairs.append((option, args[i + 1]))
            i += 2
        else:
            pairs.append((option, ""))
            i += 1
    return pairs


# mpirun/mpiexec options that take no value (Open MPI mpirun(1), MPICH mpiexec -help)
_MPI_FLAGS = frozenset(
    {
        "--oversubscribe", "-oversubscribe", "--allow-run-as-root", "--nolocal", "-nolocal",
        "-q", "--quiet", "-v", "--verbose", "-V", "--version", "-h", "--help", "-d", "--debug",
        "--tag-output", "-tag-output", "--timestamp-output", "--report-bindings",
        "--display-map", "--display-allocation", "--noprefix", "--use-hwthread-cpus",
        "--merge-stderr-to-stdout", "--do-not-resolve", "--enable-recovery", "-l", "-prepend-rank",
        "-genvall", "-envall", "-genvnone", "-envnone", "--leave-session-attached",
    }
)  # fmt: skip
# srun options that take no value (srun(1))
_SRUN_FLAGS = frozenset(
    {
        "-l", "--label", "--exclusive", "--pty", "-u", "--unbuffered", "-v", "--verbose",
        "-Q", "--quiet", "-O", "--overcommit", "-Z", "--no-allocate", "-X",
        "--disable-status", "-E", "--preserve-env", "--overlap", "-K", "--kill-on-bad-exit",
        "-s", "--oversubscribe", "--spread-job", "--test-only", "-h", "--help", "-V",
        "--version", "--usage", "--mpi-list",
    }
)  # fmt: skip


def _forwards(option: str, value: str) -> bool:
    """Whether an mpirun/mpiexec option forwards ``CARBONLEDGER_JOB`` to every rank."""
    if option in ("-genvall", "-envall"):
        return True
    name = value.split("=", 1)[0] if option == "-x" else value.split(" ", 1)[0]
    return option in ("-x", "-genv", "-env", "-genvlist", "-envlist") and _JOB_VAR in name.split(
        ","
    )


def _mpi(name: str, args: Sequence[str]) -> Launch:
    hosts: set[str] = set()
    unknown_hosts = False
    forwarded = "mpich" in name or "hydra" in name  # Hydra forwards the environment
    for option, value in _scan(args, _MPI_FLAGS, frozenset({"-genv", "-env"})):
        if option in _HOST_LIST_OPTS:
            hosts |= _hosts(value)
        elif option in _HOSTFILE_OPTS:
            listed = _hostfile_hosts(value)
            if listed is None:
                unknown_hosts = True
            else:
                hosts |= listed
        elif option in ("-genvnone", "-envnone"):
            forwarded = False
        elif _forwards(option, value):
            forwarded = True
    multi = unknown_hosts or len(hosts - {"localhost", "127.0.0.1"}) > 1
    return Launch(
        name.split(".", 1)[0], None, multi_node=multi, forwards_env=forwarded or not multi
    )


def _srun(args: Sequence[str], environ: Mapping[str, str]) -> Launch:
    export = environ.get("SLURM_EXPORT_ENV", "ALL")
    nodes = ""
    for option, value in _scan(args, _SRUN_FLAGS):
        if option == "--export":
            export = value
        elif option in ("-N", "--nodes"):
            nodes = value
        elif option.startswith("-N") and len(option) > 2:
            nodes = option[2:]
    names = {v.strip().split("=", 1)[0] for v in export.split(",")}
    forwards = "ALL" in names or _JOB_VAR in names
    multi = bool(nodes) and _max_nodes(nodes.replace("-", ":")) != 1
    return Launch("srun", None, multi_node=multi, forwards_env=forwards)
