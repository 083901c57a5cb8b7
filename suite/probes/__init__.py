"""Gradient-flow probes: how the gradient decays back through time, measured without underflow.

    profile = gradient_profile(model, x)              # log10 ||dL/dh_{T-k}|| for k = 0..T
    fit = decay_rate(profile.k, profile.mean())       # decades per step, with a 95 % CI
    sal = input_saliency(model, x)                    # log10 ||dy_T/dx_{T-k}|| for k = 0..T-1
    horizon, censored = memory_horizon(sal.mean())    # the longest lag still within 1 % of the peak

Why a hand-written backward sweep. A tanh RNN loses a few tenths of a decade per step and a sigmoid
one close to a decade, so a plain float32 backward pass returns exact zeros after ~50 (sigmoid) to
~200 (tanh) steps, and even float64 (smallest subnormal ~1e-324) cannot hold 0.25^1000 ~ 1e-602.
The probes therefore run the model's step view (`suite.models.base`) on a float64 copy of the
model, take the *direct* gradient of the loss w.r.t. every state in one autograd call, and then
walk back through time a chunk of up to 64 steps per autograd call: the running gradient is kept
as a unit vector times 10**scale (one scale per sample), enters the chunk at norm <= 1 together
with the chunk's direct terms at the same scale, and is renormalised once per chunk. float64
spans some 600 decades, so a chunk may lose or gain up to 250 of them without rounding anything
away; a chunk that would leave that range (or meets an exact zero) is halved until it fits, down
to one step. The result equals a renormalisation at every step to float64 rounding
(tests/test_probe_sweep.py), at about 1.5x the time of a bare float64 forward and backward pass
over the same batches (benchmarks/probe_bench.py), where a VJP per step cost about 10x. Norms
are reported as log10 values, never as the raw (underflowing) number; an exact zero (e.g. every
ReLU unit off) is reported as -inf.

What is reported. "total" is the gradient w.r.t. the state s_{T-k} as a whole, each element taken
as an input of the next step (what the recursion carries); each named state element ("h0", "c0",
"h1", ...; names with "@" are skipped) gets its total derivative as its step computes it, i.e. with
the same-step paths (an LSTM's c_t -> h_t, a stack's h^0_t -> h^1_t), as textbook BPTT defines it.
Both agree with plain float64 autograd wherever that does not underflow (see `autograd_profile`).

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

Per-step Jacobians (`step_jacobian_norms`): the spectral norm of ds_t/ds_{t-1} per sample (the
whole state, and each named element's diagonal block; exact, one batched backward pass per step),
against the bound gamma * sigma_max(W_hh) of a vanilla cell (Pascanu, Mikolov & Bengio 2013;
gamma = `model.derivative_bound`: 1 for tanh, 1/4 for sigmoid).

References: Bengio, Simard & Frasconi (1994); Hochreiter (1991); Pascanu, Mikolov & Bengio (2013).
"""

from __future__ import annotations

from .backward import (
                       autograd_profile,
                       build_model,
                       float64_copy,
                       gradient_profile,
                       input_saliency,
                       probe_batch,
                       probe_vector,
)
from .results import HORIZON_DECADES, PROBE_LOSSES, DecayFit, JacobianNorms, LagProfile, mean_ci
from .runner import ProbeResult, probe, summarise
from .summaries import (
    LinearRNN,
    decay_rate,
    jacobian_bound,
    memory_horizon,
    spectral_radius,
    step_jacobian_norms,
)

__all__ = [
    "DecayFit", "HORIZON_DECADES", "JacobianNorms", "LagProfile", "LinearRNN", "PROBE_LOSSES",
    "ProbeResult", "autograd_profile", "build_model", "decay_rate", "float64_copy",
    "gradient_profile", "input_saliency", "jacobian_bound", "mean_ci", "memory_horizon", "probe",
    "probe_batch", "probe_vector", "spectral_radius", "summarise",
    "step_jacobian_norms",
]
