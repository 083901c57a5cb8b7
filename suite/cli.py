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
