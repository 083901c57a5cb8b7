"""minGRU and minLSTM (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?").

The paper strips the GRU and the LSTM down to recurrences whose gates read only the input, with no
squashing on the hidden path. Per layer, with sigma the logistic sigmoid and (.) elementwise:

    minGRU    z_t = sigma(W_z x_t + b_z)            update gate, from x_t alone
              h~_t = g(W_h x_t + b_h)               candidate state, no tanh, no h_(t-1)
              h_t = (1 - z_t) (.) h_(t-1) + z_t (.) h~_t

    minLSTM   f_t = sigma(W_f x_t + b_f),  i_t = sigma(W_i x_t + b_i)
              f'_t = f_t / (f_t + i_t),    i'_t = i_t / (f_t + i_t)      (time-independent scale)
              h_t = f'_t (.) h_(t-1) + i'_t (.) h~_t

with g(v) = v + 1/2 for v >= 0 and sigma(v) below, the paper's choice for its log-space version:
it keeps h~_t > 0, so every term of the recurrence is positive and the whole sequence is a
cumulative log-sum-exp (Heinsen 2023). Because the gates do not read h_(t-1), the recurrence is
linear, h_t = a_t (.) h_(t-1) + b_t, and its Jacobian is diagonal:

    dh_t / dh_(t-1) = diag(1 - z_t)   (minGRU),   diag(f'_t)   (minLSTM)

so the gradient reaching h_(t-k) is a product of gates in (0, 1): it vanishes at the rate the
gates set, with no W_hh and no squashing derivative. That is what makes these cells a control for
the article's mechanism claims (tests/test_minimal.py pins the Jacobian).

The paper's fast view is the parallel scan: with the zero initial state,

    log h_t = A_t + logcumsumexp_(k <= t)(log b_k - A_k),    A_t = sum_(j <= t) log a_j,

one cumulative sum and one cumulative log-sum-exp per layer instead of a loop over time; it runs on
CUDA. On a CPU, where the scan's transcendental functions cost more than the loop they replace
(2-3x, benchmarks/scan_bench.py), the fast view computes every step's coefficients in one matmul
and then loops h_t = a_t h_(t-1) + b_t. The step view computes the recurrence one step at a time;
the contract checks that it agrees with the fast view, tests/test_minimal.py that both fast paths
do. Layers stack: layer l reads layer l - 1's states. There is no hidden-to-hidden matrix, so a
recurrent initialisation (xavier, orthogonal, identity, a gain) cannot apply and is refused by name
(suite.mitigations).
The paper's defaults are PyTorch's Linear initialisation, which this module keeps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import RecurrentModel, State


def g(v: torch.Tensor) -> torch.Tensor:
    """The paper's positive candidate activation: v + 1/2 for v >= 0, sigmoid(v) below."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v), computed without forming g(v) on the sigmoid side."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def scan_log(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_(t-1) + b_t from h_0 = 0 over dim 1, given log a and log b: (batch, time, H)."""
    a_star = torch.cumsum(log_a, dim=1)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))


class MinimalRNN(RecurrentModel):
    """A stack of minGRU or minLSTM layers (`kind`), each one Linear map of its input per gate."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 kind: str = "gru"):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if kind not in ("gru", "lstm"):
            raise ValueError(f"kind must be 'gru' or 'lstm', got {kind!r}")
        self.kind = kind
        blocks = 2 if kind == "gru" else 3  # (z, h~) or (f, i, h~)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, blocks * hidden_size) for n in sizes)

    def _log_coefficients(self, layer: int, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log a and log b of the layer's recurrence h_t = a_t h_(t-1) + b_t, from its inputs."""
        parts = self.layers[layer](inputs).chunk(2 if self.kind == "gru" else 3, dim=-1)
        if self.kind == "gru":
            k_z, k_h = parts
            return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)  # log(1 - z), log(z h~)
        k_f, k_i, k_h = parts
        gap = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
        return -F.softplus(gap), -F.softplus(-gap) + log_g(k_h)  # log f', log(i' h~)

    # -- the fast view: one parallel scan per layer (a tight loop on CPU) ------------------------
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.scanned(x) if x.is_cuda else self.looped(x)

    def scanned(self, x: torch.Tensor) -> torch.Tensor:
        """Every layer by the log-space parallel scan: the paper's fast view, for parallel hardware."""
        h = x
        for layer in range(self.num_layers):
            h = scan_log(*self._log_coefficients(layer, h))
        return h

    def looped(self, x: torch.Tensor) -> torch.Tensor:
        """Every layer's coefficients for all steps at once, then h_t = a_t h_(t-1) + b_t step by
        step: on a CPU 2-3x faster than the scan, whose cumulative log-sum-exp costs transcendental
        functions per element both ways (benchmarks/scan_bench.py)."""
        h = x
        for layer in range(self.num_layers):
            log_a, log_b = self._log_coefficients(layer, h)
            state, states = x.new_zeros(x.shape[0], self.hidden_size), []
            for a_t, b_t in zip(torch.exp(log_a).unbind(1), torch.exp(log_b).unbind(1)):
                state = torch.addcmul(b_t, a_t, state)
                states.append(state)
            h = torch.stack(states, dim=1)
        return h

    # -- the step view ---------------------------------------------------------------------------
    def state_names(self):
        return tuple(f"h{layer}" for layer in range(self.num_layers))

    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer, h in enumerate(state):
            log_a, log_b = self._log_coefficients(layer, inputs)
            inputs = torch.exp(log_a) * h + torch.exp(log_b)
            new.append(inputs)
        return tuple(new)

    def top_hidden(self, state: State) -> torch.Tensor:
        return state[-1]

    def gates(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        """The factor on h_(t-1): 1 - z_t (minGRU) or f'_t (minLSTM), the Jacobian's diagonal."""
        return torch.exp(self._log_coefficients(layer, inputs)[0])

    def recurrent_weights(self):
        return []  # no hidden-to-hidden matrix: the gates read x_t only
