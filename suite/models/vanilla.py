"""Vanilla (Elman) recurrent networks with a choice of nonlinearity, stacked `layers` deep.

    h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

phi is tanh or ReLU through PyTorch's fused nn.RNN, and sigmoid, LeakyReLU or PReLU through a
loop over precomputed input projections (nn.RNN offers only tanh and ReLU). Parameters have
nn.RNN's names, shapes and default initialisation U(-1/sqrt(H), 1/sqrt(H)) in both cases, so
every mitigation acts on them alike.

The derivative bound gamma = max |phi'| enters the classic bound on the per-step Jacobian,
||dh_t/dh_{t-1}|| <= gamma * sigma_max(W_hh) (Pascanu, Mikolov & Bengio 2013): 1 for tanh,
1/4 for sigmoid, 1 for ReLU and LeakyReLU, max(1, |a|) for PReLU with slope a.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import RecurrentModel, State

FUSED = ("tanh", "relu")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leakyrelu", "prelu")


class RecurrentLayer(nn.Module):
    """The parameters of one layer, laid out as nn.RNN lays them out."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)


class VanillaRNN(RecurrentModel):
    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int,
        num_layers: int = 1,
        activation: str = "tanh",
        negative_slope: float = 0.01,
        use_fused: bool = True,
    ):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.negative_slope = negative_slope
        self.fused = use_fused and activation in FUSED
        if self.fused:
            self.rnn = nn.RNN(
                input_size, hidden_size, num_layers, nonlinearity=activation, batch_first=True
            )
        else:
            sizes = [input_size] + [hidden_size] * (num_layers - 1)
            self.layers = nn.ModuleList(RecurrentLayer(n, hidden_size) for n in sizes)
        if activation == "prelu":
            self.prelu = nn.ModuleList(nn.PReLU(1, init=0.25) for _ in range(num_layers))

    @property
    def derivative_bound(self) -> float:
        if self.activation == "sigmoid":
            return 0.25
        if self.activation == "prelu":
            return max(1.0, max(abs(p.weight.item()) for p in self.prelu))
        return 1.0

    def layer_params(self, layer: int) -> tuple[torch.Tensor, ...]:
        """(W_ih, W_hh, b_ih, b_hh) of one layer."""
        if self.fused:
            return tuple(
                getattr(self.rnn, f"{name}_l{layer}")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            )
        lay = self.layers[layer]
        return lay.weight_ih, lay.weight_hh, lay.bias_ih, lay.bias_hh

    def phi(self, pre: torch.Tensor, layer: int) -> torch.Tensor:
        if self.activation == "tanh":
            return torch.tanh(pre)
        if self.activation == "sigmoid":
            return torch.sigmoid(pre)
        if self.activation == "relu":
            return torch.relu(pre)
        if self.activation == "leakyrelu":
            return F.leaky_relu(pre, self.negative_slope)
        return self.prelu[layer](pre)

    def recurrent_weights(self):
        return [(self.layer_params(layer)[1], 1) for layer in range(self.num_layers)]

    def state_names(self):
        return tuple(f"h{layer}" for layer in range(self.num_layers))

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-1]

    def cell(self, inputs: torch.Tensor, h: torch.Tensor, layer: int) -> torch.Tensor:
        w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
        return self.phi(F.linear(inputs, w_ih, b_ih) + F.linear(h, w_hh, b_hh), layer)

    def step(self, x_t, state):
        new, inputs = [], x_t
        for layer, h in enumerate(state):
            inputs = self.cell(inputs, h, layer)
            new.append(inputs)
        return tuple(new)

    def hidden_sequence(self, x):
        if self.fused:
            return self.rnn(x)[0]
        seq = x
        for layer in range(self.num_layers):
            seq = self._layer_loop(seq, layer)
        return seq

    def _layer_loop(self, seq: torch.Tensor, layer: int) -> torch.Tensor:
        """One layer over the whole sequence: one matmul for all input projections, then the loop."""
        w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
        projected = F.linear(seq, w_ih, b_ih + b_hh)
        h = seq.new_zeros(seq.shape[0], self.hidden_size)
        out = []
        for t in range(seq.shape[1]):
            h = self.phi(torch.addmm(projected[:, t], h, w_hh.t()), layer)
            out.append(h)
        return torch.stack(out, dim=1)
