"""The Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu & De 2023, "Resurrecting
Recurrent Neural Networks for Long Sequences", ICML 2023).

The paper linearises and diagonalises the RNN's recurrence and parameterises its eigenvalues so that
they stay inside the unit disc. Per layer, with a complex state h of N modes, input x and (.)
elementwise:

    lambda = exp(-exp(nu_log) + i exp(theta_log))             |lambda| < 1 for any nu_log
    h_t = lambda (.) h_(t-1) + gamma (.) (B x_t),   gamma = exp(gamma_log)
    y_t = Re(C h_t) + D x_t

B (N x n_in) and C (H x N) complex, D real. The initialisation (the paper's Lemma 3.2 and its
appendix code): |lambda|^2 uniform on [r_min^2, r_max^2], i.e. the eigenvalues uniform on the
ring r_min <= |lambda| <= r_max, phases uniform in [0, max_phase]; gamma = sqrt(1 - |lambda|^2)
so each mode's response to white noise has unit variance whatever its decay; B complex Gaussian
with variance 1/(2 n_in) per real and imaginary part, C with 1/N per part, D Gaussian with
variance 1/n_in (the paper's D is a diagonal; here it maps n_in inputs to H outputs). Defaults r_min = 0.9,
r_max = 0.999 (the ring the paper starts most of its Long Range Arena runs from; its longest
tasks move it closer to 1) and max_phase = 2 pi (the full circle of its appendix code).

Because the recurrence is diagonal and linear, the gradient reaching h_(T-k) is, per mode,
conj(lambda)^k times its value at h_T: it decays by exactly log10 |lambda_n| decades per step
(tests/test_modern_cells.py checks the probes measure that). What is kept: the LRU layer itself,
stacked (layer l reads layer l - 1's y). The paper puts a normalisation, a position-wise MLP/GLU
and a skip connection around each layer; they act within a time step, not along the recurrence,
and are left out, so a stack here is a linear system read out by the suite's linear head.

The probes work on real tensors, so each layer's state is two tensors: "h<l>", the output y_t
(width H, what the readout or the next layer sees; carried so that top_hidden can return it) and
"s<l>", the complex state as [Re h, Im h] (width 2N, N = H), so the probes' norms run over real
and imaginary parts. The fast view loops over precomputed input projections on a CPU and runs a
parallel (Hillis-Steele) scan on CUDA; tests check both against the step view. There is no real
square W_hh, so a recurrent init is refused by name; the recurrence's init is r_min, r_max and
max_phase.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import State
from .two_part import TwoPartStack


def as_complex(s: torch.Tensor) -> torch.Tensor:
    """[Re h, Im h] (..., 2N) -> h (..., N) complex."""
    re, im = s.chunk(2, dim=-1)
    return torch.complex(re, im)


def as_real(h: torch.Tensor) -> torch.Tensor:
    """h (..., N) complex -> [Re h, Im h] (..., 2N)."""
    return torch.cat([h.real, h.imag], dim=-1)


def scan(decay: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """h_t = decay (.) h_(t-1) + drive_t from h_0 = 0 over dim 1, in log2(T) parallel steps: after the
    step with offset d, h_t holds sum_(j < 2d) decay^j drive_(t-j)."""
    h, power, offset = drive, decay, 1
    while offset < drive.shape[1]:
        h = torch.cat([h[:, :offset], h[:, offset:] + power * h[:, :-offset]], dim=1)
        power, offset = power * power, 2 * offset
    return h


def loop(decay: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
    """The same recurrence one step at a time (faster than the scan on a CPU)."""
    h, out = torch.zeros_like(drive[:, 0]), []
    for drive_t in drive.unbind(1):
        h = decay * h + drive_t
        out.append(h)
    return torch.stack(out, dim=1)


def check_ring(r_min, r_max, max_phase) -> None:
    for name, value in (("r_min", r_min), ("r_max", r_max), ("max_phase", max_phase)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not 0 <= r_min <= r_max < 1:
        raise ValueError(f"r_min and r_max must satisfy 0 <= r_min <= r_max < 1, got r_min {r_min!r}, r_max {r_max!r}")
    if max_phase <= 0:
        raise ValueError(f"max_phase must be > 0, got {max_phase!r}")


class LRULayer(nn.Module):
    """One LRU layer: the diagonal complex recurrence and its real read-out."""

    def __init__(self, input_size: int, hidden_size: int, r_min: float, r_max: float, max_phase: float):
        super().__init__()
        n = hidden_size  # N complex modes
        u1, u2 = torch.rand(n), torch.rand(n)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - torch.exp(-2 * torch.exp(self.nu_log.detach()))))
        self.b = nn.Parameter(torch.randn(2, n, input_size) / math.sqrt(2 * input_size))   # Re B, Im B
        self.c = nn.Parameter(torch.randn(2, hidden_size, n) / math.sqrt(n))            # Re C, Im C
        self.d = nn.Parameter(torch.randn(hidden_size, input_size) / math.sqrt(input_size))

    def eigenvalues(self) -> torch.Tensor:
        magnitude, phase = torch.exp(-torch.exp(self.nu_log)), torch.exp(self.theta_log)
        return torch.polar(magnitude, phase)

    def drive(self, x: torch.Tensor) -> torch.Tensor:
        """gamma (.) (B x), complex, for x of shape (..., input_size)."""
        b = torch.complex(self.b[0], self.b[1])
        return torch.exp(self.gamma_log) * (x.to(b.dtype) @ b.T)

    def output(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Re(C h) + D x."""
        return h.real @ self.c[0].T - h.imag @ self.c[1].T + x @ self.d.T


class LRU(TwoPartStack):
    """A stack of LRU layers (no MLP between them: see the module docstring)."""

    part = "s"   # [Re h, Im h] of the complex state

    derivative_bound = None  # no activation: the Jacobian is diag(lambda)
    recurrent_init_refusal = ("the LRU's recurrence is a diagonal of complex eigenvalues, initialised on the ring "
                              "[r_min, r_max] (options r_min, r_max, max_phase)")

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int = 1,
                 r_min: float = 0.9, r_max: float = 0.999, max_phase: float = 2 * math.pi):
        super().__init__(input_size, output_size, hidden_size, num_layers)
        check_ring(r_min, r_max, max_phase)
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(LRULayer(n, hidden_size, r_min, r_max, max_phase) for n in sizes)

    # -- the fast view -----------------------------------------------------------------------------
    def hidden_sequence(self, x: torch.Tensor, recurrence=None) -> torch.Tensor:
        recurrence = recurrence or (scan if x.is_cuda else loop)
        h = x
        for layer in self.layers:
            h = layer.output(recurrence(layer.eigenvalues(), layer.drive(h)), h)
        return h

    def scanned(self, x: torch.Tensor) -> torch.Tensor:
        """The fast view with the parallel scan, whatever the device (for tests)."""
        return self.hidden_sequence(x, recurrence=scan)

    # -- the step view -----------------------------------------------------------------------------
    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        y, s = like.new_zeros(batch, self.hidden_size), like.new_zeros(batch, 2 * self.hidden_size)
        return tuple(t.clone() for _ in range(self.num_layers) for t in (y, s))

    def step(self, x_t: torch.Tensor, state: State) -> State:
        new, inputs = [], x_t
        for layer, s in zip(self.layers, state[1::2]):
            h = layer.eigenvalues() * as_complex(s) + layer.drive(inputs)
            inputs = layer.output(h, inputs)
            new += [inputs, as_real(h)]
        return tuple(new)
