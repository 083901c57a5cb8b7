"""Size limits: what a run or a probe would need, estimated before anything is allocated.

A typo such as `--gap 1000000000`, `--hidden 100000` or `--batch-size 10000000` used to reach the
allocator (a traceback after minutes, or a machine swapping for hours). Every entry point that
builds a network or draws data (`suite.train.run`, a sweep's grid before its first run, the probes,
the architecture check) first asks `check_run` / `check_probe`, which refuse with a `SizeError`
(a ValueError: one line, exit status 2 on the command line) naming the parameters, the estimate,
the limit and the variable that raises it:

    VGSUITE_MAX_MEMORY_GB   estimated peak memory of one run or one probed network (default 8)
    VGSUITE_MAX_LAYERS      stacked recurrent layers (default 64): a deep stack is call-bound, and
                            1000 layers of a small RNN run for hours before the first evaluation

The estimates are deliberately generous upper bounds (float32 training, float64 probes; the
training batch's inputs, targets and stored activations, the held-out set, the parameters with
their gradients and optimizer state), not measurements: every profile of the suite needs a few
MB, so the default limits stand far above anything the claims, tests or examples ask for.
"""

from __future__ import annotations

import os

MEMORY_ENV = "VGSUITE_MAX_MEMORY_GB"
LAYERS_ENV = "VGSUITE_MAX_LAYERS"
DEFAULT_MEMORY_GB = 8.0
DEFAULT_LAYERS = 64
GIB = 2**30

#: activations stored per hidden unit, layer and time step for the backward pass (an LSTM keeps
#: four gates, the cell and the state; with slack for temporaries)
TRAIN_ACTIVATIONS = 8
#: the probes' float64 backward sweep keeps states, leaves and per-step gradients
PROBE_ACTIVATIONS = 16
#: weight copies in training: the weights, their gradients and two Adam moments
WEIGHT_COPIES = 4
#: a batch is drawn as int64 tokens and targets (two float32 slots each) and made one-hot; the
#: drawing holds about two copies at once
INT64_TOKENS, DATA_COPIES = 4, 2
#: the stacked trainer evaluates in chunks of at most this many examples' activations
EVAL_CHUNK = 64


class SizeError(ValueError):
    """A run or probe that would need more than a limit allows."""


def _limit(env: str, default: float, kind=float) -> float:
    raw = os.environ.get(env)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SizeError(f"{env} must be a positive {kind.__name__}, got {raw!r}") from None
    if not value > 0:
        raise SizeError(f"{env} must be a positive {kind.__name__}, got {raw!r}")
    return value


def memory_limit_bytes() -> float:
    return _limit(MEMORY_ENV, DEFAULT_MEMORY_GB) * GIB


def layers_limit() -> int:
    return int(_limit(LAYERS_ENV, DEFAULT_LAYERS, int))


def weights(input_size: int, output_size: int, hidden: int, layers: int) -> int:
    """Parameters of a stacked recurrent network, counted as if gated (4 gates) to bound any cell."""
    first = 4 * hidden * (input_size + hidden + 2)
    rest = (layers - 1) * 4 * hidden * (2 * hidden + 2)
    return first + rest + output_size * (hidden + 1)


def run_bytes(task, hidden: int, layers: int, batch_size: int, eval_size: int) -> int:
    """Upper bound on one float32 training run's peak memory."""
    seq, data = task.seq_len, DATA_COPIES * (task.input_size + task.output_size + INT64_TOKENS)
    batch = batch_size * seq * (data + TRAIN_ACTIVATIONS * hidden * layers)
    held_out = eval_size * seq * data + min(eval_size, EVAL_CHUNK) * seq * TRAIN_ACTIVATIONS * hidden * layers
    return 4 * (batch + held_out + WEIGHT_COPIES * weights(task.input_size, task.output_size, hidden, layers))


def probe_bytes(task, hidden: int, layers: int, batch: int) -> int:
    """Upper bound on one probed network's peak memory (float64, the whole sequence kept)."""
    seq = task.seq_len
    states = batch * seq * (task.input_size + PROBE_ACTIVATIONS * hidden * layers)
    return 8 * (states + 2 * weights(task.input_size, task.output_size, hidden, layers))


def _check_layers(layers: int) -> None:
    limit = layers_limit()
    if layers > limit:
        raise SizeError(f"layers {layers} is above the limit of {limit} stacked layers "
                        f"(set {LAYERS_ENV} to raise it)")


def _refuse(what: str, needed: int, sizes: dict) -> None:
    limit = memory_limit_bytes()
    if needed > limit:
        named = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise SizeError(f"{what} of {named} would need about {needed / GIB:.3g} GiB, above the limit of "
                        f"{limit / GIB:g} GiB: reduce one of them, or set {MEMORY_ENV} to raise the limit")


def check_run(spec) -> None:
    """Refuse a RunSpec whose training would exceed the limits (before anything is allocated)."""
    arch, train, task_spec = spec.arch, spec.train, spec.task
    _check_layers(arch.layers)
    task = task_spec.build()
    needed = run_bytes(task, arch.hidden, arch.layers, train.batch_size, train.eval_size)
    _refuse("a run", needed, _sizes(task_spec, task, arch, {"batch-size": train.batch_size,
                                                             "eval_size": train.eval_size}))


def check_probe(arch, task_spec, batch: int) -> None:
    """Refuse a probe of (arch, task) with `batch` sequences that would exceed the limits."""
    _check_layers(arch.layers)
    task = task_spec.build()
    needed = probe_bytes(task, arch.hidden, arch.layers, batch)
    _refuse("a probe", needed, _sizes(task_spec, task, arch, {"probe-batch": batch}))


def _sizes(task_spec, task, arch, extra: dict) -> dict:
    sizes = {"gap": task_spec.gap}
    if task.input_size > 64:  # an option (n_symbols, n_distractors) that widens the input
        sizes["input size"] = task.input_size
    return sizes | {"hidden": arch.hidden, "layers": arch.layers} | extra


__all__ = ["LAYERS_ENV", "MEMORY_ENV", "SizeError", "check_probe", "check_run", "probe_bytes", "run_bytes"]
