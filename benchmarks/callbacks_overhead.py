"""Overhead of the framework callbacks on a training loop.

A Lightning fit of a tiny MLP with and without carbonledger's callback, and a Hugging Face
Trainer fit of a tiny BERT (built from a config, nothing downloaded) with no callback,
with carbonledger's callback and with CodeCarbon's own transformers callback
(``report_to="codecarbon"``). Each fit runs in a fresh process; the workloads take turns
round after round; the figure is the fit call's wall and CPU time (imports and model
construction excluded), as medians with [min, max].

CodeCarbon lives in ``benchmarks/.venv-peers`` (git-ignored, made by ``run_all.py``); this
script adds a ``.pth`` there that points at the project's ``.venv`` so torch, Lightning and
transformers import from one place, and runs every child with that interpreter::

    .venv/bin/python benchmarks/callbacks_overhead.py --rounds 5 --write

``--write`` replaces the "Framework callbacks" section of ``RESULTS.md``. No test checks
a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"
WORKLOADS = (
    "lightning-none",
    "lightning-carbonledger",
    "hf-none",
    "hf-carbonledger",
    "hf-codecarbon",
)
SECTION = "## Framework callbacks"


# -- children --------------------------------------------------------------------------------
_IN_HOOKS = [0.0]  # seconds the training loop spent inside the measured callback's hooks
_BY_HOOK: dict[str, float] = {}  # the same, by hook name
_CALLBACK: list[Any] = []  # the measured callback (carbonledger's: its start's own thread)


_FRAMEWORK_BASES = ("Callback", "TrainerCallback")  # Lightning's and transformers' bases


def _instrument(callback: Any) -> Any:
    """Time every hook that ``callback``'s class defines (on the instance): the loop's own
    cost of it, which a shared machine's noise does not blur as it blurs whole-fit times.
    The framework base class's no-op hooks are left alone."""
    for name in dir(type(callback)):
        if not (name.startswith("on_") or name in ("setup", "teardown", "state_dict")):
            continue
        owner = next((c for c in type(callback).__mro__ if name in vars(c)), None)
        if owner is None or owner.__name__ in _FRAMEWORK_BASES:
            continue  # the framework's own no-op: timing it would measure the timer
        method = getattr(callback, name)
        if not callable(method):
            continue

        def timed(*args: Any, __m: Any = method, name: str = name, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return __m(*args, **kwargs)
            finally:
                spent = time.perf_counter() - t0
                _IN_HOOKS[0] += spent
                _BY_HOOK[name] = _BY_HOOK.get(name, 0.0) + spent

        setattr(callback, name, timed)
    _CALLBACK.append(callback)
    return callback


def _lightning(with_callback: bool, epochs: int) -> float:
    import lightning.pytorch as pl
    import torch

    class MLP(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1)
            )

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, 64, generator=g)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=64
    )
    callbacks = []
    if with_callback:
        from carbonledger.integrations.lightning import CarbonLedgerCallback

        callbacks.append(_instrument(CarbonLedgerCallback(name="bench-lightning", zone="FR")))
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    model = MLP()
    started = time.perf_counter()
    trainer.fit(model, loader)
    return time.perf_counter() - started


def _huggingface(tool: str, steps: int, out: str) -> float:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    g = torch.Generator().manual_seed(0)
    data = [
        {
            "input_ids": torch.randint(0, 100, (32,), generator=g),
            "attention_mask": torch.ones(32, dtype=torch.long),
            "labels": torch.tensor(i % 2),
        }
        for i in range(256)
    ]
    config = BertConfig(
        vocab_size=100,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=64,
        num_labels=2,
    )
    callbacks = []
    if tool == "carbonledger":
        from carbonledger.integrations.huggingface import CarbonLedgerCallback

        callbacks.append(_instrument(CarbonLedgerCallback(name="bench-hf", zone="FR")))
    args = TrainingArguments(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=16,
        logging_steps=25,
        save_strategy="no",
        report_to=["codecarbon"] if tool == "codecarbon" else [],
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=data,
        callbacks=callbacks,
    )
    if tool == "codecarbon":
        for cb in trainer.callback_handler.callbacks:
            if type(cb).__name__ == "CodeCarbonCallback":
                _instrument(cb)
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


# the hooks that start a fit's tracking, that log values at an epoch's end or a log step,
# and that stop it; the rest (batch hooks: budget polling; span hooks) is "other"
_PHASES = {
    "start": ("on_train_start", "on_train_begin"),
    "log": ("on_train_epoch_end", "on_log"),
    "stop": ("teardown", "on_train_end"),
}


def _phases() -> dict[str, float]:
    out = {phase: sum(_BY_HOOK.get(h, 0.0) for h in hooks) for phase, hooks in _PHASES.items()}
    out["other"] = _IN_HOOKS[0] - sum(out.values())
    return out


def _start_thread() -> dict[str, float]:
    """carbonledger's start: the part in the hook and the part on its own thread."""
    job = getattr(_CALLBACK[0], "job", None) if _CALLBACK else None
    timing = dict(getattr(job, "start_timing", None) or {})
    return {k: float(v) for k, v in timing.items()}


def child(workload: str, scale: float) -> None:
    cpu0 = time.process_time()
    with tempfile.TemporaryDirectory() as out:
        family, tool = workload.split("-", 1)
        if family == "lightning":
            wall = _lightning(tool == "carbonledger", epochs=max(1, round(8 * scale)))
        else:
            wall = _huggingface(tool, steps=max(10, round(100 * scale)), out=out)
    print(
        json.dumps(
            {
                "workload": workload,
                "wall_s": wall,
                "cpu_s": time.process_time() - cpu0,
                "hooks_s": _IN_HOOKS[0],
                "phases_s": _phases(),
                "start": _start_thread(),
            }
        )
    )


# -- parent ----------------------------------------------------------------------------------
def ensure_env() -> Path:
    """The peers' interpreter, seeing the project's frameworks through a .pth file."""
    sys.path.insert(0, str(HERE))
    from run_all import CODECARBON_REQUIREMENT, ensure_peers

    ensure_peers(CODECARBON_REQUIREMENT, print)
    site = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "python"),
            "-c",
            "import site; print(site.getsitepackages()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    peers_site = subprocess.run(
        [str(PEERS_PYTHON), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(peers_site) / "zz_carbonledger_frameworks.pth").write_text(site + "\n")
    return PEERS_PYTHON


def run_child(python: Path, workload: str, scale: float) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CARBONLEDGER_", "CODECARBON_", "PYTHON"))
    }
    home = tempfile.mkdtemp(prefix="bench-home-")
    env.update(
        HOME=home,
        KERAS_BACKEND="torch",
        CODECARBON_LOG_LEVEL="error",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
    )
    proc = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--child", workload, "--scale", str(scale)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=900,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{workload} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(lines[-1]))


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


def report(
    results: dict[str, list[dict[str, Any]]], rounds: int, seconds: float, scale: float
) -> str:
    def med(w: str, k: str) -> float:
        return statistics.median(r[k] for r in results[w])

    rows = []
    for workload in WORKLOADS:
        if not results[workload]:
            continue
        base = "lightning-none" if workload.startswith("lightning") else "hf-none"
        wall = [r["wall_s"] for r in results[workload]]
        cpu = [r["cpu_s"] for r in results[workload]]
        if workload == base:
            over = "baseline"
        elif not results[base]:
            over = "(no baseline run)"
        else:
            ow = 100 * (med(workload, "wall_s") / med(base, "wall_s") - 1)
            oc = 100 * (med(workload, "cpu_s") / med(base, "cpu_s") - 1)
            over = f"{ow:+.1f} % wall, {oc:+.1f} % CPU"
        share = [100 * r["hooks_s"] / r["wall_s"] for r in results[workload]]
        hooks_s = [r["hooks_s"] for r in results[workload]]
        in_hooks = "" if workload == base else f"{_fmt(hooks_s)} s; {_fmt(share)} %"
        rows.append(f"| `{workload}` | {_fmt(wall)} | {_fmt(cpu)} | {over} | {in_hooks} |")
    epochs, steps = max(1, round(8 * scale)), max(10, round(100 * scale))
    phase_rows = []
    for workload in WORKLOADS:
        if workload.endswith("-none") or not results[workload]:
            continue
        runs = results[workload]
        logs = epochs if workload.startswith("lightning") else max(1, steps // 25)

        def ms(phase: str, runs: list[dict[str, Any]] = runs) -> float:
            return 1000 * statistics.median(r["phases_s"][phase] for r in runs)

        fixed_ms = ms("start") + ms("stop")
        starts = [r["start"] for r in runs if r.get("start")]
        own = (
            f"{1000 * statistics.median(t.get('finish_cpu_s', math.nan) for t in starts):.0f}"
            if starts
            else "n/a"
        )
        phase_rows.append(
            f"| `{workload}` | {ms('start'):.1f} | {ms('log') / logs:.1f} × {logs} "
            f"| {ms('stop'):.1f} | {ms('other'):.1f} | {own} | {fixed_ms / 10:.1f} s |"
        )
    load = os.getloadavg()[0]
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {rounds} rounds, "
            f"in {seconds:.0f} s, load average (1 min) after: {load:.2f}:",
            "",
            "```sh",
            f".venv/bin/python benchmarks/callbacks_overhead.py --rounds {rounds} "
            f"--scale {scale:g} --write",
            "```",
            "",
            f"Lightning: a 64-256-1 MLP, {max(1, round(8 * scale))} epochs of 313 batches. Hugging",
            f"Face: a 2-layer BERT (hidden 64) from a config, {max(10, round(100 * scale))} steps",
            "of 16 sequences, a log every 25 steps;",
            'CodeCarbon 3.3.2 through transformers\' own `report_to="codecarbon"`. Each',
            "fit in a fresh process, on the CPU; wall and CPU seconds of the fit call (CPU",
            "includes the process's start-up), medians with [min, max]; overhead from the",
            "medians against the same family's fit without a callback. On a shared 2-core",
            "machine whole-fit times vary by tens of percent from run to run, far more than",
            "the effect sought; the last column is the steadier figure: the time the",
            "training loop spent inside the callback's hooks (every hook its class defines,",
            "timed on the instance; for CodeCarbon, transformers' CodeCarbonCallback), as a",
            "share of the fit. The sampler's thread and carbonledger's start thread are not",
            "in it (their CPU shows in the CPU column and in the second table).",
            "The target is < 1 %.",
            "",
            "| workload | fit wall (s) | process CPU (s) | overhead (medians) "
            "| in the callback's hooks: s; % of the fit |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Where the hook time goes (medians, ms): the hook that starts tracking, each",
            "epoch's or log step's values, the hooks that stop it, the rest (batch hooks:",
            "budget polling, span hooks); carbonledger's start also runs on a thread of its",
            "own (ledger, host facts, consumers): its CPU ms are not in the hooks. The last",
            "column: the fit length at which the fixed part (start + stop) is 1 %.",
            "",
            "| workload | start | per log × logs | stop | other | start's own thread (CPU ms) "
            "| 1 % at |",
            "|---|---|---|---|---|---|---|",
            *phase_rows,
            "",
        ]
    )


def write_section(text: str) -> None:
    """Replace the section in place (other sections of the shared file stay as they are)."""
    path = HERE / "RESULTS.md"
    old = path.read_text() if path.exists() else ""
    if SECTION not in old:
        path.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    head, _, tail = old.partition(SECTION)
    nxt = tail.find("\n## ")
    rest = tail[nxt + 1 :] if nxt >= 0 else ""
    path.write_text(head + text.rstrip("\n") + "\n" + ("\n" + rest if rest else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=WORKLOADS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="work per fit (1 = default)")
    parser.add_argument("--write", action="store_true", help="update RESULTS.md")
    parser.add_argument(
        "--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="a subset"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.scale)
        return
    python = ensure_env()
    started = time.time()
    chosen = tuple(args.workloads)
    results: dict[str, list[dict[str, Any]]] = {w: [] for w in WORKLOADS}
    for i in range(args.rounds):
        order = chosen[i % len(chosen) :] + chosen[: i % len(chosen)]
        for workload in order:
            results[workload].append(run_child(python, workload, args.scale))
            print(workload, results[workload][-1], flush=True)
    text = report(results, args.rounds, time.time() - started, args.scale)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
