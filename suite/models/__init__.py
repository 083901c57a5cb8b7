"""The architecture registry: every name the CLI and the specs accept, in one screen.

A new architecture is one module with a `RecurrentModel` subclass plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from .attention import AttentionRNN
from .base import RecurrentModel, State
from .gated import GRU, LSTM
from .residual import ResidualRNN
from .vanilla import VanillaRNN


@dataclass(frozen=True)
class Architecture:
    build: Callable[..., RecurrentModel]  # (input_size, output_size, hidden_size, num_layers, **options)
    summary: str
    #: an architecture that is defined by its initialisation (IRNN) accepts no other
    defining_init: str | None = None
    zero_recurrent_bias: bool = False
    #: the stacked trainer (suite.engine) has a kernel for it, so a sweep trains its runs together
    stackable: bool = False
    #: ...except on CPU, where it trains in the per-run loop: the fused (oneDNN) CPU LSTM is faster
    #: per run than the stacked kernel at one thread (0.75-0.87x at S = 8, benchmarks/bench.py)
    alone_on_cpu: bool = False
    #: where a user architecture came from ("import path", "entry point", "registered"; see
    #: plugins.py) and a hash of its source file
    origin: str = "builtin"
    source: str | None = None


ARCHITECTURES: dict[str, Architecture] = {
    "rnn-tanh": Architecture(partial(VanillaRNN, activation="tanh"), "Elman RNN, tanh (fused nn.RNN)",
                             stackable=True),
    "rnn-sigmoid": Architecture(partial(VanillaRNN, activation="sigmoid"), "Elman RNN, logistic sigmoid",
                                stackable=True),
    "rnn-relu": Architecture(partial(VanillaRNN, activation="relu"), "Elman RNN, ReLU (fused nn.RNN)",
                             stackable=True),
    "rnn-leakyrelu": Architecture(partial(VanillaRNN, activation="leakyrelu"), "Elman RNN, LeakyReLU (slope 0.01)",
                                  stackable=True),
    "rnn-prelu": Architecture(partial(VanillaRNN, activation="prelu"), "Elman RNN, PReLU (learned slope, init 0.25)",
                              stackable=True),
    "irnn": Architecture(
        partial(VanillaRNN, activation="relu"),
        "IRNN: ReLU, identity recurrent matrix, zero biases (Le, Jaitly & Hinton 2015)",
        defining_init="identity", zero_recurrent_bias=True, stackable=True,
    ),
    "lstm": Architecture(LSTM, "LSTM (fused nn.LSTM)", stackable=True, alone_on_cpu=True),
    "gru": Architecture(GRU, "GRU (nn.GRU on CUDA; a batched-kernel GRU on CPU, same numbers)", stackable=True),
    "resrnn": Architecture(ResidualRNN, "tanh RNN with a k-step residual connection in time (option skip)",
                           stackable=True),
    "rnn-attention": Architecture(AttentionRNN, "tanh RNN encoder with causal attention over its past states"),
}


def make_model(arch, input_size: int, output_size: int, seed: int) -> RecurrentModel:
    """Build `arch` (an ArchSpec) with its mitigations applied; weights depend only on `seed`."""
    from ..mitigations import apply_recurrent_init, set_forget_bias, zero_recurrent_biases
    from ..specs import ArchSpec

    if not isinstance(arch, ArchSpec):
        raise TypeError(f"arch must be an ArchSpec, got {type(arch).__name__} {arch!r}")
    for name, value, low in (("input_size", input_size, 1), ("output_size", output_size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**63:
            raise ValueError(f"{name} must be an integer in [{low}, 2**63), got {value!r}")

    entry = architecture(arch.name)
    init = entry.defining_init or arch.init
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = entry.build(input_size, output_size, arch.hidden, arch.layers, **dict(arch.options))
        apply_recurrent_init(model, init, arch.init_gain)
    if entry.zero_recurrent_bias:
        zero_recurrent_biases(model)
    if arch.forget_bias is not None:
        set_forget_bias(model, arch.forget_bias)
    return model


def architecture(name: str) -> Architecture:
    """A built-in name, or a user architecture: a name registered with `register_architecture`,
    an import path "package.module:Class" or "file.py:Class", or an entry point of the group
    "vgsuite.architectures" (see plugins.py)."""
    if isinstance(name, str) and name in ARCHITECTURES:
        return ARCHITECTURES[name]
    from .plugins import resolve

    return resolve(name)


from .plugins import register_architecture  # noqa: E402  (plugins needs Architecture)

__all__ = ["ARCHITECTURES", "Architecture", "RecurrentModel", "State", "architecture", "make_model",
           "register_architecture"]
