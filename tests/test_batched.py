"""The stacked trainer (suite.engine): each member of a batch is the run it stands for.

* the stacked kernels compute what the models compute (float64, every family, 1 and 2 layers),
  and the CPU GRU matches nn.GRU;
* `run_batch` gives each spec the numbers the single loop (`suite.train.run_single`) gives it,
  to float tolerance, for
  every family, with per-run clipping, learning rates and inits, early stop and divergence;
* a member's numbers do not depend on its batch-mates (exactly), so sweeps are deterministic,
  and `suite.train.run` hands a batched spec to the same trainer (a batch of one);
* the optimizer, clipping and norms over stacked tensors match torch's per model;
* the compatibility rule, the group sizes and the sweep's use of them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import pytest
import torch

import suite.engine.stacked as stacked
from suite.engine.groups import batch_key, check_compatible, group_specs, member_bytes, stackable, sweep_key
from suite.engine.kernels import recurrent_layer
from suite.engine.optim import BatchedOptimizer, clip_, grad_norms
from suite.engine.stacked import run_batch
from suite.engine.stacked_model import BatchedRNN
from suite.models import make_model
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.store import Store
from suite.train import run, run_single

FAMILIES = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "rnn-leakyrelu", "rnn-prelu", "irnn", "lstm", "gru",
            "resrnn"]
TINY = TrainSpec(steps=20, batch_size=16, lr=3e-3, eval_every=10, eval_size=64)
RTOL = 2e-4  # float32 training, a few dozen steps: kernels differ from nn.RNN/LSTM/GRU at ~1e-7


def arch(name, **kw):
    options = (("skip", 2),) if name == "resrnn" else ()
    return ArchSpec(name, **{"hidden": 8, "options": options, **kw})


COPY = TaskSpec("copy", 4)


def spec(name="rnn-tanh", seed=0, task=COPY, train=TINY, **arch_kw):
    return RunSpec(task, arch(name, **arch_kw), train, seed)


def assert_same_run(batched_result, single, rtol=RTOL):
    """Same structure and protocol decisions; numbers equal to float tolerance."""
    a, b = batched_result, single
    for name in ("solved", "steps_to_solve", "steps_run", "diverged", "diverged_at", "num_parameters",
                 "baseline_loss", "task"):
        assert getattr(a, name) == getattr(b, name), name
    assert [e.step for e in a.evals] == [e.step for e in b.evals]
    pairs = [(x.loss, y.loss) for x, y in zip(a.evals, b.evals)]
    pairs += [(x.metric, y.metric) for x, y in zip(a.evals, b.evals)]
    pairs += list(zip(a.train_loss, b.train_loss)) + list(zip(a.grad_norm, b.grad_norm))
    assert len(a.train_loss) == len(b.train_loss) and len(a.grad_norm) == len(b.grad_norm)
    for x, y in pairs:
        assert x == pytest.approx(y, rel=rtol, abs=1e-6) or (math.isnan(x) and math.isnan(y))


# -- kernels and stacked models ---------------------------------------------------------------

@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("name", FAMILIES)
def test_stacked_model_computes_each_members_model(name, layers):
    """Forward and gradients of every member equal its own model's, in float64."""
    models = [make_model(arch(name, layers=layers), 5, 3, seed).double() for seed in (1, 2, 3)]
    net = BatchedRNN(models)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 9, 5, generator=g, dtype=torch.float64)
    for positions in (slice(None), slice(-1, None)):
        out = net(x, positions)
        weights = torch.randn(out.shape, generator=g, dtype=torch.float64)
        net.zero_grad()
        (out * weights).sum().backward()
        for k, model in enumerate(models):
            model.zero_grad()
            ref = model(x[k], positions)
            (ref * weights[k]).sum().backward()
            torch.testing.assert_close(out[k], ref, rtol=1e-10, atol=1e-12)
            for stacked_param, param in zip(net.params, net._tensors(model)):
                torch.testing.assert_close(stacked_param.grad[k], param.grad, rtol=1e-9, atol=1e-11)


def test_stacked_model_rejects_what_it_cannot_stack():
    with pytest.raises(ValueError, match="cannot batch AttentionRNN"):
        BatchedRNN([make_model(arch("rnn-attention"), 5, 3, 0)])
    with pytest.raises(ValueError, match="differ"):
        BatchedRNN([make_model(arch("lstm"), 5, 3, 0), make_model(arch("lstm", hidden=4), 5, 3, 0)])
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent_layer("elu", *[torch.zeros(1, 1, 1, 1)] * 5)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_cpu_gru_matches_nn_gru(dtype, tol):
    """The GRU model's CPU path (suite.batched_kernels) against nn.GRU on the same weights."""
    model = make_model(ArchSpec("gru", hidden=16, layers=2), 7, 3, 0).to(dtype)
    x = torch.randn(5, 30, 7, dtype=dtype, generator=torch.Generator().manual_seed(1), requires_grad=True)
    ours = model.hidden_sequence(x)
    ref = model.rnn(x)[0]
    torch.testing.assert_close(ours, ref, rtol=tol, atol=tol)
    grads = torch.autograd.grad(ours.square().sum(), [x, *model.rnn.parameters()])
    ref_grads = torch.autograd.grad(ref.square().sum(), [x, *model.rnn.parameters()])
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=10 * tol, atol=10 * tol)


# -- training: each member is its own run -----------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_batched_runs_match_single_runs(name):
    specs = [spec(name, seed) for seed in (0, 1)]
    for got, spec_ in zip(run_batch(specs), specs):
        assert_same_run(got, run_single(spec_))


def test_per_run_settings_clipping_and_learning_rates():
    """Members that differ in init, lr, clipping (norm and value, tight enough to bite) and step
    budget train as they would alone, each against its own thresholds."""
    base = spec("rnn-tanh", task=TaskSpec("adding", 12), train=replace(TINY, steps=25))
    specs = [
        replace(base, train=replace(base.train, clip=0.05)),
        replace(base, seed=1, train=replace(base.train, clip=0.01, clip_mode="value", lr=1e-2)),
        replace(base, seed=2, arch=arch("rnn-tanh", init="orthogonal", init_gain=1.5),
                train=replace(base.train, steps=13, lr=5e-4)),
        replace(base, seed=3, train=replace(base.train, clip=100.0)),
    ]
    assert len({batch_key(s) for s in specs}) == 1
    results = run_batch(specs)
    for got, spec_ in zip(results, specs):
        assert_same_run(got, run_single(spec_))
    assert results[2].steps_run == 13 and results[0].steps_run == 25
    assert results[0].grad_norm[0] > 0.05  # the norm recorded is the one before clipping


def test_early_stop_drops_solved_members_and_the_rest_go_on():
    task = TaskSpec("delayed_recall", 2, {"n_symbols": 4, "n_distractors": 1})
    train = TrainSpec(steps=150, batch_size=16, lr=1e-2, eval_every=5, eval_size=64)
    specs = [spec("lstm", seed, task=task, train=train, hidden=16) for seed in range(3)]
    specs.append(replace(specs[0], seed=3, train=replace(train, early_stop=False, steps=60)))
    results = run_batch(specs)
    singles = [run_single(s) for s in specs]
    for got, single in zip(results, singles):
        assert_same_run(got, single)
    solved = [r.steps_to_solve for r in results[:3]]
    assert all(solved) and len(set(solved)) > 1, "members should solve at different steps"
    assert all(r.steps_run == r.steps_to_solve for r in results[:3])
    assert results[3].steps_run == 60


def test_a_diverging_member_does_not_touch_the_others():
    task = TaskSpec("adding", 40)
    train = TrainSpec(steps=20, batch_size=16, lr=1e-2, optimizer="sgd", eval_every=5, eval_size=64)
    calm = [spec("rnn-relu", seed, task=task, train=train) for seed in (0, 1)]
    wild = spec("rnn-relu", 2, task=task, train=replace(train, lr=10.0), init="identity", init_gain=3.0)
    results = run_batch([calm[0], wild, calm[1]])
    assert results[1].diverged and not results[0].diverged and not results[2].diverged
    assert_same_run(results[1], run_single(wild))
    alone = run_batch(calm)
    for got, other in zip([results[0], results[2]], alone):  # bit for bit: no NaN leaked in
        assert got.evals == other.evals and got.grad_norm == other.grad_norm


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "gru", "rnn-prelu"])
def test_a_members_numbers_do_not_depend_on_its_batch_mates(name):
    specs = [spec(name, seed) for seed in range(4)]
    together = run_batch(specs)
    for i in (0, 3):
        alone = run_batch([specs[i]])[0]
        assert alone.evals == together[i].evals
        assert alone.train_loss == together[i].train_loss and alone.grad_norm == together[i].grad_norm


def test_models_passed_in_receive_the_final_weights():
    specs = [spec("gru", seed, train=replace(TINY, steps=8)) for seed in (0, 1)]
    task = specs[0].task.build()
    models = [make_model(s.arch, task.input_size, task.output_size, s.init_seed()) for s in specs]
    run_batch(specs, models)
    for s, model in zip(specs, models):
        single = make_model(s.arch, task.input_size, task.output_size, s.init_seed())
        run_single(s, model=single)
        for a, b in zip(model.parameters(), single.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_evaluation_in_chunks_gives_the_same_numbers(monkeypatch):
    specs = [spec("lstm", seed, train=replace(TINY, steps=10)) for seed in (0, 1, 2)]
    whole = run_batch(specs)
    monkeypatch.setattr(stacked, "EVAL_CHUNK_BYTES", 1)  # one example per forward pass
    monkeypatch.setattr(stacked, "MEMORY_BUDGET", 1)     # one member per forward pass
    for a, b in zip(run_batch(specs), whole):
        assert_same_run(a, b, rtol=1e-5)


# -- the pieces: optimizer, clipping, norms -------------------------------------------------------

@pytest.mark.parametrize("name,cls", [("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop),
                                      ("sgd", torch.optim.SGD)])
def test_optimizer_over_stacked_parameters_is_per_member(name, cls):
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, generator=g)]
    lrs = [1e-3, 3e-2, 0.5]
    singles = [[p[k].clone().requires_grad_() for p in params] for k in range(3)]
    optims = [cls(ps, lr=lr) for ps, lr in zip(singles, lrs)]
    ours, stacked = BatchedOptimizer(name, lrs), [p.clone() for p in params]
    for step in range(4):
        grads = [torch.randn(p.shape, generator=g) for p in stacked]
        if step == 2:  # member 1 leaves: the others keep their state
            ours.select([0, 2])
            stacked, grads, singles, optims = [p[[0, 2]] for p in stacked], [q[[0, 2]] for q in grads], \
                [singles[0], singles[2]], [optims[0], optims[2]]
        ours.step(stacked, grads)
        for k, (ps, opt) in enumerate(zip(singles, optims)):
            for p, q in zip(ps, grads):
                p.grad = q[k].clone()
            opt.step()
    for k, ps in enumerate(singles):
        for p, s in zip(ps, stacked):
            torch.testing.assert_close(s[k], p.detach(), rtol=1e-6, atol=1e-7)


def test_norms_and_clipping_are_per_member():
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, 6, 2, generator=g) * 5, torch.randn(3, 6, generator=g)]
    norms = grad_norms(grads)
    expected = [float(torch.nn.utils.get_total_norm([q[k] for q in grads])) for k in range(3)]
    torch.testing.assert_close(norms, torch.tensor(expected), rtol=1e-6, atol=0)

    def reference(k, clip):
        params = [torch.nn.Parameter(q[k].clone()) for q in grads]
        for p in params:
            p.grad = p.detach().clone()
        clip(params)
        return [p.grad for p in params]

    by_norm = reference(0, lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0))
    by_value = reference(1, lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.3))
    clipped = [q.clone() for q in grads]
    clip_(clipped, norms, [1.0, math.inf, math.inf], [math.inf, 0.3, math.inf])
    for i in range(2):
        torch.testing.assert_close(clipped[i][0], by_norm[i])
        torch.testing.assert_close(clipped[i][1], by_value[i])
        assert torch.equal(clipped[i][2], grads[i][2])  # no clipping: untouched


# -- which specs share a batch --------------------------------------------------------------------

def test_compatibility_rule():
    base = spec("lstm")
    per_run = [replace(base, seed=5), replace(base, arch=arch("lstm", init="orthogonal", init_gain=2.0)),
               replace(base, arch=arch("lstm", forget_bias=1.0)),
               replace(base, train=replace(TINY, lr=1e-2, clip=1.0, clip_mode="value", steps=7, early_stop=False))]
    assert {batch_key(s) for s in per_run} == {batch_key(base)}
    check_compatible([base, *per_run])
    shared = [replace(base, task=TaskSpec("copy", 5)), replace(base, arch=arch("lstm", hidden=4)),
              replace(base, arch=arch("lstm", layers=2)), replace(base, arch=arch("gru")),
              replace(base, train=replace(TINY, batch_size=8)), replace(base, train=replace(TINY, optimizer="sgd")),
              replace(base, train=replace(TINY, eval_every=5)), replace(base, train=replace(TINY, eval_size=32))]
    assert len({batch_key(s) for s in [base, *shared]}) == 1 + len(shared)
    with pytest.raises(ValueError, match="may differ only in"):
        check_compatible([base, shared[0]])
    attention = spec("rnn-attention")
    assert not stackable(attention) and batch_key(attention) is None
    with pytest.raises(ValueError, match="cannot be stacked"):
        run_batch([attention])
    assert all(stackable(spec(name)) for name in FAMILIES)


def test_groups_respect_the_size_cap_and_the_memory_budget():
    specs = [spec("gru", seed) for seed in range(7)] + [spec("rnn-attention", 0), spec("lstm", 0), spec("gru", 7)]
    groups = group_specs(specs, max_size=3)
    assert [len(g) for g in groups] == [3, 3, 2, 1, 1]  # gru seeds 0-2, 3-5, (6, 7); attention; lstm
    assert groups[2] == [specs[6], specs[9]] and groups[3] == [specs[7]]
    assert [len(g) for g in group_specs(specs[:7], memory_budget=2 * member_bytes(specs[0]))] == [2, 2, 2, 1]


def test_the_sweep_batches_and_a_broken_batch_retrains_through_the_same_trainer(tmp_path, monkeypatch):
    from suite import sweep, train

    specs = [spec("rnn-tanh", seed, train=replace(TINY, steps=6)) for seed in range(3)]
    lstm = [spec("lstm", seed) for seed in range(2)]  # CPU: oneDNN's LSTM is faster alone
    groups = sweep.group_runs(specs + lstm)
    assert [sorted(s.key for s in g) for g in groups] == [sorted(s.key for s in specs), [lstm[0].key], [lstm[1].key]]
    # the groups are decided by the specs: another order gives the same members (in another order)
    again = sweep.group_runs(lstm[::-1] + specs[::-1])
    assert sorted([s.key for s in g] for g in groups) == sorted([s.key for s in g] for g in again)
    assert sweep_key(lstm[0]) is None and sweep_key(replace(lstm[0], device="cuda"))
    assert [train.trainer_of(s) for s in (specs[0], lstm[0])] == [train.STACKED_TRAINER, train.SINGLE_TRAINER]
    with Store(tmp_path / "a.sqlite") as store:
        assert [o.status for o in sweep.execute_group(specs, store)] == ["ok"] * 3
        records = [store.get(s.key) for s in specs]
    assert {r.meta["trainer"] for r in records} == {train.STACKED_TRAINER}
    expected = [x.to_dict()["evals"] for x in run_batch(specs)]
    assert [r.result["evals"] for r in records] == expected

    real = stacked.run_batch

    def broken(group, models=None):
        if len(group) > 1:
            raise RuntimeError("kernel trouble")
        return real(group, models)

    monkeypatch.setattr(stacked, "run_batch", broken)
    with Store(tmp_path / "b.sqlite") as store, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [o.status for o in sweep.execute_group(specs, store)] == ["ok"] * 3
        records = [store.get(s.key) for s in specs]
    assert any("kernel trouble" in str(w.message) for w in caught)
    assert {r.meta["trainer"] for r in records} == {train.STACKED_TRAINER}
    assert [r.result["evals"] for r in records] == expected  # one by one: the same numbers, bit for bit


def test_run_hands_each_spec_to_the_trainer_it_names():
    """`suite.train.run` is the one way to train a spec: a batched architecture goes to the
    stacked trainer (a batch of one, beside its shadow), an LSTM on CPU and attention to the loop."""
    from suite.train import SINGLE_TRAINER, STACKED_TRAINER, trainer_of

    tanh, lstm = spec("rnn-tanh", 0), spec("lstm", 0)
    assert (trainer_of(tanh), trainer_of(lstm), trainer_of(spec("rnn-attention", 0))) == \
        (STACKED_TRAINER, SINGLE_TRAINER, SINGLE_TRAINER)
    assert run(tanh).evals == run_batch([tanh])[0].evals == run_batch([spec("rnn-tanh", 1), tanh])[1].evals
    assert run(lstm).evals == run_single(lstm).evals


def test_the_registry_declares_exactly_the_architectures_the_stacked_model_can_hold():
    """Whether an architecture stacks is said once, on its registry entry; the stacked model's own
    class check must agree with it for every built-in architecture."""
    from suite.engine.stacked_model import supports_class
    from suite.models import ARCHITECTURES

    for name, entry in ARCHITECTURES.items():
        model = make_model(ArchSpec(name, hidden=4), 3, 2, 0)
        assert entry.stackable == supports_class(type(model)), name
    assert not ARCHITECTURES["rnn-attention"].stackable and ARCHITECTURES["lstm"].alone_on_cpu
