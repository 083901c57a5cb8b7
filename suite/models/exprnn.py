"""ExpRNN (Lezcano-Casado & Martinez-Rubio 2019, "Cheap Orthogonal Constraints in Neural Networks: A
Simple Parametrization of the Orthogonal and Unitary Group", ICML 2019).

An RNN whose recurrent matrix is orthogonal at every step of training because it is the matrix
exponential of a skew-symmetric one: the parameter is A's strictly upper triangle, and

    W = expm(A),    A = triu(P, 1) - triu(P, 1)^T    (A^T = -A, so W^T W = I)
    h_t = modrelu(W h_(t-1) + V x_t, b),    modrelu(z, b) = sign(z) relu(|z| + b)

modrelu (Arjovsky et al. 2016) passes a unit through with slope 1 when |z| + b > 0 and stops it
otherwise, so the step Jacobian is diag(0 or 1) W: its norm is at most 1 and the gradient can
never grow back through time; it shrinks only where modrelu cuts units off
(tests/test_modern_cells.py pins both W^T W = I, at init and after an optimiser step, and the
non-increasing probe profile).

Initialisation as the paper's: A block-diagonal with 2 x 2 blocks [[0, s], [-s, 0]] (a rotation by
s in each plane), "henaff" (s ~ U[-pi, pi], Henaff et al. 2016; the paper's choice for the copying
problem, and the default here) or "cayley" (s = -sqrt((1 - cos u) / (1 + cos u)), u ~ U[0, pi/2],
its choice for pixel MNIST), option `skew_init`; V He-normal (fan-in, ReLU gain); b ~ U[-0.01, 0.01].
The paper's optimiser details (a separate learning rate for A, RMSprop) belong to training and are
not part of the cell. W is a function of A, not a parameter anything could overwrite, so
`recurrent_weights()` is empty and a recurrent init is refused by name; `recurrent_matrix(l)`
returns W for reading.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import RecurrentModel, State

SKEW_INITS = ("henaff", "cayley")


def rotation_blocks(size: int, kind: str) -> torch.Tensor:
    """P whose strictly upper triangle holds the paper's 2 x 2 rotation blocks (the rest is unused)."""
    angles = torch.empty(size // 2)
    if kind == "henaff":
        angles.uniform_(-math.pi, math.pi)
    else:
        u = angles.uniform_(0.0, math.pi / 2)
        angles = -torch.sqrt((1 - torch.cos(u)) / (1 + torch.cos(u)))
    p = torch.zeros(size, size)
    index = torch.arange(size // 2) * 2
    p[index, index + 1] = angles
    return p


def modrelu(z: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.sign(z) * torch.relu(z.abs() + bias)


class ExpRNN(RecurrentModel):
    """A stack of ExpRNN layers; layer l reads layer l - 1's states."""

    derivative_bound = 1.0  # modrelu's slope where it passes a unit
    recurrent_init_refusal = ("ExpRNN's W_hh = expm(A), A skew-symmetric, is orthogonal by construction and is "
                              "initialised through A (option skew_init: 'henaff' or 'cayley')")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 skew_init: str = "henaff"):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if skew_init not in SKEW_INITS:
            raise ValueError(f"skew_init must be one of {list(SKEW_INITS)}, got {skew_init!r}")
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.inputs = nn.ModuleList(nn.Linear(n, hidden_size, bias=False) for n in sizes)  # V
        for linear in self.inputs:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        self.skew = nn.ParameterList(nn.Parameter(rotation_blocks(hidden_size, skew_init))
                                     for _ in range(num_layers))
        self.bias = nn.ParameterList(nn.Parameter(torch.empty(hidden_size).uniform_(-0.01, 0.01))
                                     for _ in range(num_layers))

    def recurrent_matrix(self, layer: int) -> torch.Tensor:
        """W = expm(A) of one layer, orthogonal."""
        upper = torch.triu(self.skew[layer], diagonal=1)
        return torch.linalg.matrix_exp(upper - upper.T)

    # -- the fast view: W once per layer, the input map for all steps in one matmul, then the loop --
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in range(self.num_layers):
            w, bias = self.recurrent_matrix(layer), self.bias[layer]
            state, outputs = x.new_zeros(x.shape[0], self.hidden_size), []
            for drive_t in self.inputs[layer](h).unbind(1):
                state = modrelu(state @ w.T + drive_t, bias)
                outputs.append(state)
            h = torch.stack(outputs, dim=1)
        return h

    # -- the step view -----------------------------------------------------------------------------
    def state_names(self):
        return tuple(f"h{layer}" for layer in range(self.num_layers))

    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer, h in enumerate(state):
            inputs = modrelu(h @ self.recurrent_matrix(layer).T + self.inputs[layer](inputs), self.bias[layer])
            new.append(inputs)
        return tuple(new)

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-1]

    def recurrent_weights(self):
        return []  # W is computed from A: see recurrent_matrix
