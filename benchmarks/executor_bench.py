"""The Ray executor's overhead against the local process pool, on the same small sweep, side by side.

    python benchmarks/executor_bench.py [--workers 2] [--rounds 2] [--out reports]
    nox -s bench

One small sweep (delayed recall gaps 5 and 10; rnn-tanh and gru, which train in stacked groups, and
lstm, which trains alone on CPU; 4 seeds each, 400 steps without early stop, hidden 32: 24 runs in
12 groups) into a fresh
store, `rounds` times each way, alternating: the local pool (`--workers` spawned processes) and
Ray (a local Ray on loopback with `--workers` CPUs, one task per group, the driver storing each
result). Ray is timed twice: the sweep alone on a Ray already running (what a user of a cluster
sees: `--address auto`), and the sweep plus starting and stopping a local Ray (what `--executor
ray` without an address costs on one machine). Best of the rounds; the ratio is Ray over local.
Writes reports/bench-executor.md and reports/bench-executor.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from suite.environment import code_version, cpu_model
from suite.executors import Executor, import_ray
from suite.specs import ArchSpec, TrainSpec
from suite.sweep import ensure_runs, grid

TRAIN = TrainSpec(steps=400, batch_size=32, eval_every=50, eval_size=128, early_stop=False)
ARCHS = ("rnn-tanh", "gru", "lstm")


def specs():
    return grid("delayed_recall", [ArchSpec(a, hidden=32) for a in ARCHS], gaps=[5, 10], seeds=4, train=TRAIN)


def timed(executor: Executor, workers: int, folder: Path, name: str) -> float:
    start = time.perf_counter()
    summary = ensure_runs(specs(), folder / f"{name}.sqlite", workers=workers, progress=False, executor=executor)
    wall = time.perf_counter() - start
    if summary.failed or summary.ran != len(specs()):
        raise RuntimeError(f"{name}: {summary}")
    return wall


def measure(workers: int, rounds: int) -> dict:
    ray = import_ray()
    best = {"local": float("inf"), "ray_running": float("inf"), "ray_with_start": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in range(rounds):
            best["local"] = min(best["local"], timed(Executor(), workers, folder, f"local{r}"))
            best["ray_with_start"] = min(best["ray_with_start"], timed(Executor("ray"), workers, folder, f"cold{r}"))
            ray.init(num_cpus=workers, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
            try:
                best["ray_running"] = min(best["ray_running"], timed(Executor("ray"), workers, folder, f"warm{r}"))
            finally:
                ray.shutdown()
    return {"runs": len(specs()), "workers": workers, "rounds": rounds, **{f"{k}_s": v for k, v in best.items()},
            "ratio_running": best["ray_running"] / best["local"],
            "ratio_with_start": best["ray_with_start"] / best["local"]}


def markdown(meta: dict, row: dict) -> str:
    return "\n".join([
        "# vgsuite executors: Ray against the local pool", "",
        f"{meta['date']}, Ray {meta['ray']}, {row['workers']} workers, {meta['cpu_model']}; code "
        f"{meta['code_version']}.", "",
        f"The same sweep ({row['runs']} runs: delayed recall gaps 5 and 10, {', '.join(ARCHS)} x 4 seeds, "
        f"{TRAIN.steps} steps, hidden 32) into a fresh store each time; best of {row['rounds']} rounds, "
        "alternating. The target (issue 17) is at most 1.3x the local pool's wall time.", "",
        "| executor | wall (s) | / local |", "|---|---:|---:|",
        f"| local pool ({row['workers']} processes) | {row['local_s']:.1f} | 1.00 |",
        f"| Ray, already running (`--address auto`) | {row['ray_running_s']:.1f} | {row['ratio_running']:.2f} |",
        f"| Ray, started and stopped by the sweep | {row['ray_with_start_s']:.1f} | {row['ratio_with_start']:.2f} |",
        "",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="local processes, and the local Ray's CPUs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="reports", help="folder for bench-executor.md and .json")
    args, _ = parser.parse_known_args(argv)  # nox passes the other benches' flags along too
    if args.workers < 1 or args.rounds < 1:
        parser.error("workers and rounds must be >= 1")
    ray = import_ray()
    row = measure(args.workers, args.rounds)
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "ray": ray.__version__,
            "cpu_model": cpu_model(), "code_version": code_version()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-executor.md").write_text(markdown(meta, row))
    (out / "bench-executor.json").write_text(json.dumps({"meta": meta, "result": row}, indent=1) + "\n")
    print(markdown(meta, row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
