"""The gradient-flow probe's time against a bare float64 backward pass, and the CLI's start-up.

    python benchmarks/probe_bench.py [--quick] [--threads N] [--rounds R] [--out reports]
    nox -s bench [-- --quick]

A probe (what `vgsuite probe` measures per seed) is the gradient profile over the probe batch
plus the input saliency, which asks for every output channel separately and so runs over the
batch tiled once per output channel (batch x outputs rows). Three ways to get those numbers, per
row (architecture, task, gap; hidden 64, batch 16, 5 seeds, float64), timed side by side:

  bare       the fused PyTorch module (nn.RNN / nn.LSTM / nn.GRU) with a Linear head, one
             forward and backward pass over the probe batch and one over the saliency's rows,
             per seed: plain autograd in float64, which underflows but shows the floor of cost
  chunked    suite.probes as it is: the log-space sweep renormalised once per chunk of steps
  per-step   the sweep it replaced (tests/probe_reference.py): one vector-Jacobian product and one
             renormalisation per step, kept to show the change side by side

Models and batches are built before the clock starts. Each number is the best over `rounds`
rounds of the whole grid. Start-up: `vgsuite --help` against `python -c "import torch"`, the best
of 5 launches each. Writes reports/bench-probe.md and reports/bench-probe.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from probe_reference import reference_backward  # noqa: E402

from suite.environment import code_version, cpu_model, set_threads  # noqa: E402
from suite.probes import backward, build_model, gradient_profile, input_saliency, probe_batch  # noqa: E402
from suite.specs import ArchSpec, TaskSpec, json_ready  # noqa: E402

FULL = [("rnn-tanh", "copy", 1000), ("lstm", "copy", 1000), ("gru", "copy", 1000),
        ("rnn-tanh", "delayed_recall", 200), ("lstm", "delayed_recall", 200)]
QUICK = [("rnn-tanh", "copy", 200), ("lstm", "delayed_recall", 100)]
HIDDEN, BATCH, SEEDS = 64, 16, 5
TARGET_PROBE, TARGET_START = 3.0, 1.3
BARE = {"rnn-tanh": lambda i, h: nn.RNN(i, h, batch_first=True),
        "lstm": lambda i, h: nn.LSTM(i, h, batch_first=True),
        "gru": lambda i, h: nn.GRU(i, h, batch_first=True)}


class Row:
    """One (architecture, task, gap): its prepared models and batches and the best times so far."""

    def __init__(self, arch: str, task: str, gap: int):
        self.arch, self.task_name, self.gap = arch, task, gap
        spec = TaskSpec(task, gap)
        self.task = spec.build()
        self.models = [build_model(ArchSpec(arch, hidden=HIDDEN), spec, seed) for seed in range(SEEDS)]
        self.batches = [probe_batch(spec, BATCH, seed)[0].double() for seed in range(SEEDS)]
        torch.manual_seed(0)
        self.bare_nets = [(BARE[arch](self.task.input_size, HIDDEN).double(),
                           nn.Linear(HIDDEN, self.task.output_size).double()) for _ in range(SEEDS)]
        outputs = self.task.output_size
        self.tiled = [x.repeat_interleave(outputs, dim=0) for x in self.batches]
        self.best = {"bare": float("inf"), "chunked": float("inf"), "per-step": float("inf")}

    def bare(self) -> None:
        for (rnn, head), x, tiled in zip(self.bare_nets, self.batches, self.tiled):
            for rows in (x, tiled):
                rows = rows.detach().requires_grad_()
                head(rnn(rows)[0][:, -1]).sum().backward()

    def chunked(self) -> None:
        for model, x in zip(self.models, self.batches):
            gradient_profile(model, x)
            input_saliency(model, x)

    def per_step(self) -> None:
        chunked = backward._log_backward
        backward._log_backward = reference_backward
        try:
            self.chunked()
        finally:
            backward._log_backward = chunked

    def time_round(self) -> None:
        for name, work in (("bare", self.bare), ("chunked", self.chunked), ("per-step", self.per_step)):
            start = time.perf_counter()
            work()
            self.best[name] = min(self.best[name], time.perf_counter() - start)

    def result(self) -> dict:
        b = self.best
        return {"arch": self.arch, "task": self.task_name, "gap": self.gap, "seq_len": self.batches[0].shape[1],
                "saliency_rows": self.tiled[0].shape[0], "bare_s": b["bare"], "chunked_s": b["chunked"],
                "per_step_s": b["per-step"], "chunked_over_bare": b["chunked"] / b["bare"],
                "per_step_over_bare": b["per-step"] / b["bare"], "speedup": b["per-step"] / b["chunked"]}


def startup(launches: int = 5) -> dict:
    """Best wall time of `vgsuite --help` and of `python -c "import torch"`, each a fresh process."""
    commands = {"vgsuite_help": [sys.executable, "-m", "suite.cli", "--help"],
                "import_torch": [sys.executable, "-c", "import torch"]}
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(launches):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best[name], time.perf_counter() - start)
    return best | {"ratio": best["vgsuite_help"] / best["import_torch"]}


def targets(rows: list[dict], start: dict) -> list[tuple[str, str, bool]]:
    worst = max(rows, key=lambda r: r["chunked_over_bare"])
    return [
        (f"a probe <= {TARGET_PROBE:g}x the bare float64 forward + backward (every row)",
         f"worst {worst['chunked_over_bare']:.2f}x ({worst['arch']}, {worst['task']} gap {worst['gap']})",
         worst["chunked_over_bare"] <= TARGET_PROBE),
        (f"`vgsuite --help` <= {TARGET_START:g}x the start-up of `python -c \"import torch\"`",
         f"{start['ratio']:.2f}x ({start['vgsuite_help']:.2f} s vs {start['import_torch']:.2f} s)",
         start["ratio"] <= TARGET_START),
    ]


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = [
        "# vgsuite probe speed", "",
        f"{meta['date']}, torch {meta['torch']}, {meta['threads']} threads, {meta['cpu_model']}; "
        f"code {meta['code_version']}.", "",
        f"Per row: {SEEDS} seeds, hidden {HIDDEN}, probe batch {BATCH}, float64; the gradient profile over "
        "the batch and the input saliency over the batch tiled once per output channel. *bare*: the fused "
        "PyTorch module, one forward + backward over each of those batches per seed (plain autograd, which "
        "underflows). *chunked*: `suite.probes` (log space, renormalised once per chunk). *per-step*: the "
        "sweep it replaced (one VJP and renormalisation per step). Seconds for all seeds, the best of "
        f"{meta['rounds']} rounds, all three measured side by side in each.", "",
        "| arch | task | gap | T | saliency rows | bare s | chunked s | per-step s | chunked/bare | "
        "per-step/bare | chunked speed-up |", "|" + "---|" * 11,
    ]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['task']} | {r['gap']} | {r['seq_len']} | {r['saliency_rows']} | "
                     f"{r['bare_s']:.2f} | {r['chunked_s']:.2f} | {r['per_step_s']:.2f} | "
                     f"{r['chunked_over_bare']:.2f}x | {r['per_step_over_bare']:.2f}x | {r['speedup']:.1f}x |")
    s = meta["startup"]
    lines += ["", f"Start-up (best of 5 launches): `vgsuite --help` {s['vgsuite_help']:.2f} s, "
              f"`python -c \"import torch\"` {s['import_torch']:.2f} s.", "",
              "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if met else 'no'} |" for name, value, met in meta["targets"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short rows")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=3, help="timings per variant; the best is kept")
    parser.add_argument("--out", default="reports", help="folder for bench-probe.md and .json")
    args, _ = parser.parse_known_args(argv)  # nox passes bench.py's flags along too
    threads = set_threads(args.threads)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    grid = [Row(*row) for row in (QUICK if args.quick else FULL)]
    for r in range(args.rounds):
        for row in grid:
            row.time_round()
        log(f"probe bench: round {r + 1}/{args.rounds} done")
    rows = [row.result() for row in grid]
    start = startup()
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "torch": torch.__version__,
            "python": platform.python_version(), "threads": threads, "cpu_model": cpu_model(),
            "code_version": code_version(), "rounds": args.rounds, "quick": args.quick, "startup": start,
            "wall_s": round(time.perf_counter() - started, 1)}
    meta["targets"] = targets(rows, start)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-probe.json").write_text(json.dumps(json_ready({"meta": meta, "rows": rows}), indent=2) + "\n")
    (out / "bench-probe.md").write_text(markdown(meta, rows))
    for r in rows:
        log(f"{r['arch']:8s} {r['task']} gap {r['gap']}: bare {r['bare_s']:.2f} s, chunked {r['chunked_s']:.2f} s "
            f"({r['chunked_over_bare']:.2f}x), per-step {r['per_step_s']:.2f} s ({r['per_step_over_bare']:.2f}x)")
    log(f"wrote {out / 'bench-probe.md'} in {meta['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
