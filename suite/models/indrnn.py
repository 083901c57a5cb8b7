"""IndRNN, the independently recurrent network (Li, Li, Cook, Zhu & Gao 2018, "Independently Recurrent
Neural Network (IndRNN): Building A Longer and Deeper RNN", CVPR 2018).

Every hidden unit has its own scalar recurrent weight instead of a row of a hidden-to-hidden matrix
(eq. 2 of the paper, (.) elementwise):

    h_t = relu(W x_t + u (.) h_(t-1) + b)

so the step Jacobian is diagonal, dh_t / dh_(t-1) = diag(u (.) relu'(W x_t + u (.) h_(t-1) + b)),
and the gradient reaching h_(t-k) through unit i is the product of u_i over the steps where the
unit was active: u_i^k while it stays on, exactly 0 once it has been off. The paper keeps that
product from exploding or vanishing by constraining each |u_i| (a bound chosen from the sequence
length, so that |u_i|^T stays within range); here that is the option `u_bound`, applied by
clamping u in the forward pass (default None: unconstrained). Layers stack: layer l reads layer
l - 1's states (the paper's deeper variants add batch normalisation and residual blocks, which
are not part of the cell and are left out).

Defaults: u uniform in [u_min, u_max] = [0, 1], the paper's initialisation of the recurrent
weights for its adding-problem experiments; W and b keep PyTorch's Linear initialisation. There
is no square hidden-to-hidden matrix, so a recurrent init is refused by name; the recurrent
weights' init is the options u_min and u_max.

examples/indrnn.py is the same cell written as a *user* cell (vgsuite's small cell interface,
registered as "indrnn-example"); this module is the built-in RecurrentModel form.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import RecurrentModel, State


class IndRNN(RecurrentModel):
    """A stack of IndRNN layers, each with one recurrent scalar per unit."""

    derivative_bound = 1.0  # max relu'
    recurrent_init_refusal = ("IndRNN's recurrence is one scalar per unit (a diagonal W_hh), initialised by "
                              "the options u_min and u_max")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 u_min: float = 0.0, u_max: float = 1.0, u_bound: float | None = None):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        for name, value in (("u_min", u_min), ("u_max", u_max)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if u_min > u_max:
            raise ValueError(f"u_min must be <= u_max, got u_min {u_min!r} and u_max {u_max!r}")
        if u_bound is not None and (isinstance(u_bound, bool) or not isinstance(u_bound, (int, float))
                                    or not math.isfinite(u_bound) or u_bound <= 0):
            raise ValueError(f"u_bound must be None or a finite number > 0, got {u_bound!r}")
        self.u_bound = None if u_bound is None else float(u_bound)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.inputs = nn.ModuleList(nn.Linear(n, hidden_size) for n in sizes)  # W and b
        self.u = nn.ParameterList(nn.Parameter(torch.empty(hidden_size).uniform_(u_min, u_max))
                                  for _ in range(num_layers))

    def recurrent_scalars(self, layer: int) -> torch.Tensor:
        """u of one layer as the recurrence uses it: clamped to [-u_bound, u_bound] when bounded."""
        u = self.u[layer]
        return u if self.u_bound is None else u.clamp(-self.u_bound, self.u_bound)

    # -- the fast view: the input map for all steps in one matmul, then the loop -----------------
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in range(self.num_layers):
            u, state, outputs = self.recurrent_scalars(layer), x.new_zeros(x.shape[0], self.hidden_size), []
            for drive_t in self.inputs[layer](h).unbind(1):
                state = torch.relu(torch.addcmul(drive_t, u, state))
                outputs.append(state)
            h = torch.stack(outputs, dim=1)
        return h

    # -- the step view -----------------------------------------------------------------------------
    def state_names(self):
        return tuple(f"h{layer}" for layer in range(self.num_layers))

    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer, h in enumerate(state):
            inputs = torch.relu(torch.addcmul(self.inputs[layer](inputs), self.recurrent_scalars(layer), h))
            new.append(inputs)
        return tuple(new)

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-1]

    def recurrent_weights(self):
        return []  # u is a vector, not a square matrix
