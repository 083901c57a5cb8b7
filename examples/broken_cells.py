"""Deliberately broken cells, for showing what the architecture contract checks catch.

`CutRecurrenceCell` looks like an Elman cell but cuts its recurrence: the previous state enters the
update detached from the graph, so the values are right and the gradient never reaches an earlier
step (a common bug: a `.detach()` left over from truncated backpropagation through time).
"""

from __future__ import annotations

import torch
from torch import nn


class CutRecurrenceCell(nn.Module):
    """tanh cell whose recurrence is cut: h_t = tanh(W x_t + U stopgrad(h_{t-1}) + b)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input = nn.Linear(input_size, hidden_size)
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-0.3, 0.3))

    def forward(self, x_t, h):
        return torch.tanh(self.input(x_t) + h.detach() @ self.weight_hh.t())
