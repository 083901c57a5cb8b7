"""The recurrent cells of issue 19 against what their papers state: coRNN's energy and per-step
gradient bounds, LEM's bounded states, IndRNN's diagonal Jacobian, ExpRNN's orthogonal W_hh, the
LRU's ring of eigenvalues and the probe's decay matching them, S4D's stable discretisation. Each
also gets its fast view checked against its step view in float64 (the contract in
tests/test_models.py does so at 12 steps; here over long sequences and stacks), and its bad
options refused by name."""

from __future__ import annotations

import importlib
import json
import math
import re

import numpy as np
import pytest
import torch

from suite.cli import main
from suite.models import ARCHITECTURES, architecture, make_model, plugins
from suite.models.plugins import PLUGINS_ENV
from suite.probes import decay_rate, gradient_profile, probe_vector
from suite.specs import ArchSpec

INPUT, OUTPUT, HIDDEN = 3, 2, 6


def model(name: str, layers: int = 1, seed: int = 0, **options):
    return make_model(ArchSpec(name, hidden=HIDDEN, layers=layers, options=options), INPUT, OUTPUT, seed).double()


def inputs(steps: int, batch: int = 4, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    x = torch.randn(batch, steps, INPUT, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return scale * x


def states(net, x):
    """Every step view state s_1..s_T of `net` on `x`."""
    state, out = net.initial_state(x.shape[0], x), []
    for t in range(x.shape[1]):
        state = net.step(x[:, t], state)
        out.append(state)
    return out


# -- every new cell ---------------------------------------------------------------------------------

NAMES = ["cornn", "lem", "indrnn", "lru", "exprnn", "s4d"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layers", [1, 3])
def test_the_fast_view_is_the_step_view(name, layers):
    net, x = model(name, layers), inputs(300)
    torch.testing.assert_close(net(x), net.forward_stepwise(x), rtol=1e-10, atol=1e-12)
    single = make_model(ArchSpec(name, hidden=HIDDEN, layers=layers), INPUT, OUTPUT, 0)  # float32 training
    torch.testing.assert_close(single(x.float()), single.forward_stepwise(x.float()), rtol=1e-3, atol=1e-4)
    if hasattr(net, "scanned"):  # CUDA's path, checked here on the CPU
        torch.testing.assert_close(net.scanned(x), net.hidden_sequence(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_a_recurrent_init_is_refused_with_the_cells_reason(name):
    reason = re.escape(type(model(name)).recurrent_init_refusal)
    with pytest.raises(ValueError, match=rf"init 'orthogonal' with init_gain 1.0 cannot be applied: {reason}"):
        make_model(ArchSpec(name, hidden=HIDDEN, init="orthogonal"), INPUT, OUTPUT, 0)
    with pytest.raises(ValueError, match=rf"init 'default' with init_gain 2.0 cannot be applied: {reason}"):
        make_model(ArchSpec(name, hidden=HIDDEN, init_gain=2.0), INPUT, OUTPUT, 0)


@pytest.mark.parametrize("name,options,message", [
    ("cornn", {"dt": 0.0}, "dt must be a finite number > 0"),
    ("cornn", {"gamma": -1.0}, "gamma must be a finite number > 0"),
    ("cornn", {"epsilon": "big"}, r"option .epsilon. takes a number \(its default is 4.7\)"),  # the spec checks kinds
    ("lem", {"dt": 1.5}, r"dt must be a number in \(0, 1\]"),
    ("indrnn", {"u_min": 0.5, "u_max": 0.1}, "u_min must be <= u_max"),
    ("indrnn", {"u_max": "one"}, r"option .u_max. takes a number \(its default is 1.0\)"),
    ("indrnn", {"u_bound": 0}, "u_bound must be None or a finite number > 0"),
    ("lru", {"r_min": 0.99, "r_max": 0.9}, "r_min and r_max must satisfy 0 <= r_min <= r_max < 1"),
    ("lru", {"r_max": 1.0}, "r_min and r_max must satisfy 0 <= r_min <= r_max < 1"),
    ("lru", {"max_phase": 0.0}, "max_phase must be > 0"),
    ("exprnn", {"skew_init": "identity"}, r"skew_init must be one of \['henaff', 'cayley'\]"),
    ("s4d", {"init": "legs"}, r"init must be one of \['lin', 'inv'\]"),
    ("s4d", {"state_size": 5}, "state_size must be an even integer >= 2"),
    ("s4d", {"dt_min": 0.0}, "dt_min must be a finite number > 0"),
    ("s4d", {"dt_min": 0.5, "dt_max": 0.1}, "dt_min must be <= dt_max"),
])
def test_bad_options_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        model(name, **options)


@pytest.mark.parametrize("name", NAMES)
def test_vgsuite_check_accepts_it(name, tmp_path, capsys):
    """The contract plus the probes of `vgsuite check`, with no training (a few seconds each)."""
    code = main(["check", "--arch", name, "--no-train", "--baselines", "none", "--hidden", "8", "--probe-gap", "12",
                 "--probe-seeds", "2", "--probe-batch", "4", "--store", str(tmp_path / "runs.sqlite"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["exit_code"] == 0, report
    assert all(c["passed"] for c in report["contract"]) and set(report["measures"]) == {name}


# -- coRNN ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt,gamma,epsilon", [(0.042, 2.7, 4.7), (0.01, 1.0, 1.0), (0.1, 5.0, 0.5)])
def test_cornn_energy_grows_at_most_linearly_in_time(dt, gamma, epsilon):
    """The paper's energy bound on the states (Section 3), in the discrete form of the IMEX scheme.
    Dotting the z-update with z_n and using y_n - y_(n-1) = dt z_n gives, with E = gamma |y|^2 + |z|^2
    and |tanh| <= 1 on m units,
        E_n - E_(n-1) <= 2 dt sqrt(m) |z_n| - (2 epsilon - gamma dt) dt |z_n|^2 <= dt m / (2 epsilon - gamma dt),
    so from the zero state E_n <= m t_n / (2 epsilon - gamma dt), t_n = n dt, whatever the input."""
    net = model("cornn", dt=dt, gamma=gamma, epsilon=epsilon)
    x = inputs(400, batch=8, scale=30.0)  # saturate the drive
    bound_rate = HIDDEN * dt / (2 * epsilon - gamma * dt)
    for n, (y, z) in enumerate(states(net, x), start=1):
        energy = gamma * (y ** 2).sum(-1) + (z ** 2).sum(-1)
        assert (energy <= n * bound_rate * (1 + 1e-12)).all(), n


def test_cornn_gradient_changes_by_at_most_order_dt_per_step():
    """The per-step form of the paper's gradient bounds (Section 3): the step Jacobian of
    (y, z) is P + dt N with P = diag(I, a I), a = 1 / (1 + dt epsilon), and
        N = [[a dt (D W - gamma), a (I + dt D Wc)], [a (D W - gamma), a D Wc]],  D = diag(tanh') <= 1,
    so sigma_min >= a - dt |N| and sigma_max <= 1 + dt |N|: the probe's gradient at lag k lies within
    k log10(a - dt beta) and k log10(1 + dt beta), beta bounding |N| from the weights alone."""
    dt, gamma, epsilon = 0.01, 2.7, 4.7
    net, x = model("cornn", dt=dt, gamma=gamma, epsilon=epsilon), inputs(300, batch=3)
    w, wc = net.coupling[0].weight.detach().split(HIDDEN, dim=1)
    a, norm_w, norm_wc = 1 / (1 + dt * epsilon), torch.linalg.matrix_norm(w, 2), torch.linalg.matrix_norm(wc, 2)
    blocks = [a * dt * (norm_w + gamma), a * (1 + dt * norm_wc), a * (norm_w + gamma), a * norm_wc]
    beta = math.sqrt(sum(float(b) ** 2 for b in blocks))
    assert a - dt * beta > 0.9
    profile = gradient_profile(net, x)
    k = profile.k[None, :]
    assert (profile.log10["total"] >= k * math.log10(a - dt * beta) - 1e-9).all()
    assert (profile.log10["total"] <= k * math.log10(1 + dt * beta) + 1e-9).all()
    assert set(profile.log10) == {"h0", "z0", "total"}  # y and z reported apart


# -- LEM --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [0.21, 1.0])
def test_lem_states_stay_bounded_by_one_and_its_time_steps_by_dt(dt):
    """With dt <= 1 each update is a convex combination of the old value and a tanh: from the zero
    state |y_n|, |z_n| < 1 for any input (<= 1 in floating point), here inputs 100 times the usual scale."""
    net, x = model("lem", dt=dt, layers=2), inputs(300, batch=8, scale=100.0)
    state = net.initial_state(8, x)
    for t in range(x.shape[1]):
        y = state[0]
        dt_z, dt_y, _, _ = net.time_steps(0, net.inputs[0](x[:, t]), y)
        assert ((dt_z > 0) & (dt_z <= dt) & (dt_y > 0) & (dt_y <= dt)).all()
        state = net.step(x[:, t], state)
        assert all((s.abs() <= 1).all() for s in state)  # tanh and sigma-hat round to 1 at dt = 1
    assert max(float(s.detach().abs().max()) for s in state) > 0.9  # driven hard, near the bound, never past it


# -- IndRNN -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("u_bound", [None, 0.5])
def test_indrnn_step_jacobian_is_u_times_relu_prime(u_bound):
    net, x = model("indrnn", u_bound=u_bound), inputs(5)
    u = net.u[0].detach()
    assert ((u >= 0) & (u <= 1)).all() and u.max() > 0.5  # the paper's U[0, 1]
    expected_u = u if u_bound is None else u.clamp(max=u_bound)
    h = torch.rand(4, HIDDEN, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h[:, :2] = -5.0  # drive some units off
    for b in range(4):
        x_t, h_b = x[b:b + 1, 2], h[b:b + 1]
        jac = torch.autograd.functional.jacobian(lambda s, x_t=x_t: net.step(x_t, (s,))[0], h_b).reshape(HIDDEN, HIDDEN)
        active = (net.inputs[0](x_t) + expected_u * h_b > 0).double()[0]
        torch.testing.assert_close(jac, torch.diag(expected_u * active), rtol=0, atol=1e-15)


def test_the_indrnn_example_is_a_user_cell_under_its_own_name(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, "")
    monkeypatch.setattr(plugins, "PLUGINS", {})
    importlib.reload(importlib.import_module("examples.indrnn"))  # runs its @register_architecture again
    assert "indrnn-example" in plugins.PLUGINS and "indrnn" not in plugins.PLUGINS
    assert architecture("indrnn") is ARCHITECTURES["indrnn"] and ARCHITECTURES["indrnn"].origin == "builtin"
    assert architecture("indrnn-example").origin == "registered"


# -- ExpRNN -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("skew_init", ["henaff", "cayley"])
def test_exprnn_recurrent_matrix_stays_orthogonal_through_training(skew_init):
    net, x = model("exprnn", layers=2, skew_init=skew_init), inputs(20)
    eye = torch.eye(HIDDEN, dtype=torch.float64)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):  # at init, then after each of two steps that move A
        for layer in range(2):
            w = net.recurrent_matrix(layer).detach()
            torch.testing.assert_close(w.T @ w, eye, rtol=0, atol=1e-12)
        optimiser.zero_grad()
        net(x).pow(2).mean().backward()
        optimiser.step()
    assert not torch.allclose(net.skew[0], model("exprnn", skew_init=skew_init).skew[0])  # it did move
    single = make_model(ArchSpec("exprnn", hidden=HIDDEN), INPUT, OUTPUT, 0).recurrent_matrix(0).detach()
    torch.testing.assert_close(single.T @ single, eye.float(), rtol=0, atol=1e-6)  # float32 training


def test_exprnn_init_is_the_papers_rotation_blocks():
    for skew_init, low, high in (("henaff", -math.pi, math.pi), ("cayley", -1.0, 0.0)):
        p = make_model(ArchSpec("exprnn", hidden=64, options={"skew_init": skew_init}), INPUT, OUTPUT, 0).skew[0]
        a = torch.triu(p.detach(), 1) - torch.triu(p.detach(), 1).T
        blocks = torch.block_diag(*[a[i:i + 2, i:i + 2] for i in range(0, 64, 2)])
        assert torch.equal(a, blocks)  # 2 x 2 blocks, nothing else
        s = a.diagonal(1)[::2]
        assert ((s >= low) & (s <= high)).all() and s.std() > 0.1


def test_exprnn_gradient_never_grows_back_through_time():
    """The step Jacobian is diag(modrelu' in {0, 1}) W with W orthogonal: norm <= 1."""
    net = model("exprnn")
    profile = gradient_profile(net, inputs(200, batch=3))
    assert (np.diff(profile.log10["total"], axis=1) <= 1e-12).all()


# -- LRU and S4D: diagonal complex recurrences --------------------------------------------------------

def closed_form_profile(eigenvalues: torch.Tensor, readout: torch.Tensor, steps: int) -> np.ndarray:
    """log10 ||dL/ds_(T-k)|| for k = 1..steps of a one-layer diagonal recurrence with L = u . Re(C h_T):
    per mode, the gradient w.r.t. (Re h, Im h) is conj(lambda)^k (C^H u), so its norm over the real
    and imaginary parts is sqrt(sum_n |lambda_n|^(2k) |(C^H u)_n|^2)."""
    k = torch.arange(1, steps + 1, dtype=torch.float64)[:, None]
    terms = k * torch.log10(eigenvalues.abs())[None] + torch.log10(readout.abs())[None]
    return (torch.logsumexp(2 * math.log(10) * terms, dim=-1) / (2 * math.log(10))).numpy()


def test_lru_eigenvalues_start_on_the_ring_with_normalised_inputs():
    net = make_model(ArchSpec("lru", hidden=64, layers=3, options={"r_min": 0.4, "r_max": 0.8, "max_phase": 1.0}),
                     INPUT, OUTPUT, 0).double()
    for layer in net.layers:
        lam = layer.eigenvalues().detach()
        assert ((lam.abs() >= 0.4 - 1e-12) & (lam.abs() <= 0.8 + 1e-12)).all()
        assert lam.abs().min() < 0.5 and lam.abs().max() > 0.7  # spread over the ring
        assert ((lam.angle() >= 0) & (lam.angle() <= 1.0 + 1e-12)).all()
        torch.testing.assert_close(torch.exp(layer.gamma_log).detach(), torch.sqrt(1 - lam.abs() ** 2))
    default = model("lru").layers[0].eigenvalues().detach().abs()
    assert ((default >= 0.9 - 1e-12) & (default <= 0.999 + 1e-12)).all()


def test_lru_probe_decay_is_log10_of_its_eigenvalue_magnitudes():
    """The probe's measured gradient, lag by lag, is the closed form of the linear recurrence, to
    float64 rounding; with every |lambda| = r the fitted decay is log10 r per step."""
    net, x = model("lru"), inputs(400, batch=2)
    layer = net.layers[0]
    u = probe_vector(HIDDEN, 0).double()
    readout = torch.complex(layer.c[0], layer.c[1]).detach().conj().T @ u.to(torch.complex128)  # C^H u
    profile = gradient_profile(net, x)
    expected = closed_form_profile(layer.eigenvalues().detach(), readout, 400)
    np.testing.assert_allclose(profile.log10["total"][:, 1:], np.broadcast_to(expected, (2, 400)), rtol=0, atol=1e-9)
    assert profile.at(0) == pytest.approx(0.0, abs=1e-12)
    assert np.isneginf(profile.log10["h0"][:, 1:]).all()  # y_(T-k) feeds nothing later in a one-layer net
    circle = model("lru", r_min=0.95, r_max=0.95)
    magnitudes = circle.layers[0].eigenvalues().detach().abs()
    torch.testing.assert_close(magnitudes, torch.full_like(magnitudes, 0.95), rtol=0, atol=1e-7)  # float32 init
    profile = gradient_profile(circle, inputs(300, batch=2))
    fit = decay_rate(profile.k, profile.mean())
    assert fit.slope == pytest.approx(float(torch.log10(magnitudes).mean()), abs=1e-12)


@pytest.mark.parametrize("init", ["lin", "inv"])
def test_s4d_discretisation_is_stable_and_starts_from_the_papers_modes(init):
    """ZOH with Re A = -exp(a_log) < 0 and Delta = exp(log_dt) > 0: |A_bar| = exp(Delta Re A) < 1 at
    init (Re A = -1/2, Delta in [dt_min, dt_max]) and for any parameter values."""
    net = make_model(ArchSpec("s4d", hidden=16, options={"init": init}), INPUT, OUTPUT, 0).double()
    layer = net.layers[0]
    delta = torch.exp(layer.log_dt).detach()
    assert ((delta >= 0.001 * (1 - 1e-6)) & (delta <= 0.1 * (1 + 1e-6))).all()
    a_bar, b_bar = (t.detach() for t in layer.discretised())
    torch.testing.assert_close(a_bar.abs(), torch.exp(-delta / 2)[:, None].expand(16, 32))
    n = torch.arange(32, dtype=torch.float64)
    expected = math.pi * n if init == "lin" else 64 / math.pi * (64 / (2 * n + 1) - 1)
    torch.testing.assert_close(layer.a_imag.detach()[0], expected, rtol=1e-6, atol=1e-5)  # stored in float32
    with torch.no_grad():  # anywhere training could take the parameters
        layer.a_log.normal_(0, 3, generator=torch.Generator().manual_seed(0))
        layer.log_dt.normal_(-2, 3, generator=torch.Generator().manual_seed(1))
    assert (layer.discretised()[0].abs() < 1).all()


def test_s4d_probe_decay_is_log10_of_its_discretised_modes():
    net, x = model("s4d"), inputs(300, batch=2)
    layer = net.layers[0]
    u = probe_vector(HIDDEN, 0).double()
    a_bar = layer.discretised()[0].detach()
    readout = 2 * torch.complex(layer.c[0], layer.c[1]).detach().conj() * u[:, None]  # per channel and mode
    profile = gradient_profile(net, x)
    expected = closed_form_profile(a_bar.flatten(), readout.flatten(), 300)
    np.testing.assert_allclose(profile.log10["total"][:, 1:], np.broadcast_to(expected, (2, 300)), rtol=0, atol=1e-9)
