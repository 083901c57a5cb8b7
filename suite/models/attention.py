"""A recurrent encoder with a causal attention readout over its own past hidden states.

At each output position t the readout attends over h_1..h_t with scaled dot-product attention
(Bahdanau, Cho & Bengio 2015; Vaswani et al. 2017) and reads [h_t ; context_t]:

    a_{t,s} = softmax_s( (W_q h_t) . (W_k h_s) / sqrt(H) ),  s <= t
    y_t     = W_o [h_t ; sum_s a_{t,s} W_v h_s]

The encoder is the fused tanh RNN, so any gain over rnn-tanh comes from the attention path alone:
the output at T reaches h_{T-k} in one hop, and x_{T-k} in two, whatever k is.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .vanilla import VanillaRNN


class AttentionRNN(VanillaRNN):
    def __init__(self, input_size, output_size, hidden_size, num_layers=1):
        super().__init__(input_size, output_size, hidden_size, num_layers, activation="tanh")
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.key = nn.Linear(hidden_size, hidden_size, bias=False)
        self.value = nn.Linear(hidden_size, hidden_size, bias=False)
        self.head = nn.Linear(2 * hidden_size, output_size)

    @property
    def derivative_bound(self):
        return None  # the readout adds paths that skip the recurrence

    def readout(self, hiddens, positions=slice(None)):
        steps = hiddens.shape[1]
        times = torch.arange(steps, device=hiddens.device)
        query_times = times[positions]
        queries = hiddens[:, positions]
        scores = self.query(queries) @ self.key(hiddens).transpose(1, 2)
        scores = scores / math.sqrt(self.hidden_size)
        future = times[None, :] > query_times[:, None]
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        context = weights @ self.value(hiddens)
        return self.head(torch.cat([queries, context], dim=-1))
