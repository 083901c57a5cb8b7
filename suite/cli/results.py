"""vgsuite sweep, show and export: many runs and the results store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tasks import TASKS

from ..models import ARCHITECTURES
from ..specs import RunSpec
from .common import (
    add_executor_arguments,
    add_run_arguments,
    add_store_argument,
    arch_grid_from_args,
    comma_list,
    executor_from_args,
    open_store,
    parse_option,
    store_path,
    warn_skipped,
)
from .outputs import writable_file
from .registry import UsageError, subcommand

#: shared flags whose defaults come from --profile unless given explicitly
PROFILE_FLAGS = ("hidden", "steps", "batch_size", "lr", "optimizer", "clip", "clip_mode", "eval_every")



def _add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help=f"task(s), comma-separated: {', '.join(TASKS)}")
    parser.add_argument("--gaps", help="comma-separated gaps (default: the profile's ladder per task)")
    parser.add_argument("--archs", default="rnn-tanh",
                        help=f"comma-separated architectures: {', '.join(ARCHITECTURES)}")
    parser.add_argument("--seeds", type=int, default=None,
                        help="replicate seeds per (task, gap, arch) (default: the profile's)")
    parser.add_argument("--master-seed", type=int, default=0,
                        help="which block of replicate seeds: master-seed * 10000 + 0, 1, ... "
                             "(the seeds `vgsuite claims --master-seed` reads)")
    parser.add_argument("--profile", default="quick",
                        help="quick, full or paper: width, training, seeds and gaps unless given here")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, each with cores // workers torch threads")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process (default: cores // workers in workers, "
                             "torch's default in a single-process sweep)")
    add_executor_arguments(parser)
    parser.add_argument("--shard", metavar="I/N", default=None,
                        help="run only the I-th of N disjoint parts of the grid (whole training groups), e.g. "
                             "one per machine of a Slurm array; combine the stores with vgsuite merge")
    add_store_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="count the runs to do, run none")
    add_run_arguments(parser, single=False)
    parser.set_defaults(**dict.fromkeys(PROFILE_FLAGS))  # None: "take it from the profile"


def sweep_specs(args) -> list[RunSpec]:
    """The grid the sweep flags describe; explicit flags override the profile's defaults."""
    from dataclasses import replace

    from ..profiles import profile
    from ..sweep import grid

    prof = profile(args.profile)
    if args.hidden is None:
        args.hidden = prof.hidden
    train = replace(prof.train, **{name: getattr(args, name) for name in PROFILE_FLAGS
                                   if name != "hidden" and getattr(args, name) is not None})
    return grid(
        comma_list("task", args.task), [spec for a in comma_list("archs", args.archs)
                                        for spec in arch_grid_from_args(args, a)],
        profile=prof, gaps=comma_list("gaps", args.gaps, int), seeds=args.seeds,
        master_seed=args.master_seed, task_options=dict(parse_option(o) for o in args.task_option),
        train=train, device=args.device,
    )


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (2, 8): the second of eight parts."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"shard must be I/N with integers 1 <= I <= N, e.g. 2/8, got {text!r}") from None
    if not 1 <= index <= count:
        raise UsageError(f"shard must be I/N with integers 1 <= I <= N, e.g. 2/8, got {text!r}")
    return index, count


@subcommand("sweep", "run a grid of runs, skipping those already in the results store")
def cmd_sweep(args) -> int:
    from ..store import StoreError
    from ..sweep import check_specs, ensure_runs, shard

    executor = executor_from_args(args)
    specs = check_specs(sweep_specs(args), devices=executor.kind == "local")  # on Ray: the workers' devices
    if args.shard is not None:
        index, count = parse_shard(args.shard)
        specs = shard(specs, index, count)
    if args.workers < 1:
        raise UsageError(f"workers must be an integer >= 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {args.threads}")
    path = store_path(args)
    if not args.dry_run:
        writable_file(path, "store")  # before any training
    if args.dry_run:
        done = set()
        if path.exists():
            with open_store(path, must_exist=True) as store:
                done = store.keys("ok")
        todo = sum(spec.key not in done for spec in specs)
        print(f"{len(specs)} runs in the grid, {len(specs) - todo} already stored in {path}, {todo} to run")
        return 0
    if args.threads is not None:
        from ..environment import set_threads

        set_threads(args.threads)  # for runs in this process; workers get it through ensure_runs
    try:
        summary = ensure_runs(specs, path, workers=args.workers, threads=args.threads, executor=executor)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        print("vgsuite sweep: interrupted; finished runs are stored in "
              f"{path}: run the same command again to do the rest", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(summary.to_dict() | {"store": str(path)}, sort_keys=True))
    else:
        print(f"sweep: {summary}\nstore: {path}")
    return 1 if summary.failed else 0


cmd_sweep.add_arguments = _add_sweep_arguments


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    parser.add_argument("--task", help="only these tasks (comma-separated)")
    parser.add_argument("--arch", help="only these architectures (comma-separated)")
    parser.add_argument("--gap", help="only these gaps (comma-separated)")
    parser.add_argument("--status", default="all", choices=("ok", "failed", "all"))


def stored_records(args) -> list:
    """The store's well-formed records that pass the filter flags, ordered for reading."""
    from ..labels import spec_mitigation_label
    from ..store_rows import run_problem

    where = {}
    for flag, path, kind in (("task", "task.name", str), ("arch", "arch.name", str), ("gap", "task.gap", int)):
        values = comma_list(flag, getattr(args, flag), kind)
        if values is not None:
            where[path] = values
    with open_store(store_path(args), must_exist=True) as store:
        records = store.query(where, status=None if args.status == "all" else args.status)
        for record in records:
            problem = run_problem(record)
            if problem:
                store.skipped.append(problem)
        records = [r for r in records if run_problem(r) is None]
        warn_skipped(args.command, store)
    return sorted(records, key=lambda r: (r.spec["task"]["name"], r.spec["task"]["gap"],
                                          r.spec["arch"]["name"], spec_mitigation_label(r.spec),
                                          r.spec["seed"], r.key))


def _cell(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


@subcommand("show", "list the runs in the results store")
def cmd_show(args) -> int:
    from tabulate import tabulate

    from ..labels import spec_mitigation_label

    records = stored_records(args)
    if args.json:
        print(json.dumps([{"key": r.key, "status": r.status, "error": r.error, "created": r.created,
                           "spec": r.spec, "result": r.result, "meta": r.meta} for r in records],
                         sort_keys=True))
        return 0
    rows = []
    for r in records:
        res = r.result
        solved = "-" if r.status != "ok" else ("diverged" if res.get("diverged")
                                               else "yes" if res.get("solved") else "no")
        rows.append([r.key[:10], r.status, r.spec["task"]["name"], r.spec["task"]["gap"],
                     r.spec["arch"]["name"], spec_mitigation_label(r.spec), r.spec["seed"], solved,
                     _cell(res.get("steps_to_solve")), _cell(res.get("final_metric"), ".4g"),
                     _cell(res.get("wall_s"), ".1f")])
    headers = ["key", "status", "task", "gap", "arch", "mitigations", "seed", "solved",
               "steps_to_solve", "final metric", "wall s"]
    if rows:
        print(tabulate(rows, headers, disable_numparse=True))
    failed = [r for r in records if r.status == "failed"]
    for r in failed:
        print(f"failed {r.key[:10]}: {(r.error or 'unknown error').splitlines()[0]}")
    print(f"{len(records)} runs ({len(records) - len(failed)} ok, {len(failed)} failed) "
          f"in {store_path(args)}")
    return 0


cmd_show.add_arguments = _add_filter_arguments


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    _add_filter_arguments(parser)
    parser.add_argument("--format", choices=("jsonl", "csv"), default=None,
                        help="file format (default: from the --out suffix)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write")


@subcommand("export", "export runs from the results store as JSON lines or CSV")
def cmd_export(args) -> int:
    from pathlib import Path

    out = Path(args.out)
    fmt = args.format or out.suffix.lstrip(".")
    if fmt not in ("jsonl", "csv"):
        raise UsageError(f"format must be jsonl or csv; give --format (cannot tell from {args.out!r})")
    if out.exists() and out.resolve() == store_path(args).resolve():
        raise UsageError(f"out {args.out!r} is the results store itself; choose another file")
    writable_file(out, "out")
    records = stored_records(args)
    with open_store(store_path(args), must_exist=True) as store:
        count = (store.export_jsonl if fmt == "jsonl" else store.export_csv)(out, records)
    if args.json:
        print(json.dumps({"count": count, "format": fmt, "out": str(out)}, sort_keys=True))
    else:
        print(f"wrote {count} runs to {out} ({fmt})")
    return 0


cmd_export.add_arguments = _add_export_arguments


def _add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="STORE", help="results stores to merge (read only)")
    parser.add_argument("--out", required=True, metavar="PATH", help="the merged store (created, or merged into)")
    parser.add_argument("--rtol", type=float, default=None,
                        help="relative tolerance within which two ok rows of one key agree (default 1e-6)")


@subcommand("merge", "combine results stores (e.g. the shards of a sweep) into one; rows of one key that "
                     "disagree are reported (exit 1), never overwritten")
def cmd_merge(args) -> int:
    from ..merge import DEFAULT_RTOL, merge

    out = Path(args.out)
    for path in args.inputs:
        open_store(Path(path), must_exist=True).close()  # each input is a store, before anything is written
    writable_file(out, "out")
    try:
        summary = merge(args.inputs, out, rtol=DEFAULT_RTOL if args.rtol is None else args.rtol)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps(summary.to_dict() | {"out": str(out)}, sort_keys=True) if args.json
          else f"merge: {summary}\nstore: {out}")
    return 1 if summary.conflicts else 0


cmd_merge.add_arguments = _add_merge_arguments
