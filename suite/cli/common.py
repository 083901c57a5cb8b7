"""Flags and helpers shared by the subcommands: run specs from flags, the results store."""

from __future__ import annotations

import argparse
import ast
import itertools
import math

from tasks import TASKS

from ..mitigations import CLIP_MODES, INITS
from ..models import ARCHITECTURES
from ..specs import OPTIMIZERS, ArchSpec, RunSpec, TaskSpec, TrainSpec
from .registry import UsageError


def parse_option(text: str) -> tuple[str, object]:
    """'key=value' with value read as a Python literal when it is one (4, 0.5, 'tcn')."""
    if "=" not in text:
        raise UsageError(f"options take the form key=value, got {text!r}")
    key, raw = text.split("=", 1)
    if "," in raw and not raw.strip().startswith(("'", '"')):
        raise UsageError(f"option {key.strip()!r} takes one value here, got {raw!r} (a list of values, "
                         "key=a,b,c, is for vgsuite sweep)")
    return _option_value(key, raw, text)


def parse_option_values(text: str) -> tuple[str, list]:
    """'key=a,b,c' -> (key, [a, b, c]): the values a sweep runs as a grid (one value: a list of one)."""
    if "=" not in text:
        raise UsageError(f"options take the form key=value, got {text!r}")
    key, raw = text.split("=", 1)
    items = [raw] if raw.strip().startswith(("'", '"')) else raw.split(",")
    return _option_value(key, items[0], text)[0], [_option_value(key, item, text)[1] for item in items]


def _option_value(key: str, raw: str, text: str) -> tuple[str, object]:
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        value = raw  # 1e999: the text, as for any other value that is not a literal
    if not (value is None or isinstance(value, (str, bool, int, float))):
        raise UsageError(f"option {key.strip()!r} takes a string, number, True, False or None, got {raw!r}")
    if not key.strip():
        raise UsageError(f"options take the form key=value with a non-empty key, got {text!r}")
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


def arch_grid_from_args(args, name: str) -> list[ArchSpec]:
    """One ArchSpec per combination of the --arch-option value lists (key=a,b: a sweep's grid)."""
    keys, lists = zip(*(parse_option_values(o) for o in args.arch_option)) if args.arch_option else ((), ())
    return [ArchSpec(name=name, hidden=args.hidden, layers=args.layers, init=args.init,
                     init_gain=args.init_gain, forget_bias=args.forget_bias, options=dict(zip(keys, values)))
            for values in itertools.product(*lists)]


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


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where training runs go: this machine's worker processes (local) or a Ray cluster "
                             "(ray; pip install 'vgsuite[ray]')")
    parser.add_argument("--address", default=None,
                        help="with --executor ray: 'auto' or HOST:PORT of a running cluster (default: start a "
                             "local Ray with --workers CPUs)")


def executor_from_args(args):
    """The Executor the flags name; Ray missing or an address without Ray is a UsageError."""
    from ..executors import Executor, ExecutorUnavailable, import_ray

    try:
        executor = Executor(args.executor, args.address)
        if executor.kind == "ray":
            import_ray()
    except (ValueError, ExecutorUnavailable) as exc:
        raise UsageError(str(exc)) from None
    return executor


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="PATH", default=None,
                        help="results store (default: $VGSUITE_STORE or .vgsuite/results.sqlite)")


def store_path(args):
    from pathlib import Path

    from ..store import default_store_path

    return Path(args.store) if args.store else default_store_path()


def open_store(path, *, must_exist: bool = False):
    """The Store at `path`; a foreign or corrupt file is a UsageError (exit 2), left untouched.
    `must_exist`: only read it (read-only, so that a store on read-only media can be read)."""
    from ..store import Store, StoreError

    if must_exist and not path.exists():
        raise UsageError(f"store: no results store at {str(path)!r} (a sweep creates one)")
    try:
        return Store(path, readonly=must_exist)
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def warn_skipped(command: str, store) -> None:
    """One line on stderr when reading skipped malformed rows (suite/store_rows.py)."""
    import sys

    if store.skipped:
        print(f"vgsuite {command}: warning: skipped {len(store.skipped)} malformed row(s) of {str(store.path)!r} "
              f"(first: {store.skipped[0]})", file=sys.stderr)

