"""Training on a GPU: a batched group of runs against the same runs one after another, and an eager
time loop against a captured one (torch.compile, mode "reduce-overhead": CUDA graphs).

    python benchmarks/gpu_bench.py --device cuda [--out reports]     # what benchmarks/gpu.sh runs
    python benchmarks/gpu_bench.py --device cpu --quick               # a smoke test of the script

1. Throughput (issue 17's target: a group of 64 delivers >= 20x the runs per second of the same
   runs trained one after another). Per architecture (rnn-tanh, gru, lstm; hidden 128, delayed
   recall gap 50, a fixed number of Adam steps, no early stop): `suite.engine.stacked.run_batch` of
   64 specs (64 seeds) once, against `suite.train.run` of the first `--sequential` of them one by
   one (runs of one configuration cost the same, so runs per second extrapolate). Runs per second
   both ways and their ratio.
2. Capture: one training step (forward, backward, Adam) of a single per-run model (the fast view
   the per-run trainer uses), eager against torch.compile(mode="reduce-overhead"), after warm-up;
   median step time. Where compile fails the error is recorded, not raised.

Writes reports/bench-gpu.md and reports/bench-gpu.json (with --quick: bench-gpu-quick.*).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from suite.engine.stacked import run_batch
from suite.environment import code_version, device_name, resolve_device, set_threads
from suite.models import make_model
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.train import run

ARCHS = ("rnn-tanh", "gru", "lstm")


def sizes(quick: bool) -> dict:
    if quick:
        return {"hidden": 16, "gap": 5, "steps": 6, "group": 8, "sequential": 2, "capture_steps": 5}
    return {"hidden": 128, "gap": 50, "steps": 200, "group": 64, "sequential": 4, "capture_steps": 50}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def throughput(arch: str, device: str, s: dict) -> dict:
    train = TrainSpec(steps=s["steps"], batch_size=64, eval_every=s["steps"], eval_size=256, early_stop=False)
    specs = [RunSpec(TaskSpec("delayed_recall", s["gap"]), ArchSpec(arch, hidden=s["hidden"]), train, seed, device)
             for seed in range(s["group"])]
    run(specs[0])  # warm-up: CUDA context, kernels, allocator
    _sync(device)
    start = time.perf_counter()
    for spec in specs[: s["sequential"]]:
        run(spec)
    _sync(device)
    sequential = (time.perf_counter() - start) / s["sequential"]
    start = time.perf_counter()
    run_batch(specs)
    _sync(device)
    batched = time.perf_counter() - start
    return {"arch": arch, "group": s["group"], "runs_per_s_sequential": 1 / sequential,
            "runs_per_s_batched": s["group"] / batched, "speedup": sequential * s["group"] / batched}


def capture(arch: str, device: str, s: dict) -> dict:
    task = TaskSpec("delayed_recall", s["gap"]).build()
    x, y = task.sample(64, torch.Generator().manual_seed(0), device)
    row = {"arch": arch}
    for mode in ("eager", "reduce-overhead"):
        model = make_model(ArchSpec(arch, hidden=s["hidden"]), task.input_size, task.output_size, 0).to(device)
        forward = model if mode == "eager" else torch.compile(model, mode=mode)
        try:
            row[f"{mode}_ms"] = _median_step_ms(model, forward, task, x, y, s["capture_steps"], device)
        except Exception as exc:  # a compile that fails is a finding, not a crash of the bench
            row[f"{mode}_ms"] = None
            row[f"{mode}_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
    if row.get("eager_ms") and row.get("reduce-overhead_ms"):
        row["captured_speedup"] = row["eager_ms"] / row["reduce-overhead_ms"]
    return row


def _median_step_ms(model, forward, task, x, y, steps: int, device: str) -> float:
    """Median time of one Adam training step through `forward`, after 3 warm-up steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for i in range(3 + steps):
        _sync(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        task.loss(forward(x, task.output_positions), y).backward()
        optimizer.step()
        _sync(device)
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def markdown(meta: dict, rows: list[dict], captured: list[dict]) -> str:
    s = meta["sizes"]
    lines = ["# vgsuite on a GPU", "",
             f"{meta['date']}, {meta['device_name']}, torch {meta['torch']}; code {meta['code_version']}.", "",
             f"Throughput: {s['group']} runs of one configuration (hidden {s['hidden']}, delayed recall gap "
             f"{s['gap']}, {s['steps']} Adam steps, batch 64) trained as one stacked group, against the first "
             f"{s['sequential']} trained one after another. Target: >= 20x at a group of 64.", "",
             "| arch | runs/s one by one | runs/s batched | speedup |", "|---|---:|---:|---:|"]
    lines += [f"| {r['arch']} | {r['runs_per_s_sequential']:.3f} | {r['runs_per_s_batched']:.3f} | "
              f"{r['speedup']:.1f}x |" for r in rows]
    lines += ["", "Capture: one training step (forward, backward, Adam) of a per-run model, median of "
              f"{s['capture_steps']}, eager vs torch.compile(mode='reduce-overhead').", "",
              "| arch | eager (ms) | captured (ms) | speedup | note |", "|---|---:|---:|---:|---|"]
    for r in captured:
        cells = [_ms(r.get("eager_ms")), _ms(r.get("reduce-overhead_ms")),
                 f"{r['captured_speedup']:.2f}x" if "captured_speedup" in r else "-",
                 r.get("reduce-overhead_error", r.get("eager_error", ""))]
        lines.append(f"| {r['arch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _ms(value) -> str:
    return "failed" if value is None else f"{value:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda[:N], or cpu with --quick to test the script")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the script runs")
    parser.add_argument("--out", default="reports")
    args, _ = parser.parse_known_args(argv)
    try:
        resolve_device(args.device)
    except ValueError as exc:
        print(f"gpu_bench: --device: {exc}", file=sys.stderr)
        return 2
    set_threads(1)
    s = sizes(args.quick)
    rows = [throughput(arch, args.device, s) for arch in ARCHS]
    captured = [capture(arch, args.device, s) for arch in ARCHS]
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "device_name": device_name(args.device),
            "torch": torch.__version__, "code_version": code_version(), "sizes": s}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "bench-gpu-quick" if args.quick else "bench-gpu"
    (out / f"{name}.md").write_text(markdown(meta, rows, captured))
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "throughput": rows, "capture": captured}, indent=1))
    print(markdown(meta, rows, captured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
