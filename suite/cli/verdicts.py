"""vgsuite claims and report: verdicts and the citable report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import (
    add_executor_arguments,
    add_store_argument,
    comma_list,
    executor_from_args,
    open_store,
    store_path,
)
from .outputs import writable_dir, writable_file
from .registry import UsageError, subcommand


def _add_claims_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    parser.add_argument("--profile", default="quick",
                        help="quick (CI), full (the report) or paper (the literature's protocols, for a GPU or "
                             "a cluster: see claims --plan)")
    parser.add_argument("--master-seed", type=int, default=0, help="shifts every replicate seed")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for training runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in this process (small RNNs run fastest on 1 per process)")
    add_executor_arguments(parser)
    parser.add_argument("--cache", metavar="PATH", default=None,
                        help="verdict and figure cache (default: cache.json beside the store)")
    parser.add_argument("--only", help="comma-separated claim ids (default: all)")


def claims_context(args):
    from ..claims import Context
    from ..environment import resolve_device, set_threads

    if args.workers < 1:
        raise UsageError(f"workers must be an integer >= 1, got {args.workers}")
    if args.threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {args.threads}")
    resolve_device(args.device)
    set_threads(args.threads)
    path = store_path(args)
    cache = Path(args.cache) if args.cache else path.parent / "cache.json"
    if getattr(args, "out", None) is not None:
        writable_dir(args.out, "out")  # the report's folder, before any training
    writable_file(path, "store")
    writable_file(cache, "cache")
    store = open_store(path)
    context = Context(profile=args.profile, device=args.device, master_seed=args.master_seed,
                      store=store, workers=args.workers, executor=executor_from_args(args))
    return context, cache


def selected_claims(args) -> list:
    from ..claims import CLAIMS, claim_by_id

    ids = comma_list("only", args.only)
    return [claim_by_id(i) for i in ids] if ids else list(CLAIMS)


@subcommand("claims", "evaluate the claims into verdicts (training what the store lacks)")
def cmd_claims(args) -> int:
    from ..cache import ResultCache
    from ..claims.evaluate import evaluate, planned_runs, report_runs
    from ..sweep import ensure_runs

    if args.plan:
        return _plan(args)
    context, cache_path = claims_context(args)
    claims = selected_claims(args)
    if args.runs_only:
        # the whole report's runs (tuning and confirmation runs too) unless --only narrows it
        specs = planned_runs(context, claims) if args.only else report_runs(context)
        summary = ensure_runs(specs, context.store, workers=args.workers, executor=context.executor)
        print(f"claims' runs: {summary}")
        return 1 if summary.failed else 0
    evaluated = evaluate(context, claims, ResultCache(cache_path))
    if args.json:
        print(json.dumps([e.verdict.to_dict() | {"expected": e.expected, "p_holm": e.p_holm}
                          for e in evaluated], sort_keys=True))
    else:
        for e in evaluated:
            mark = "ok " if e.matches_expected else "DIFFERS"
            print(f"{mark} {e.verdict.summary()} (expected {e.expected})")
    mismatched = [e.claim.id for e in evaluated if not e.matches_expected]
    if args.check and mismatched:
        print(f"vgsuite claims: {len(mismatched)} verdict(s) differ from the expected: {', '.join(mismatched)}",
              file=sys.stderr)
        return 1
    return 0


def _plan(args) -> int:
    """Runs, steps and a timed compute estimate of the claims under a profile; opens no store."""
    from ..claims import Context
    from ..environment import resolve_device, set_threads
    from ..plan import make_plan

    for flag in ("runs_only", "check"):
        if getattr(args, flag):
            raise UsageError(f"{flag.replace('_', '-')} is not accepted with plan: a plan trains and decides nothing")
    if args.threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {args.threads}")
    context = Context(profile=args.profile, device=args.device, master_seed=args.master_seed)
    claims = selected_claims(args)
    resolve_device(args.device)
    set_threads(args.threads)
    plan = make_plan(context, claims)
    print(json.dumps(plan.to_dict(), sort_keys=True) if args.json else "\n".join(plan.lines()))
    return 0


def _add_claims_command_arguments(parser):
    _add_claims_arguments(parser)
    parser.add_argument("--plan", action="store_true",
                        help="print the runs, steps and an estimated cost per claim without training (times a "
                             "few steps of each model shape)")
    parser.add_argument("--runs-only", action="store_true", help="only train the runs the claims need")
    parser.add_argument("--check", action="store_true", help="exit 1 when a verdict differs from the expected")


cmd_claims.add_arguments = _add_claims_command_arguments


@subcommand("report", "evaluate every claim and write the report (index.md, tables, figures)")
def cmd_report(args) -> int:
    import time
    from pathlib import Path

    from ..cache import ResultCache
    from ..evidence import gather
    from ..report import render

    if args.only:
        raise UsageError("only is not accepted by report: the report covers every claim")
    started = time.perf_counter()
    context, cache_path = claims_context(args)
    report = render(gather(context, ResultCache(cache_path)), Path(args.out))
    differ = [e.claim.id for e in report.evaluated if not e.matches_expected]
    print(f"report: {args.out}/index.md ({len(report.evaluated)} claims, {len(report.tables)} tables, "
          f"{len(report.figures)} figures) in {time.perf_counter() - started:.1f} s"
          + (f"; verdicts differing from the expected: {', '.join(differ)}" if differ else ""))
    return 0


def _add_report_arguments(parser):
    _add_claims_arguments(parser)
    parser.add_argument("--out", default="reports", help="output folder (default: reports)")


cmd_report.add_arguments = _add_report_arguments
