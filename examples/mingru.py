"""minGRU, written from its paper as a sequence module: the parallel scan is its forward.

Feng, Tung, Ahmed, Bengio & Hajimirsadeghi (2024), "Were RNNs All We Needed?" (arXiv:2410.01201).
The paper strips the GRU down until its gates no longer read the previous state (section 3.1):

    z_t  = sigma(Linear_z(x_t))                         (update gate, from x_t alone)
    h~_t = g(Linear_h(x_t))                             (candidate, no tanh, no h_(t-1))
    h_t  = (1 - z_t) * h_(t-1) + z_t * h~_t             (* elementwise)

with g(v) = v + 1/2 for v >= 0 and sigma(v) below, the paper's positive activation for its
log-space version (appendix B). The recurrence is linear in h, h_t = a_t * h_(t-1) + b_t with
a_t = 1 - z_t and b_t = z_t * h~_t, so the whole sequence is one parallel scan (Heinsen 2023),

    log h_t = A_t + logcumsumexp_(k <= t)(log b_k - A_k),    A_t = sum_(j <= t) log a_j,

computed here from log a_t = -softplus(k_t) and log b_t = -softplus(-k_t) + log g(v_t) without
forming a_t or b_t, from the state h_0 = 0 (or a given positive h_0). That is the paper's
"parallel mode", `forward`; its "sequential mode", one step of the recurrence, is `step`.

This file is what a user would publish: plain PyTorch, no vgsuite import. The class attribute
`vgsuite_kind = "sequence"` tells vgsuite that `forward` takes the whole sequence (it has the shape
of nn.GRU's, `forward(x, h0=None) -> (output, h_n)`, which vgsuite would otherwise read as a cell's
`forward(x_t, state)`); vgsuite stacks one module per layer and adds the readout. Because the
module also has `step`, vgsuite measures the gradient w.r.t. its hidden states as well as its
input saliency, and the contract checks that the two views agree:

    vgsuite check --arch examples/mingru.py:MinGRU
    vgsuite check --arch examples/mingru.py:MinGRUParallelOnly     # the same, without a step view

The suite has minGRU built in as well (`--arch mingru`, suite/models/minimal.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v): log(v + 1/2) for v >= 0, log sigma(v) = -softplus(-v) below."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def g(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def parallel_scan_log(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t h_(t-1) + b_t over dim 1 from log a and log b (batch, time + 1, hidden), where
    index 0 of log_b carries log h_0 (and log_a[:, 0] = 0): the paper's appendix B listing."""
    a_star = torch.cumsum(log_a, dim=1)
    log_h = a_star + torch.logcumsumexp(log_b - a_star, dim=1)
    return torch.exp(log_h)[:, 1:]


class MinGRU(nn.Module):
    """minGRU (Feng et al. 2024): gates from x_t alone, the sequence by a log-space parallel scan."""

    vgsuite_kind = "sequence"   # forward(x, h0=None) takes the whole (batch, time, input) sequence

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.linear_z = nn.Linear(input_size, hidden_size)
        self.linear_h = nn.Linear(input_size, hidden_size)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel mode: x (batch, time, input) -> (h_1..h_T (batch, time, hidden), h_T)."""
        k, v = self.linear_z(x), self.linear_h(x)
        log_a = -F.softplus(k)                    # log(1 - z_t)
        log_b = -F.softplus(-k) + log_g(v)        # log(z_t) + log(h~_t)
        if h0 is None:  # h_0 = 0 contributes nothing: scan from h_1 = b_1
            a_star = torch.cumsum(log_a, dim=1)
            h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
        else:  # a positive h_0 (the paper's g keeps every state positive)
            zero = log_a[:, :1] * 0
            h = parallel_scan_log(torch.cat([zero, log_a], 1), torch.cat([torch.log(h0)[:, None], log_b], 1))
        return h, h[:, -1]

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Sequential mode: one step of h_t = (1 - z_t) h_(t-1) + z_t h~_t."""
        z = torch.sigmoid(self.linear_z(x_t))
        return (1 - z) * h + z * g(self.linear_h(x_t))


class MinGRUParallelOnly(MinGRU):
    """minGRU with its parallel mode only (no step view), as most published sequence modules come."""

    step = None  # vgsuite then measures input saliency, and says the hidden-state gradients are not measured
