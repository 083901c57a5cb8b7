"""vgsuite check and compare: a user's architecture through the battery; regressions vs a baseline."""

from __future__ import annotations

import argparse
import json
import sys

from .common import (
    add_executor_arguments,
    add_store_argument,
    comma_list,
    executor_from_args,
    open_store,
    parse_option,
    store_path,
)
from .outputs import writable_file
from .registry import UsageError, subcommand


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", required=True,
                        help="a built-in name, a registered or entry-point name, or an import path "
                             "'package.module:Class' / 'path/to/file.py:Class' (a cell or a RecurrentModel)")
    parser.add_argument("--arch-option", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword option for the architecture's constructor")
    parser.add_argument("--profile", default="quick",
                        help="quick (minutes: delayed recall, 3 seeds) or full (every task, the full profile)")
    parser.add_argument("--tasks", help="comma-separated tasks to probe and train on (default: the battery's)")
    parser.add_argument("--gaps", help="comma-separated gap ladder for every task (default: the battery's)")
    parser.add_argument("--seeds", type=int, default=None, help="training seeds per gap")
    parser.add_argument("--steps", type=int, default=None, help="training step budget")
    parser.add_argument("--hidden", type=int, default=None, help="hidden size (default: the battery's)")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--probe-gap", type=int, default=None, help="gap of the probes' input sequences")
    parser.add_argument("--probe-seeds", type=int, default=None, help="networks probed per architecture (>= 2)")
    parser.add_argument("--probe-batch", type=int, default=None, help="sequences per probed network")
    parser.add_argument("--baselines", default=None,
                        help="comma-separated architectures to compare with (default rnn-tanh,lstm,gru; 'none')")
    parser.add_argument("--no-train", action="store_true", help="skip the critical gaps (contract and probes only)")
    parser.add_argument("--max-gap", type=int, default=None,
                        help="past the ladder's top, double the gap while a cell still solves it, up to this gap "
                             "(default 4x the top: two doublings; 0: the ladder only)")
    parser.add_argument("--expect", action="append", default=[], metavar="EXPR",
                        help="METRIC OP VALUE, e.g. 'critical_gap.delayed_recall>=100' or 'decay>lstm' "
                             "(metrics: decay, horizon, critical_gap[.task]); judged by a stated test at 5 %% "
                             "(suite/expectations.py); any not met or not decided: exit 1")
    add_store_argument(parser)
    parser.add_argument("--workers", type=int, default=1, help="worker processes for training runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in this process")
    add_executor_arguments(parser)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")


@subcommand("check", "run the architecture battery (contract, gradient decay, memory, critical gaps) on one "
                     "architecture, e.g. your own cell, against rnn-tanh, LSTM and GRU")
def cmd_check(args) -> int:
    from ..check import make_battery, parse_expectation, run_check
    from ..environment import resolve_device, set_threads
    from ..models import architecture

    for name in ("workers", "threads"):
        if getattr(args, name) < 1:
            raise UsageError(f"{name} must be an integer >= 1, got {getattr(args, name)}")
    resolve_device(args.device)
    baselines = [] if args.baselines == "none" else comma_list("baselines", args.baselines)
    battery = make_battery(
        args.profile, tasks=comma_list("tasks", args.tasks), gaps=comma_list("gaps", args.gaps, int),
        seeds=args.seeds, steps=args.steps, hidden=args.hidden, layers=args.layers, probe_gap=args.probe_gap,
        probe_seeds=args.probe_seeds, probe_batch=args.probe_batch, baselines=baselines, train=not args.no_train,
        max_gap=args.max_gap)
    architecture(args.arch)  # bad names and expectations: exit 2 before anything runs
    for text in args.expect:
        parse_expectation(text, battery)
    options = dict(parse_option(o) for o in args.arch_option)
    if not args.no_train:
        writable_file(store_path(args), "store")
    set_threads(args.threads)
    log = None if args.json else (lambda text: print(f"[check] {text}", file=sys.stderr, flush=True))
    with open_store(store_path(args)) as store:
        report = run_check(args.arch, battery, options=options, expect=args.expect, store=store,
                           device=args.device, workers=args.workers, log=log,
                           executor=executor_from_args(args))
    print(json.dumps(report.to_dict(), sort_keys=True) if args.json else report.render())
    return report.exit_code


cmd_check.add_arguments = _add_check_arguments


def _add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="the baseline: reports/baseline.json, a report's results.json, ...")
    parser.add_argument("new", help="the new run: a folder of verdict lines ($VGSUITE_VERDICTS), a "
                                    "baseline-format file, a results.json or `vgsuite claims --json` output")
    parser.add_argument("--update", action="store_true",
                        help="after showing the differences, make NEW the baseline (writes BASE); exit 0")
    parser.add_argument("--rtol", type=float, default=None,
                        help="relative tolerance for numbers the baseline gives without a CI (default 0.05)")
    parser.add_argument("--device", default=None, help="which device's verdicts to read from a folder (default cpu)")


@subcommand("compare", "compare a run's verdicts with a baseline claim by claim; exit 1 on a regression")
def cmd_compare(args) -> int:
    from pathlib import Path

    from ..regression import DEFAULT_RTOL, compare, load_verdicts, write_baseline

    base_path = Path(args.base)
    if args.update:
        writable_file(base_path, "base")
    new = load_verdicts(args.new, device=args.device)
    if args.update and not base_path.exists():
        write_baseline(new, base_path)
        print(f"baseline written: {base_path} ({len(new.verdicts)} claims, {new.profile} profile)")
        return 0
    comparison = compare(load_verdicts(base_path), new, DEFAULT_RTOL if args.rtol is None else args.rtol)
    print(json.dumps(comparison.to_dict(), sort_keys=True) if args.json else comparison.render())
    if args.update:
        write_baseline(new, base_path)
        print(f"baseline updated: {base_path} ({len(new.verdicts)} claims)", file=sys.stderr)
        return 0
    return comparison.exit_code


cmd_compare.add_arguments = _add_compare_arguments
