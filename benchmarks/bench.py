"""Training steps per second: bare PyTorch, a vgsuite single run, vgsuite batched runs.

    python benchmarks/bench.py [--quick] [--threads N] [--rounds R] [--out reports]
    nox -s bench [-- --quick]

For each architecture (rnn-tanh, lstm, gru), hidden size H and sequence length T, on one task
(default copy with gap T - 20, an output at every step; --task adding or delayed_recall read out
at the last step only), batch 64, Adam, lr 1e-3, three ways to train:

  bare     the loop a user would write: fused nn.RNN / nn.LSTM / nn.GRU, an nn.Linear head and
           torch.optim.Adam, on the same task batches (task.sample from a seeded generator)
  single   suite.train.run(spec): the protocol every vgsuite run follows (per-run generator,
           gradient norm every step, evaluation, early-stop and divergence checks)
  S = 8/32 suite.engine.stacked.run_batch over S seeds: steps per second of each member, summed

The variants of one configuration are timed one after the other in this one process, and each
keeps its best time over `rounds` rounds of the whole grid: on a shared machine the minimum is the
least disturbed measurement, and every ratio is between numbers measured side by side. A vgsuite
run's fixed costs (building the model, the evaluations at step 0 and at the last step) cancel
out: its time per step is (best time(n0 + n steps) - best time(n0 steps)) / n. Every variant runs
with glibc keeping freed memory (suite.engine.stacked.keep_freed_memory, which run_batch sets for its
process anyway).

GFLOP/s counts the matmul work of a training step, forward 2·B·(T·(I + H)·G·H + T'·H·O) and
backward twice that (G = 1, 4, 3 gate blocks), against the sgemm rate measured at the start.
Writes reports/bench.md and reports/bench.json (with the torch version, threads and CPU model).
vgsuite's loops run compiled where suite.engine.native can build them; VGSUITE_NATIVE=0 measures the
Python loops instead.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from suite.engine import native
from suite.engine.groups import MEMORY_BUDGET, member_bytes
from suite.engine.stacked import keep_freed_memory, run_batch
from suite.environment import code_version, cpu_model, set_threads
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec, json_ready
from suite.train import run

# -- the grid ---------------------------------------------------------------------------------
ARCHS = ("rnn-tanh", "lstm", "gru")
FULL = dict(hidden=(32, 64, 128), seq_len=(100, 500), sizes=(8, 32))
QUICK = dict(hidden=(64,), seq_len=(100,), sizes=(8, 32))
BATCH, LR = 64, 1e-3
N0 = 1                 # steps of the run whose time is subtracted (fixed costs)
BUDGET_S = 0.35        # aim for about this much timed work per measurement
GATES = {"rnn-tanh": 1, "lstm": 4, "gru": 3}
GAP = {"copy": lambda t: t - 20, "adding": lambda t: t, "delayed_recall": lambda t: t - 2}  # seq_len T
TASK = "copy"  # set by --task
BARE = {"rnn-tanh": lambda i, h: nn.RNN(i, h, batch_first=True),
        "lstm": lambda i, h: nn.LSTM(i, h, batch_first=True),
        "gru": lambda i, h: nn.GRU(i, h, batch_first=True)}


def spec(arch: str, hidden: int, seq_len: int, steps: int, seed: int = 0) -> RunSpec:
    return RunSpec(TaskSpec(TASK, GAP[TASK](seq_len)), ArchSpec(arch, hidden=hidden),
                   TrainSpec(steps=steps, batch_size=BATCH, lr=LR, eval_every=steps, eval_size=BATCH,
                             early_stop=False), seed=seed)


def flops_per_step(arch: str, hidden: int, seq_len: int) -> float:
    task = spec(arch, hidden, seq_len, 1).task.build()
    g = GATES[arch]
    outputs = len(range(seq_len)[task.output_positions])
    forward = 2 * BATCH * (seq_len * (task.input_size + hidden) * g * hidden + outputs * hidden * task.output_size)
    return 3.0 * forward


def sgemm_rate(size: int = 1024, reps: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(3):
        a @ b
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * size**3 / best / 1e9


# -- the three ways to train ------------------------------------------------------------------

def time_bare(arch: str, hidden: int, seq_len: int, steps: int) -> float:
    """Seconds per step of the plain PyTorch loop."""
    task = spec(arch, hidden, seq_len, 1).task.build()
    torch.manual_seed(0)
    rnn, head = BARE[arch](task.input_size, hidden), nn.Linear(hidden, task.output_size)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=LR)
    stream = torch.Generator().manual_seed(0)

    def step():
        x, y = task.sample(BATCH, stream)
        loss = task.loss(head(rnn(x)[0][:, task.output_positions]), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def _timed(train, steps: int) -> float:
    start = time.perf_counter()
    train(steps)
    return time.perf_counter() - start


def single_trainer(arch: str, hidden: int, seq_len: int):
    return lambda n: run(spec(arch, hidden, seq_len, n))


def batched_trainer(arch: str, hidden: int, seq_len: int, size: int):
    return lambda n: run_batch([spec(arch, hidden, seq_len, n, seed) for seed in range(size)])


# -- the benchmark ----------------------------------------------------------------------------

class Config:
    """One row of the table: its trainers, step counts and the best times seen so far."""

    def __init__(self, arch: str, hidden: int, seq_len: int, sizes):
        self.arch, self.hidden, self.seq_len, self.sizes = arch, hidden, seq_len, tuple(sizes)
        estimate = time_bare(arch, hidden, seq_len, 2)  # warm-up and a first estimate
        self.steps = n = max(5, min(50, round(BUDGET_S / estimate)))
        self.fits = [s for s in sizes if s * member_bytes(spec(arch, hidden, seq_len, 1)) <= MEMORY_BUDGET]
        self.trainers = {"single": (single_trainer(arch, hidden, seq_len), n)}
        for s in self.fits:  # a batch step costs about s / 4 single steps or less: aim at BUDGET_S too
            steps = max(4, min(n, round(4 * BUDGET_S / (s * estimate))))
            self.trainers[s] = (batched_trainer(arch, hidden, seq_len, s), steps)
        self.bare = float("inf")
        self.short = dict.fromkeys(self.trainers, float("inf"))
        self.long = dict.fromkeys(self.trainers, float("inf"))

    def time_round(self) -> None:
        """Every variant once, one after the other; each keeps its best time."""
        self.bare = min(self.bare, time_bare(self.arch, self.hidden, self.seq_len, self.steps))
        for key, (train, steps) in self.trainers.items():
            self.short[key] = min(self.short[key], _timed(train, N0))
            self.long[key] = min(self.long[key], _timed(train, N0 + steps))

    def row(self) -> dict:
        # per step: the best long run minus the best short run (fixed costs cancel), over the steps
        per_step = {k: (self.long[k] - self.short[k]) / self.trainers[k][1] for k in self.trainers}
        per_step = {k: v if v > 0 else float("nan") for k, v in per_step.items()}  # too noisy to tell
        return {
            "arch": self.arch, "hidden": self.hidden, "seq_len": self.seq_len,
            "steps_timed": {str(k): v[1] for k, v in self.trainers.items()},
            "flops_per_step": flops_per_step(self.arch, self.hidden, self.seq_len),
            "bare_ms": self.bare * 1e3, "single_ms": per_step["single"] * 1e3,
            "batched_ms": {str(s): per_step[s] * 1e3 for s in self.fits},  # per batch step (all members)
            "skipped_sizes": [s for s in self.sizes if s not in self.fits],
        }


def measure(configs: list[Config], rounds: int, log) -> list[dict]:
    """Best times of every variant of every configuration. A round times the whole grid, so a
    burst of load from elsewhere on a shared machine spoils one round of a few rows rather than
    every round of one row; the variants of a row still run side by side within each round."""
    for r in range(rounds):
        for config in configs:
            config.time_round()
        log(f"round {r + 1}/{rounds} done")
    rows = [config.row() for config in configs]
    for row in rows:
        log(f"{row['arch']:8s} H={row['hidden']:<3d} T={row['seq_len']:<3d} bare {row['bare_ms']:7.1f} ms  "
            f"single {row['single_ms']:7.1f} ms  "
            + "  ".join(f"S={s} {ms / int(s):6.1f} ms/run" for s, ms in row["batched_ms"].items()))
    return rows


def derived(row: dict, sgemm: float) -> dict:
    bare, single = row["bare_ms"], row["single_ms"]
    out = {"bare_steps_s": 1e3 / bare, "single_steps_s": 1e3 / single, "single_over_bare": single / bare,
           "gflops_bare": row["flops_per_step"] / bare / 1e6, "batched": {}}
    for s, ms in row["batched_ms"].items():
        size = int(s)
        out["batched"][s] = {
            "run_steps_s": size * 1e3 / ms,
            "speedup_vs_single": size * single / ms,   # vs `size` sequential vgsuite runs
            "speedup_vs_bare": size * bare / ms,
            "gflops": size * row["flops_per_step"] / ms / 1e6,
        }
    out["pct_sgemm_bare"] = 100 * out["gflops_bare"] / sgemm
    # the most any batching can gain over sequential single runs: a batch step at the sgemm rate
    out["batching_ceiling"] = sgemm / (row["flops_per_step"] / single / 1e6)
    return out


def targets(rows: list[dict]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for the issue's targets; None where nothing was measured."""
    by = {(r["arch"], r["hidden"], r["seq_len"]): r for r in rows}
    found = []
    ratios = sorted(((r["derived"]["single_over_bare"], r) for r in rows
                     if r["derived"]["single_over_bare"] == r["derived"]["single_over_bare"]),  # not NaN
                    key=lambda pair: pair[0])  # ties must not compare the rows
    if ratios:
        worst, r = ratios[-1]
        found.append(("vgsuite single <= 1.10x bare time per step (every configuration)",
                      f"worst {worst:.2f}x ({r['arch']} H={r['hidden']} T={r['seq_len']}); "
                      f"median {ratios[len(ratios) // 2][0]:.2f}x", worst <= 1.10))
    for arch in ("rnn-tanh", "lstm"):
        r = by.get((arch, 64, 100))
        s8 = r["derived"]["batched"].get("8") if r else None
        found.append((f"batched S=8 >= 4x the throughput of 8 sequential runs ({arch}, H=64, T=100)",
                      f"{s8['speedup_vs_single']:.2f}x vs vgsuite single, {s8['speedup_vs_bare']:.2f}x vs bare "
                      f"(ceiling at the sgemm rate: {r['derived']['batching_ceiling']:.2f}x)"
                      if s8 else "not measured", s8["speedup_vs_single"] >= 4 if s8 else None))
    for (arch, h, t), r in sorted(by.items()):
        if arch == "gru" and ("lstm", h, t) in by:
            ratio = r["single_ms"] / by[("lstm", h, t)]["single_ms"]
            found.append((f"GRU <= 1.3x LSTM per step (vgsuite single, H={h}, T={t})", f"{ratio:.2f}x", ratio <= 1.3))
    return found


def markdown(meta: dict, rows: list[dict]) -> str:
    sizes = sorted({int(s) for r in rows for s in r["batched_ms"]} | {s for r in rows for s in r["skipped_sizes"]})
    head = ["arch", "H", "T", "bare steps/s", "single steps/s", "single/bare time", "bare GFLOP/s", "ceiling"]
    for s in sizes:
        head += [f"S={s} run-steps/s", f"S={s} vs {s} single", f"S={s} GFLOP/s"]
    lines = [
        "# vgsuite training throughput", "",
        f"{meta['date']}, torch {meta['torch']}, {meta['threads']} threads, {meta['cpu_model']}; "
        f"sgemm {meta['sgemm_gflops']:.0f} GFLOP/s (1024x1024, measured in this run); "
        f"code {meta['code_version']}; glibc keeps freed memory: "
        f"{'yes' if meta['malloc_keeps_freed_memory'] else 'no'}; compiled loops (suite.engine.native): "
        f"{'yes' if meta.get('compiled_loops') else 'no'}.",
        "",
        f"Task {meta['task']} (sequence length T), batch 64, Adam. *bare*: fused PyTorch module + Linear "
        "head + Adam on the same task batches; *single*: `suite.train.run`; *S=k*: "
        "`suite.engine.stacked.run_batch` over k seeds, steps per second summed over the members, and its "
        "speed-up over k sequential single runs. "
        "GFLOP/s counts matmul work only; *ceiling* is the sgemm rate over the single run's GFLOP/s, "
        "the most any batching could gain (a batch step at the sgemm rate). Each number is the best of "
        f"{meta['rounds']} rounds of the whole grid, all variants of a row measured side by side in each.", "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
    ]
    for r in rows:
        d = r["derived"]
        cells = [r["arch"], str(r["hidden"]), str(r["seq_len"]), f"{d['bare_steps_s']:.1f}",
                 f"{d['single_steps_s']:.1f}", f"{d['single_over_bare']:.2f}x",
                 f"{d['gflops_bare']:.1f} ({d['pct_sgemm_bare']:.0f}%)", f"{d['batching_ceiling']:.1f}x"]
        for s in sizes:
            b = d["batched"].get(str(s))
            cells += ([f"{b['run_steps_s']:.1f}", f"{b['speedup_vs_single']:.2f}x",
                       f"{b['gflops']:.1f} ({100 * b['gflops'] / meta['sgemm_gflops']:.0f}%)"]
                      if b else ["memory", "-", "-"])
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "S=k columns marked *memory*: k members would exceed the batch memory budget "
              f"({MEMORY_BUDGET / 2**30:.0f} GiB; the sweep makes smaller groups there).", "",
              "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for name, value, met in meta["targets"]:
        lines.append(f"| {name} | {value} | {'yes' if met else 'no' if met is not None else '-'} |")
    return "\n".join(lines) + "\n"



def main(argv=None) -> int:
    global TASK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="H=64, T=100 only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=3, help="timings per variant; the best is kept")
    parser.add_argument("--archs", default=",".join(ARCHS), help="comma-separated subset of " + ",".join(ARCHS))
    parser.add_argument("--task", default="copy", choices=sorted(GAP), help="the task (default: copy)")
    parser.add_argument("--out", default="reports", help="folder for bench.md and bench.json")
    parser.add_argument("--tag", default="", help="file names bench-TAG.md/json (e.g. a thread count)")
    args, _ = parser.parse_known_args(argv)  # nox passes the other benches' flags along too
    TASK = args.task
    threads = set_threads(args.threads)
    mallopt = keep_freed_memory()  # what run_batch does anyway: every variant gets the same malloc
    grid = QUICK if args.quick else FULL
    archs = [a for a in args.archs.split(",") if a]
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    sgemm = sgemm_rate()
    log(f"sgemm {sgemm:.0f} GFLOP/s, {threads} threads")
    configs = [Config(arch, hidden, seq_len, grid["sizes"])
               for seq_len in grid["seq_len"] for hidden in grid["hidden"] for arch in archs]
    rows = measure(configs, args.rounds, log)
    for row in rows:
        row["derived"] = derived(row, sgemm)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "python": platform.python_version(), "threads": threads,
        "cpu_model": cpu_model(), "platform": platform.platform(terse=True),
        "code_version": code_version(), "sgemm_gflops": sgemm, "rounds": args.rounds,
        "quick": args.quick, "task": args.task, "malloc_keeps_freed_memory": mallopt,
        "compiled_loops": native.available(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    meta["targets"] = targets(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"bench-{args.tag}" if args.tag else "bench"
    (out / f"{name}.json").write_text(json.dumps(json_ready({"meta": meta, "rows": rows}), indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(meta, rows))
    log(f"wrote {out / name}.md and {out / name}.json in {meta['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
