"""The parallel scans of minGRU, minLSTM, the LRU and S4D against their loops, side by side.

    python benchmarks/scan_bench.py [--threads N] [--rounds R] [--out reports]
    nox -s bench

suite/models/minimal.py (minGRU, minLSTM), lru.py and s4d.py compute a layer's whole sequence three
ways, all the same function: a parallel scan (minGRU/minLSTM: the paper's log-space scan, one
cumulative sum and one cumulative log-sum-exp; LRU/S4D: a Hillis-Steele scan of the complex diagonal
recurrence; the fast view on CUDA), a loop over precomputed coefficients (the fast view on CPU) and
the step view the probes run. Per architecture and sequence length T: one forward and backward
pass of a training batch (64 sequences, hidden 64, float32, loss on the last output) through each,
the best of `rounds` rounds, measured one after the other in each round. Writes
reports/bench-scan.md and reports/bench-scan.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from suite.environment import code_version, cpu_model, set_threads
from suite.models import make_model
from suite.specs import ArchSpec

ARCHS = ("mingru", "minlstm", "lru", "s4d")
LENGTHS = (100, 1000)
BATCH, HIDDEN, INPUT, OUTPUT = 64, 64, 10, 9


def time_pass(forward, x: torch.Tensor) -> float:
    start = time.perf_counter()
    forward(x)[:, -1].pow(2).sum().backward()
    return time.perf_counter() - start


def measure(arch: str, seq_len: int, rounds: int) -> dict:
    model = make_model(ArchSpec(arch, hidden=HIDDEN), INPUT, OUTPUT, 0)
    x = torch.randn(BATCH, seq_len, INPUT, generator=torch.Generator().manual_seed(0))
    # on a CPU each model's fast view (hidden_sequence) is its loop over precomputed coefficients
    views = {"scan": lambda v: model.readout(model.scanned(v)), "loop": model, "step": model.forward_stepwise}
    best = dict.fromkeys(views, float("inf"))
    for _ in range(rounds):
        for name, forward in views.items():
            model.zero_grad(set_to_none=True)
            best[name] = min(best[name], time_pass(forward, x))
    return {"arch": arch, "seq_len": seq_len, **{f"{k}_ms": v * 1e3 for k, v in best.items()},
            "scan_over_loop": best["scan"] / best["loop"], "step_over_loop": best["step"] / best["loop"]}


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = ["# vgsuite parallel scans", "",
             f"{meta['date']}, torch {meta['torch']}, {meta['threads']} threads, {meta['cpu_model']}; code "
             f"{meta['code_version']}.", "",
             f"One forward and backward pass, batch {BATCH}, hidden {HIDDEN}, one layer, float32, through each "
             "path: *scan*, the parallel scan (log-space for minGRU and minLSTM, Hillis-Steele for the LRU and S4D; "
             "the fast view on CUDA); *loop*, every step's "
             "coefficients in one matmul, then the recurrence step by step (the fast view on CPU); *step*, the "
             f"step view the probes run. Best of {meta['rounds']} rounds, all three side by side in each.", "",
             "| arch | T | scan ms | loop ms | step ms | scan / loop | step / loop |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['arch']} | {r['seq_len']} | {r['scan_ms']:.1f} | {r['loop_ms']:.1f} | {r['step_ms']:.1f} | "
              f"{r['scan_over_loop']:.2f}x | {r['step_over_loop']:.2f}x |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=3, help="timings per variant; the best is kept")
    parser.add_argument("--out", default="reports", help="folder for bench-scan.md and .json")
    args, _ = parser.parse_known_args(argv)  # nox passes the other benches' flags along too
    threads = set_threads(args.threads)
    rows = [measure(arch, seq_len, args.rounds) for seq_len in LENGTHS for arch in ARCHS]
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "torch": torch.__version__,
            "threads": threads, "cpu_model": cpu_model(), "code_version": code_version(), "rounds": args.rounds}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-scan.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (out / "bench-scan.md").write_text(markdown(meta, rows))
    for r in rows:
        print(f"{r['arch']:8s} T={r['seq_len']:<5d} scan {r['scan_ms']:8.1f} ms  loop {r['loop_ms']:8.1f} ms  "
              f"step {r['step_ms']:8.1f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
