"""Fuzzing harness: every option of every command gets hostile values.

The options are read from the parser (``carbonledger --help`` lists the same), so a new
command or option is covered as soon as it exists; a new command needs one valid base
command line in ``BASE`` (a test fails until it has one). Each call runs in process and
must end with a documented exit code (0, 2 usage, 3 bad data or configuration), an error
of one line, no traceback, no "internal error", and output a UTF-8 terminal can print.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.envaudit.fakeenv import install_fake_dists

from carbonledger.cli.main import build_parser, main

# {run}, {series}, {missing}, {dir}, {junk}, {ledger}, {site} are filled in per test
BASE: dict[str, list[str]] = {
    "compare": ["compare", "fuzz-a", "fuzz-b", "--resamples", "200", "--ledger", "{ledger}"],
    "decide breakeven": ["decide", "breakeven", "--embodied-new-kg", "1", "--power-old-w", "2",
                         "--power-new-w", "1", "--intensity", "100"],
    "decide indifference": ["decide", "indifference", "--a-power-w", "10", "--b-power-w", "5",
                            "--intensity", "100", "--service-life-years", "4"],
    "devices": ["devices"],
    "env-audit": ["env-audit", "--env", "{site}", "--ledger", "{ledger}"],
    "estimate": ["estimate", "--power-w", "100", "--hours", "1", "--intensity", "100"],
    "intensity": ["intensity", "FR"],
    "job": ["job", "{job}", "--no-sacct", "--ledger", "{ledger}"],
    "leaderboard": ["leaderboard", "--objective", "total_kgco2e:min", "--ledger", "{ledger}"],
    "merge": ["merge", "{ledger}", "--into", "{missing}.sqlite"],
    "plan": ["plan", "--series", "{series}", "--duration", "1h", "--earliest",
             "2024-01-01T00:00Z", "--window", "6h"],
    "report": ["report", "{run}", "--ledger", "{ledger}"],
    "requests": ["requests", "{run}", "--ledger", "{ledger}"],
    "run": ["run", "--quiet", "--ledger", "{ledger}", "--", "true"],
    "runs": ["runs", "--ledger", "{ledger}"],
    "show": ["show", "{run}", "--ledger", "{ledger}"],
    "simulate": ["simulate", "--series", "{series}", "--duration", "1h", "--extra", "1h"],
    "summary": ["summary", "--ledger", "{ledger}"],
    "sync": ["sync", "--ledger", "{ledger}"],
}  # fmt: skip
# the base lines exit 0, but for commands whose documented answer on the test ledger is
# another code: sync uploads spools to PostgreSQL and refuses a SQLite ledger (exit 3)
BASE_EXIT: dict[str, int] = {"sync": 3}

# hostile values: numbers at and beyond every edge, control characters, bytes that are not
# UTF-8 (as Python hands them over: surrogate escapes), empty, very long, missing files,
# folders where files are expected, a file of random bytes
HOSTILE = [
    "", " ", "-1", "0", "nan", "inf", "-inf", "1e308", "-1e308", "1e-320", "9" * 400,
    "\x1b]0;pwned\x07\x1b[2J", "a\nb\r\tc", "\udcff\udcfe", "x" * 5000, "%s%n{0}",
    "{missing}", "{dir}", "{junk}",
]  # fmt: skip
QUICK = ["", "nan", "1e308", "-1", "\x1b]0;pwned\x07", "\udcff", "{missing}", "{dir}"]


def commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    root = build_parser()
    stack: list[tuple[str, argparse.ArgumentParser]] = [("", root)]
    while stack:
        path, parser = stack.pop()
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and path:
            yield path, parser
        for sub in subs:
            for name, child in sub.choices.items():
                stack.append(((path + " " + name).strip(), child))


def options(parser: argparse.ArgumentParser) -> list[tuple[str | None, str]]:
    """(option string or None for a positional, dest) of every value-taking argument."""
    found: list[tuple[str | None, str]] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if action.nargs == 0:
            continue  # flags take no value
        if action.dest == "cmd":
            continue  # run's command is what the user runs: not ours to refuse
        found.append((action.option_strings[-1] if action.option_strings else None, action.dest))
    return found


CASES = [(path, opt, dest) for path, parser in sorted(commands()) for opt, dest in options(parser)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A ledger with runs in two groups, a series file, a missing path, a folder, junk."""
    root = tmp_path_factory.mktemp("fuzz")
    ledger = root / "ledger.sqlite"
    series = root / "series.csv"
    rows = [f"2024-01-01T{h:02d}:00Z,{100 + 10 * (h % 5)}" for h in range(24)]
    series.write_text("datetime,g_per_kwh\n" + "\n".join(rows) + "\n")
    junk = root / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    (root / "a-folder").mkdir()
    # env-audit audits this small site-packages, not the live venv (minutes with frameworks)
    site = root / "site-packages"
    install_fake_dists(site)
    for name in ("fuzz-a", "fuzz-a", "fuzz-b", "fuzz-b"):
        assert main(["run", "--name", name, "--quiet", "--ledger", str(ledger), "--", "true"]) == 0
    from carbonledger.store import open_ledger

    with open_ledger(ledger) as opened:
        first = opened.list_runs()[0]
        run_id = first.run_id
        job_key = first.job.key if first.job is not None else "none"
    return {
        "job": job_key,
        "ledger": str(ledger),
        "series": str(series),
        "run": run_id,
        "missing": str(root / "no" / "such" / "file"),
        "dir": str(root / "a-folder"),
        "junk": str(junk),
        "site": str(site),
    }


def fill(text: str, world: dict[str, str]) -> str:
    for key, value in world.items():
        text = text.replace("{" + key + "}", value)
    return text


def argv_for(path: str, opt: str | None, dest: str, value: str, world: dict[str, str]) -> list[str]:
    base = [fill(a, world) for a in BASE[path]]
    value = fill(value, world)
    cut = base.index("--") if "--" in base else len(base)
    head, tail = base[:cut], base[cut:]
    if opt is None:  # a positional: replace the base's value for it
        parser = dict(commands())[path]
        positionals = [a.dest for a in parser._actions if not a.option_strings]
        index = len(path.split()) + positionals.index(dest)
        head[index] = value
        return head + tail
    if opt in head:  # replace the base's value, keep the rest
        i = head.index(opt)
        head = head[:i] + head[i + 2 :]
    return [*head, f"{opt}={value}", *tail]


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage error
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    shown = repr(argv)[:300]
    assert code in (0, 2, 3), f"exit {code} for {shown}: {err[-500:]}"
    assert "Traceback" not in err and "internal error" not in err, f"{shown}: {err[-500:]}"
    assert "\x1b" not in err and "\x1b" not in out, f"raw escape printed for {shown}"
    out.encode("utf-8")  # printable
    err.encode("utf-8")
    if code == 3:
        lines = [ln for ln in err.splitlines() if ln.strip() and "WARNING" not in ln]
        assert len(lines) == 1, f"{shown}: {err[-500:]}"


def test_every_command_has_a_base_command_line() -> None:
    assert {path for path, _ in commands()} == set(BASE)


@pytest.mark.parametrize("path", sorted(BASE))
def test_base_command_lines_succeed(
    path: str, world: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [fill(a, world) for a in BASE[path]]
    assert main(argv) == BASE_EXIT.get(path, 0), capsys.readouterr().err
    capsys.readouterr()


@pytest.mark.parametrize(("path", "opt", "dest"), [c for c in CASES if c[0] != "run"])
def test_quick_hostile_values(
    path: str,
    opt: str | None,
    dest: str,
    world: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative output paths land here
    for value in QUICK:
        check(argv_for(path, opt, dest, value, world), capsys)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "opt", "dest"), CASES)
def test_all_hostile_values(
    path: str,
    opt: str | None,
    dest: str,
    world: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    values = HOSTILE if path != "run" else QUICK  # each run starts a tracker: keep it short
    for value in values:
        check(argv_for(path, opt, dest, value, world), capsys)


@pytest.mark.slow
@pytest.mark.parametrize("value", ["\x1b]0;x\x07", "\udcff", "a\nb"])
def test_subprocess_argv_with_hostile_bytes(value: str, tmp_path: Path) -> None:
    """Real argv bytes (not UTF-8 included) through a real process."""
    import subprocess
    import sys

    raw = os.fsencode(value)
    ledger = str(tmp_path / "l.sqlite")
    cmd = [sys.executable, "-m", "carbonledger.cli.main", "run", b"--name=" + raw, "--quiet",
           "--ledger", ledger, "--", "true"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    assert p.returncode in (0, 3), p.stderr
    assert b"Traceback" not in p.stderr
    p = subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "runs", "--ledger", ledger],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode in (0, 3) and b"Traceback" not in p.stderr, p.stderr
    assert b"\x1b" not in p.stdout
