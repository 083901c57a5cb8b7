"""The `vgsuite` command line. Each subcommand is a thin shell over the Python API.

    vgsuite train --task copy --gap 100 --arch lstm --forget-bias 1 --json

Bad input (an unknown name, a gap of 0, a malformed option) prints one line naming the parameter
and what is allowed, and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys

from tasks import TASKS

from .mitigations import CLIP_MODES, INITS
from .models import ARCHITECTURES
from .specs import OPTIMIZERS, ArchSpec, RunSpec, TaskSpec, TrainSpec

EXIT_BAD_INPUT = 2
SUBCOMMANDS: dict[str, tuple] = {}  # name -> (add_arguments, handler); filled by `subcommand`


class UsageError(ValueError):
    """Bad input from the command line."""


def subcommand(name: str, help: str):
    def register(handler):
        SUBCOMMANDS[name] = (help, handler)
        return handler

    return register


def parse_option(text: str) -> tuple[str, object]:
    """'key=value' with value read as a Python literal when it is one (4, 0.5, 'tcn')."""
    if "=" not in text:
        raise UsageError(f"options take the form key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def add_run_arguments(parser: argparse.ArgumentParser, *, single: bool = True) -> None:
    """Flags that describe a task, an architecture and a training protocol."""
    if single:
        parser.add_argument("--task", required=True, help=f"one of {', '.join(TASKS)}")
        parser.add_argument("--gap", type=int, required=True, help="the task's gap (>= 1)")
        parser.add_argument("--arch", default="rnn-tanh", help=f"one of {', '.join(ARCHITECTURES)}")
        parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                        help="task variant option, e.g. variant=tcn or loss_window=recall")
    parser.add_argument("--arch-option", action="append", default=[], metavar="KEY=VALUE",
                        help="architecture option, e.g. skip=4 for resrnn")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--init", default="default", help=f"recurrent init: {', '.join(INITS)}")
    parser.add_argument("--init-gain", type=float, default=1.0,
                        help="scale of the recurrent init (the spectral radius for orthogonal/identity)")
    parser.add_argument("--forget-bias", type=float, default=None, help="LSTM forget-gate bias")
    parser.add_argument("--clip", type=float, default=None, help="gradient clipping threshold")
    parser.add_argument("--clip-mode", default="norm", help=f"{' or '.join(CLIP_MODES)}")
    parser.add_argument("--steps", type=int, default=2000, help="step budget")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", help=f"one of {', '.join(OPTIMIZERS)}")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")


def arch_from_args(args, name: str) -> ArchSpec:
    return ArchSpec(
        name=name, hidden=args.hidden, layers=args.layers, init=args.init,
        init_gain=args.init_gain, forget_bias=args.forget_bias,
        options=dict(parse_option(o) for o in args.arch_option),
    )


def train_from_args(args) -> TrainSpec:
    return TrainSpec(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        clip=args.clip, clip_mode=args.clip_mode, eval_every=args.eval_every,
    )


def task_from_args(args, name: str, gap: int) -> TaskSpec:
    return TaskSpec(name, gap, dict(parse_option(o) for o in args.task_option))


def spec_from_args(args) -> RunSpec:
    return RunSpec(
        task=task_from_args(args, args.task, args.gap),
        arch=arch_from_args(args, args.arch),
        train=train_from_args(args),
        seed=args.seed,
        device=args.device,
    )


@subcommand("train", "train one run and compare it with the task's memoryless baseline")
def cmd_train(args) -> int:
    from .environment import metadata
    from .train import run

    spec = spec_from_args(args)
    result = run(spec)
    if args.json:
        print(json.dumps(result.to_dict() | {"key": spec.key, "spec": spec.to_dict(),
                                             "meta": metadata(spec.device)}, sort_keys=True))
        return 0
    task = result.task
    status = "DIVERGED" if result.diverged else ("solved" if result.solved else "not solved")
    print(f"{spec.task.name} gap {spec.task.gap} ({task['options']}), {spec.arch.name}, seed {spec.seed}")
    print(f"  {status} after {result.steps_run} steps"
          + (f" (criterion met at step {result.steps_to_solve})" if result.solved else ""))
    print(f"  criterion     : {task['criterion']}")
    print(f"  final loss    : {result.final_loss}   (memoryless baseline {result.baseline_loss:.4f})")
    print(f"  {task['metric']:<14}: {result.final_metric}   (memoryless {result.baseline_metric:.4f})")
    print(f"  parameters    : {result.num_parameters}, wall time {result.wall_s:.1f} s")
    return 0


# -- gradient-flow probes: vgsuite probe ----------------------------------------------------------


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    """The task and architecture flags of `train`, plus how many seeds and how to train first."""
    parser.add_argument("--task", required=True, help=f"one of {', '.join(TASKS)} (supplies the inputs)")
    parser.add_argument("--gap", type=int, required=True, help="the task's gap (>= 1)")
    parser.add_argument("--arch", default="rnn-tanh", help=f"one of {', '.join(ARCHITECTURES)}")
    parser.add_argument("--seed", type=int, default=0, help="first replicate seed")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (networks) to probe")
    parser.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--arch-option", action="append", default=[], metavar="KEY=VALUE",
                        help="architecture option, e.g. skip=4 for resrnn")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--init", default="default", help=f"recurrent init: {', '.join(INITS)}")
    parser.add_argument("--init-gain", type=float, default=1.0)
    parser.add_argument("--forget-bias", type=float, default=None, help="LSTM forget-gate bias")
    parser.add_argument("--loss", default="probe",
                        help="probe (u . h_T, u a fixed random unit vector) or task (the task's loss)")
    parser.add_argument("--probe-batch", type=int, default=16, help="sequences per seed")
    parser.add_argument("--train-steps", type=int, default=0,
                        help="train this many steps (suite.train.run) before probing; 0 = at init")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", help=f"one of {', '.join(OPTIMIZERS)}")
    parser.add_argument("--clip", type=float, default=None, help="gradient clipping during training")
    parser.add_argument("--clip-mode", default="norm", help=f"{' or '.join(CLIP_MODES)}")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")


@subcommand("probe", "measure how the gradient decays back through time (float64, log space)")
def cmd_probe(args) -> int:
    from dataclasses import asdict

    from .environment import resolve_device
    from .probes import PROBE_LOSSES, probe, summarise

    for name in ("seeds", "probe_batch"):
        value = getattr(args, name)
        if value < 1:
            raise UsageError(f"{name.replace('_', '-')} must be an integer >= 1, got {value}")
    if args.train_steps < 0:
        raise UsageError(f"train-steps must be an integer >= 0, got {args.train_steps}")
    if args.seed < 0:
        raise UsageError(f"seed must be an integer >= 0, got {args.seed}")
    if args.loss not in PROBE_LOSSES:
        raise UsageError(f"loss must be one of {list(PROBE_LOSSES)}, got {args.loss!r}")
    task = task_from_args(args, args.task, args.gap)
    arch = arch_from_args(args, args.arch)
    train = None
    if args.train_steps:
        train = TrainSpec(steps=args.train_steps, batch_size=args.batch_size, lr=args.lr,
                          optimizer=args.optimizer, clip=args.clip, clip_mode=args.clip_mode,
                          eval_every=args.train_steps, early_stop=False)
    resolve_device(args.device)  # a named error for 'tpu' or an absent CUDA
    seeds = range(args.seed, args.seed + args.seeds)
    results = [probe(arch, task, s, batch=args.probe_batch, loss=args.loss, train=train,
                     device=args.device) for s in seeds]
    summary = summarise(results)
    summary["settings"] = {"task": asdict(task.with_defaults()), "arch": asdict(arch), "seeds": list(seeds), "loss": args.loss, "probe_batch": args.probe_batch,
                           "train_steps": args.train_steps, "device": args.device}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    k, curve, spread = summary["k"], summary["log10_grad_norm"], summary["log10_grad_norm_seed_std"]
    when = f"after {args.train_steps} training steps" if args.train_steps else "at initialisation"
    print(f"{task.name} gap {task.gap}, {arch.name} (hidden {arch.hidden}, layers {arch.layers}, "
          f"init {arch.init} x{arch.init_gain:g}), {args.seeds} seed(s), {when}")
    print(f"  loss {args.loss!r}; float64 backward sweep in log space (no underflow)")
    print("  k       log10 ||dL/dh_(T-k)||   (mean over seeds of the batch mean; +- std over seeds)")
    lags = sorted({10 ** i for i in range(len(str(k[-1]))) if 10 ** i <= k[-1]} | {k[-1]})
    for lag in lags:
        value = curve[lag]
        text = "-inf (exact zero)" if value is None else f"{value:9.3f} +- {spread[lag] or 0:.3f}"
        print(f"  {lag:<7} {text}" + ("   (initial state)" if lag == k[-1] else ""))
    lo, hi = summary["ci95"]
    window = summary["fit_window"]
    print(f"  decay rate    : {summary['decay_log10_per_step']:.4f} decades/step, 95% CI [{lo:.4f}, {hi:.4f}]"
          f" (k = {window[0]}..{window[1]}; {summary['ci_method']})")
    horizon = summary["memory_horizon"]
    censored = " (censored: the whole sequence)" if summary["memory_horizon_censored"] else ""
    print(f"  memory horizon: {horizon} steps{censored}: the largest lag k with "
          "||dy_T/dx_(T-k)|| >= 1% of its peak")
    return 0


cmd_probe.add_arguments = add_probe_arguments


# -- sweeps and the results store: vgsuite sweep / show / export -----------------------------------

#: shared flags whose defaults come from --profile unless given explicitly
PROFILE_FLAGS = ("hidden", "steps", "batch_size", "lr", "optimizer", "clip", "clip_mode", "eval_every")


def comma_list(name: str, text: str | None, kind=str) -> list | None:
    """'10,30,100' -> [10, 30, 100]; None stays None."""
    if text is None:
        return None
    try:
        values = [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        raise UsageError(f"{name} must be a comma-separated list of {kind.__name__}s, got {text!r}") from None
    if not values:
        raise UsageError(f"{name} must not be empty, got {text!r}")
    return values


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="results store (default: $VGSUITE_STORE or .vgsuite/results.sqlite)")


def store_path(args):
    from pathlib import Path

    from .store import default_store_path

    return Path(args.store) if args.store else default_store_path()


def open_store(path, *, must_exist: bool = False):
    """The Store at `path`; a foreign or corrupt file is a UsageError (exit 2), left untouched."""
    from .store import Store, StoreError

    if must_exist and not path.exists():
        raise UsageError(f"store: no results store at {str(path)!r} (a sweep creates one)")
    try:
        return Store(path)
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def _add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help=f"task(s), comma-separated: {', '.join(TASKS)}")
    parser.add_argument("--gaps", help="comma-separated gaps (default: the profile's ladder per task)")
    parser.add_argument("--archs", default="rnn-tanh",
                        help=f"comma-separated architectures: {', '.join(ARCHITECTURES)}")
    parser.add_argument("--seeds", type=int, default=None,
                        help="replicate seeds per (task, gap, arch) (default: the profile's)")
    parser.add_argument("--master-seed", type=int, default=0,
                        help="the first seed; the seeds are master-seed, master-seed + 1, ...")
    parser.add_argument("--profile", default="quick",
                        help="quick or full: width, training, seeds and gaps unless given here")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, each with cores // workers torch threads")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process (default: cores // workers in workers, "
                             "torch's default in a single-process sweep)")
    add_store_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="count the runs to do, run none")
    add_run_arguments(parser, single=False)
    parser.set_defaults(**dict.fromkeys(PROFILE_FLAGS))  # None: "take it from the profile"


def sweep_specs(args) -> list[RunSpec]:
    """The grid the sweep flags describe; explicit flags override the profile's defaults."""
    from dataclasses import replace

    from .profiles import profile
    from .sweep import grid

    prof = profile(args.profile)
    if args.hidden is None:
        args.hidden = prof.hidden
    train = replace(prof.train, **{name: getattr(args, name) for name in PROFILE_FLAGS
                                   if name != "hidden" and getattr(args, name) is not None})
    return grid(
        comma_list("task", args.task), [arch_from_args(args, a) for a in comma_list("archs", args.archs)],
        profile=prof, gaps=comma_list("gaps", args.gaps, int), seeds=args.seeds,
        master_seed=args.master_seed, task_options=dict(parse_option(o) for o in args.task_option),
        train=train, device=args.device,
    )


@subcommand("sweep", "run a grid of runs, skipping those already in the results store")
def cmd_sweep(args) -> int:
    from .store import StoreError
    from .sweep import check_specs, ensure_runs

    specs = check_specs(sweep_specs(args))
    if args.workers < 1:
        raise UsageError(f"workers must be an integer >= 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {args.threads}")
    path = store_path(args)
    if args.dry_run:
        done = set()
        if path.exists():
            with open_store(path) as store:
                done = store.keys("ok")
        todo = sum(spec.key not in done for spec in specs)
        print(f"{len(specs)} runs in the grid, {len(specs) - todo} already stored in {path}, {todo} to run")
        return 0
    if args.threads is not None:
        from .environment import set_threads

        set_threads(args.threads)  # for runs in this process; workers get it through ensure_runs
    try:
        summary = ensure_runs(specs, path, workers=args.workers, threads=args.threads)
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
    """The store's records that pass the filter flags, ordered for reading."""
    from .sweep import mitigations

    where = {}
    for flag, path, kind in (("task", "task.name", str), ("arch", "arch.name", str), ("gap", "task.gap", int)):
        values = comma_list(flag, getattr(args, flag), kind)
        if values is not None:
            where[path] = values
    with open_store(store_path(args), must_exist=True) as store:
        records = store.query(where, status=None if args.status == "all" else args.status)
    return sorted(records, key=lambda r: (r.spec["task"]["name"], r.spec["task"]["gap"],
                                          r.spec["arch"]["name"], mitigations(r.spec),
                                          r.spec["seed"], r.key))


def _cell(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


@subcommand("show", "list the runs in the results store")
def cmd_show(args) -> int:
    from tabulate import tabulate

    from .sweep import mitigations

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
                     r.spec["arch"]["name"], mitigations(r.spec), r.spec["seed"], solved,
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
    records = stored_records(args)
    with open_store(store_path(args)) as store:
        count = (store.export_jsonl if fmt == "jsonl" else store.export_csv)(out, records)
    if args.json:
        print(json.dumps({"count": count, "format": fmt, "out": str(out)}, sort_keys=True))
    else:
        print(f"wrote {count} runs to {out} ({fmt})")
    return 0


cmd_export.add_arguments = _add_export_arguments


# -- verdicts and the report: vgsuite claims / report ----------------------------------------------


def _add_claims_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser)
    parser.add_argument("--profile", default="quick", help="quick (CI) or full (the report)")
    parser.add_argument("--master-seed", type=int, default=0, help="shifts every replicate seed")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for training runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in this process (small RNNs run fastest on 1 per process)")
    parser.add_argument("--cache", metavar="PATH", default=None,
                        help="verdict and figure cache (default: cache.json beside the store)")
    parser.add_argument("--only", help="comma-separated claim ids (default: all)")


def claims_context(args):
    from .claims import Context
    from .environment import resolve_device, set_threads

    if args.workers < 1:
        raise UsageError(f"workers must be an integer >= 1, got {args.workers}")
    if args.threads < 1:
        raise UsageError(f"threads must be an integer >= 1, got {args.threads}")
    resolve_device(args.device)
    set_threads(args.threads)
    path = store_path(args)
    store = open_store(path)
    context = Context(profile=args.profile, device=args.device, master_seed=args.master_seed,
                      store=store, workers=args.workers)
    return context, (args.cache or path.parent / "cache.json")


def selected_claims(args) -> list:
    from .claims import CLAIMS, claim_by_id

    ids = comma_list("only", args.only)
    return [claim_by_id(i) for i in ids] if ids else list(CLAIMS)


@subcommand("claims", "evaluate the claims into verdicts (training what the store lacks)")
def cmd_claims(args) -> int:
    from .cache import ResultCache
    from .claims.evaluate import evaluate, planned_runs
    from .sweep import ensure_runs

    context, cache_path = claims_context(args)
    claims = selected_claims(args)
    if args.runs_only:
        summary = ensure_runs(planned_runs(context, claims), context.store, workers=args.workers)
        print(f"claims' runs: {summary}")
        return 1 if summary.failed else 0
    evaluated = evaluate(context, claims, ResultCache(cache_path))
    if args.json:
        print(json.dumps([e.verdict.to_dict() | {"expected": e.claim.expected, "p_holm": e.p_holm}
                          for e in evaluated], sort_keys=True))
    else:
        for e in evaluated:
            mark = "ok " if e.matches_expected else "DIFFERS"
            print(f"{mark} {e.verdict.summary()} (expected {e.claim.expected})")
    mismatched = [e.claim.id for e in evaluated if not e.matches_expected]
    if args.check and mismatched:
        print(f"vgsuite claims: {len(mismatched)} verdict(s) differ from the expected: {', '.join(mismatched)}",
              file=sys.stderr)
        return 1
    return 0


def _add_claims_command_arguments(parser):
    _add_claims_arguments(parser)
    parser.add_argument("--runs-only", action="store_true", help="only train the runs the claims need")
    parser.add_argument("--check", action="store_true", help="exit 1 when a verdict differs from the expected")


cmd_claims.add_arguments = _add_claims_command_arguments


@subcommand("report", "evaluate every claim and write the report (index.md, tables, figures)")
def cmd_report(args) -> int:
    import time
    from pathlib import Path

    from .cache import ResultCache
    from .report import build

    if args.only:
        raise UsageError("only is not accepted by report: the report covers every claim")
    started = time.perf_counter()
    context, cache_path = claims_context(args)
    report = build(context, ResultCache(cache_path), Path(args.out))
    differ = [e.claim.id for e in report.evaluated if not e.matches_expected]
    print(f"report: {args.out}/index.md ({len(report.evaluated)} claims, {len(report.tables)} tables, "
          f"{len(report.figures)} figures) in {time.perf_counter() - started:.1f} s"
          + (f"; verdicts differing from the expected: {', '.join(differ)}" if differ else ""))
    return 0


def _add_report_arguments(parser):
    _add_claims_arguments(parser)
    parser.add_argument("--out", default="reports", help="output folder (default: reports)")


cmd_report.add_arguments = _add_report_arguments


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="vgsuite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"vgsuite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, handler) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        getattr(handler, "add_arguments", add_run_arguments)(p)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:  # our validation errors name the parameter; no traceback
        print(f"vgsuite {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
