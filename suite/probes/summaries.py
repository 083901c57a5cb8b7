"""Summaries of a profile (decay rate, memory horizon), per-step Jacobians and a reference linear RNN."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..models import RecurrentModel
from ..stats import linear_fit
from .backward import _check_inputs, _need_step_view, float64_copy
from .results import HORIZON_DECADES, DecayFit, JacobianNorms

# ----------------------------------------------------------------------------- summaries


def decay_rate(k, log10_norm, *, k_min: int = 1, k_max: int | None = None,
               floor: float | None = None) -> DecayFit:
    """OLS slope of log10 norm on k over [k_min, k_max], cut before the first non-finite value
    or value <= floor (see the module docstring); needs at least 3 lags."""
    k = np.asarray(k, dtype=float)
    values = np.asarray(log10_norm, dtype=float)
    if k.shape != values.shape or k.ndim != 1:
        raise ValueError(f"k and log10_norm must be 1-D of equal length, got {k.shape} and {values.shape}")
    top = k.max() if k_max is None else k_max
    inside = (k >= k_min) & (k <= top)
    idx = np.flatnonzero(inside)
    bad = ~np.isfinite(values[idx])
    if floor is not None:
        bad |= values[idx] <= floor
    if bad.any():
        idx = idx[: int(np.argmax(bad))]
    if idx.size < 3:
        raise ValueError(f"decay_rate needs at least 3 finite lags in [{k_min}, {top}], got {idx.size}")
    fit = linear_fit(k[idx], values[idx])
    return DecayFit.from_linear(fit, int(k[idx[0]]), int(k[idx[-1]]))


def memory_horizon(log10_saliency, k=None, decades: float = HORIZON_DECADES) -> tuple[int, bool]:
    """(horizon, censored): the largest lag whose saliency is within `decades` of the peak
    (2 decades = 1 %); censored when that is the longest lag measured."""
    values = np.asarray(log10_saliency, dtype=float)
    k = np.arange(values.size) if k is None else np.asarray(k)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).any():
        raise ValueError("log10_saliency must be a non-empty 1-D array with a finite value")
    peak = np.max(values[np.isfinite(values)])
    within = np.flatnonzero(np.isfinite(values) & (values >= peak - decades))
    horizon = int(k[within[-1]])
    return horizon, horizon == int(k.max())


def step_jacobian_norms(model: RecurrentModel, x: torch.Tensor, steps=None, *, device=None) -> JacobianNorms:
    """Spectral norms of ds_t/ds_{t-1} along the trajectory of x, at time steps `steps` (1-based;
    default all), per sample: the whole state and each named element's diagonal block.

    Exact Jacobians in one backward pass per step: the state is replicated once per output
    coordinate i (batch * D rows) and row block i receives the unit vector e_i, so the VJP of
    block i is row i of every sample's Jacobian.
    """
    _need_step_view(model)
    net = float64_copy(model, device)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=torch.float64)
    batch, total = x.shape[:2]
    wanted = sorted(set(range(1, total + 1) if steps is None else (int(s) for s in steps)))
    if not wanted or wanted[0] < 1 or wanted[-1] > total:
        raise ValueError(f"steps must lie in [1, {total}], got {steps!r}")
    names = net.state_names()
    state = net.initial_state(batch, x)
    sizes = [s.shape[-1] for s in state]
    offsets = np.cumsum([0] + sizes)
    dim = int(offsets[-1])
    basis = torch.eye(dim, dtype=torch.float64, device=dev).repeat_interleave(batch, dim=0)
    full, blocks = [], {n: [] for n in names if "@" not in n}
    for t in range(1, total + 1):
        if t in wanted:
            flat_in = torch.cat(list(state), dim=-1).repeat(dim, 1).requires_grad_()
            out = net.step(x[:, t - 1].repeat(dim, 1), tuple(flat_in.split(sizes, dim=-1)))
            (rows,) = torch.autograd.grad(torch.cat(list(out), dim=-1), flat_in, grad_outputs=basis)
            J = rows.reshape(dim, batch, dim).transpose(0, 1)  # J[b, i, j] = d out_i / d in_j
            full.append(torch.linalg.matrix_norm(J, ord=2))
            for i, name in enumerate(names):
                if "@" not in name:
                    lo, hi = offsets[i], offsets[i + 1]
                    whole = len(names) == 1  # the block is the whole Jacobian: one SVD, not two
                    blocks[name].append(full[-1] if whole else torch.linalg.matrix_norm(J[:, lo:hi, lo:hi], ord=2))
        with torch.no_grad():
            state = net.step(x[:, t - 1], state)
    return JacobianNorms(
        np.array(wanted), torch.stack(full, 1).cpu().numpy(),
        {n: torch.stack(v, 1).cpu().numpy() for n, v in blocks.items()},
    )


def jacobian_bound(model: RecurrentModel) -> dict[str, float] | None:
    """gamma * sigma_max(W_hh) per layer ("h0", "h1", ...) for vanilla cells, else None.

    It bounds the norm of each layer's diagonal block dh^l_t/dh^l_{t-1} = diag(phi') W_hh^l.
    """
    gamma = model.derivative_bound
    if gamma is None:
        return None
    bounds = {}
    for layer, (weight, blocks) in enumerate(model.recurrent_weights()):
        if blocks != 1:
            return None
        sigma = torch.linalg.matrix_norm(weight.detach().double(), ord=2).item()
        bounds[f"h{layer}"] = float(gamma) * sigma
    return bounds


def spectral_radius(model: RecurrentModel) -> dict[str, float] | None:
    """max |eigenvalue| of W_hh per layer ("h0", "h1", ...) for vanilla cells, else None.

    It sets the asymptotic decay of a linear recurrence, log10(rho) decades per step: the rate a
    vanilla RNN would have without its activation (see `LinearRNN.twin_of`).
    """
    if model.derivative_bound is None:
        return None
    radii = {}
    for layer, (weight, blocks) in enumerate(model.recurrent_weights()):
        if blocks != 1:
            return None
        eig = torch.linalg.eigvals(weight.detach().double())
        radii[f"h{layer}"] = float(eig.abs().max())
    return radii


# ----------------------------------------------------------------------------- a known answer


class LinearRNN(RecurrentModel):
    """h_t = a * h_{t-1} + W_ih x_t: the reference with an exact answer, dL/dh_{T-k} = a^k dL/dh_T.

    Its gradient profile must fall by exactly log10(a) decades per step; the probes' tests and
    claim G1 use it to check the measurement itself.
    """

    derivative_bound = 1.0  # the identity "activation"

    def __init__(self, input_size: int, output_size: int, hidden_size: int, a: float = 0.9):
        super().__init__(input_size, output_size, hidden_size, 1)
        if not (isinstance(a, (int, float)) and math.isfinite(a) and a != 0):
            raise ValueError(f"a must be a finite non-zero number, got {a!r}")
        self.weight_hh = nn.Parameter(a * torch.eye(hidden_size))
        self.weight_ih = nn.Linear(input_size, hidden_size)

    @classmethod
    def twin_of(cls, model: RecurrentModel) -> LinearRNN:
        """The linear control of a one-layer vanilla RNN: its very weights, the activation removed.

        h_t = W_hh h_{t-1} + W_ih x_t + b_ih + b_hh, with W_hh, W_ih, the biases and the readout
        copied from `model` (on its device, in its dtype), so that the two decay rates differ only
        by what the activation adds.
        """
        weights = getattr(model, "layer_params", None)
        if weights is None or model.derivative_bound is None or model.num_layers != 1:
            raise ValueError(f"model must be a one-layer vanilla RNN, got {type(model).__name__} "
                             f"with {model.num_layers} layer(s)")
        w_ih, w_hh, b_ih, b_hh = weights(0)
        twin = cls(model.input_size, model.output_size, model.hidden_size).to(w_hh)
        with torch.no_grad():
            twin.weight_hh.copy_(w_hh)
            twin.weight_ih.weight.copy_(w_ih)
            twin.weight_ih.bias.copy_(b_ih + b_hh)
            twin.head.load_state_dict(model.head.state_dict())
        return twin

    def state_names(self):
        return ("h0",)

    def step(self, x_t, state):
        return (state[0] @ self.weight_hh.t() + self.weight_ih(x_t),)

    def top_hidden(self, state):
        return state[0]

    def hidden_sequence(self, x):
        h, out = x.new_zeros(x.shape[0], self.hidden_size), []
        for t in range(x.shape[1]):
            (h,) = self.step(x[:, t], (h,))
            out.append(h)
        return torch.stack(out, dim=1)

    def recurrent_weights(self):
        return [(self.weight_hh, 1)]


