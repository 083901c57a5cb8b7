"""Training one run: `run(spec) -> RunResult`, a pure function of the spec on a given device.

`run` hands the spec to the one trainer the spec decides (`trainer_of`, from the architecture's
registry entry): the stacked trainer (alone, as a batch of one) for the architectures a sweep
stacks, else the per-run loop. A stored run, a run of `vgsuite train` and a network a claim
retrains are therefore the same computation, and a member's numbers do not depend on its
batch-mates, so a spec's result does not depend on who asked for it or how a sweep grouped it.
The protocol both trainers follow: suite.engine.protocol. Same spec, same device, same thread
count: the same numbers, bit for bit (checked by the tests).
"""

from __future__ import annotations

from .engine.groups import SINGLE_TRAINER, STACKED_TRAINER, trainer_of
from .engine.protocol import EvalPoint, RunResult
from .engine.single import run_single
from .engine.stacked import run_batch
from .engine.stacked_model import supports_class
from .limits import check_run
from .models import RecurrentModel
from .specs import RunSpec


def run(spec: RunSpec, model: RecurrentModel | None = None) -> RunResult:
    """Train one run as `spec` says, with the trainer `trainer_of(spec)` names.

    `model`, when given (one built with `make_model` so that the caller can probe it afterwards,
    or a user's model that replaces the spec's architecture), is trained in place. A model whose
    class the stacked trainer cannot hold trains in the per-run loop. A spec beyond the size
    limits (suite.limits) raises SizeError before anything is allocated.
    """
    check_run(spec)
    if trainer_of(spec) == STACKED_TRAINER and (model is None or supports_class(type(model))):
        return run_batch([spec], None if model is None else [model])[0]
    return run_single(spec, model)


__all__ = ["SINGLE_TRAINER", "STACKED_TRAINER", "EvalPoint", "RunResult", "run", "run_batch", "run_single",
           "trainer_of"]
