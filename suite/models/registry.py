"""The architecture registry: every built-in name the CLI and the specs accept, in one screen.

A new architecture is one module with a `RecurrentModel` subclass plus one line in
`ARCHITECTURES` below. User architectures resolve through suite/models/plugins.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .attention import AttentionRNN
from .base import RecurrentModel
from .cornn import CoRNN
from .exprnn import ExpRNN
from .gated import GRU, LSTM
from .indrnn import IndRNN
from .lem import LEM
from .lru import LRU
from .minimal import MinimalRNN
from .residual import ResidualRNN
from .s4d import S4D
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
    #: the files the source hash covers: the defining file, then the local modules it imports
    source_files: tuple[str, ...] = ()


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
    "mingru": Architecture(partial(MinimalRNN, kind="gru"),
                           "minGRU: gate and candidate from x_t alone, no tanh, a parallel scan (Feng et al. 2024)"),
    "minlstm": Architecture(partial(MinimalRNN, kind="lstm"),
                            "minLSTM: normalised forget and input gates from x_t alone, a parallel scan "
                            "(Feng et al. 2024)"),
    "cornn": Architecture(CoRNN, "coRNN: coupled damped oscillators, IMEX steps (Rusch & Mishra 2021; options dt, "
                                 "gamma, epsilon)"),
    "indrnn": Architecture(IndRNN, "IndRNN: ReLU, one recurrent scalar per unit, u ~ U[0, 1] (Li et al. 2018; "
                                   "options u_min, u_max, u_bound)"),
    "lem": Architecture(LEM, "LEM: two state parts with learned per-unit time steps (Rusch, Mishra, Erichson & "
                             "Mahoney 2022; option dt)"),
    "lru": Architecture(LRU, "LRU: diagonal complex linear recurrence, eigenvalues on the ring [0.9, 0.999] "
                             "(Orvieto et al. 2023; options r_min, r_max, max_phase)"),
    "exprnn": Architecture(ExpRNN, "ExpRNN: W_hh = expm(A), A skew-symmetric, so orthogonal throughout; modrelu "
                                   "(Lezcano-Casado & Martinez-Rubio 2019; option skew_init)"),
    "s4d": Architecture(S4D, "S4D: diagonal state space, ZOH-discretised, linear time-invariant control (Gu et al. "
                             "2022; options init lin/inv, state_size, dt_min, dt_max)"),
}


__all__ = ["ARCHITECTURES", "Architecture"]
