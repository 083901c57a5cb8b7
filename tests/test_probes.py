"""The gradient-flow probes: exact answers, no underflow, agreement with plain autograd, every
architecture, a trained model, and the `vgsuite probe` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from suite.cli import main
from suite.models import ARCHITECTURES, make_model
from suite.probes import (
    LinearRNN,
    autograd_profile,
    build_model,
    decay_rate,
    gradient_profile,
    input_saliency,
    jacobian_bound,
    memory_horizon,
    probe,
    probe_batch,
    spectral_radius,
    step_jacobian_norms,
)
from suite.specs import ArchSpec, TaskSpec, TrainSpec

SMALL = TaskSpec("copy", 10)  # T = 30


def linear(a: float, hidden: int = 6, inputs: int = 3, outputs: int = 2) -> LinearRNN:
    torch.manual_seed(0)
    model = LinearRNN(inputs, outputs, hidden, a=a).double()
    with torch.no_grad():  # a itself in float64 (the float32 constructor rounds 0.9)
        model.weight_hh.copy_(a * torch.eye(hidden, dtype=torch.float64))
    return model


def random_inputs(batch: int, steps: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, steps, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -------------------------------------------------------------------------- exact answers


@pytest.mark.parametrize("a", [0.5, 0.9, 1.05])
def test_linear_rnn_decays_by_exactly_log10_a_per_step(a):
    model = linear(a)
    profile = gradient_profile(model, random_inputs(3, 1000, 3))
    expected = profile.k * math.log10(a)
    assert np.abs(profile.log10["total"] - expected).max() < 1e-9  # every sample, every k <= 1000
    fit = decay_rate(profile.k, profile.mean())
    assert fit.slope == pytest.approx(math.log10(a), abs=1e-12)
    assert (fit.k_min, fit.k_max) == (1, 1000)


def test_sigmoid_does_not_underflow_at_k_1000():
    task = TaskSpec("copy", 990)  # T = 1010
    model = build_model(ArchSpec("rnn-sigmoid", hidden=16), task, seed=0)  # a float32 model
    x, _ = probe_batch(task, 2, seed=0)
    profile = gradient_profile(model, x)
    values = profile.log10["total"][:, : 1001]
    assert np.isfinite(values).all()
    assert values[:, 1000].max() < -300  # far below what float64 can even represent
    assert np.all(np.diff(profile.mean()[1:1001]) < 0)
    naive = autograd_profile(model, x, torch.float32)  # the plain measurement returns exact zeros
    assert np.isneginf(naive.log10["total"][:, 1000]).all()
    first_zero = int(np.argmax(np.isneginf(naive.mean())))
    assert 20 < first_zero < 100  # float32's floor (~1e-45) at ~0.8 decades per step


@pytest.mark.parametrize("name,layers,options", [
    ("rnn-tanh", 1, {}), ("rnn-sigmoid", 2, {}), ("lstm", 2, {}), ("gru", 2, {}),
    ("resrnn", 2, {"skip": 3}), ("rnn-attention", 1, {}), ("rnn-prelu", 1, {}),
], ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(f"{k}{w}" for k, w in v.items()) or "plain")
def test_log_space_sweep_matches_plain_float64_autograd(name, layers, options):
    model = build_model(ArchSpec(name, hidden=8, layers=layers, options=options), SMALL, seed=1)
    x, _ = probe_batch(SMALL, 3, seed=1)
    sweep, plain = gradient_profile(model, x), autograd_profile(model, x, torch.float64)
    assert set(sweep.log10) == set(plain.log10)
    for key in sweep.log10:  # "total" and each named element, per sample and per k
        np.testing.assert_allclose(sweep.log10[key], plain.log10[key], atol=1e-9, rtol=0)


def test_state_elements_are_total_derivatives():
    """An LSTM's c_T reaches the loss through h_T in the same step, a stack's h^0_T through h^1_T."""
    lstm = gradient_profile(build_model(ArchSpec("lstm", hidden=8), SMALL, 0), probe_batch(SMALL, 2, 0)[0])
    assert np.isfinite(lstm.log10["c0"][:, 0]).all() and lstm.at(0) == pytest.approx(0.0, abs=1e-12)
    stack = gradient_profile(build_model(ArchSpec("rnn-tanh", hidden=8, layers=2), SMALL, 0),
                             probe_batch(SMALL, 2, 0)[0])
    assert np.isfinite(stack.log10["h0"][:, 0]).all() and stack.log10["h0"][:, 0].max() < 0


def test_task_loss_profile_and_bad_loss_name():
    task = TaskSpec("delayed_recall", 20)
    model = build_model(ArchSpec("rnn-tanh", hidden=8), task, 0)
    x, y = probe_batch(task, 4, 0)
    profile = gradient_profile(model, x, loss="task", task=task.build(), y=y)
    assert np.isfinite(profile.log10["total"]).all()
    assert decay_rate(profile.k, profile.mean()).slope < 0  # one loss at the end: a pure decay
    with pytest.raises(ValueError, match="loss must be one of"):
        gradient_profile(model, x, loss="hinge")
    with pytest.raises(ValueError, match="needs the task and the targets"):
        gradient_profile(model, x, loss="task")
    with pytest.raises(ValueError, match=r"x must be a \(batch, time, 13\) tensor"):
        gradient_profile(model, x[..., :5])


def test_probing_leaves_the_model_untouched():
    model = build_model(ArchSpec("lstm", hidden=8), SMALL, 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, _ = probe_batch(SMALL, 2, 0)
    gradient_profile(model, x), input_saliency(model, x), step_jacobian_norms(model, x, [1, 5])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32
    assert all(p.grad is None for p in model.parameters())


# -------------------------------------------------------------------------- decay fits


def test_decay_rate_window_stops_at_exact_zeros_and_at_a_floor():
    k = np.arange(10)
    values = -0.5 * k
    fit = decay_rate(k, values)
    assert fit.slope == pytest.approx(-0.5) and (fit.k_min, fit.k_max, fit.n) == (1, 9, 9)
    cut = values.copy()
    cut[7:] = -np.inf
    assert decay_rate(k, cut).k_max == 6
    assert decay_rate(k, values, floor=-3.0).k_max == 5  # -3.0 at k = 6 is on the floor
    assert decay_rate(k, values, k_min=2, k_max=4).n == 3
    with pytest.raises(ValueError, match="at least 3 finite lags"):
        decay_rate(k, values, k_min=8)


# -------------------------------------------------------------------------- per-step Jacobians


@pytest.mark.parametrize("name,init,gain", [
    ("rnn-tanh", "default", 1.0), ("rnn-tanh", "orthogonal", 2.0), ("rnn-sigmoid", "default", 1.0),
    ("rnn-sigmoid", "orthogonal", 4.0), ("rnn-relu", "default", 1.0), ("rnn-prelu", "xavier", 1.0),
])
def test_jacobian_norms_respect_gamma_sigma_max(name, init, gain):
    model = build_model(ArchSpec(name, hidden=16, layers=2, init=init, init_gain=gain), SMALL, 0)
    x, _ = probe_batch(SMALL, 4, 0)
    norms = step_jacobian_norms(model, x)
    bounds = jacobian_bound(model)
    assert set(bounds) == set(norms.blocks) == {"h0", "h1"}
    for layer, bound in bounds.items():
        assert norms.blocks[layer].shape == (4, 30)
        assert norms.blocks[layer].max() <= bound * (1 + 1e-12)
    assert jacobian_bound(build_model(ArchSpec("lstm", hidden=4), SMALL, 0)) is None


def test_spectral_radius_sets_the_linear_twins_decay():
    model = build_model(ArchSpec("rnn-tanh", hidden=16), SMALL, 3)
    twin = LinearRNN.twin_of(model)
    w_ih, w_hh, b_ih, b_hh = model.layer_params(0)
    assert torch.equal(twin.weight_hh, w_hh) and torch.equal(twin.weight_ih.weight, w_ih)
    assert torch.equal(twin.weight_ih.bias, b_ih + b_hh)
    x_t, h = random_inputs(5, 2, 16)[:, 0, : model.input_size].float(), torch.rand(5, 16) - 0.5
    (linear_h,) = twin.step(x_t, (h,))
    assert torch.allclose(torch.tanh(linear_h), model.cell(x_t, h, 0), atol=1e-6)  # the same affine map
    rho = spectral_radius(model)["h0"]
    assert rho == pytest.approx(float(torch.linalg.eigvals(w_hh.detach().double()).abs().max()))
    profile = gradient_profile(twin, random_inputs(2, 400, model.input_size))
    fit = decay_rate(profile.k, profile.mean(), k_min=200)  # past the transient of the other modes
    assert fit.slope == pytest.approx(math.log10(rho), abs=2e-3)
    assert spectral_radius(build_model(ArchSpec("lstm", hidden=4), SMALL, 0)) is None
    with pytest.raises(ValueError, match="one-layer vanilla RNN"):
        LinearRNN.twin_of(build_model(ArchSpec("rnn-tanh", hidden=4, layers=2), SMALL, 0))
    with pytest.raises(ValueError, match="one-layer vanilla RNN"):
        LinearRNN.twin_of(build_model(ArchSpec("gru", hidden=4), SMALL, 0))


def test_jacobian_is_exact():
    model = build_model(ArchSpec("lstm", hidden=5), SMALL, 0).double()
    x, _ = probe_batch(SMALL, 2, 0)
    x = x.double()
    state = model.initial_state(2, x)
    for t in range(3):
        state = model.step(x[:, t], state)
    sample = 1

    def step(flat):
        out = model.step(x[sample: sample + 1, 3], tuple(flat[None].split([5, 5], dim=-1)))
        return torch.cat(out, dim=-1)[0]

    direct = torch.autograd.functional.jacobian(step, torch.cat(state, dim=-1)[sample])
    measured = step_jacobian_norms(model, x, steps=[4])
    spectral = torch.linalg.matrix_norm(direct, ord=2).item()
    assert measured.full[sample, 0] == pytest.approx(spectral, rel=1e-12)
    assert measured.blocks["c0"][sample, 0] == pytest.approx(
        torch.linalg.matrix_norm(direct[5:, 5:], ord=2).item(), rel=1e-12)
    # W = a I: every per-step Jacobian is a I
    assert np.allclose(step_jacobian_norms(linear(0.7), random_inputs(2, 5, 3)).full, 0.7, atol=1e-15)
    with pytest.raises(ValueError, match="steps must lie in"):
        step_jacobian_norms(model, x, steps=[0])


# -------------------------------------------------------------------------- saliency


def test_saliency_of_a_linear_rnn_and_its_memory_horizon():
    """y_T = V h_T with h_T = sum_k a^k U x_(T-k): ||dy_T/dx_(T-k)||_F = a^k ||V U||_F exactly."""
    model = linear(0.5)
    saliency = input_saliency(model, random_inputs(2, 40, 3))
    peak = math.log10(torch.linalg.matrix_norm(model.head.weight @ model.weight_ih.weight).item())
    expected = peak + saliency.k * math.log10(0.5)
    assert np.abs(saliency.log10["total"] - expected).max() < 1e-10
    # 1 % of the peak: 0.5^k >= 0.01 <=> k <= 6.64
    assert memory_horizon(saliency.mean(), saliency.k) == (6, False)


def test_memory_horizon_definition():
    assert memory_horizon([0.0, -1.0, -1.99, -2.01, -5.0]) == (2, False)
    assert memory_horizon([0.0, -0.5, -0.5]) == (2, True)  # the whole window: censored
    assert memory_horizon([-3.0, -9.0, -1.5, -9.0]) == (2, False)  # the largest such lag counts
    assert memory_horizon([0.0, -np.inf, -1.0]) == (2, True)
    with pytest.raises(ValueError, match="finite value"):
        memory_horizon([-np.inf, -np.inf])


# -------------------------------------------------------------------------- every architecture


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_probe_runs_on_every_architecture(name, device):
    arch = ArchSpec(name, hidden=8, layers=2)
    result = probe(arch, TaskSpec("copy", 5), seed=0, batch=2, device=device)
    profile, model = result.profile, make_model(arch, 10, 9, 0)
    names = [n for n in model.state_names() if "@" not in n]
    assert profile.names == names + ["total"]
    assert list(profile.k) == list(range(26)) and profile.log10["total"].shape == (2, 26)
    for values in profile.log10.values():
        assert not np.isnan(values).any()
    assert profile.at(0) == pytest.approx(0.0, abs=1e-12)  # ||dL/dh_T|| = ||u|| = 1
    assert math.isfinite(result.fit.slope) and result.fit.ci[0] <= result.fit.slope <= result.fit.ci[1]
    assert result.saliency.log10["total"].shape == (2, 25) and 0 <= result.horizon <= 24
    x, _ = probe_batch(TaskSpec("copy", 5), 2, 0, device)
    norms = step_jacobian_norms(build_model(arch, TaskSpec("copy", 5), 0, device), x, [1, 25])
    assert norms.full.shape == (2, 2) and np.isfinite(norms.full).all()


def test_probe_a_trained_model():
    task, arch = TaskSpec("delayed_recall", 3), ArchSpec("gru", hidden=8)
    model = build_model(arch, task, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    at_init = probe(arch, task, seed=0, batch=4)
    trained = probe(arch, task, seed=0, batch=4, model=model,
                    train=TrainSpec(steps=30, batch_size=16, lr=1e-2, eval_every=10, eval_size=64))
    assert trained.training["steps_run"] >= 10 and not trained.training["diverged"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # trained in place
    np.testing.assert_allclose(at_init.profile.log10["total"][:, 0], trained.profile.log10["total"][:, 0])
    assert not np.allclose(at_init.profile.log10["total"][:, 1:], trained.profile.log10["total"][:, 1:])


# -------------------------------------------------------------------------- the command line


def test_cli_probe_json(capsys):
    code = main(["probe", "--task", "copy", "--gap", "10", "--arch", "lstm", "--hidden", "8",
                 "--seeds", "2", "--probe-batch", "2", "--forget-bias", "1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("k", "log10_grad_norm", "decay_log10_per_step", "ci95", "memory_horizon"):
        assert key in out
    assert len(out["k"]) == len(out["log10_grad_norm"]) == 31
    assert out["ci95"][0] <= out["decay_log10_per_step"] <= out["ci95"][1]
    assert set(out["log10_grad_norm_by_state"]) == {"h0", "c0"}
    assert len(out["per_seed"]) == 2 and out["settings"]["arch"]["forget_bias"] == 1.0


def test_cli_probe_text_and_training(capsys):
    assert main(["probe", "--task", "delayed_recall", "--gap", "12", "--hidden", "8", "--seeds", "1",
                 "--probe-batch", "2", "--train-steps", "5", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "after 5 training steps" in out and "decay rate" in out and "memory horizon" in out
    for lag in ("1 ", "10 ", "14 "):
        assert f"\n  {lag}" in out


@pytest.mark.parametrize("args,message", [
    (["--seeds", "0"], "seeds must be an integer >= 1"),
    (["--train-steps", "-1"], "train-steps must be an integer >= 0"),
    (["--loss", "hinge"], "loss must be one of"),
    (["--arch", "transformer"], "arch must be one of"),
    (["--gap", "0"], "gap must be an integer >= 1"),
    (["--device", "tpu"], "device must be"),
    (["--init", "he"], "init must be one of"),
    (["--optimizer", "lbfgs"], "optimizer must be one of"),
    (["--probe-batch", "0"], "probe-batch must be an integer >= 1"),
])
def test_cli_probe_bad_input_exits_2(args, message, capsys):
    base = {"--task": "copy", "--gap": "5"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    assert main(["probe", *[t for pair in base.items() for t in pair]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
