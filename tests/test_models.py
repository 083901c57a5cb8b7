"""The architecture contract, run over every registered architecture (sklearn
`parametrize_with_checks` style): each (architecture, check) pair is one test with a readable id,
e.g. `lstm-2layers-fast_matches_stepwise-cpu`. The checks live in `suite.contract`, where
`vgsuite check` and `suite.testing.parametrize_with_checks` use them on user architectures."""

from __future__ import annotations

import pytest
import torch

from suite.contract import CHECKS, HIDDEN, INPUT, OUTPUT, inputs
from suite.models import ARCHITECTURES, make_model
from suite.specs import ArchSpec


def architecture_checks():
    for name in ARCHITECTURES:
        for layers in (1, 2):
            for check in CHECKS:
                yield pytest.param(name, layers, check, id=f"{name}-{layers}layers-{check.name}")


@pytest.mark.parametrize("name,layers,check", list(architecture_checks()))
def test_architecture_contract(name, layers, check, device):
    check(name, layers, device)


def test_unknown_architecture_lists_the_names():
    with pytest.raises(ValueError, match=r"arch must be one of \['cornn', 'exprnn', 'gru', 'indrnn', 'irnn'"):
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
