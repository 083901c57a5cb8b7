"""Which runs the stacked trainer takes, and which of them share a batch.

A spec is stackable when its architecture's registry entry says so (`Architecture.stackable`,
built-in names only: a user architecture trains alone, whatever it subclasses). Its trainer is
decided by the spec alone (`trainer_of`): the stacked trainer for a stackable spec, except an
architecture marked `alone_on_cpu` on CPU; else the per-run loop. A spec trained alone by the
stacked trainer is a batch of one, with the same numbers as in any batch (suite.engine.stacked).

Specs share a batch (`batch_key`) when they agree on the task (name, gap, options), the
architecture (name, hidden, layers, options), optimizer, batch size, evaluation schedule
(eval_every, eval_size) and device. Free to differ per member (`PER_RUN_FIELDS`): the seed, the
recurrent init and gain, the forget-gate bias, the learning rate, the clipping threshold and
mode, the step budget and early stop.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import ARCHITECTURES
from ..specs import RunSpec, canonical_json

MAX_GROUP = 16                  # members per batch at most: the gain per run levels off from 8
                                # to 16 (benchmarks/bench.py), and a killed sweep loses a group
MEMORY_BUDGET = 2 * 2**30       # bytes of activations a batch may hold (sets the group size)
PER_RUN_FIELDS = ("seed", "arch.init", "arch.init_gain", "arch.forget_bias", "train.lr",
                  "train.clip", "train.clip_mode", "train.steps", "train.early_stop")
#: the two trainers, as run metadata names them
STACKED_TRAINER, SINGLE_TRAINER = "suite.engine.stacked", "suite.engine.single"


def stackable(spec: RunSpec) -> bool:
    """Whether the stacked trainer can hold `spec` (its registry entry says so)."""
    entry = ARCHITECTURES.get(spec.arch.name)
    return entry is not None and entry.stackable


def batch_key(spec: RunSpec) -> str | None:
    """What the members of one batch share, as a string (None: `spec` is not stackable)."""
    if not stackable(spec):
        return None
    arch, train = spec.arch, spec.train
    return canonical_json({
        "task": spec.task, "device": spec.device,
        "arch": [arch.name, arch.hidden, arch.layers, arch.options],
        "train": [train.optimizer, train.batch_size, train.eval_every, train.eval_size],
    })


def sweep_key(spec: RunSpec) -> str | None:
    """`batch_key` for a spec the stacked trainer runs, None for one the per-run loop runs."""
    if stackable(spec) and spec.device == "cpu" and ARCHITECTURES[spec.arch.name].alone_on_cpu:
        return None
    return batch_key(spec)


def trainer_of(spec: RunSpec) -> str:
    """The trainer that runs `spec`, decided by the spec alone."""
    return SINGLE_TRAINER if sweep_key(spec) is None else STACKED_TRAINER


def member_bytes(spec: RunSpec) -> int:
    """Rough activation memory of one member's training step (float32)."""
    task = spec.task.build()
    per_step = {"lstm": 16, "gru": 16}.get(spec.arch.name, 7) * spec.arch.hidden * spec.arch.layers
    return 4 * spec.train.batch_size * task.seq_len * (per_step + task.output_size)


def group_specs(specs: Sequence[RunSpec], max_size: int = MAX_GROUP, memory_budget: int = MEMORY_BUDGET,
                key=batch_key) -> list[list[RunSpec]]:
    """Specs in groups that the stacked trainer can train together (equal `key`), in first-seen
    order; a spec whose key is None is a group of its own. Groups hold at most `max_size` members
    and about `memory_budget` bytes of activations."""
    groups: dict[object, list[RunSpec]] = {}
    for i, spec in enumerate(specs):
        k = key(spec)
        groups.setdefault(("alone", i) if k is None else k, []).append(spec)
    out = []
    for members in groups.values():
        size = max(1, min(max_size, memory_budget // member_bytes(members[0])))
        out += [members[i : i + size] for i in range(0, len(members), size)]
    return out


def check_compatible(specs: Sequence[RunSpec]) -> None:
    if not specs:
        raise ValueError("specs must not be empty")
    for spec in specs:
        if not stackable(spec):
            raise ValueError(f"arch {spec.arch.name!r} cannot be stacked; train it with suite.train.run")
        if batch_key(spec) != batch_key(specs[0]):
            raise ValueError(f"specs cannot share a batch: they may differ only in {list(PER_RUN_FIELDS)}; "
                             f"{spec.key[:12]} differs from {specs[0].key[:12]} elsewhere")


__all__ = ["MAX_GROUP", "MEMORY_BUDGET", "PER_RUN_FIELDS", "SINGLE_TRAINER", "STACKED_TRAINER", "batch_key",
           "check_compatible", "group_specs", "member_bytes", "stackable", "sweep_key", "trainer_of"]
