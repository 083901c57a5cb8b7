"""The interface every recurrent architecture in the suite implements.

Two views of one function:

* the fast view, `forward(x, positions)`, used for training: PyTorch's fused kernels where they
  exist (nn.RNN, nn.LSTM, nn.GRU), a tight loop over precomputed input projections elsewhere;
* the step view, `initial_state` / `step` / `top_hidden` / `readout`, used by the gradient probes,
  which need every hidden state as its own node in the graph to measure dL/dh_{T-k}.

Both views share the same parameters, and the architecture contract checks assert that they agree.
A state is a tuple of tensors of shape (batch, hidden); `state_names` names each element
("h0", "c0", "h1", ... by layer), so probes can report the cell state of an LSTM or the first
layer of a stack separately. Delayed copies that a state carries only to feed a skip connection
are named with an "@" ("h0@t-1") and are not hidden states of their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


class RecurrentModel(nn.Module, ABC):
    """A sequence model (batch, time, input) -> outputs at the requested positions."""

    #: the largest derivative of the recurrent nonlinearity (1 for tanh, 1/4 for sigmoid), or
    #: None where the recurrence is not a single squashed affine map (gated cells).
    derivative_bound: float | None = None
    #: where recurrent_weights() is empty: why a recurrent init cannot apply, in the architecture's
    #: own words (suite.mitigations.apply_recurrent_init says it); None gives the generic reason
    recurrent_init_refusal: str | None = None

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.head = nn.Linear(hidden_size, output_size)

    # -- the fast view -------------------------------------------------------------------------
    @abstractmethod
    def hidden_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Top-layer hidden states h_1..h_T, shape (batch, time, hidden)."""

    def readout(self, hiddens: torch.Tensor, positions: slice = slice(None)) -> torch.Tensor:
        """Outputs at `positions` from the top-layer hidden sequence."""
        return self.head(hiddens[:, positions])

    def forward(self, x: torch.Tensor, positions: slice = slice(None)) -> torch.Tensor:
        return self.readout(self.hidden_sequence(x), positions)

    # -- the step view -------------------------------------------------------------------------
    @abstractmethod
    def state_names(self) -> tuple[str, ...]:
        """One name per element of the state tuple."""

    @abstractmethod
    def step(self, x_t: torch.Tensor, state: State) -> State:
        """Advance every layer by one time step."""

    @abstractmethod
    def top_hidden(self, state: State) -> torch.Tensor:
        """The top layer's output h_t, which the readout sees."""

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        zeros = like.new_zeros(batch, self.hidden_size)
        return tuple(zeros.clone() for _ in self.state_names())

    def forward_stepwise(self, x: torch.Tensor, positions: slice = slice(None)) -> torch.Tensor:
        """The same function as `forward`, one `step` at a time (slow; for checks and probes)."""
        state = self.initial_state(x.shape[0], x)
        hiddens = []
        for t in range(x.shape[1]):
            state = self.step(x[:, t], state)
            hiddens.append(self.top_hidden(state))
        return self.readout(torch.stack(hiddens, dim=1), positions)

    # -- what mitigations and probes act on ----------------------------------------------------
    @abstractmethod
    def recurrent_weights(self) -> list[tuple[nn.Parameter, int]]:
        """Each layer's hidden-to-hidden matrix and how many gate blocks it stacks (1, 3 or 4)."""

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
