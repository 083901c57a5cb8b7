"""Gradient-flow probes: how the gradient decays back through time, measured without underflow.

    profile = gradient_profile(model, x)              # log10 ||dL/dh_{T-k}|| for k = 0..T
    fit = decay_rate(profile.k, profile.mean())       # decades per step, with a 95 % CI
    sal = input_saliency(model, x)                    # log10 ||dy_T/dx_{T-k}|| for k = 0..T-1
    horizon, censored = memory_horizon(sal.mean())    # the longest lag still within 1 % of the peak

Why a hand-written backward sweep. A tanh RNN loses a few tenths of a decade per step and a
sigmoid one close to a decade, so a plain float32 backward pass returns exactly 0 within ~50 steps
and even float64 (smallest subnormal ~1e-324) cannot hold 0.25^1000 ~ 1e-602. The probes therefore
run the model's step view (`suite.models.base`) on a float64 copy of the model, make every state a
fresh autograd leaf, take the *direct* gradient of the loss w.r.t. every leaf in one autograd call,
and then walk back through time by hand: the running gradient is kept as a unit vector times
10**scale (one scale per sample), each step applies one vector-Jacobian product to the unit vector,
renormalises and adds the next direct term in log space. Norms are reported as log10 values, never
as the raw (underflowing) number; an exact zero (e.g. every ReLU unit off) is reported as -inf.

Losses. "probe": L = u . h_T with u a fixed random unit vector (seeded), so dL/dh_T has norm 1 and
everything before it is pure propagation. "task": the task's own loss times the batch size (the
task losses are batch means, so each sample then gets the gradient of its own loss). A task loss
that reads every step (copy with loss_window="all") adds a direct term at every step, and its
profile shows that plateau rather than the decay of a long-range signal.

Decay-rate window (`decay_rate`). k = 0 is the loss's own direct gradient, so the fit starts at
k_min = 1 and runs to the longest lag measured, ending early just before the first lag whose
batch-mean log10 norm is not finite (an exact zero) or lies at or below `floor`. Log-space
profiles have no numerical floor; `floor` exists for plain-autograd profiles
(`autograd_profile`), whose floor is the dtype's smallest subnormal.

Memory horizon (`memory_horizon`). The saliency profile S(k) = mean over the batch of
log10 ||dy_T/dx_{T-k}||_F (Frobenius norm of the output-input Jacobian). The horizon is the largest
lag k with S(k) >= max_k S(k) - 2, i.e. saliency still >= 1 % of its peak (geometric mean over the
batch). It is censored (a lower bound) when that is the longest lag measured, k = T - 1.

Per-step Jacobians (`step_jacobian_norms`): the spectral norm of ds_t/ds_{t-1} per sample (the whole
state, and each named element's diagonal block; computed exactly with one batched backward pass
per step), against the bound gamma * sigma_max(W_hh) of a
vanilla cell (Pascanu, Mikolov & Bengio 2013; gamma = `model.derivative_bound`).

References: Bengio, Simard & Frasconi (1994); Hochreiter (1991); Pascanu, Mikolov & Bengio (2013).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .models import RecurrentModel, make_model
from .models.base import State
from .specs import ArchSpec, RunSpec, TaskSpec, TrainSpec, derive_seed
from .stats import LinearFit, linear_fit

PROBE_LOSSES = ("probe", "task")
LN10 = math.log(10.0)
HORIZON_DECADES = 2.0  # the memory horizon's threshold: 1 % of the peak saliency

# ----------------------------------------------------------------------------- results


@dataclass
class LagProfile:
    """log10 norms per sample over lags k; `log10[name]` has shape (batch, len(k))."""

    k: np.ndarray
    log10: dict[str, np.ndarray]
    what: str  # e.g. "log10 ||dL/dh_{T-k}||, loss 'probe'"

    def mean(self, name: str = "total") -> np.ndarray:
        """Mean over the batch of the log10 norms (the log of the geometric mean)."""
        return _nanfree_mean(self.log10[name])

    def std(self, name: str = "total") -> np.ndarray:
        values = self.log10[name]
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(values).all(axis=0), values.std(axis=0), np.nan)

    def percentiles(self, name: str = "total", q=(5, 50, 95)) -> np.ndarray:
        """Shape (len(q), len(k)); -inf entries (exact zeros) count as the smallest values."""
        return np.percentile(self.log10[name], q, axis=0)

    def at(self, k: int, name: str = "total") -> float:
        return float(self.mean(name)[int(np.searchsorted(self.k, k))])

    @property
    def names(self) -> list[str]:
        return list(self.log10)


def _nanfree_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0; -inf if any sample is an exact zero (never NaN)."""
    out = np.full(values.shape[1], -np.inf)
    finite = np.isfinite(values).all(axis=0)
    out[finite] = values[:, finite].mean(axis=0)
    return out


def mean_ci(values, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of per-seed values with a Student-t interval (n - 1 degrees of freedom); n >= 2."""
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size < 2 or not np.isfinite(data).all():
        raise ValueError(f"mean_ci needs at least 2 finite values, got {values!r}")
    from scipy import stats

    mean = float(data.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, df=data.size - 1) * data.std(ddof=1) / math.sqrt(data.size))
    return mean, (mean - half, mean + half)


@dataclass(frozen=True)
class DecayFit:
    """Slope of log10 norm vs k (decades per step) over the window [k_min, k_max]."""

    slope: float
    ci: tuple[float, float]
    intercept: float
    r2: float
    k_min: int
    k_max: int
    n: int

    @classmethod
    def from_linear(cls, fit: LinearFit, k_min: int, k_max: int) -> "DecayFit":
        return cls(fit.slope, fit.slope_ci, fit.intercept, fit.r2, k_min, k_max, fit.n)


@dataclass
class JacobianNorms:
    """Spectral norms of the per-step state Jacobian ds_t/ds_{t-1}; arrays (batch, len(steps))."""

    steps: np.ndarray
    full: np.ndarray
    blocks: dict[str, np.ndarray] = field(default_factory=dict)  # per state name, diagonal block


# ----------------------------------------------------------------------------- inputs


def float64_copy(model: RecurrentModel, device=None, *, frozen: bool = True) -> RecurrentModel:
    """A float64 copy (on `device`, default the model's) that the probe may run without side effects."""
    if device is None:
        device = next(model.parameters()).device
    clone = copy.deepcopy(model).to(device=device, dtype=torch.float64)
    clone.eval()
    if frozen:
        clone.requires_grad_(False)
    return clone


def probe_vector(size: int, seed: int = 0) -> torch.Tensor:
    """The fixed random unit vector u of the probe loss L = u . h_T (float64, CPU)."""
    gen = torch.Generator().manual_seed(derive_seed("probe-vector", size, seed))
    u = torch.randn(size, generator=gen, dtype=torch.float64)
    return u / u.norm()


def probe_batch(task_spec: TaskSpec, batch: int, seed: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A probe batch from the task's distribution, seeded apart from training and evaluation data."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    task = task_spec.build()
    gen = torch.Generator().manual_seed(derive_seed("probe-data", task_spec.with_defaults(), seed))
    return task.sample(batch, gen, device)


def build_model(arch: ArchSpec, task_spec: TaskSpec, seed: int, device="cpu") -> RecurrentModel:
    """The very network `suite.train.run` would start from for (task, arch, seed)."""
    task = task_spec.build()
    spec = RunSpec(task=task_spec, arch=arch, seed=seed)
    return make_model(arch, task.input_size, task.output_size, spec.init_seed()).to(device)


# ----------------------------------------------------------------------------- the sweep


def _flat(parts) -> list[torch.Tensor]:
    return [p for part in parts for p in part]


def _norm(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Per-sample Euclidean norm over a tuple of (batch, n) tensors, scaled so that squaring
    cannot underflow (or overflow): max|p| * sqrt(sum (p / max|p|)^2)."""
    peak = torch.stack([p.abs().amax(dim=-1) for p in parts], dim=-1).amax(dim=-1)
    safe = torch.where(peak > 0, peak, torch.ones_like(peak))[:, None]
    return peak * torch.sqrt(sum(((p / safe) ** 2).sum(dim=-1) for p in parts))


def _log10(values: torch.Tensor) -> torch.Tensor:
    return torch.log10(values)  # log10(0) = -inf, as wanted


def _unroll(model: RecurrentModel, x: torch.Tensor, track_inputs: bool):
    """Step view with every state a fresh leaf: leaves[t] = s_t (t = 0..T), outs[t-1] = step output."""
    batch, steps = x.shape[:2]
    leaves = [tuple(s.detach().requires_grad_() for s in model.initial_state(batch, x))]
    outs, xs = [], []
    for t in range(steps):
        x_t = x[:, t].detach().requires_grad_(track_inputs)
        out = model.step(x_t, leaves[-1])
        outs.append(out)
        xs.append(x_t)
        leaves.append(tuple(o.detach().requires_grad_() for o in out))
    return leaves, outs, xs


def _combine(w, scale, direct):
    """(w * 10**scale + direct) as (unit vector, log10 norm) per sample, without underflow.

    `w` is the VJP of the unit vector, `scale` its log10 scale, `direct` a raw gradient.
    """
    w_norm, d_norm = _norm(w), _norm(direct)
    a = scale + _log10(w_norm)
    b = _log10(d_norm)
    m = torch.maximum(a, b)
    finite = torch.isfinite(m)
    m0 = torch.where(finite, m, torch.zeros_like(m))
    safe = lambda n: torch.where(n > 0, n, torch.ones_like(n))  # noqa: E731
    ca = torch.where(w_norm > 0, torch.pow(10.0, a - m0) / safe(w_norm), torch.zeros_like(m))
    cb = torch.where(d_norm > 0, torch.pow(10.0, b - m0) / safe(d_norm), torch.zeros_like(m))
    ca = torch.where(finite, ca, torch.zeros_like(ca))
    cb = torch.where(finite, cb, torch.zeros_like(cb))
    new = tuple(ca[:, None] * wi + cb[:, None] * di for wi, di in zip(w, direct))
    n = _norm(new)
    ok = finite & (n > 0)
    scale_new = torch.where(ok, m0 + _log10(safe(n)), torch.full_like(m, -math.inf))
    unit = tuple(p / safe(n)[:, None] for p in new)
    return unit, scale_new


def _log_backward(model: RecurrentModel, x: torch.Tensor, objective, *, track_inputs: bool = False,
                  elements: list[int] | None = None):
    """Gradients of sum_b objective_b w.r.t. every state s_t (and input x_t), in log space.

    `objective(leaves) -> (batch,)`. Returns (units, scales, x_log10, element_log10): the gradient
    w.r.t. the state s_t as a whole (each element an input of step t + 1) is
    units[t] * 10**scales[t], units[t] a tuple like the state with unit norm per sample,
    x_log10 (batch, T) log10 ||dL/dx_t|| (None unless track_inputs), and element_log10[i][t] the
    log10 norm of the total derivative of L w.r.t. element i of s_t as step t computes it, so it
    includes the same-step paths into the other elements (c_t -> h_t in an LSTM, h^0_t -> h^1_t
    in a stack), as the usual BPTT recursion does. At t = 0 (no step computes s_0) the two agree.
    """
    leaves, outs, xs = _unroll(model, x, track_inputs)
    steps, n_el = len(outs), len(leaves[0])
    elements = list(elements or [])
    total = objective(leaves).sum()
    grads = torch.autograd.grad(total, _flat(leaves), allow_unused=True)
    direct = [
        tuple(g if g is not None else torch.zeros_like(leaf) for g, leaf in
              zip(grads[t * n_el:(t + 1) * n_el], leaves[t]))
        for t in range(steps + 1)
    ]
    zeros = tuple(torch.zeros_like(d) for d in direct[steps])
    unit, scale = _combine(zeros, torch.full_like(_norm(zeros), -math.inf), direct[steps])
    units, scales = [None] * (steps + 1), [None] * (steps + 1)
    units[steps], scales[steps] = unit, scale
    per_element = {i: [None] * (steps + 1) for i in elements}
    x_log10 = None
    if track_inputs:
        x_log10 = torch.full((x.shape[0], steps), -math.inf, dtype=x.dtype, device=x.device)
    for t in range(steps, 0, -1):
        out = outs[t - 1]
        for i in elements:  # total derivative w.r.t. the element as step t computes it
            (g,) = torch.autograd.grad(out, out[i], grad_outputs=unit, retain_graph=True)
            per_element[i][t] = scale + _log10(_norm((g,)))
        inputs = list(leaves[t - 1]) + ([xs[t - 1]] if track_inputs else [])
        vjp = torch.autograd.grad(out, inputs, grad_outputs=unit, allow_unused=True)
        vjp = [g if g is not None else torch.zeros_like(i) for g, i in zip(vjp, inputs)]
        if track_inputs:
            x_log10[:, t - 1] = scale + _log10(_norm((vjp[-1],)))
        unit, scale = _combine(tuple(vjp[:n_el]), scale, direct[t - 1])
        units[t - 1], scales[t - 1] = unit, scale
    for i in elements:
        per_element[i][0] = scale + _log10(_norm((unit[i],)))
    return units, scales, x_log10, per_element


def gradient_profile(
    model: RecurrentModel,
    x: torch.Tensor,
    *,
    loss: str = "probe",
    task=None,
    y: torch.Tensor | None = None,
    probe_seed: int = 0,
    device=None,
) -> LagProfile:
    """log10 ||dL/dh_{T-k}|| for k = 0..T, per sample, for each state element and in total.

    "total" is the gradient w.r.t. the state s_{T-k} as a whole, each element taken as an input of
    the next step (what the backward recursion carries). Each named element ("h0", "c0", "h1",
    ...) gets the usual BPTT quantity: the total derivative w.r.t. that element as its step
    computes it, including same-step paths (an LSTM's c_t -> h_t, a stack's h^0_t -> h^1_t).
    Elements whose name contains "@" (delayed copies kept for skip connections) are carried by
    the sweep but neither reported nor counted in "total". `model` is not modified.
    """
    if loss not in PROBE_LOSSES:
        raise ValueError(f"loss must be one of {list(PROBE_LOSSES)}, got {loss!r}")
    if loss == "task" and (task is None or y is None):
        raise ValueError("loss 'task' needs the task and the targets y")
    net = float64_copy(model, device)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=torch.float64)

    if loss == "probe":
        u = probe_vector(net.hidden_size, probe_seed).to(dev)
        objective = lambda leaves: net.top_hidden(leaves[-1]) @ u  # noqa: E731
    else:
        targets = y.to(dev)

        def objective(leaves):
            hiddens = torch.stack([net.top_hidden(s) for s in leaves[1:]], dim=1)
            value = task.loss(net.readout(hiddens, task.output_positions), targets) * x.shape[0]
            return value.expand(x.shape[0]) / x.shape[0]

    names = net.state_names()
    shown = [i for i, name in enumerate(names) if "@" not in name]
    # with a single-element state the total derivative is the partial one: skip the extra VJPs
    elements = shown if len(names) > 1 else []
    units, scales, _, per_element = _log_backward(net, x, objective, elements=elements)
    steps = len(scales) - 1
    total = [scales[t] + _log10(_norm(tuple(units[t][i] for i in shown))) for t in range(steps, -1, -1)]
    total = torch.stack(total, dim=1).cpu().numpy()
    log10 = {names[i]: torch.stack(per_element[i][::-1], dim=1).cpu().numpy() for i in elements}
    log10 = log10 or {names[0]: total}
    log10["total"] = total
    return LagProfile(np.arange(steps + 1), log10, f"log10 ||dL/dh_(T-k)||, loss {loss!r}")


def input_saliency(model: RecurrentModel, x: torch.Tensor, *, device=None) -> LagProfile:
    """log10 ||dy_T/dx_{T-k}||_F for k = 0..T-1 (Frobenius norm over output and input channels)."""
    net = float64_copy(model, device)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=torch.float64)
    batch, outputs = x.shape[0], net.output_size
    tiled = x.repeat_interleave(outputs, dim=0)  # row r asks for output channel r % outputs
    channel = torch.arange(batch * outputs, device=dev) % outputs

    def objective(leaves):
        hiddens = torch.stack([net.top_hidden(s) for s in leaves[1:]], dim=1)
        y_last = net.readout(hiddens, slice(-1, None))[:, 0]
        return y_last.gather(1, channel[:, None])[:, 0]

    _, _, x_log10, _ = _log_backward(net, tiled, objective, track_inputs=True)
    per_channel = x_log10.reshape(batch, outputs, -1)
    frob = torch.logsumexp(2 * LN10 * per_channel, dim=1) / (2 * LN10)  # (batch, T), t ascending
    return LagProfile(np.arange(frob.shape[1]), {"total": frob.flip(1).cpu().numpy()},
                   "log10 ||dy_T/dx_(T-k)||_F")


def autograd_profile(model: RecurrentModel, x: torch.Tensor, dtype=torch.float32, probe_seed: int = 0) -> LagProfile:
    """Plain autograd in `dtype` through the whole graph (the naive measurement that underflows).

    The same probe loss as `gradient_profile`; raw norms, converted to log10 at the end (an
    underflowed 0 shows up as -inf). For comparisons and for showing where the floor lies.
    """
    net = copy.deepcopy(model).to(dtype=dtype).eval().requires_grad_(False)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=dtype)
    u = probe_vector(net.hidden_size, probe_seed).to(device=dev, dtype=dtype)
    state = tuple(s.requires_grad_() for s in net.initial_state(x.shape[0], x))
    states = [state]
    for t in range(x.shape[1]):
        states.append(net.step(x[:, t], states[-1]))
        for s in states[-1]:
            s.retain_grad()
    (net.top_hidden(states[-1]) @ u).sum().backward()
    names = net.state_names()
    shown = [i for i, name in enumerate(names) if "@" not in name]
    rows = []
    for s in reversed(states):
        grads = tuple(s[i].grad if s[i].grad is not None else torch.zeros_like(s[i]) for i in shown)
        rows.append(_norm(tuple(g.double() for g in grads)))
    with np.errstate(divide="ignore"):
        values = np.log10(torch.stack(rows, dim=1).cpu().numpy())
    return LagProfile(np.arange(len(states)), {"total": values}, f"plain autograd in {dtype}")


def _check_inputs(model: RecurrentModel, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != model.input_size:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a (batch, time, {model.input_size}) tensor, got {shape}")
    if x.shape[1] < 1:
        raise ValueError("x must have at least one time step")
    return x


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
                    blocks[name].append(torch.linalg.matrix_norm(J[:, lo:hi, lo:hi], ord=2))
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


# ----------------------------------------------------------------------------- one seed, end to end


@dataclass
class ProbeResult:
    seed: int
    profile: LagProfile
    fit: DecayFit
    saliency: LagProfile | None
    horizon: int | None
    horizon_censored: bool | None
    training: dict | None = None


def probe(
    arch: ArchSpec,
    task_spec: TaskSpec,
    seed: int,
    *,
    batch: int = 16,
    loss: str = "probe",
    train: TrainSpec | None = None,
    device: str = "cpu",
    saliency: bool = True,
    model: RecurrentModel | None = None,
) -> ProbeResult:
    """Build (or take) the model for (task, arch, seed), train it first if `train` is given
    (through `suite.train.run`, in place), then measure its gradient profile and saliency."""
    if model is None:
        model = build_model(arch, task_spec, seed, device)
    training = None
    if train is not None:
        from .train import run

        result = run(RunSpec(task=task_spec, arch=arch, train=train, seed=seed, device=device), model=model)
        training = {"steps_run": result.steps_run, "final_loss": result.final_loss,
                    "final_metric": result.final_metric, "diverged": result.diverged}
    task = task_spec.build()
    x, y = probe_batch(task_spec, batch, seed, device)
    profile = gradient_profile(model, x, loss=loss, task=task, y=y, probe_seed=seed)
    fit = decay_rate(profile.k, profile.mean())
    sal, horizon, censored = None, None, None
    if saliency:
        sal = input_saliency(model, x)
        horizon, censored = memory_horizon(sal.mean(), sal.k)
    return ProbeResult(seed, profile, fit, sal, horizon, censored, training)


def summarise(results: list[ProbeResult]) -> dict:
    """Combine per-seed probe results into one JSON-ready summary (what `vgsuite probe` prints).

    Curves are the mean over seeds of each seed's batch-mean log10 norm. With two or more seeds
    the decay rate is the mean of the per-seed slopes with a Student-t 95 % CI over seeds; with
    one seed it is that seed's OLS slope and CI. The memory horizon is that of the seed-mean
    saliency curve (same definition as `memory_horizon`).
    """
    if not results:
        raise ValueError("summarise needs at least one probe result")
    profile = results[0].profile
    curves = {name: np.mean([r.profile.mean(name) for r in results], axis=0) for name in profile.names}
    spread = np.std([r.profile.mean() for r in results], axis=0)
    slopes = [r.fit.slope for r in results]
    if len(results) > 1:
        slope, ci = mean_ci(slopes)
        method = f"Student-t over {len(results)} seeds of the per-seed OLS slopes"
    else:
        slope, ci = results[0].fit.slope, results[0].fit.ci
        method = "OLS slope of the batch-mean curve (one seed)"
    out = {
        "k": profile.k.tolist(),
        "log10_grad_norm": curves["total"].tolist(),
        "log10_grad_norm_seed_std": spread.tolist(),
        "log10_grad_norm_by_state": {n: c.tolist() for n, c in curves.items() if n != "total"},
        "decay_log10_per_step": float(slope),
        "ci95": [float(ci[0]), float(ci[1])],
        "ci_method": method,
        "fit_window": [min(r.fit.k_min for r in results), min(r.fit.k_max for r in results)],
        "memory_horizon": None,
        "memory_horizon_censored": None,
        "per_seed": [
            {"seed": r.seed, "decay_log10_per_step": r.fit.slope, "ci95": list(r.fit.ci), "r2": r.fit.r2,
             "memory_horizon": r.horizon, "memory_horizon_censored": r.horizon_censored,
             "training": r.training}
            for r in results
        ],
    }
    if all(r.saliency is not None for r in results):
        saliency = np.mean([r.saliency.mean() for r in results], axis=0)
        horizon, censored = memory_horizon(saliency, results[0].saliency.k)
        out.update(saliency_k=results[0].saliency.k.tolist(), log10_saliency=saliency.tolist(),
                   memory_horizon=horizon, memory_horizon_censored=censored)
    return _jsonable(out)


def _jsonable(value):
    """Replace non-finite floats (an exact-zero gradient's -inf) by None for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


__all__ = [
    "DecayFit", "HORIZON_DECADES", "JacobianNorms", "LagProfile", "LinearRNN", "PROBE_LOSSES",
    "ProbeResult", "autograd_profile", "build_model", "decay_rate", "float64_copy",
    "gradient_profile", "input_saliency", "jacobian_bound", "mean_ci", "memory_horizon", "probe",
    "probe_batch", "probe_vector", "summarise",
    "step_jacobian_norms",
]
