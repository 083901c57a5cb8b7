"""The architecture contract, run over every registered architecture (sklearn
`parametrize_with_checks` style): each (architecture, check) pair is one test with a readable id,
e.g. `lstm-2layers-fast_matches_stepwise-cpu`."""

from __future__ import annotations

import pytest
import torch

from suite.models import ARCHITECTURES, make_model
from suite.specs import ArchSpec

INPUT, OUTPUT, HIDDEN, STEPS, BATCH = 5, 3, 8, 12, 4


def build(name, layers=1, seed=0, device="cpu", dtype=torch.float64):
    model = make_model(ArchSpec(name, hidden=HIDDEN, layers=layers), INPUT, OUTPUT, seed)
    return model.to(device=device, dtype=dtype)


def inputs(device="cpu", dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, STEPS, INPUT, generator=g, dtype=dtype).to(device)


def check_output_shapes(name, layers, device):
    model, x = build(name, layers, device=device), inputs(device)
    assert model(x).shape == (BATCH, STEPS, OUTPUT)
    assert model(x, slice(-1, None)).shape == (BATCH, 1, OUTPUT)
    assert model(x, slice(-4, None)).shape == (BATCH, 4, OUTPUT)
    assert model.hidden_sequence(x).shape == (BATCH, STEPS, HIDDEN)


def check_fast_matches_stepwise(name, layers, device):
    model, x = build(name, layers, device=device), inputs(device)
    torch.testing.assert_close(model(x), model.forward_stepwise(x), rtol=1e-10, atol=1e-12)


def check_state_interface(name, layers, device):
    model, x = build(name, layers, device=device), inputs(device)
    state = model.initial_state(BATCH, x)
    assert len(state) == len(model.state_names())
    state = model.step(x[:, 0], state)
    assert len(state) == len(model.state_names())
    assert model.top_hidden(state).shape == (BATCH, HIDDEN)
    names = model.state_names()
    assert len(set(names)) == len(names)
    assert all(f"h{layer}" in names for layer in range(layers))


def check_deterministic_given_seed(name, layers, device):
    x = inputs(device)
    a, b, c = (build(name, layers, seed=s, device=device) for s in (7, 7, 8))
    assert torch.equal(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


def check_gradient_reaches_first_step(name, layers, device):
    model, x = build(name, layers, device=device), inputs(device).requires_grad_(True)
    model(x, slice(-1, None)).sum().backward()
    assert x.grad[:, 0].abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def check_parameter_count(name, layers, device):
    model = build(name, layers, device=device)
    assert model.num_parameters() == sum(p.numel() for p in model.parameters()) > 0
    weights = model.recurrent_weights()
    assert len(weights) == layers
    for weight, n_blocks in weights:
        assert weight.shape == (n_blocks * HIDDEN, HIDDEN)


def check_float32_training_step(name, layers, device):
    model = build(name, layers, device=device, dtype=torch.float32)
    x = inputs(device, torch.float32)
    loss = model(x).pow(2).mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert next(model.parameters()).device.type == device


CHECKS = [
    check_output_shapes, check_fast_matches_stepwise, check_state_interface,
    check_deterministic_given_seed, check_gradient_reaches_first_step,
    check_parameter_count, check_float32_training_step,
]


def architecture_checks():
    for name in ARCHITECTURES:
        for layers in (1, 2):
            for check in CHECKS:
                yield pytest.param(name, layers, check, id=f"{name}-{layers}layers-{check.__name__[6:]}")


@pytest.mark.parametrize("name,layers,check", list(architecture_checks()))
def test_architecture_contract(name, layers, check, device):
    check(name, layers, device)


def test_unknown_architecture_lists_the_names():
    with pytest.raises(ValueError, match=r"arch must be one of \['gru', 'irnn'"):
        ArchSpec("transformer")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"hidden": 0}, "hidden must be a positive integer"),
        ({"layers": 1.5}, "layers must be a positive integer"),
        ({"init": "he"}, "init must be one of"),
        ({"init_gain": -1.0}, "init_gain must be a finite number > 0"),
        ({"forget_bias": 1.0}, "forget_bias applies only to arch 'lstm'"),
    ],
)
def test_bad_arch_spec_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArchSpec("rnn-tanh", **kwargs)


def test_residual_skip_must_be_positive():
    with pytest.raises(ValueError, match="skip must be an integer >= 1"):
        make_model(ArchSpec("resrnn", options={"skip": 0}), 2, 2, 0)


def test_residual_skip_k_carries_h_t_minus_k():
    model = make_model(ArchSpec("resrnn", hidden=HIDDEN, options={"skip": 3}), INPUT, OUTPUT, 0).double()
    x = inputs()
    torch.testing.assert_close(model(x), model.forward_stepwise(x))
    hs = model.hidden_sequence(x)
    w_ih, w_hh, b_ih, b_hh = model.layer_params(0)
    t = 5  # h_5 = tanh(W_ih x_5 + b + W_hh h_4) + h_2
    expected = torch.tanh(x[:, t] @ w_ih.T + b_ih + hs[:, t - 1] @ w_hh.T + b_hh) + hs[:, t - 3]
    torch.testing.assert_close(hs[:, t], expected)
