"""The training loop: determinism, early stop, divergence as data, evaluation protocol."""

from __future__ import annotations

import json
import math

import pytest
import torch

from suite.models import make_model
from suite.specs import ArchSpec, RunSpec, TaskSpec, TrainSpec
from suite.train import RunResult, run

TINY = TrainSpec(steps=30, batch_size=16, eval_every=10, eval_size=64, lr=3e-3)


def tiny_spec(**kw):
    base = dict(task=TaskSpec("delayed_recall", 5), arch=ArchSpec("gru", hidden=8), train=TINY, seed=0)
    return RunSpec(**{**base, **kw})


def test_same_spec_gives_identical_numbers(device):
    a, b = run(tiny_spec(device=device)), run(tiny_spec(device=device))
    assert a.evals == b.evals and a.train_loss == b.train_loss and a.grad_norm == b.grad_norm
    c = run(tiny_spec(device=device, seed=1))
    assert c.evals != a.evals


def test_result_fields_and_eval_protocol():
    result = run(tiny_spec())
    assert [e.step for e in result.evals] == [0, 10, 20, 30]
    assert result.steps_run == 30 and len(result.train_loss) == 3 and len(result.grad_norm) == 3
    assert result.baseline_loss == pytest.approx(math.log(8))
    assert result.task["name"] == "delayed_recall" and result.task["options"]["n_symbols"] == 8
    assert result.final_loss == result.evals[-1].loss and result.wall_s > 0
    again = RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result


def test_early_stop_when_solved():
    spec = RunSpec(TaskSpec("delayed_recall", 3), ArchSpec("lstm", hidden=32),
                   TrainSpec(steps=1500, lr=1e-2, eval_every=25), seed=0)
    result = run(spec)
    assert result.solved and result.final_metric >= 0.99
    assert result.steps_run == result.steps_to_solve < 1500
    no_stop = run(RunSpec(spec.task, spec.arch, TrainSpec(steps=result.steps_to_solve + 50, lr=1e-2,
                                                          eval_every=25, early_stop=False), seed=0))
    assert no_stop.steps_run == result.steps_to_solve + 50
    assert no_stop.steps_to_solve == result.steps_to_solve  # the same run up to the solve step


def test_divergence_is_recorded_not_raised():
    spec = tiny_spec(arch=ArchSpec("rnn-relu", hidden=16, init="identity", init_gain=3.0),
                     task=TaskSpec("adding", 60), train=TrainSpec(steps=20, lr=10.0, optimizer="sgd", eval_every=5))
    result = run(spec)
    assert result.diverged and 0 <= result.diverged_at <= 20
    assert not result.solved
    json.dumps(result.to_dict(), allow_nan=False)  # non-finite numbers become null


def test_the_data_stream_does_not_depend_on_the_architecture():
    a, b = tiny_spec(arch=ArchSpec("lstm")), tiny_spec(arch=ArchSpec("gru"))
    assert a.data_seed() == b.data_seed() and a.eval_seed() == b.eval_seed()
    assert a.init_seed() != b.init_seed()
    clipped = tiny_spec(train=TrainSpec(steps=30, clip=1.0))
    assert clipped.init_seed() == tiny_spec().init_seed()  # a paired design for training mitigations


def test_a_model_passed_in_is_trained_in_place():
    spec = tiny_spec()
    task = spec.task.build()
    model = make_model(spec.arch, task.input_size, task.output_size, spec.init_seed())
    before = [p.detach().clone() for p in model.parameters()]
    result = run(spec, model=model)
    assert result.evals == run(spec).evals  # same numbers as a run that builds its own model
    assert any(not torch.equal(p, q) for p, q in zip(before, model.parameters()))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_every_optimizer_trains(optimizer):
    result = run(tiny_spec(train=TrainSpec(steps=10, optimizer=optimizer, eval_every=10)))
    assert result.steps_run == 10 and not result.diverged


# -- the budget dimension: a shorter budget read off a longer run ---------------------------------

@pytest.mark.parametrize("arch", ["gru", "lstm", "rnn-tanh"])
def test_a_longer_run_read_at_a_shorter_budget_is_the_shorter_run(arch):
    """The first N steps of a run are the N-step run (same batches, same updates), so the budget
    dimension of the learning claims costs no training."""
    from dataclasses import replace

    long_spec = tiny_spec(arch=ArchSpec(arch, hidden=8), train=replace(TINY, steps=60, early_stop=False))
    short_spec = replace(long_spec, train=replace(long_spec.train, steps=30))
    read = run(long_spec).at_budget(30)
    short = run(short_spec)
    for name in ("solved", "steps_to_solve", "steps_run", "final_loss", "final_metric", "diverged",
                 "train_loss", "grad_norm"):
        assert getattr(read, name) == getattr(short, name), name
    assert [(e.step, e.loss, e.metric) for e in read.evals] == [(e.step, e.loss, e.metric) for e in short.evals]


def test_a_run_solved_after_the_budget_is_unsolved_at_it():
    result = RunResult(solved=True, steps_to_solve=40, steps_run=40, final_loss=0.1, final_metric=1.0,
                       baseline_loss=2.0, baseline_metric=0.125, diverged=False, diverged_at=None, wall_s=1.0,
                       num_parameters=10, task={}, evals=[], train_loss=[1.0] * 4, grad_norm=[0.5] * 4)
    from suite.engine.protocol import EvalPoint

    result.evals = [EvalPoint(s, 2.0 - s / 25, 0.125 + s / 50) for s in (0, 10, 20, 30, 40)]
    at20 = result.at_budget(20)
    assert not at20.solved and at20.steps_to_solve is None and at20.steps_run == 20
    assert at20.final_loss == result.evals[2].loss and len(at20.train_loss) == 2
    assert result.at_budget(40) is result and result.at_budget(1000) is result
    with pytest.raises(ValueError, match="budget 25 is not an evaluation step"):
        result.at_budget(25)
    with pytest.raises(ValueError, match="budget must be a positive number of steps"):
        result.at_budget(0)


def test_a_finite_loss_far_beyond_the_baseline_is_divergence():
    from suite.engine.protocol import RunLog, divergence_limit

    task = TaskSpec("delayed_recall", 5).build()
    limit = divergence_limit(task.baseline_loss)
    assert limit == pytest.approx(1e6 * math.log(8))
    log = RunLog(TINY, task, num_parameters=1)
    assert log.step(1, 0.9 * limit, 1.0) and not log.result.diverged  # large, but training
    assert not log.step(2, 1e30, 1.0)  # finite, yet blown up: ends the run like NaN would
    assert log.result.diverged and log.result.diverged_at == 2
    log = RunLog(TINY, task, num_parameters=1)
    assert log.evaluation(0, 1e30, 0.1) and log.result.diverged and log.result.diverged_at == 0
    # a tiny memoryless loss (copy over all steps at a long gap) still gets the absolute floor
    assert divergence_limit(TaskSpec("copy", 1000).build().baseline_loss) == 1e6

