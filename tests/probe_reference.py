"""The log-space sweep as it stood before issue 15, frozen as the reference the chunked sweep
(suite.probes.backward) must reproduce: one vector-Jacobian product and one renormalisation per
time step and sample. Only tests import it; `reference_backward` has the signature of
`suite.probes.backward._log_backward`, so a test can swap it in and compare."""

from __future__ import annotations

import math

import torch

from suite.probes.backward import _log10, _norm


def _unroll(model, x, track_inputs):
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
    w_norm, d_norm = _norm(w), _norm(direct)
    a = scale + _log10(w_norm)
    b = _log10(d_norm)
    m = torch.maximum(a, b)
    finite = torch.isfinite(m)
    m0 = torch.where(finite, m, torch.zeros_like(m))

    def safe(n):
        return torch.where(n > 0, n, torch.ones_like(n))

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


def reference_backward(model, x, objective, *, track_inputs=False, elements=(), shown=None):
    """(total_log10, x_log10, element_log10) as `_log_backward` returns them, the old way."""
    leaves, outs, xs = _unroll(model, x, track_inputs)
    steps, n_el = len(outs), len(leaves[0])
    shown = list(range(n_el)) if shown is None else list(shown)
    total = objective(leaves).sum()
    grads = torch.autograd.grad(total, [p for part in leaves for p in part], allow_unused=True)
    direct = [tuple(g if g is not None else torch.zeros_like(leaf)
                    for g, leaf in zip(grads[t * n_el:(t + 1) * n_el], leaves[t]))
              for t in range(steps + 1)]
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
        for i in elements:
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
    total_log10 = torch.stack([scales[t] + _log10(_norm(tuple(units[t][i] for i in shown)))
                               for t in range(steps + 1)], dim=1)
    return total_log10, x_log10, {i: torch.stack(v, dim=1) for i, v in per_element.items()}
