"""IndRNN, written from its paper's description, as a user architecture for vgsuite.

Independently recurrent neural network (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent
Neural Network (IndRNN): Building A Longer and Deeper RNN"): every hidden unit has its own scalar
recurrent weight instead of a full hidden-to-hidden matrix,

    h_t = relu(W x_t + u * h_{t-1} + b)          (* elementwise; u has one entry per unit)

so the gradient reaching h_{t-k} through unit i is scaled by prod u_i * relu' = u_i^k while the unit
is active: no matrix product mixes the units, and a unit with u_i near 1 carries it far. The paper
keeps |u_i| bounded so the product can neither explode nor vanish too fast; here u starts uniform in
[u_min, u_max] (default [0, 1]).

The cell meets vgsuite's small cell interface: `IndRNNCell(input_size, hidden_size, **options)` and
`forward(x_t, h) -> h`, one (batch, hidden) tensor of state. vgsuite stacks it and adds the readout:

    vgsuite check --arch examples/indrnn.py:IndRNNCell            # a file path
    vgsuite check --arch examples.indrnn:IndRNNCell               # an import path (from the repo root)
    VGSUITE_PLUGINS=examples.indrnn vgsuite check --arch indrnn-example   # the name registered below

The suite has IndRNN built in as well (`--arch indrnn`, suite/models/indrnn.py, with the paper's
recurrent weight bound as an option); this file stays as the worked example of a user cell, so it
registers another name: a user name may not shadow a built-in one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from suite.models import register_architecture


@register_architecture("indrnn-example")
class IndRNNCell(nn.Module):
    """IndRNN cell (Li et al. 2018): h_t = relu(W x_t + u * h_{t-1} + b), u a per-unit weight."""

    state_names = ("h",)      # one state tensor: the layer's output (the default, spelled out)
    derivative_bound = 1.0    # max relu'

    def __init__(self, input_size: int, hidden_size: int, u_min: float = 0.0, u_max: float = 1.0):
        super().__init__()
        if not (math.isfinite(u_min) and math.isfinite(u_max) and u_min <= u_max):
            raise ValueError(f"u_min and u_max must be finite with u_min <= u_max, got {u_min}, {u_max}")
        self.input = nn.Linear(input_size, hidden_size)           # W and b
        self.u = nn.Parameter(torch.empty(hidden_size).uniform_(u_min, u_max))

    def forward(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.input(x_t) + self.u * h)
