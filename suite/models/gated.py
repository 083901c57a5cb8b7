"""Gated recurrent networks: LSTM (Hochreiter & Schmidhuber 1997) and GRU (Cho et al. 2014).

The per-run trainer runs PyTorch's fused nn.LSTM; the GRU's forward is suite.engine.kernels' on CPU (nn.GRU on
CUDA); the step view recomputes the same cells from the same parameters, with PyTorch's gate
order (LSTM: input, forget, cell, output; GRU: reset, update, new):

    LSTM  c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    GRU   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

PyTorch adds bias_ih and bias_hh, so a forget-gate bias must be set on one and zeroed on the other
(see suite.mitigations.set_forget_bias). The LSTM state names its cell state ("c0", ...) so the
probes can follow the constant-error carousel separately from h.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.kernels import recurrent_layer
from ..mitigations import set_chrono_bias
from .base import RecurrentModel, State

WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class _Gated(RecurrentModel):
    module_cls: type[nn.RNNBase]
    n_gates: int

    def __init__(self, input_size, output_size, hidden_size, num_layers=1):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        self.rnn = self.module_cls(input_size, hidden_size, num_layers, batch_first=True)

    def layer_params(self, layer: int) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES)

    def recurrent_weights(self):
        return [(self.layer_params(layer)[1], self.n_gates) for layer in range(self.num_layers)]

    def hidden_sequence(self, x):
        return self.rnn(x)[0]


class LSTM(_Gated):
    module_cls = nn.LSTM
    n_gates = 4
    #: gate order i, f, g, o: the forget gate is rows [H, 2H) of each layer's biases, where
    #: suite.mitigations.set_forget_bias and set_chrono_bias write
    has_forget_gate = True

    def __init__(self, input_size, output_size, hidden_size, num_layers=1, chrono: int | None = None):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if chrono is not None:
            set_chrono_bias(self, chrono)

    def state_names(self):
        return tuple(f"{kind}{layer}" for layer in range(self.num_layers) for kind in ("h", "c"))

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-2]

    def step(self, x_t, state):
        new, inputs = [], x_t
        for layer in range(self.num_layers):
            h, c = state[2 * layer], state[2 * layer + 1]
            w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
            gates = F.linear(inputs, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
            i, f, g, o = gates.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            new += [h, c]
            inputs = h
        return tuple(new)

    def forget_gate_bias(self, layer: int = 0) -> torch.Tensor:
        """The effective forget-gate bias b_ih + b_hh of one layer."""
        _, _, b_ih, b_hh = self.layer_params(layer)
        h = self.hidden_size
        return (b_ih[h : 2 * h] + b_hh[h : 2 * h]).detach()


class GRU(_Gated):
    module_cls = nn.GRU
    n_gates = 3

    def hidden_sequence(self, x):
        """On CPU, suite.engine.kernels' GRU (a stack of one network): PyTorch has no fused CPU
        GRU, and autograd over its per-step ops is slower (benchmarks/bench.py). Same numbers to
        float tolerance (tests/test_batched.py); nn.GRU elsewhere (cuDNN)."""
        if x.device.type != "cpu":
            return self.rnn(x)[0]
        seq = x.transpose(0, 1).unsqueeze(0)  # (1, time, batch, in)
        for layer in range(self.num_layers):
            seq = recurrent_layer("gru", seq, *(p.unsqueeze(0) for p in self.layer_params(layer)))
        return seq[0].transpose(0, 1)

    def state_names(self):
        return tuple(f"h{layer}" for layer in range(self.num_layers))

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-1]

    def step(self, x_t, state):
        new, inputs = [], x_t
        for layer, h in enumerate(state):
            w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
            xr, xz, xn = F.linear(inputs, w_ih, b_ih).chunk(3, dim=-1)
            hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
            new.append(h)
            inputs = h
        return tuple(new)
