"""S4D, the diagonal state space layer (Gu, Gupta, Goel & Re 2022, "On the Parameterization and
Initialization of Diagonal State Space Models", NeurIPS 2022): a linear time-invariant recurrence,
the control among the suite's cells (its decay is set at init and does not depend on the input).

Each of H channels runs its own single-input single-output state space model with N/2 complex
modes (their conjugates are implied, hence the factor 2 below). The continuous system
x' = A x + B u, y = C x + D u, A diagonal, is discretised by zero-order hold with a learned step
Delta per channel:

    A_bar = exp(Delta A),    B_bar = (A_bar - 1) / A * B        (per mode, elementwise)
    x_t = A_bar (.) x_(t-1) + B_bar u_t
    y_t = 2 Re(sum_n C_n x_t,n) + D u_t

with Re(A) = -exp(a_log) < 0 and Delta = exp(log_dt) > 0, so |A_bar| = exp(Delta Re A) < 1 always:
the recurrence is stable whatever training does (tests/test_modern_cells.py pins |A_bar| < 1 and
the probe's decay against it). The initialisations (option `init`): S4D-Lin, A_n = -1/2 + i pi n,
and S4D-Inv, A_n = -1/2 + i (N / pi) (N / (2n + 1) - 1), n = 0 .. N/2 - 1; B = 1; C complex
standard normal; D standard normal; log Delta uniform in [log dt_min, log dt_max]. Defaults are
the paper's: init "lin", N = 64 (option state_size), dt_min = 0.001, dt_max = 0.1.

What is kept: per layer, a Linear map of its input to the H channels (the S4 model's encoder for
the first layer, the position-wise output map of the previous block for the others) and the SSM
with its D skip. The paper's GELU, dropout and normalisation between layers are left out, so a
stack is linear; the paper computes the layer as a convolution with the kernel 2 Re(C A_bar^k
B_bar), which is the same function as the recurrence used here.

State, as for the LRU (suite/models/lru.py): "h<l>" the output y_t (width H) and "s<l>" the modes
as [Re x, Im x] (width H N). The fast view loops over precomputed drives on a CPU and scans on
CUDA. There is no square W_hh, so a recurrent init is refused by name.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import State
from .lru import as_complex, as_real, loop, scan
from .two_part import TwoPartStack

S4D_INITS = ("lin", "inv")


def imaginary_parts(state_size: int, init: str) -> torch.Tensor:
    n = torch.arange(state_size // 2, dtype=torch.float64)
    if init == "lin":
        return math.pi * n
    return state_size / math.pi * (state_size / (2 * n + 1) - 1)


class S4DLayer(nn.Module):
    """One S4D layer: the input map to H channels and H diagonal SSMs of N/2 modes each."""

    def __init__(self, input_size: int, hidden_size: int, state_size: int, init: str, dt_min: float, dt_max: float):
        super().__init__()
        modes = state_size // 2
        self.encoder = nn.Linear(input_size, hidden_size)
        self.log_dt = nn.Parameter(torch.empty(hidden_size).uniform_(math.log(dt_min), math.log(dt_max)))
        self.a_log = nn.Parameter(torch.full((hidden_size, modes), math.log(0.5)))   # Re A = -exp(a_log)
        self.a_imag = nn.Parameter(imaginary_parts(state_size, init).float().repeat(hidden_size, 1))
        self.b = nn.Parameter(torch.stack([torch.ones(hidden_size, modes), torch.zeros(hidden_size, modes)]))
        self.c = nn.Parameter(torch.randn(2, hidden_size, modes) * math.sqrt(0.5))
        self.d = nn.Parameter(torch.randn(hidden_size))

    def discretised(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A_bar and B_bar, (H, N/2) complex, by zero-order hold."""
        a = torch.complex(-torch.exp(self.a_log), self.a_imag)
        a_bar = torch.exp(torch.exp(self.log_dt)[:, None] * a)
        return a_bar, (a_bar - 1) / a * torch.complex(self.b[0], self.b[1])

    def output(self, modes: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """2 Re(sum_n C_n x_n) + D u, for modes (..., H, N/2) and u (..., H)."""
        return 2 * (modes.real * self.c[0] - modes.imag * self.c[1]).sum(-1) + self.d * u


class S4D(TwoPartStack):
    """A stack of S4D layers (no nonlinearity between them: see the module docstring)."""

    part = "s"   # [Re h, Im h] of the complex state

    derivative_bound = None  # no activation: the Jacobian is diag(A_bar)
    recurrent_init_refusal = ("S4D's recurrence is a diagonal of discretised complex modes, initialised by the "
                              "options init ('lin' or 'inv'), dt_min and dt_max")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 init: str = "lin", state_size: int = 64, dt_min: float = 0.001, dt_max: float = 0.1):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        if init not in S4D_INITS:
            raise ValueError(f"init must be one of {list(S4D_INITS)}, got {init!r}")
        if isinstance(state_size, bool) or not isinstance(state_size, int) or state_size < 2 or state_size % 2:
            raise ValueError(f"state_size must be an even integer >= 2 (N/2 complex modes), got {state_size!r}")
        for name, value in (("dt_min", dt_min), ("dt_max", dt_max)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if dt_min > dt_max:
            raise ValueError(f"dt_min must be <= dt_max, got dt_min {dt_min!r} and dt_max {dt_max!r}")
        self.modes = state_size // 2
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(S4DLayer(n, hidden_size, state_size, init, dt_min, dt_max) for n in sizes)

    # -- the fast view -----------------------------------------------------------------------------
    def hidden_sequence(self, x: torch.Tensor, recurrence=None) -> torch.Tensor:
        recurrence = recurrence or (scan if x.is_cuda else loop)
        h = x
        for layer in self.layers:
            a_bar, b_bar = layer.discretised()
            u = layer.encoder(h)
            h = layer.output(recurrence(a_bar, b_bar * u[..., None]), u)
        return h

    def scanned(self, x: torch.Tensor) -> torch.Tensor:
        """The fast view with the parallel scan, whatever the device (for tests)."""
        return self.hidden_sequence(x, recurrence=scan)

    # -- the step view -----------------------------------------------------------------------------
    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        y, s = like.new_zeros(batch, self.hidden_size), like.new_zeros(batch, 2 * self.hidden_size * self.modes)
        return tuple(t.clone() for _ in range(self.num_layers) for t in (y, s))

    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer, s in zip(self.layers, state[1::2]):
            a_bar, b_bar = layer.discretised()
            u = layer.encoder(inputs)
            modes = a_bar * as_complex(s).view(-1, self.hidden_size, self.modes) + b_bar * u[..., None]
            inputs = layer.output(modes, u)
            new += [inputs, as_real(modes.reshape(modes.shape[0], -1))]
        return tuple(new)
