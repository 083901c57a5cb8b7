"""The `claims` step of plain `nox` on a warm store: this checkout against an earlier commit.

    python benchmarks/claims_bench.py --store .vgsuite/results.sqlite --before b9a3f80
    nox -s bench -- --claims-store .vgsuite/results.sqlite --claims-before b9a3f80

What `nox` times as its `claims` step is `vgsuite claims --check --profile full --workers 2` on a
store that already holds every run, after a code change (so no verdict is cached). Each variant,
this checkout and the earlier commit (checked out into a temporary git worktree), runs it on its
own copy of the store, twice: the first run decides every claim from scratch; the second runs
after the cached verdicts are dropped (what a code change does) but with what the first run
remembered (the claims' durations, which order them longest first, where the code has that). The
variants run one after the other on the same machine, so the ratios are side by side. Both
print every verdict; the table says whether they agree. Writes reports/bench-claims.md and .json.
Several minutes per variant on 2 cores (full profile).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a (possibly WAL-mode, possibly open) SQLite store."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def drop_verdicts(cache: Path) -> None:
    """What a code change does to the cache: every verdict is stale; remembered durations stay."""
    if cache.exists():
        entries = json.loads(cache.read_text())
        cache.write_text(json.dumps({k: v for k, v in entries.items() if k.startswith("duration:")}))


def claims_step(root: Path, store: Path, cache: Path, profile: str, workers: int) -> tuple[float, str]:
    """Wall seconds of `vgsuite claims --check` run from `root`'s code, and what it printed."""
    env = os.environ | {"PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "suite.cli", "claims", "--check", "--profile", profile,
               "--workers", str(workers), "--store", str(store), "--cache", str(cache)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: a verdict differs from the expected one (still timed)
        raise RuntimeError(f"claims failed under {root}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def measure(name: str, root: Path, store: Path, work: Path, profile: str, workers: int, log) -> dict:
    own_store, cache = work / f"{name}.sqlite", work / f"{name}-cache.json"
    copy_store(store, own_store)
    first, printed = claims_step(root, own_store, cache, profile, workers)
    log(f"{name}: first run {first:.0f} s")
    drop_verdicts(cache)
    again, printed_again = claims_step(root, own_store, cache, profile, workers)
    log(f"{name}: after a code change {again:.0f} s")
    return {"variant": name, "first_s": first, "warm_s": again, "verdicts": printed_again,
            "stable": printed == printed_again}


def markdown(meta: dict, rows: list[dict]) -> str:
    base = rows[0]
    lines = ["# vgsuite claims step", "",
             f"{meta['date']}; `vgsuite claims --check --profile {meta['profile']} --workers {meta['workers']}` "
             f"on copies of one store of {meta['runs']} runs; the variants one after the other on this machine. "
             "*first*: every claim decided from scratch; *after a code change*: the cached verdicts dropped, "
             "what the first run remembered kept.", "",
             "| variant | first s | after a code change s | vs before | verdicts as before |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['first_s']:.0f} | {r['warm_s']:.0f} | "
                     f"{r['warm_s'] / base['warm_s']:.2f}x | {'yes' if r['verdicts'] == base['verdicts'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", "--claims-store", dest="store", required=True,
                        help="a store that holds every run of the profile")
    parser.add_argument("--before", "--claims-before", dest="before", required=True,
                        help="the earlier commit to compare with (any git revision)")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="reports", help="folder for bench-claims.md and .json")
    args, _ = parser.parse_known_args(argv)
    store = Path(args.store)
    if not store.is_file():
        parser.error(f"store: no such file {store}")
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="vgsuite-claims-bench-") as tmp:
        work = Path(tmp)
        before = work / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            rows = [measure(f"before ({args.before})", before, store, work, args.profile, args.workers, log),
                    measure("this checkout", ROOT, store, work, args.profile, args.workers, log)]
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
        with sqlite3.connect(work / "this checkout.sqlite") as db:
            runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "profile": args.profile,
            "workers": args.workers, "runs": runs, "before": args.before}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-claims.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (out / "bench-claims.md").write_text(markdown(meta, rows))
    log(f"wrote {out / 'bench-claims.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
