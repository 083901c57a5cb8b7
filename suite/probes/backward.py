"""The log-space backward sweep: gradient profiles and input saliency without underflow (see the package docstring)."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..models import RecurrentModel, make_model
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


def autograd_profile(model: RecurrentModel, x: torch.Tensor, dtype=torch.float32,
                     probe_seed: int = 0) -> LagProfile:
    """Plain autograd in `dtype` through the whole graph (the naive measurement that underflows).

    The probe loss of `gradient_profile` and the same definitions: each step reads copies of the
    previous state (`s + 0`) whose .grad is the gradient w.r.t. the state as the next step's input
    ("total"), while each state element's own .grad is its total derivative (the named entries).
    Raw norms are taken in float64 after the backward pass, so an underflowed gradient shows up as
    -inf; for checking the log-space sweep and for showing where the floor lies.
    """
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


