"""A throwaway one-node Slurm cluster (munged, slurmctld, slurmd; no systemd), for tests.

Needs root and Debian's ``slurm-wlm`` and ``munge`` (``.ci/install/slurm.sh``). The
configuration lives in a private temporary folder and is passed as ``SLURM_CONF``; the
daemons are stopped by pid. Two simulated nodes would need Slurm's multiple-slurmd build,
which Debian's package is not, so the cluster has one node.

Each cluster is independent of any other on the machine, so pytest-xdist workers can run
several side by side: its own munged (its own key, socket, pid, log and seed files, never
the system's ``/run/munge``; slurm.conf and slurmdbd.conf name the socket in ``AuthInfo``),
its own ports and its own state, spool, log and database folders. Ports are chosen and bound
under a machine-wide lock (``fcntl``), so two clusters starting at once never pick the same.

With ``accounting=True`` it also keeps Slurm's accounting, so ``sacct`` has a record to
read: a private MariaDB server (``mariadb-install-db`` into the folder, ``mariadbd`` as root
with ``--skip-networking``, on a Unix socket in a short private folder beside munged's, that
slurmdbd finds through ``MYSQL_UNIX_PORT``), ``slurmdbd`` against it, the cluster
registered with ``sacctmgr``, and slurmctld with ``accounting_storage/slurmdbd`` and
``jobacct_gather/linux`` (``AccountingStoragePass`` names munged's socket for slurmctld's and
sacct's connections to slurmdbd, which do not read ``AuthInfo``). That needs Debian's
``slurmdbd`` and ``mariadb-server`` as well (about 3 s more to start here).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

__all__ = ["ACCOUNTING_COMMANDS", "slurm_cluster"]

# what accounting=True needs besides Slurm and MUNGE
ACCOUNTING_COMMANDS = ("slurmdbd", "sacctmgr", "sacct", "mariadbd", "mariadb-install-db")

CONF = """ClusterName=cltest
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_sock}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
{accounting}SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
{extra}"""
NO_ACCOUNTING = """JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
"""
ACCOUNTING = """JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={dbd_port}
AccountingStoragePass=socket={munge_sock}
"""
DBD_CONF = """AuthType=auth/munge
AuthInfo=socket={munge_sock}
DbdHost=localhost
DbdPort={dbd_port}
SlurmUser=root
PidFile={d}/slurmdbd.pid
LogFile={d}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
"""


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports (all held open while choosing, so none repeats)."""
    with ExitStack() as stack:
        ports: list[int] = []
        for _ in range(n):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


# held while a cluster picks its ports and starts its daemons (which then hold the ports)
START_LOCK = Path(tempfile.gettempdir()) / "carbonledger-slurm-cluster-start.lock"


@contextmanager
def _start_lock(timeout_s: float = 600.0) -> Iterator[None]:
    """One cluster at a time on this machine chooses ports and starts (not: runs jobs).

    Every step of a start has its own time limit, so the lock is never held for long; the
    wait for it has one too, so a stuck holder fails a test instead of hanging it.
    """
    fd = os.open(START_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"another Slurm test cluster held {START_LOCK} for {timeout_s:.0f} s"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _munge_answers(sock: Path) -> bool:
    done = subprocess.run(["munge", "-n", "-S", str(sock)], capture_output=True, check=False)
    return done.returncode == 0


def _munged(folder: Path, sock: Path) -> int:
    """This cluster's own munged (own key, socket, pid, log and seed); its pid.

    munged wants the socket's folder searchable by all (``sock``'s parent: 0711) and the
    key readable by its owner alone; as root it runs as root, which the tests need anyway.
    """
    mdir = folder / "munge"
    mdir.mkdir(mode=0o700, exist_ok=True)
    key = mdir / "munge.key"
    key.unlink(missing_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(1024))
    sock.parent.chmod(0o711)
    pidfile, log = mdir / "munged.pid", mdir / "munged.log"
    done = subprocess.run(
        [
            "/usr/sbin/munged",
            f"--socket={sock}",
            f"--key-file={key}",
            f"--pid-file={pidfile}",
            f"--log-file={log}",
            f"--seed-file={mdir / 'munged.seed'}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"munged did not start: {done.stderr.strip()[-2000:]}")
    # munged forks and writes its pid file before it answers
    _until(lambda: _pid(pidfile) is not None, 10, "munged (its pid file)", log)
    pid = _pid(pidfile)
    assert pid is not None
    try:
        _until(lambda: _munge_answers(sock), 10, "munged", log)
    except BaseException:
        _stop(pid)
        raise
    return pid


def _gone(pid: int) -> bool:
    """The process has ended (a zombie nobody reaps counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _stop(pid: int, timeout_s: float = 15.0) -> None:
    """SIGTERM, wait for the end, SIGKILL after ``timeout_s``."""
    with suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def _pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _until(check: Callable[[], bool], timeout_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"{what} did not come up in {timeout_s:.0f} s\n{tail}")
        time.sleep(0.05)


# a small server: 22 MB on disk instead of 114 MB (the default 96 MB redo log)
SMALL_INNODB = ("--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M")


def _mariadb(folder: Path, sock_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A private MariaDB server: no networking, a Unix socket, root by socket auth."""
    datadir = folder / "mariadb"
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            *SMALL_INNODB,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sock = sock_dir / "mysqld.sock"
    log = folder / "log" / "mariadb.log"
    server = subprocess.Popen(
        [
            "mariadbd",
            "--no-defaults",
            "--user=root",
            f"--datadir={datadir}",
            f"--socket={sock}",
            "--skip-networking",
            f"--pid-file={folder / 'mariadb.pid'}",
            f"--log-error={log}",
            "--skip-log-bin",
            *SMALL_INNODB,
            # a throwaway database: no fsync per commit (slurmdbd's first start is DDL)
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: sock.exists() or server.poll() is not None, 60, "the MariaDB server", log)
        if server.poll() is not None:
            raise RuntimeError(f"mariadbd exited: {log.read_text(errors='replace')[-2000:]}")
    except BaseException:
        _stop(server.pid)
        server.wait(5)
        raise
    return server, sock


def _slurmdbd(
    folder: Path, env: dict[str, str], dbd_port: int, sock: Path, munge_sock: Path
) -> None:
    """slurmdbd against the private MariaDB; the test cluster registered with it."""
    conf = folder / "slurmdbd.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(DBD_CONF.format(d=folder, dbd_port=dbd_port, munge_sock=munge_sock))
    os.chown(conf, 0, 0)  # slurmdbd wants it owned by SlurmUser (root) and mode 600
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    dbd_env = dict(env, MYSQL_UNIX_PORT=str(sock))
    subprocess.run(["/usr/sbin/slurmdbd"], env=dbd_env, check=True, timeout=30)

    def answers() -> bool:
        done = subprocess.run(
            ["sacctmgr", "-n", "-P", "list", "cluster", "format=cluster"],
            env=env,
            capture_output=True,
            check=False,
            timeout=30,
        )
        return done.returncode == 0

    _until(answers, 60, "slurmdbd", folder / "log" / "slurmdbd.log")
    subprocess.run(
        ["sacctmgr", "-i", "add", "cluster", "cltest"],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )


@contextmanager
def slurm_cluster(
    folder: Path, *, accounting: bool = False, extra_conf: str = ""
) -> Iterator[dict[str, str]]:
    """Start the cluster; yields the environment (``SLURM_CONF``) to submit jobs with.

    ``accounting``: keep Slurm's accounting in a private slurmdbd + MariaDB, for ``sacct``.
    ``extra_conf``: lines added to slurm.conf (e.g. ``AcctGatherEnergyType=...``).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(exist_ok=True)
    host = os.uname().nodename.split(".")[0]
    conf = folder / "slurm.conf"
    env = dict(os.environ, SLURM_CONF=str(conf))
    started: list[Path] = []
    munged: int | None = None
    mariadb: subprocess.Popen[bytes] | None = None
    # a Unix socket path has at most 107 bytes: the sockets get a short private folder
    sock_dir = Path(tempfile.mkdtemp(prefix="clsl"))
    munge_sock = sock_dir / "munge.sock"
    try:
        with _start_lock():
            ctld_port, slurmd_port, dbd_port = _free_ports(3)
            conf.write_text(
                CONF.format(
                    host=host,
                    d=folder,
                    cpus=os.cpu_count() or 1,
                    ctld_port=ctld_port,
                    slurmd_port=slurmd_port,
                    munge_sock=munge_sock,
                    accounting=(
                        ACCOUNTING.format(dbd_port=dbd_port, munge_sock=munge_sock)
                        if accounting
                        else NO_ACCOUNTING
                    ),
                    extra=extra_conf,
                )
            )
            munged = _munged(folder, munge_sock)
            if accounting:
                mariadb, sock = _mariadb(folder, sock_dir)
                started.append(folder / "slurmdbd.pid")
                _slurmdbd(folder, env, dbd_port, sock, munge_sock)
            subprocess.run(["/usr/sbin/slurmctld"], env=env, check=True, timeout=30)
            started.append(folder / "slurmctld.pid")
            time.sleep(1.0)
            subprocess.run(["/usr/sbin/slurmd"], env=env, check=True, timeout=30)
            started.append(folder / "slurmd.pid")
            _node_up(folder, env)
        yield env
    finally:
        for pidfile in reversed(started):
            pid = _pid(pidfile)
            if pid is not None:
                _stop(pid)
        if mariadb is not None:
            _stop(mariadb.pid)
            with suppress(subprocess.TimeoutExpired):
                mariadb.wait(5)
        if munged is not None:
            _stop(munged)
        shutil.rmtree(sock_dir, ignore_errors=True)


def _node_up(folder: Path, env: dict[str, str]) -> None:
    """Wait until slurmctld reports the node ready for jobs."""
    deadline = time.monotonic() + 30
    out = ""
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, check=False
        ).stdout
        if out.strip() in ("idle", "mix", "alloc"):
            return
        time.sleep(0.5)
    logs = (folder / "log" / "slurmctld.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the Slurm node never came up: {out!r}\n{logs}")
