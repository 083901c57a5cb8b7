"""One label per arm, spelled one way in every table and figure.

An arm's label is its architecture followed by each mitigation that differs from the defaults, in
a fixed order: depth, recurrent init (with its gain), LSTM forget-gate bias, architecture options,
clipping, optimizer.

    arm_label(ArchSpec("lstm", forget_bias=1.0))                   'lstm, forget bias 1'
    arm_label(ArchSpec("rnn-relu", init="identity", init_gain=1.1),
              TrainSpec(optimizer="sgd", clip=1.0))                'rnn-relu, init identity x1.1, clip norm 1, sgd'
    mitigation_label(ArchSpec("rnn-tanh"), TrainSpec(clip=0.25))   'clip norm 0.25'
    spec_label(stored_run.spec)                                    the same, from a stored spec
    spec_mitigation_label(stored_run.spec)                         its mitigations alone

The learning rate is not part of it (every table that needs it has a column of its own), nor the
width or the step budget (the protocol's). The claims' catalogue (suite.claims.arms) names its
arms for the claims to refer to; the tables print this label beside that name.
"""

from __future__ import annotations

from .specs import ArchSpec, TrainSpec


def _parts(layers, init, init_gain, forget_bias, options, clip=None, clip_mode="norm",
           optimizer="adam") -> list[str]:
    parts = []
    if layers != 1:
        parts.append(f"{layers} layers")
    if init != "default" or init_gain != 1.0:
        parts.append(f"init {init}" + (f" x{init_gain:g}" if init_gain != 1.0 else ""))
    if forget_bias is not None:
        parts.append(f"forget bias {forget_bias:g}")
    parts += [f"{key}={value}" for key, value in options]
    if clip is not None:
        parts.append(f"clip {clip_mode} {clip:g}")
    if optimizer != "adam":
        parts.append(optimizer)
    return parts


def mitigation_parts(arch: ArchSpec, train: TrainSpec | None = None) -> list[str]:
    how = {} if train is None else {"clip": train.clip, "clip_mode": train.clip_mode, "optimizer": train.optimizer}
    return _parts(arch.layers, arch.init, arch.init_gain, arch.forget_bias, arch.options, **how)


def arm_label(arch: ArchSpec, train: TrainSpec | None = None, *, trained: bool = False) -> str:
    """The architecture and its mitigations; ", trained" for a network probed after training."""
    return ", ".join([arch.name, *mitigation_parts(arch, train)] + (["trained"] if trained else []))


def mitigation_label(arch: ArchSpec, train: TrainSpec | None = None) -> str:
    """The mitigations alone ("-" for none)."""
    return ", ".join(mitigation_parts(arch, train)) or "-"


def spec_label(spec: dict) -> str:
    """arm_label of a stored run's spec (its JSON form, read as stored: the architecture may be a
    plugin this process has not registered)."""
    return ", ".join([spec["arch"]["name"], *_spec_parts(spec)])


def spec_mitigation_label(spec: dict) -> str:
    """mitigation_label of a stored run's spec ("-" for none)."""
    return ", ".join(_spec_parts(spec)) or "-"


def _spec_parts(spec: dict) -> list[str]:
    arch, train = spec.get("arch", {}), spec.get("train", {})
    return _parts(arch.get("layers", 1), arch.get("init", "default"), arch.get("init_gain", 1.0),
                  arch.get("forget_bias"), arch.get("options", ()), train.get("clip"),
                  train.get("clip_mode", "norm"), train.get("optimizer", "adam"))
