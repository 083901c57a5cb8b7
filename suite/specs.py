"""Frozen, hashable descriptions of an experiment run, and the keys and seeds derived from them.

A `RunSpec` names everything that decides a run's numbers: the task and its variant, the
architecture with its mitigations, the training protocol, the replicate seed and the device. Its
canonical JSON (sorted keys, with `PROTOCOL_VERSION`) is hashed with sha256 to give the run's key
in the results store, so a run made under an older protocol is never silently reused.

Seeds are derived from the spec, never from global state or Python's salted `hash()`:

* the training data stream from (task, seed): every architecture sees the same batches;
* the evaluation set from the task alone: every run is judged on the same examples;
* the initial weights from (task, arch, seed): a training-only mitigation such as clipping is
  compared against the very same initial network (a paired design).

The device is part of the key but not of any seed, so CPU and CUDA runs start identically.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import partial
from pathlib import Path

from tasks import Task, make_task

from .mitigations import CLIP_MODES, INITS
from .models import architecture
from .models.plugins import SOURCE_OPTION

#: Bump when a change alters what a stored run means (training loop, criteria, data layout).
PROTOCOL_VERSION = 1
OPTIMIZERS = ("adam", "rmsprop", "sgd")

Options = tuple[tuple[str, object], ...]
DEVICE_PATTERN = re.compile(r"cpu|cuda(:[0-9]+)?")


def _option_parameters(arch) -> dict | None:
    try:
        return dict(inspect.signature(arch.build).parameters)
    except (TypeError, ValueError):  # a builtin or C callable: let it judge its own options
        return None


def arch_option_names(arch) -> set[str] | None:
    """The keyword options an architecture's builder accepts (None: any, a **options builder)."""
    params = _option_parameters(arch)
    if params is None:
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    bound = set(arch.build.keywords) if isinstance(arch.build, partial) else set()
    fixed = {"input_size", "output_size", "hidden_size", "num_layers", "self"}
    names = {n for n, p in params.items() if n not in fixed | bound
             and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names | ({SOURCE_OPTION} if arch.origin != "builtin" else set())  # a user cell's source hash


#: what an option's default says its values must be (bool before int: True is an int)
_OPTION_TYPES = ((bool, (bool,), "True or False"), (int, (int,), "an integer"),
                 (float, (int, float), "a number"), (str, (str,), "a string"))


def check_option_types(arch, name: str, options: Options) -> None:
    """Each option's value must be of its default's kind (a number where the constructor's default
    is 1.0, ...): a ValueError naming the option, before anything is built. Options without a
    default, or with None, take any value the constructor accepts."""
    params = _option_parameters(arch) or {}
    for key, value in options:
        param = params.get(key)
        default = None if param is None else param.default
        if default is None or default is inspect.Parameter.empty:
            continue
        for kind, accepted, words in _OPTION_TYPES:
            if isinstance(default, kind):
                if not isinstance(value, accepted) or (kind is not bool and isinstance(value, bool)):
                    raise ValueError(f"arch {name!r} option {key!r} takes {words} (its default is {default!r}), "
                                     f"got {value!r}")
                break


def freeze_options(options: dict | Options | None, name: str = "options") -> Options:
    """A dict of options (or pairs) as a sorted tuple of pairs (hashable, order-independent).
    Names must be strings and values JSON scalars (a spec is hashed as canonical JSON)."""
    if options is None:
        return ()
    if isinstance(options, Mapping):
        pairs = list(options.items())
    elif isinstance(options, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in options):
        pairs = [tuple(p) for p in options]
    else:
        raise TypeError(f"{name} must be a dict of name -> value, got {options!r}")
    for key, value in pairs:
        if not isinstance(key, str) or not key:
            raise TypeError(f"{name} names must be non-empty strings, got {key!r}")
        if not (value is None or isinstance(value, (str, bool, int))
                or (isinstance(value, float) and math.isfinite(value))):
            raise TypeError(f"{name}[{key!r}] must be a string, number, bool or None, got {value!r}")
    return tuple(sorted(dict(pairs).items()))


def _instance(name: str, value, kind) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}, got {type(value).__name__} {value!r}")


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _positive_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    gap: int
    options: Options = ()

    def __post_init__(self):
        object.__setattr__(self, "options", freeze_options(self.options, "task options"))
        self.build()  # validates name, gap and options with the task's own messages

    def build(self) -> Task:
        return make_task(self.name, self.gap, **dict(self.options))

    def with_defaults(self) -> TaskSpec:
        """The same task with every option spelled out, so equal tasks get equal keys."""
        return TaskSpec(self.name, self.gap, self.build().options())


@dataclass(frozen=True)
class ArchSpec:
    name: str = "rnn-tanh"
    hidden: int = 64
    layers: int = 1
    init: str = "default"
    init_gain: float = 1.0
    forget_bias: float | None = None
    options: Options = ()  # architecture-specific, e.g. (("skip", 4),) for resrnn

    def __post_init__(self):
        object.__setattr__(self, "options", freeze_options(self.options, "arch options"))
        arch = architecture(self.name)
        if arch.origin != "builtin" and arch.source and SOURCE_OPTION not in dict(self.options):
            # a plug-in's runs are keyed by the code it computes with (suite/models/sources.py)
            object.__setattr__(self, "options", freeze_options({**dict(self.options), SOURCE_OPTION: arch.source}))
        allowed = arch_option_names(arch)
        unknown = sorted(k for k, _ in self.options if allowed is not None and k not in allowed)
        if unknown:
            raise ValueError(f"arch {self.name!r} has no option {unknown[0]!r}; its options are {sorted(allowed)}")
        check_option_types(arch, self.name, self.options)
        _positive_int("hidden", self.hidden)
        _positive_int("layers", self.layers)
        if self.init not in INITS:
            raise ValueError(f"init must be one of {list(INITS)}, got {self.init!r}")
        _positive_number("init_gain", self.init_gain)
        if arch.defining_init and self.init not in ("default", arch.defining_init):
            raise ValueError(
                f"arch {self.name!r} is defined by its {arch.defining_init} init; "
                f"for init {self.init!r} use the plain activation (e.g. rnn-relu)"
            )
        if self.forget_bias is not None:
            if self.name != "lstm":
                raise ValueError(f"forget_bias applies only to arch 'lstm', not {self.name!r}")
            if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)) \
                    or not math.isfinite(self.forget_bias):
                raise ValueError(f"forget_bias must be a finite number or None, got {self.forget_bias!r}")
            if "chrono" in dict(self.options):
                raise ValueError("forget_bias and the chrono option both set the LSTM's forget-gate "
                                 "bias: give one of them")

    def identity(self) -> dict:
        """The fields that name this architecture in keys and seeds. A user cell given by a file
        path ("/home/me/cells.py:MyCell") is named by its file's name ("cells.py:MyCell"): with its
        source hash (an option, suite.models.plugins.SOURCE_OPTION) that says which code it is,
        so that the same cell gets the same keys, seeds and numbers wherever the file lies."""
        fields = asdict(self)
        where, colon, obj = self.name.rpartition(":")
        if colon and where.endswith(".py"):
            fields["name"] = f"{Path(where).name}:{obj}"
        return fields


@dataclass(frozen=True)
class TrainSpec:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    clip: float | None = None
    clip_mode: str = "norm"
    eval_every: int = 50
    eval_size: int = 512
    early_stop: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_size"):
            _positive_int(name, getattr(self, name))
        _positive_number("lr", self.lr)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.clip is not None:
            _positive_number("clip", self.clip)
        if self.clip_mode not in CLIP_MODES:
            raise ValueError(f"clip_mode must be one of {list(CLIP_MODES)}, got {self.clip_mode!r}")
        if not isinstance(self.early_stop, bool):
            raise ValueError(f"early_stop must be True or False, got {self.early_stop!r}")


@dataclass(frozen=True)
class RunSpec:
    task: TaskSpec
    arch: ArchSpec = field(default_factory=ArchSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (N a device index), got {self.device!r}")
        _instance("task", self.task, TaskSpec)
        _instance("arch", self.arch, ArchSpec)
        _instance("train", self.train, TrainSpec)
        object.__setattr__(self, "task", self.task.with_defaults())

    def to_dict(self) -> dict:
        return asdict(self)

    def canonical_json(self) -> str:
        return canonical_json({"protocol": PROTOCOL_VERSION, "spec": self.to_dict() | {"arch": self.arch.identity()}})

    @property
    def key(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def data_seed(self) -> int:
        return derive_seed("train-data", self.task, self.seed)

    def eval_seed(self) -> int:
        return derive_seed("eval-data", self.task)

    def init_seed(self) -> int:
        return derive_seed("init", self.task, self.arch.identity(), self.seed)

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """The spec `to_dict` wrote; a missing, unknown or mistyped field is a ValueError/TypeError
        that names it."""
        def build(kind, values, where):
            if not isinstance(values, Mapping):
                raise TypeError(f"spec[{where!r}] must be a dict of {kind.__name__} fields, got {values!r}")
            names = {f.name for f in fields(kind)}
            unknown = sorted(set(values) - names, key=str)
            if unknown:
                raise ValueError(f"spec[{where!r}] has no field {unknown[0]!r}; fields: {sorted(names)}")
            required = {f.name for f in fields(kind) if f.default is MISSING and f.default_factory is MISSING}
            if required - set(values):
                raise ValueError(f"spec[{where!r}] lacks the field {sorted(required - set(values))[0]!r}")
            return kind(**values)

        if not isinstance(data, Mapping):
            raise TypeError(f"spec must be a dict with task, arch, train, seed, device; got {data!r}")
        unknown = sorted(set(data) - {"task", "arch", "train", "seed", "device"}, key=str)
        if unknown:
            raise ValueError(f"spec has no field {unknown[0]!r}; fields: arch, device, seed, task, train")
        if "task" not in data:
            raise ValueError("spec lacks the field 'task'")
        data = {k: build(kind, data[k], k) if k in data else None
                for k, kind in (("task", TaskSpec), ("arch", ArchSpec), ("train", TrainSpec))} | \
            {k: v for k, v in data.items() if k in ("seed", "device")}
        return cls(
            task=data["task"],
            arch=data["arch"] or ArchSpec(),
            train=data["train"] or TrainSpec(),
            seed=data.get("seed", 0),
            device=data.get("device", "cpu"),
        )


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def json_ready(value):
    """`value` with every non-finite float (NaN, inf) replaced by None, recursively: strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a spec")


def derive_seed(purpose: str, *parts) -> int:
    """A 63-bit seed from sha256 of the canonical JSON of `parts` (stable across processes)."""
    text = canonical_json({"protocol": PROTOCOL_VERSION, "purpose": purpose, "parts": list(parts)})
    return int(hashlib.sha256(text.encode()).hexdigest()[:16], 16) >> 1


#: replicate seeds per master seed at most: master seed m owns seeds [m * SEED_BLOCK, (m + 1) * SEED_BLOCK)
SEED_BLOCK = 10_000


def replicate_seeds(master_seed: int, n: int) -> list[int]:
    """The `n` replicate seeds of `master_seed`, the one rule for sweeps, claims, probes and checks:
    m * 10000 + 0, 1, ..., n - 1. Another master seed gives a disjoint set, and a larger `n`
    extends a smaller one (10 seeds include the 5 of a smaller run with the same master seed)."""
    for name, value, low in (("master_seed", master_seed, 0), ("seeds", n, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if n > SEED_BLOCK:
        raise ValueError(f"seeds must be at most {SEED_BLOCK} per master seed, got {n}")
    return [master_seed * SEED_BLOCK + i for i in range(n)]


__all__ = [
    "ArchSpec", "PROTOCOL_VERSION", "RunSpec", "SEED_BLOCK", "TaskSpec", "TrainSpec",
    "canonical_json", "derive_seed", "freeze_options", "json_ready", "replicate_seeds",
]
