"""minGRU and minLSTM (suite/models/minimal.py) against what Feng et al. (2024) state: gates that
never read h_(t-1), so the per-step Jacobian is the diagonal of the forget factor; a parallel scan
equal to the step loop; minLSTM's normalised gates making h_t a convex combination of h_(t-1) and
the candidate; and the float64 probes reproducing the gradient's closed form through the gates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from suite.models import make_model
from suite.models.minimal import g, log_g, scan_log
from suite.probes import gradient_profile, probe_vector
from suite.specs import ArchSpec

INPUT, OUTPUT, HIDDEN = 3, 2, 6


def model(name: str, layers: int = 1, seed: int = 0):
    return make_model(ArchSpec(name, hidden=HIDDEN, layers=layers), INPUT, OUTPUT, seed).double()


def inputs(steps: int, batch: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, steps, INPUT, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_the_step_jacobian_is_the_diagonal_of_the_forget_factor(name):
    net, x = model(name), inputs(5)
    h = torch.rand(4, HIDDEN, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for b in range(4):
        jac = torch.autograd.functional.jacobian(lambda s, x_t=x[b:b + 1, 2]: net.step(x_t, (s,))[0], h[b:b + 1])
        jac = jac.reshape(HIDDEN, HIDDEN)
        factor = net.gates(0, x[b:b + 1, 2])[0]  # 1 - z_t, or f'_t: read off x_t alone
        torch.testing.assert_close(jac, torch.diag(factor), rtol=0, atol=1e-15)
        assert ((factor > 0) & (factor < 1)).all()


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
@pytest.mark.parametrize("layers", [1, 3])
def test_the_parallel_scan_is_the_step_loop(name, layers):
    net, x = model(name, layers), inputs(1000)
    torch.testing.assert_close(net(x), net.forward_stepwise(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(net.scanned(x), net.looped(x), rtol=1e-10, atol=1e-12)  # CUDA's path, CPU's
    single = make_model(ArchSpec(name, hidden=HIDDEN, layers=layers), INPUT, OUTPUT, 0)  # float32 training
    torch.testing.assert_close(single(x.float()), single.forward_stepwise(x.float()), rtol=1e-3, atol=1e-4)


def test_minlstm_states_stay_between_the_previous_state_and_the_candidate():
    """f' + i' = 1: h_t is a convex combination of h_(t-1) and h~_t."""
    net, x = model("minlstm"), inputs(50)
    h = torch.zeros(4, HIDDEN, dtype=torch.float64)
    for t in range(50):
        k_f, k_i, k_h = net.layers[0](x[:, t]).chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        candidate = g(k_h)
        (new,) = net.step(x[:, t], (h,))
        torch.testing.assert_close(new, (f * h + i * candidate) / (f + i), rtol=1e-12, atol=1e-15)
        assert (new >= torch.minimum(h, candidate) - 1e-15).all() and (new <= torch.maximum(h, candidate) + 1e-15).all()
        h = new


@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_the_probe_measures_the_product_of_gates(name):
    """With the probe loss u . h_T the gradient at h_(T-k) is u (.) prod of the last k forget
    factors: its log10 norm, per sample, is known in closed form, far below float64's floor."""
    net, x = model(name), inputs(1200, batch=2)
    profile = gradient_profile(net, x)
    u = probe_vector(HIDDEN, 0).double()
    factors = torch.stack([net.gates(0, x[:, t]) for t in range(x.shape[1])], dim=1)  # (batch, T, H)
    log_factors = torch.log10(factors).flip(1)  # k = 1 .. T: the factors of steps T, T-1, ...
    cumulative = torch.cat([torch.zeros(2, 1, HIDDEN, dtype=torch.float64), log_factors.cumsum(1)], dim=1)
    terms = torch.log10(u.abs())[None, None] + cumulative  # log10 |u_i prod a_i|, (batch, T + 1, H)
    expected = torch.logsumexp(2 * math.log(10) * terms, dim=-1) / (2 * math.log(10))
    np.testing.assert_allclose(profile.log10["total"], expected.detach().numpy(), rtol=0, atol=1e-8)
    assert profile.mean()[-1] < -250  # some 200 decades below what float32 can hold at all


def test_a_recurrent_init_is_refused_by_name():
    with pytest.raises(ValueError, match="exposes no square recurrent matrix"):
        make_model(ArchSpec("mingru", hidden=HIDDEN, init="orthogonal"), INPUT, OUTPUT, 0)


def test_the_helpers():
    v = torch.tensor([-3.0, -0.1, 0.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(torch.exp(log_g(v)), g(v))
    assert (g(v) > 0).all()
    log_a, log_b = torch.log(torch.rand(2, 7, 3, dtype=torch.float64)), torch.randn(2, 7, 3, dtype=torch.float64)
    h, expected = torch.zeros(2, 3, dtype=torch.float64), []
    for t in range(7):
        h = torch.exp(log_a[:, t]) * h + torch.exp(log_b[:, t])
        expected.append(h)
    torch.testing.assert_close(scan_log(log_a, log_b), torch.stack(expected, 1))
