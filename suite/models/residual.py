"""Residual recurrent network: a k-step skip connection in time around a tanh cell.

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) + h_{t-k}

after the recurrent residual networks of Wang & Tian (2016). With k = 1 (the default) the per-step
Jacobian is I + diag(tanh') W_hh: the identity path carries the gradient whatever the squashing
does, which is the mechanism the article credits skip connections with. With k > 1 the state
also carries the k - 1 previous hidden states (named "h0@t-1", ...), so the step view stays
Markov and the probes can still ask for dL/dh_t.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import State
from .vanilla import VanillaRNN


class ResidualRNN(VanillaRNN):
    def __init__(self, input_size, output_size, hidden_size, num_layers=1, skip: int = 1):
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 1:
            raise ValueError(f"skip must be an integer >= 1, got {skip!r}")
        super().__init__(
            input_size, output_size, hidden_size, num_layers, activation="tanh", use_fused=False
        )
        self.skip = skip

    @property
    def derivative_bound(self):
        return None  # the skip path is not a squashed affine map

    def state_names(self):
        return tuple(
            f"h{layer}" if lag == 0 else f"h{layer}@t-{lag}"
            for layer in range(self.num_layers)
            for lag in range(self.skip)
        )

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-self.skip]

    def step(self, x_t, state):
        new, inputs, k = [], x_t, self.skip
        for layer in range(self.num_layers):
            window = state[layer * k : (layer + 1) * k]  # h_{t-1}, h_{t-2}, ..., h_{t-k}
            h = self.cell(inputs, window[0], layer) + window[-1]
            new += [h, *window[:-1]]
            inputs = h
        return tuple(new)

    def _layer_loop(self, seq, layer):
        w_ih, w_hh, b_ih, b_hh = self.layer_params(layer)
        projected = F.linear(seq, w_ih, b_ih + b_hh)
        zeros = seq.new_zeros(seq.shape[0], self.hidden_size)
        out: list[torch.Tensor] = []
        for t in range(seq.shape[1]):
            previous = out[t - 1] if t >= 1 else zeros
            skipped = out[t - self.skip] if t >= self.skip else zeros
            out.append(torch.tanh(torch.addmm(projected[:, t], previous, w_hh.t())) + skipped)
        return torch.stack(out, dim=1)
