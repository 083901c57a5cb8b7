"""vgsuite train and vgsuite probe: one run, one gradient-flow measurement."""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager

from tasks import TASKS

from ..mitigations import CLIP_MODES, INITS
from ..models import ARCHITECTURES
from ..specs import OPTIMIZERS, TrainSpec
from .common import (
    arch_from_args,
    spec_from_args,
    task_from_args,
)
from .registry import UsageError, subcommand


@contextmanager
def user_code(name: str, step: str):
    """A plug-in's errors during `step` as one line naming it (exit 1); a built-in's propagate."""
    from ..containment import contained
    from ..models import architecture
    from ..models.sequence import NoStepView

    if architecture(name).origin == "builtin":
        yield
        return
    with contained(f"arch {name}: {step}", ours=(NoStepView,)):  # no step view: bad input, exit 2
        yield


@subcommand("train", "train one run and compare it with the task's memoryless baseline")
def cmd_train(args) -> int:
    from ..environment import metadata
    from ..train import run

    spec = spec_from_args(args)
    with user_code(spec.arch.name, "training"):
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

    from ..environment import resolve_device
    from ..probes import PROBE_LOSSES, probe, summarise
    from ..progress import Progress

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
    steps = max(args.train_steps, 1)  # the training flags are validated even when unused
    train = TrainSpec(steps=steps, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                      clip=args.clip, clip_mode=args.clip_mode, eval_every=steps, early_stop=False)
    train = train if args.train_steps else None
    resolve_device(args.device)  # a named error for 'tpu' or an absent CUDA
    seeds = range(args.seed, args.seed + args.seeds)
    results = []
    with Progress(len(seeds), f"probe {task.name} gap {task.gap}, {arch.name}", unit="seed") as bar:
        for s in seeds:
            with user_code(arch.name, f"probing seed {s}"):
                results.append(probe(arch, task, s, batch=args.probe_batch, loss=args.loss, train=train,
                                     device=args.device))
            bar.update()
    summary = summarise(results)
    summary["settings"] = {"task": asdict(task.with_defaults()), "arch": asdict(arch), "seeds": list(seeds),
                           "loss": args.loss, "probe_batch": args.probe_batch,
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
