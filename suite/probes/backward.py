"""The log-space backward sweep: gradient profiles and input saliency without underflow (see the package docstring)."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..models import RecurrentModel, make_model
from ..models.sequence import NO_STEP_VIEW, NoStepView, has_step_view
from ..specs import ArchSpec, RunSpec, TaskSpec, derive_seed
from .results import LN10, PROBE_LOSSES, LagProfile

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


def probe_batch(task_spec: TaskSpec, batch: int, seed: int,
                device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
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
    """Euclidean norm over the last axis of a tuple of (..., n) tensors (per sample, per step),
    scaled so that squaring cannot underflow (or overflow): max|p| * sqrt(sum (p / max|p|)^2)."""
    peak = torch.stack([p.abs().amax(dim=-1) for p in parts], dim=-1).amax(dim=-1)
    safe = torch.where(peak > 0, peak, torch.ones_like(peak))[..., None]
    return peak * torch.sqrt(sum(((p / safe) ** 2).sum(dim=-1) for p in parts))


def _log10(values: torch.Tensor) -> torch.Tensor:
    return torch.log10(values)  # log10(0) = -inf, as wanted


# One renormalisation per CHUNK steps: float64 spans ~600 decades, so a chunk may lose or gain
# up to SAFE_DECADES of them before anything nears the subnormals; a chunk that leaves that range
# (or meets an exact zero) is halved until it fits, down to one step, the per-step sweep.
CHUNK = 64
SAFE_DECADES = 250.0
_LOW, _HIGH, _TINY = 10.0 ** -SAFE_DECADES, 10.0 ** SAFE_DECADES, 1e-290


def _unroll(model: RecurrentModel, x: torch.Tensor, track_inputs: bool):
    """One forward pass through the step view, keeping three names for every state s_t:

    out[t]   s_t as step t computes it (the same-step paths of an LSTM's c_t -> h_t start here)
    carry[t] a copy of it, the only input of step t + 1: its gradient is the "total" one
    read[t]  another copy, the only one the objective reads: the direct gradients enter here
    xs[t]    the input of step t (t = 1..T), a leaf when `track_inputs`
    """
    batch, steps = x.shape[:2]
    start = tuple(s.detach().requires_grad_() for s in model.initial_state(batch, x))
    out, xs = [start], [None]
    carry, read = [tuple(s + 0 for s in start)], [tuple(s * 1 for s in start)]
    for t in range(steps):
        x_t = x[:, t].detach().requires_grad_(track_inputs)
        given = carry[-1]
        state = model.step(x_t, given)
        # an element passed through unchanged (a skip connection's delayed copy) is its input
        # tensor itself: give it a node of its own so that it names s_t, not s_(t-1)
        state = tuple(s + 0 if any(s is g for g in given) or any(s is o for o in state[:i]) else s
                      for i, s in enumerate(state))
        out.append(state)
        xs.append(x_t)
        carry.append(tuple(s + 0 for s in state))
        read.append(tuple(s * 1 for s in state))
    return out, carry, read, xs


def _scaled(parts, factor: torch.Tensor):
    return tuple(p * factor[:, None] for p in parts)


def _pow10(log10: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(log10), torch.pow(10.0, log10), torch.zeros_like(log10))


class _Sweep:
    """The backward walk over one unrolled graph, a chunk [t0, t1] at a time (see `_log_backward`).

    Per-step quantities are stacked over time: (steps, batch, n) per state element."""

    def __init__(self, model, x, objective, track_inputs, elements, shown):
        self.out, self.carry, self.read, self.xs = _unroll(model, x, track_inputs)
        self.steps, self.n_el = len(self.out) - 1, len(self.out[0])
        self.track_inputs, self.elements, self.shown = track_inputs, list(elements), list(shown)
        reads = _flat(self.read)
        grads = torch.autograd.grad(objective(self.read).sum(), reads, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(r) for g, r in zip(grads, reads)]
        direct = _by_element(grads, self.n_el)  # (T + 1, batch, n_i) per element
        norms = _norm(direct)  # (T + 1, batch)
        self.direct_log10 = _log10(norms)
        self.live = (norms > 0).any(dim=1).tolist()  # a direct term at t at all
        # each direct term as a unit vector (0 where it is zero): scaled by 10**(its log10 - m) <= 1
        self.direct_unit = tuple(d / torch.where(norms > 0, norms, torch.ones_like(norms))[..., None]
                                 for d in direct)
        like = self.direct_log10
        self.total = torch.full((x.shape[0], self.steps + 1), -math.inf, dtype=like.dtype, device=like.device)
        self.per_element = {i: self.total.clone() for i in self.elements}
        self.x_log10 = self.total[:, 1:].clone() if track_inputs else None

    def run(self, chunk: int = CHUNK) -> None:
        t1 = self.steps
        unit, scale = tuple(u[t1] for u in self.direct_unit), self.direct_log10[t1]
        self.total[:, t1] = scale + _log10(_norm(tuple(unit[i] for i in self.shown)))
        while t1 > 0:
            size = min(chunk, t1)
            while True:
                done = self._chunk(t1 - size, t1, unit, scale, accept=size == 1)
                if done is not None:
                    break
                size //= 2
            unit, scale = done
            t1 -= size
        for i in self.elements:  # no step computes s_0: its elements' gradients are the carried ones
            self.per_element[i][:, 0] = scale + _log10(_norm((unit[i],)))

    def _chunk(self, t0, t1, unit, scale, accept):
        """Gradients at s_t, t in [t0, t1), from the total at s_t1 (unit * 10**scale per sample)
        plus the direct terms in between, all in one autograd call, in units of 10**m per sample.
        Returns (unit, scale) at s_t0, or None when some norm left the safe range."""
        span, n = t1 - t0, self.n_el
        direct_log10 = self.direct_log10[t0:t1]
        m = torch.maximum(scale, direct_log10.amax(dim=0))
        finite = torch.isfinite(m)
        m0 = torch.where(finite, m, torch.zeros_like(m))
        direct = tuple(u[t0:t1] * _pow10(direct_log10 - m0)[..., None] for u in self.direct_unit)
        inner = [t for t in range(t0, t1) if self.live[t]]
        outputs = list(self.carry[t1]) + [r for t in inner for r in self.read[t]]
        seeds = list(_scaled(unit, _pow10(scale - m0))) + [d[t - t0] for t in inner for d in direct]
        asked = [s for t in range(t0, t1) for s in self.carry[t]]
        asked += [self.out[t][i] for t in range(t0 + 1, t1 + 1) for i in self.elements]
        asked += [self.xs[t] for t in range(t0 + 1, t1 + 1)] if self.track_inputs else []
        grads = torch.autograd.grad(outputs, asked, seeds, retain_graph=True, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(a) for g, a in zip(grads, asked)]
        totals = tuple(g + d for g, d in zip(_by_element(grads[:span * n], n), direct))
        total_norms = _norm(totals)  # (span, batch)
        rest = grads[span * n:]
        k = len(self.elements)
        element_norms = [_norm((g,)) for g in _by_element(rest[:span * k], k)] if k else []
        x_norms = [_norm((torch.stack(rest[span * k:]),))] if self.track_inputs else []
        if not accept and not _in_range(total_norms, element_norms + x_norms, finite):
            return None
        at = lambda norms: torch.where(finite, m0 + _log10(norms), -math.inf).T  # noqa: E731
        self.total[:, t0:t1] = at(_norm(tuple(totals[i] for i in self.shown)))
        for i, norms in zip(self.elements, element_norms):
            self.per_element[i][:, t0 + 1:t1 + 1] = at(norms)
        if self.track_inputs:
            self.x_log10[:, t0:t1] = at(x_norms[0])
        first = total_norms[0]
        ok = finite & (first > 0)
        safe = torch.where(ok, first, torch.ones_like(first))
        unit0 = _scaled(tuple(p[0] for p in totals), torch.where(ok, 1.0 / safe, torch.zeros_like(safe)))
        return unit0, torch.where(ok, m0 + _log10(safe), torch.full_like(m0, -math.inf))


def _by_element(grads: list[torch.Tensor], n: int) -> tuple[torch.Tensor, ...]:
    """[g(t, 0), ..., g(t, n - 1) for each t] -> n tensors stacked over t."""
    return tuple(torch.stack(grads[i::n]) for i in range(n))


def _in_range(total_norms, other_norms, finite) -> bool:
    """Every live sample's total stays in [10**-SAFE, 10**SAFE] at every step of the chunk; no
    other norm is huge or close to the subnormals (an exact zero there is a true zero)."""
    live = total_norms[:, finite]
    if not (torch.isfinite(live).all() and (live >= _LOW).all() and (live <= _HIGH).all()):
        return False
    for norms in other_norms:
        values = norms[:, finite]
        if not torch.isfinite(values).all() or (values > _HIGH).any() or ((values > 0) & (values < _TINY)).any():
            return False
    return True


def _log_backward(model: RecurrentModel, x: torch.Tensor, objective, *, track_inputs: bool = False,
                  elements=(), shown=None):
    """Gradients of sum_b objective_b w.r.t. every state s_t (and input x_t), in log space.

    `objective(states) -> (batch,)` reads states[t] = s_t (t = 0..T). Returns (total_log10, x_log10,
    element_log10): total_log10 (batch, T + 1) the log10 norm over the `shown` elements of the
    gradient w.r.t. s_t as a whole (each element an input of step t + 1; t ascending); x_log10
    (batch, T) log10 ||dL/dx_t|| (None unless track_inputs); element_log10[i] (batch, T + 1) the
    log10 norm of the total derivative of L w.r.t. element i of s_t as step t computes it, so it
    includes the same-step paths into the other elements (c_t -> h_t in an LSTM, h^0_t -> h^1_t
    in a stack), as the usual BPTT recursion does. At t = 0 (no step computes s_0) the two agree.

    The walk goes back a chunk of up to CHUNK steps per autograd call: the total at the chunk's
    end enters as a vector of norm <= 1 (the running gradient is unit vector times 10**scale per
    sample), the direct terms inside it scaled by the same factor, and one renormalisation
    follows. Within SAFE_DECADES of 1, float64 loses nothing, so the result equals the per-step
    sweep to rounding (tests/probe_reference.py keeps that sweep and the tests compare).
    """
    shown = list(range(len(model.state_names()))) if shown is None else shown
    sweep = _Sweep(model, x, objective, track_inputs, elements, shown)
    sweep.run()
    return sweep.total, sweep.x_log10, sweep.per_element


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
    _need_step_view(model)
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
    total, _, per_element = _log_backward(net, x, objective, elements=elements, shown=shown)
    steps = total.shape[1] - 1
    log10 = {names[i]: per_element[i].flip(1).cpu().numpy() for i in elements}
    log10 = log10 or {names[0]: total.flip(1).cpu().numpy()}
    log10["total"] = total.flip(1).cpu().numpy()
    return LagProfile(np.arange(steps + 1), log10, f"log10 ||dL/dh_(T-k)||, loss {loss!r}")


def _need_step_view(model) -> None:
    if not has_step_view(model):
        raise NoStepView(f"{NO_STEP_VIEW} ({getattr(model, 'module_name', type(model).__name__)}): the gradient "
                         "w.r.t. the hidden states needs each state as a node of the graph; its input saliency "
                         "is measured through the fast view (vgsuite check reports it)")


def input_saliency(model: RecurrentModel, x: torch.Tensor, *, device=None) -> LagProfile:
    """log10 ||dy_T/dx_{T-k}||_F for k = 0..T-1 (Frobenius norm over output and input channels).

    Through the step view's log-space sweep; a model without a step view (a sequence module that
    offers none, suite/models/sequence.py) through its fast view in plain float64 autograd, where a
    norm below float64's smallest subnormal reads as an exact 0 (-inf): the memory horizon, which
    looks for 1 % of the peak, is unaffected."""
    net = float64_copy(model, device)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=torch.float64)
    batch, outputs = x.shape[0], net.output_size
    tiled = x.repeat_interleave(outputs, dim=0)  # row r asks for output channel r % outputs
    channel = torch.arange(batch * outputs, device=dev) % outputs
    if not has_step_view(net):
        leaf = tiled.clone().requires_grad_(True)
        y_last = net(leaf, slice(-1, None))[:, 0].gather(1, channel[:, None])[:, 0]
        (grad,) = torch.autograd.grad(y_last.sum(), leaf)
        per_channel = _log10(_norm((grad,))).reshape(batch, outputs, -1)
        frob = torch.logsumexp(2 * LN10 * per_channel, dim=1) / (2 * LN10)
        return LagProfile(np.arange(frob.shape[1]), {"total": frob.flip(1).cpu().numpy()},
                          "log10 ||dy_T/dx_(T-k)||_F (fast view)")

    def objective(leaves):
        hiddens = torch.stack([net.top_hidden(s) for s in leaves[1:]], dim=1)
        y_last = net.readout(hiddens, slice(-1, None))[:, 0]
        return y_last.gather(1, channel[:, None])[:, 0]

    _, x_log10, _ = _log_backward(net, tiled, objective, track_inputs=True)
    per_channel = x_log10.reshape(batch, outputs, -1)
    frob = torch.logsumexp(2 * LN10 * per_channel, dim=1) / (2 * LN10)  # (batch, T), t ascending
    return LagProfile(np.arange(frob.shape[1]), {"total": frob.flip(1).cpu().numpy()},
                   "log10 ||dy_T/dx_(T-k)||_F")


def autograd_profile(model: RecurrentModel, x: torch.Tensor, dtype=torch.float32,
                     probe_seed: int = 0) -> LagProfile:
    """Plain autograd in `dtype` through the whole graph (the naive measurement that underflows).

    The probe loss of `gradient_profile` and the same definitions: each step reads copies of the
    previous state (`s + 0`) whose .grad is the gradient w.r.t. the state as the next step's input
    ("total"), while each state element's own .grad is its total derivative (the named entries).
    Raw norms are taken in float64 after the backward pass, so an underflowed gradient shows up as
    -inf; for checking the log-space sweep and for showing where the floor lies.
    """
    _need_step_view(model)
    net = copy.deepcopy(model).to(dtype=dtype).eval().requires_grad_(False)
    dev = next(net.parameters()).device
    x = _check_inputs(net, x).to(device=dev, dtype=dtype)
    u = probe_vector(net.hidden_size, probe_seed).to(device=dev, dtype=dtype)
    names = net.state_names()
    shown = [i for i, name in enumerate(names) if "@" not in name]
    states = [tuple(s.requires_grad_() for s in net.initial_state(x.shape[0], x))]
    inputs = []
    for t in range(x.shape[1] + 1):
        inputs.append(tuple(s + 0 for s in states[-1]))
        for s in (*states[-1], *inputs[-1]):
            if not s.is_leaf:
                s.retain_grad()
        if t < x.shape[1]:
            states.append(net.step(x[:, t], inputs[-1]))
    (net.top_hidden(inputs[-1]) @ u).sum().backward()

    def norms(parts) -> np.ndarray:
        grads = tuple((p.grad if p.grad is not None else torch.zeros_like(p)).double() for p in parts)
        return _norm(grads).cpu().numpy()

    backwards = range(len(states) - 1, -1, -1)  # k = 0..T
    with np.errstate(divide="ignore"):
        log10 = {"total": np.log10(np.stack([norms([inputs[t][i] for i in shown]) for t in backwards], 1))}
        if len(names) > 1:
            for i in shown:
                log10[names[i]] = np.log10(np.stack([norms([states[t][i]]) for t in backwards], 1))
        else:
            log10[names[0]] = log10["total"]
    return LagProfile(np.arange(len(states)), log10, f"plain autograd in {dtype}")


def _check_inputs(model: RecurrentModel, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != model.input_size:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a (batch, time, {model.input_size}) tensor, got {shape}")
    if x.shape[1] < 1:
        raise ValueError("x must have at least one time step")
    return x


