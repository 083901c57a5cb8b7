"""The architecture contract: what every architecture must do for training and the probes to be valid.

One list of checks serves three callers: our own tests (tests/test_models.py, parametrized over the
built-in registry), `vgsuite check` (on a user's architecture) and `suite.testing.parametrize_with_checks`
(in a user's own test suite). A check is a function `check(name, layers=1, device="cpu")` that builds
the architecture `name` tiny (hidden 8, 5 inputs, 3 outputs, float64) and raises `ContractError` (an
AssertionError) with a message that says what is wrong and what the interface expects.

    results = run_contract("examples/indrnn.py:IndRNNCell")   # [CheckResult(name, passed, message)]

The checks, in order (a *fatal* one makes every probe number meaningless, so `vgsuite check` stops):

    output_shapes                 forward(x, positions) and hidden_sequence(x) have the documented shapes (fatal)
    causal                        the output at t does not change when inputs after t do (fatal)
    state_interface               initial_state / step / top_hidden / state_names fit together (fatal)
    fast_matches_stepwise         forward(x) equals the step-by-step forward_stepwise(x) (fatal)
    fast_and_stepwise_gradients_agree   ... and so do their gradients w.r.t. x
    gradient_reaches_first_step   the last output depends on the first input (the recurrence is not cut)
    deterministic_given_seed      same seed, same weights; another seed, other weights
    parameter_count               parameters exist; recurrent_weights() lists (n_blocks*H, H) matrices
    float32_training_step         a float32 forward/backward gives a finite loss on the device

A sequence module without a step view (suite/models/sequence.py: `has_step_view` False) skips the
three step-view checks (state_interface, fast_matches_stepwise, fast_and_stepwise_gradients_agree):
they raise `ContractSkip`, which `run_contract` reports as passed with the message "skipped: ..."
and `suite.testing` as a pytest skip. Every other check runs on its fast view.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import torch

from .containment import real_interrupt
from .models import make_model
from .models.sequence import WITHOUT_STEP_VIEW, has_step_view
from .specs import ArchSpec

INPUT, OUTPUT, HIDDEN, STEPS, BATCH = 5, 3, 8, 12, 4


class ContractError(AssertionError):
    """An architecture does not meet the interface of suite/models/base.py."""


class ContractSkip(Exception):
    """A check that does not apply (a step-view check on a sequence module without a step view)."""


def _need_step_view(model) -> None:
    if not has_step_view(model):
        raise ContractSkip(f"skipped: {WITHOUT_STEP_VIEW} ({getattr(model, 'module_name', type(model).__name__)}); "
                           "its fast view is checked by the other checks")


#: the architecture options the checks build with (run_contract sets them for its checks)
_options: ContextVar[dict | None] = ContextVar("contract_options", default=None)


def build(name: str, layers: int = 1, seed: int = 0, device: str = "cpu", dtype=torch.float64):
    """The architecture `name` at the contract's tiny size, as `make_model` builds it, with the
    options of the run_contract in progress (none outside one)."""
    try:
        model = make_model(ArchSpec(name, hidden=HIDDEN, layers=layers, options=_options.get() or {}), INPUT, OUTPUT,
                           seed)
        return model.to(device=device, dtype=dtype)
    except ContractError:
        raise
    except BaseException as exc:  # user code: SystemExit included (suite/containment.py)
        if real_interrupt(exc):
            raise
        raise ContractError(
            f"building it (input_size {INPUT}, output_size {OUTPUT}, hidden_size {HIDDEN}, "
            f"num_layers {layers}) raised {type(exc).__name__}: {exc}") from exc


def inputs(device: str = "cpu", dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, STEPS, INPUT, generator=g, dtype=dtype).to(device)


def _require(condition, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _shape(value) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def check_output_shapes(name, layers=1, device="cpu"):
    model, x = build(name, layers, device=device), inputs(device)
    for positions, steps in ((slice(None), STEPS), (slice(-1, None), 1), (slice(-4, None), 4)):
        out = model(x, positions)
        _require(isinstance(out, torch.Tensor) and out.shape == (BATCH, steps, OUTPUT),
                 f"forward(x, positions={positions}) returned {_shape(out)}; expected "
                 f"(batch, len(positions), output_size) = {(BATCH, steps, OUTPUT)}")
    hs = model.hidden_sequence(x)
    _require(isinstance(hs, torch.Tensor) and hs.shape == (BATCH, STEPS, HIDDEN),
             f"hidden_sequence(x) returned {_shape(hs)}; expected (batch, time, hidden) = {(BATCH, STEPS, HIDDEN)}")


def check_causal(name, layers=1, device="cpu"):
    """Perturb the inputs from step t on: the outputs before t must not move (for two t)."""
    model, x, other = build(name, layers, device=device), inputs(device), inputs(device, seed=1)
    base = model(x)
    for t in (STEPS - 1, STEPS // 2):
        later = x.clone()
        later[:, t:] += 1.0 + other[:, t:]
        moved = (model(later)[:, :t] - base[:, :t]).abs().amax(dim=(0, 2))
        scale = base[:, :t].abs().amax().clamp_min(1.0)
        bad = torch.nonzero(moved > 1e-10 * scale).flatten()
        _require(not len(bad), f"the output at step {int(bad[0]) + 1 if len(bad) else '?'} changes when only the "
                               f"inputs from step {t + 1} on change: the model reads the future (a "
                               "bidirectional layer, attention without a causal mask, a non-causal "
                               "convolution?), so what it carries through time cannot be measured")


def check_state_interface(name, layers=1, device="cpu"):
    model, x = build(name, layers, device=device), inputs(device)
    _need_step_view(model)
    names = tuple(model.state_names())
    _require(len(set(names)) == len(names), f"state_names() repeats a name: {names}")
    missing = [f"h{layer}" for layer in range(layers) if f"h{layer}" not in names]
    _require(not missing, f"state_names() {names} lacks {missing}: each layer's hidden state is named "
                          "'h<layer>' (the probes report it)")
    state = model.initial_state(BATCH, x)
    _require(isinstance(state, tuple) and len(state) == len(names),
             f"initial_state() returned {_shape(state) if not isinstance(state, tuple) else len(state)} "
             f"element(s); expected a tuple with one tensor per state name {names}")
    state = model.step(x[:, 0], state)
    _require(isinstance(state, tuple) and len(state) == len(names),
             f"step(x_t, state) returned {type(state).__name__}; expected a tuple with one tensor per "
             f"state name {names}")
    for n, s in zip(names, state):
        _require(isinstance(s, torch.Tensor) and s.dim() == 2 and s.shape[0] == BATCH,
                 f"state element {n!r} is {_shape(s)}; expected a (batch, size) tensor")
    top = model.top_hidden(state)
    _require(isinstance(top, torch.Tensor) and top.shape == (BATCH, HIDDEN),
             f"top_hidden(state) returned {_shape(top)}; expected (batch, hidden) = {(BATCH, HIDDEN)}")


def check_fast_matches_stepwise(name, layers=1, device="cpu"):
    model, x = build(name, layers, device=device), inputs(device)
    _need_step_view(model)
    try:
        torch.testing.assert_close(model(x), model.forward_stepwise(x), rtol=1e-10, atol=1e-12)
    except AssertionError as exc:
        raise ContractError("forward(x) and the step view (initial_state/step/top_hidden/readout) compute "
                            f"different outputs, so the probes would measure another function: {_first(exc)}") from None


def check_fast_and_stepwise_gradients_agree(name, layers=1, device="cpu"):
    model, x = build(name, layers, device=device), inputs(device)
    _need_step_view(model)
    grads = []
    for forward in (model.forward, model.forward_stepwise):
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(forward(xg, slice(-1, None)).sum(), xg)
        grads.append(g)
    try:
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-8, atol=1e-12)
    except AssertionError as exc:
        raise ContractError("the gradients of forward(x) and of the step view w.r.t. x differ (a detach or "
                            f"no_grad in one of them?): {_first(exc)}") from None


def check_gradient_reaches_first_step(name, layers=1, device="cpu"):
    model, x = build(name, layers, device=device), inputs(device).requires_grad_(True)
    model(x, slice(-1, None)).sum().backward()
    reach = x.grad.abs().sum(dim=(0, 2))
    _require(reach[0] > 0, "the gradient of the last output never reaches the first input: the recurrence "
                           f"is cut (a detached or ignored state?); it reaches back {_reach(reach)}")
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    _require(not unused, f"parameters {unused} get no gradient from the output (unused in forward?)")


def check_deterministic_given_seed(name, layers=1, device="cpu"):
    x = inputs(device)
    a, b, c = (build(name, layers, seed=s, device=device) for s in (7, 7, 8))
    _require(torch.equal(a(x), b(x)), "two builds with the same seed differ: initialise from torch's "
                                      "global RNG (make_model seeds it), not from another source")
    _require(not torch.allclose(a(x), c(x)), "builds with different seeds are identical: the weights "
                                             "must be random (drawn from torch's RNG)")


def check_parameter_count(name, layers=1, device="cpu"):
    model = build(name, layers, device=device)
    _require(model.num_parameters() == sum(p.numel() for p in model.parameters()) > 0,
             "num_parameters() does not count the parameters, or there are none")
    weights = list(model.recurrent_weights())
    _require(len(weights) in (0, layers),
             f"recurrent_weights() lists {len(weights)} matrices for {layers} layer(s); list one per "
             "layer, or none when there is no square hidden-to-hidden matrix")
    for weight, n_blocks in weights:
        _require(isinstance(weight, torch.Tensor) and weight.shape == (n_blocks * HIDDEN, HIDDEN),
                 f"a recurrent weight has shape {_shape(weight)}; with {n_blocks} gate block(s) it must be "
                 f"(n_blocks * hidden, hidden) = {(n_blocks * HIDDEN, HIDDEN)}")


def check_float32_training_step(name, layers=1, device="cpu"):
    model = build(name, layers, device=device, dtype=torch.float32)
    x = inputs(device, torch.float32)
    loss = model(x).pow(2).mean()
    loss.backward()
    _require(torch.isfinite(loss), f"a float32 forward gives a non-finite loss {loss.item()}")
    params = list(model.parameters())
    _require(all(p.device.type == torch.device(device).type for p in params),
             f"after .to({device!r}) some parameters are elsewhere: keep every tensor a registered "
             "parameter or buffer")


def _first(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n")[:2]).strip()


def _reach(reach: torch.Tensor) -> str:
    nonzero = torch.nonzero(reach > 0).flatten()
    if not len(nonzero):
        return "to no input at all"
    return f"{STEPS - 1 - int(nonzero[0])} of {STEPS - 1} steps"


@dataclass(frozen=True)
class Check:
    name: str
    run: object          # check(name, layers, device)
    fatal: bool = False  # a failure makes the probes meaningless

    def __call__(self, arch: str, layers: int = 1, device: str = "cpu") -> None:
        self.run(arch, layers, device)

    @property
    def __name__(self) -> str:  # so that id = f"...-{check.__name__[6:]}" reads "output_shapes"
        return f"check_{self.name}"


CHECKS: list[Check] = [
    Check("output_shapes", check_output_shapes, fatal=True),
    Check("causal", check_causal, fatal=True),
    Check("state_interface", check_state_interface, fatal=True),
    Check("fast_matches_stepwise", check_fast_matches_stepwise, fatal=True),
    Check("fast_and_stepwise_gradients_agree", check_fast_and_stepwise_gradients_agree),
    Check("gradient_reaches_first_step", check_gradient_reaches_first_step),
    Check("deterministic_given_seed", check_deterministic_given_seed),
    Check("parameter_count", check_parameter_count),
    Check("float32_training_step", check_float32_training_step),
]


def check_by_name(name: str) -> Check:
    for check in CHECKS:
        if check.name == name:
            return check
    raise ValueError(f"check must be one of {[c.name for c in CHECKS]}, got {name!r}")


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    message: str = ""
    fatal: bool = False

    def to_dict(self) -> dict:
        return {"check": self.check, "passed": self.passed, "message": self.message, "fatal": self.fatal}


def run_contract(name: str, layers: int = 1, device: str = "cpu", options: dict | None = None) -> list[CheckResult]:
    """Every check on `name` built with `options` (those the check's probes and runs use); a failure
    is a result (with its message), never an exception."""
    token = _options.set(dict(options or {}))
    try:
        return _run_checks(name, layers, device)
    finally:
        _options.reset(token)


def _run_checks(name: str, layers: int, device: str) -> list[CheckResult]:
    results = []
    for check in CHECKS:
        try:
            check(name, layers, device)
        except ContractSkip as exc:
            results.append(CheckResult(check.name, True, str(exc), check.fatal))
        except ContractError as exc:
            results.append(CheckResult(check.name, False, str(exc), check.fatal))
        except BaseException as exc:  # the architecture's own code raised, SystemExit included
            if real_interrupt(exc):
                raise
            results.append(CheckResult(check.name, False, f"raised {type(exc).__name__}: {_first(exc)}", check.fatal))
        else:
            results.append(CheckResult(check.name, True, "", check.fatal))
    return results


__all__ = ["CHECKS", "Check", "CheckResult", "ContractError", "ContractSkip", "build", "check_by_name", "inputs",
           "run_contract"]
