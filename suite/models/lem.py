"""LEM, Long Expressive Memory (Rusch, Mishra, Erichson & Mahoney 2022, "Long Expressive Memory for
Sequence Modeling", ICLR 2022).

The paper discretises a multiscale ODE system in two state parts y and z whose time steps are
learned per unit and per step (eq. 3), with sigma-hat the logistic sigmoid, sigma = tanh and (.)
elementwise:

    dt_n     = dt sigma-hat(W_1 y_(n-1) + V_1 u_n + b_1)        z's time step, in (0, dt)
    dtbar_n  = dt sigma-hat(W_2 y_(n-1) + V_2 u_n + b_2)        y's time step, in (0, dt)
    z_n = (1 - dt_n) (.) z_(n-1) + dt_n (.) sigma(W_z y_(n-1) + V_z u_n + b_z)
    y_n = (1 - dtbar_n) (.) y_(n-1) + dtbar_n (.) sigma(W_y z_n + V_y u_n + b_y)

y_n is the output. With dt <= 1 each update is a convex combination of the previous value and a
tanh in (-1, 1), so from the zero state every |y_n|, |z_n| stays below 1 whatever the input (the
paper's boundedness result; tests/test_modern_cells.py pins it), and the learned time steps let
some units change slowly: the multiscale memory the paper credits for its gradient bounds. dt is
therefore refused outside (0, 1].

Defaults: dt = 0.21, the paper's setting for sequential MNIST (the authors' sMNIST script), and
every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)] as the authors initialise them (PyTorch's
Linear bound for the hidden-sized maps, applied to the input maps too). The state is (y, z) per
layer, named "h<l>" and "z<l>". The four hidden-to-hidden maps are gates and act on two state
parts, so `recurrent_weights()` is empty and a recurrent init is refused by name.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .two_part import ExplicitStack

PAPER_DT = 0.21  # sequential MNIST


class LEM(ExplicitStack):
    """A stack of LEM layers; layer l reads layer l - 1's y."""

    recurrent_init_refusal = ("LEM's hidden-to-hidden maps are four gate and candidate maps over two state "
                              "parts (y and z); a recurrent init of one square matrix cannot apply")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 dt: float = PAPER_DT):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and 0 < dt <= 1):
            raise ValueError(f"dt must be a number in (0, 1] (the states' bound needs dt <= 1), got {dt!r}")
        self.dt = float(dt)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.inputs = nn.ModuleList(nn.Linear(n, 4 * hidden_size) for n in sizes)      # V_1, V_2, V_z, V_y, b
        self.hidden = nn.ModuleList(nn.Linear(hidden_size, 3 * hidden_size, bias=False)  # W_1, W_2, W_z
                                    for _ in range(num_layers))
        self.candidate = nn.ModuleList(nn.Linear(hidden_size, hidden_size, bias=False)   # W_y
                                       for _ in range(num_layers))
        bound = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():
            for module in (*self.inputs, *self.hidden, *self.candidate):
                for param in module.parameters():
                    param.uniform_(-bound, bound)

    def time_steps(self, layer: int, projected_t: torch.Tensor, y: torch.Tensor):
        """(dt_n, dtbar_n, the two candidate pre-activations' input parts) of one layer at one step."""
        i_1, i_2, i_z, i_y = projected_t.chunk(4, dim=-1)
        h_1, h_2, h_z = self.hidden[layer](y).chunk(3, dim=-1)
        return self.dt * torch.sigmoid(i_1 + h_1), self.dt * torch.sigmoid(i_2 + h_2), i_z + h_z, i_y

    def project(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        return self.inputs[layer](inputs)  # V_1, V_2, V_z, V_y and b at once

    def advance(self, layer: int, projected_t: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        """One step of one layer, given V u_n + b for all four maps."""
        dt_z, dt_y, k_z, i_y = self.time_steps(layer, projected_t, y)
        z = (1.0 - dt_z) * z + dt_z * torch.tanh(k_z)
        y = (1.0 - dt_y) * y + dt_y * torch.tanh(self.candidate[layer](z) + i_y)
        return y, z
