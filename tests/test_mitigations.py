"""Each mitigation is shown to be really applied: in the weights, in the computation, and (for
clipping) in the gradient the optimizer actually steps with."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_pre_hook

from suite.mitigations import clip_gradients
from suite.models import make_model
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.train import run_single

H = 16


def blocks(model):
    """Every H x H gate block of every recurrent matrix."""
    for weight, n in model.recurrent_weights():
        yield from weight.detach().view(n, H, H)


@pytest.mark.parametrize("arch", ["rnn-tanh", "rnn-sigmoid", "lstm", "gru", "resrnn"])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_init_is_orthogonal_per_gate_block(arch, gain):
    model = make_model(ArchSpec(arch, hidden=H, layers=2, init="orthogonal", init_gain=gain), 3, 2, 0)
    for block in blocks(model):
        torch.testing.assert_close(block.T @ block, gain**2 * torch.eye(H), atol=1e-5, rtol=0)
        assert torch.linalg.eigvals(block).abs().max().item() == pytest.approx(gain, rel=1e-4)


@pytest.mark.parametrize("arch", ["rnn-relu", "lstm"])
def test_identity_init_is_scaled_identity(arch):
    model = make_model(ArchSpec(arch, hidden=H, init="identity", init_gain=0.9), 3, 2, 0)
    for block in blocks(model):
        assert torch.equal(block, 0.9 * torch.eye(H))


def test_xavier_init_has_glorot_range_and_differs_from_default():
    default = make_model(ArchSpec("rnn-tanh", hidden=H), 3, 2, 0)
    xavier = make_model(ArchSpec("rnn-tanh", hidden=H, init="xavier"), 3, 2, 0)
    w = next(blocks(xavier))
    bound = math.sqrt(6 / (H + H))  # Glorot & Bengio: U(-b, b), b = sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.15)
    assert not torch.equal(w, next(blocks(default)))
    assert next(blocks(default)).abs().max() <= 1 / math.sqrt(H)


def test_default_init_gain_scales_pytorch_default():
    base = next(blocks(make_model(ArchSpec("rnn-tanh", hidden=H), 3, 2, 0)))
    scaled = next(blocks(make_model(ArchSpec("rnn-tanh", hidden=H, init_gain=3.0), 3, 2, 0)))
    torch.testing.assert_close(scaled, 3.0 * base)


def test_irnn_is_relu_with_identity_and_zero_biases():
    model = make_model(ArchSpec("irnn", hidden=H), 3, 2, 0)
    assert model.activation == "relu"
    assert torch.equal(next(blocks(model)), torch.eye(H))
    _, _, b_ih, b_hh = model.layer_params(0)
    assert torch.count_nonzero(b_ih) == 0 and torch.count_nonzero(b_hh) == 0
    with pytest.raises(ValueError, match="defined by its identity init"):
        ArchSpec("irnn", init="orthogonal")


def test_forget_bias_is_the_effective_bias_and_acts_in_the_cell():
    plain = make_model(ArchSpec("lstm", hidden=H), 3, 2, 0)
    model = make_model(ArchSpec("lstm", hidden=H, layers=2, forget_bias=1.0), 3, 2, 0)
    for layer in range(2):
        assert torch.equal(model.forget_gate_bias(layer), torch.ones(H))
    # the other gates keep their initial biases
    _, _, b_ih, b_hh = model.layer_params(0)
    _, _, p_ih, p_hh = plain.layer_params(0)
    torch.testing.assert_close(b_ih[:H], p_ih[:H])
    # in the fused kernel: zero input and h, c_0 = 1 -> c_1 = sigmoid(1) * 1 + sigmoid(b_i) tanh(b_g)
    single = make_model(ArchSpec("lstm", hidden=H, forget_bias=1.0), 3, 2, 0)
    _, _, b_ih, b_hh = single.layer_params(0)
    b = (b_ih + b_hh).detach()
    _, (_, c1) = single.rnn(torch.zeros(1, 1, 3), (torch.zeros(1, 1, H), torch.ones(1, 1, H)))
    expected = torch.sigmoid(torch.tensor(1.0)) + torch.sigmoid(b[:H]) * torch.tanh(b[2 * H : 3 * H])
    torch.testing.assert_close(c1.view(H), expected)


def test_chrono_init_spreads_forget_time_constants_up_to_t_max():
    t_max = 40
    model = make_model(ArchSpec("lstm", hidden=H, layers=2, options={"chrono": t_max}), 3, 2, 0)
    for layer in range(2):
        _, _, b_ih, b_hh = model.layer_params(layer)
        forget = (b_ih + b_hh)[H : 2 * H]
        assert float(forget.min()) >= 0.0 and float(forget.max()) <= math.log(t_max - 1)
        torch.testing.assert_close((b_ih + b_hh)[:H], -forget)  # the input gate mirrors it
        assert not torch.any(b_hh[: 2 * H])
    assert float(model.layer_params(0)[2][H : 2 * H].std()) > 0.1  # spread, not one constant
    again = make_model(ArchSpec("lstm", hidden=H, layers=2, options={"chrono": t_max}), 3, 2, 0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_chrono_is_validated_and_exclusive_with_a_constant_forget_bias():
    with pytest.raises(ValueError, match="chrono must be an integer T_max >= 3"):
        make_model(ArchSpec("lstm", hidden=H, options={"chrono": 2}), 3, 2, 0)
    with pytest.raises(ValueError, match="forget_bias and the chrono option"):
        ArchSpec("lstm", hidden=H, forget_bias=1.0, options={"chrono": 40})


@pytest.mark.parametrize(
    "arch,phi",
    [
        ("rnn-tanh", torch.tanh),
        ("rnn-sigmoid", torch.sigmoid),
        ("rnn-relu", torch.relu),
        ("rnn-leakyrelu", lambda z: F.leaky_relu(z, 0.01)),
        ("rnn-prelu", lambda z: torch.where(z > 0, z, 0.25 * z)),
    ],
)
def test_activation_is_in_the_computation(arch, phi):
    """The first two hidden states computed by hand with the named nonlinearity."""
    model = make_model(ArchSpec(arch, hidden=H), 3, 2, 0).double()
    x = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w_ih, w_hh, b_ih, b_hh = (p.detach() for p in model.layer_params(0))
    h1 = phi(x[:, 0] @ w_ih.T + b_ih + b_hh)
    h2 = phi(x[:, 1] @ w_ih.T + b_ih + h1 @ w_hh.T + b_hh)
    hs = model.hidden_sequence(x)
    torch.testing.assert_close(hs[:, 0], h1)
    torch.testing.assert_close(hs[:, 1], h2)
    if arch in ("rnn-relu", "rnn-leakyrelu", "rnn-prelu"):
        assert (x[:, 0] @ w_ih.T + b_ih + b_hh < 0).any()  # the negative branch was exercised


def test_prelu_slope_is_learned():
    model = make_model(ArchSpec("rnn-prelu", hidden=H), 3, 2, 0)
    model(torch.randn(4, 5, 3)).sum().backward()
    assert model.prelu[0].weight.grad is not None and model.prelu[0].weight.grad.abs() > 0


def _norms_seen_by_optimizer(train: TrainSpec) -> list[float]:
    """The single loop (torch.optim, whose step hooks see the gradients) with clipping."""
    seen: list[float] = []

    def hook(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        seen.append(torch.nn.utils.get_total_norm(grads).item())

    handle = register_optimizer_step_pre_hook(hook)
    try:
        run_single(RunSpec(TaskSpec("adding", 20), ArchSpec("rnn-tanh", hidden=H, init_gain=3.0), train))
    finally:
        handle.remove()
    return seen


def test_clipping_by_norm_is_what_the_optimizer_steps_with():
    base = TrainSpec(steps=15, batch_size=8, eval_every=5, eval_size=16, lr=1e-2)
    unclipped = _norms_seen_by_optimizer(base)
    clipped = _norms_seen_by_optimizer(TrainSpec(**{**base.__dict__, "clip": 0.05}))
    assert len(clipped) == 15
    assert max(unclipped) > 0.05  # clipping had something to do
    assert max(clipped) <= 0.05 * (1 + 1e-5)


def test_clipping_by_value_bounds_every_component():
    model = make_model(ArchSpec("rnn-tanh", hidden=H, init_gain=3.0), 2, 1, 0)
    model(torch.randn(8, 20, 2)).pow(2).sum().backward()
    before = max(p.grad.abs().max().item() for p in model.parameters())
    norm = clip_gradients(model.parameters(), 0.01, "value")
    assert before > 0.01 and norm > 0
    assert max(p.grad.abs().max().item() for p in model.parameters()) <= 0.01


def test_clip_mode_is_validated():
    with pytest.raises(ValueError, match="clip_mode must be one of"):
        TrainSpec(clip=1.0, clip_mode="global")
    with pytest.raises(ValueError, match="clip must be a finite number > 0"):
        TrainSpec(clip=0.0)


def test_an_init_with_nothing_to_act_on_is_an_error_not_a_no_op():
    from suite.mitigations import apply_recurrent_init

    class NoMatrix(torch.nn.Module):
        def recurrent_weights(self):
            return []

    apply_recurrent_init(NoMatrix(), "default", 1.0)  # nothing asked, nothing to do
    with pytest.raises(ValueError, match="init 'orthogonal' with init_gain 1.0 cannot be applied"):
        apply_recurrent_init(NoMatrix(), "orthogonal", 1.0)
    with pytest.raises(ValueError, match="cannot be applied"):
        apply_recurrent_init(NoMatrix(), "default", 2.0)
