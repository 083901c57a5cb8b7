"""User architectures: a recurrent cell or model in the user's own file or package joins the registry.

Three ways in, all resolved by `suite.models.architecture(name)`, so every part of the suite (specs,
training, probes, sweeps in "spawn" workers, `vgsuite check`) accepts them like a built-in name:

    vgsuite check --arch mypkg.cells:MyCell            # an import path "package.module:Object"
    vgsuite check --arch path/to/cells.py:MyCell       # or a file path "file.py:Object"

    [project.entry-points."vgsuite.architectures"]     # an entry point of an installed package
    mycell = "mypkg.cells:MyCell"                      #   -> --arch mycell

    @register_architecture("mycell")                   # a decorator (the module must be imported;
    class MyCell(nn.Module): ...                       #   $VGSUITE_PLUGINS lists modules to import)

The object named may be
* a **cell**: an `nn.Module` class built as `Cell(input_size, hidden_size, **options)` whose
  `forward(x_t, state) -> state` advances one step. `state` is one (batch, hidden) tensor, or a tuple
  of them named by a class attribute `state_names` (default ("h",)); the element "h" is the layer's
  output. Optional: `initial_state(batch, like)`, `recurrent_weights()` (a list of
  (hidden-to-hidden matrix, number of gate blocks), so the init mitigations can act on it; without
  it a square `weight_hh` parameter is used, else the cell has none) and `derivative_bound`.
  vgsuite stacks `num_layers` cells into a `CellModel` with a linear readout;
* a **sequence module**: an `nn.Module` class built as `Module(input_size, hidden_size, **options)`
  whose `forward(x)` takes the whole (batch, time, input) sequence and returns the hidden sequence
  or PyTorch's `(output, h_n)`, with an optional `step(x_t, state)`; recognised by
  `vgsuite_kind = "sequence"`, as an `nn.RNNBase` subclass or by a one-argument forward
  (`module_kind`; suite/models/sequence.py has the rules and the `SequenceModel` wrapper);
* a **`RecurrentModel` subclass** (suite/models/base.py), built as
  `Model(input_size, output_size, hidden_size, num_layers, **options)`: full control, a fast view;
* an **`Architecture`** instance (build function, summary, ...) for anything else.

What cannot be used as an architecture (not a class, an abstract model, a cell whose constructor or
forward takes the wrong arguments) raises `ArchitectureInterfaceError`; a path that does not import
raises `ArchitectureImportError`; both are ValueErrors, so the CLI reports them in one line (exit 2).
What the object *does* (shapes, state, gradients) is the business of the contract checks
(`suite.contract`).

Runs are keyed by what the object computes, not by its name: every spec of a plug-in carries the
option `vgsuite_source`, a hash of the file that defines it and of every local module that file
imports (suite/models/sources.py), so an edit anywhere in that code trains anew and the same code
keys the same runs wherever it lies; the build functions made here drop that option before calling
the user's code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

from torch import nn

from ..containment import real_interrupt
from .base import RecurrentModel
from .cells import ArchitectureInterfaceError, CellModel
from .registry import ARCHITECTURES, Architecture
from .sequence import CELL_KIND, KIND_ATTRIBUTE, SEQUENCE_KIND, SequenceModel
from .sources import local_sources, source_hash

ENTRY_POINT_GROUP = "vgsuite.architectures"
PLUGINS_ENV = "VGSUITE_PLUGINS"   # comma-separated modules to import before giving up on a name
SOURCE_OPTION = "vgsuite_source"  # spec option carrying a hash of the user's source (see above)
FILE_MODULE_PREFIX = "vgsuite_user_"  # the module name given to a file imported by path

#: architectures registered with @register_architecture (kept apart from the built-ins)
PLUGINS: dict = {}
_RESOLVED: dict = {}  # import paths and entry points resolved so far in this process


class ArchitectureImportError(ValueError):
    """An architecture name that names nothing importable."""


# -- turning an object into an Architecture -------------------------------------------------------


def _file_names(obj) -> tuple[str, ...]:
    return tuple(name for name, _ in local_sources(obj))


def _without_source(build):
    def wrapped(*args, **options):
        options.pop(SOURCE_OPTION, None)
        return build(*args, **options)

    wrapped.__wrapped__ = build
    return wrapped


def _check_signature(label: str, func, args: tuple, what: str) -> None:
    try:
        inspect.signature(func).bind(*args)
    except TypeError as exc:
        raise ArchitectureInterfaceError(f"{label}: {what} ({exc})") from None
    except ValueError:  # no signature (a builtin): let the contract checks find out
        pass


def as_architecture(obj, label: str, origin: str):
    """An `Architecture` for a cell class, a RecurrentModel subclass or an Architecture."""
    if isinstance(obj, Architecture):
        return Architecture(_without_source(obj.build), obj.summary, obj.defining_init,
                            obj.zero_recurrent_bias, origin=origin, source=obj.source or source_hash(obj.build),
                            source_files=obj.source_files or _file_names(obj.build))
    if not inspect.isclass(obj):
        raise ArchitectureInterfaceError(
            f"arch {label!r} names a {type(obj).__name__}, not a class: give an nn.Module cell class "
            "(forward(x_t, state) -> state), a RecurrentModel subclass or a suite.models.Architecture")
    summary = (inspect.getdoc(obj) or obj.__name__).splitlines()[0]
    if issubclass(obj, RecurrentModel):
        missing = sorted(getattr(obj, "__abstractmethods__", ()))
        if missing:
            raise ArchitectureInterfaceError(
                f"arch {label!r}: {obj.__name__} does not implement {', '.join(missing)} "
                "(abstract in suite.models.RecurrentModel)")
        _check_signature(label, obj, (1, 1, 1, 1), "a RecurrentModel must be built as "
                         "Model(input_size, output_size, hidden_size, num_layers, **options)")
        return Architecture(_without_source(obj), summary, origin=origin, source=source_hash(obj),
                            source_files=_file_names(obj))
    if issubclass(obj, nn.Module):
        if is_sequence_module(obj):  # a whole-sequence forward(x) (suite/models/sequence.py)
            return sequence_architecture(obj, label, origin, summary, source_hash(obj))
        _check_signature(label, obj, (1, 1), "a cell must be built as Cell(input_size, hidden_size, **options)")
        names = getattr(obj, "state_names", ("h",))
        if not isinstance(names, (tuple, list)) or "h" not in names or len(set(names)) != len(names):
            raise ArchitectureInterfaceError(
                f"arch {label!r}: {obj.__name__}.state_names must be a tuple naming each state element "
                f"once, with 'h' for the layer's output, got {names!r}")
        if obj.forward is nn.Module.forward:
            raise ArchitectureInterfaceError(f"arch {label!r}: cell {obj.__name__} has no forward(x_t, state)")
        _check_signature(label, obj.forward, (None, None, None), "a cell's forward must take (x_t, state)")

        def build(input_size, output_size, hidden_size, num_layers=1, **options):
            return CellModel(obj, input_size, output_size, hidden_size, num_layers, **options)

        build.__wrapped__ = obj
        return Architecture(_without_source(build), f"{summary} (cell, stacked by vgsuite)",
                            origin=origin, source=source_hash(obj), source_files=_file_names(obj))
    raise ArchitectureInterfaceError(
        f"arch {label!r}: class {obj.__name__} is neither an nn.Module cell nor a RecurrentModel subclass")


# -- sequence modules (suite/models/sequence.py says what they are) ----------------------------------


def module_kind(cls) -> str | None:
    """'sequence', 'cell' or None (not decided: let the cell checks speak) for an nn.Module class."""
    kind = getattr(cls, KIND_ATTRIBUTE, None)
    if kind is not None:
        if kind not in (SEQUENCE_KIND, CELL_KIND):
            raise ArchitectureInterfaceError(
                f"{cls.__name__}.{KIND_ATTRIBUTE} must be {SEQUENCE_KIND!r} or {CELL_KIND!r}, got {kind!r}")
        return kind
    if issubclass(cls, nn.RNNBase):
        return SEQUENCE_KIND
    if cls.forward is not nn.Module.forward and _positional(cls.forward) == 1:
        return SEQUENCE_KIND
    return None


def is_sequence_module(cls) -> bool:
    return inspect.isclass(cls) and issubclass(cls, nn.Module) and module_kind(cls) == SEQUENCE_KIND


def _positional(func) -> int | None:
    """How many positional parameters `func` takes after self (None: *args or no signature)."""
    try:
        params = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def sequence_architecture(cls: type, label: str, origin: str, summary: str, source: str | None) -> Architecture:
    """The Architecture of a sequence module class (never `stackable`: the per-run trainer trains it)."""
    _check_signature(label, cls, (1, 1), "a sequence module must be built as Module(input_size, hidden_size, "
                                          "**options)")
    if cls.forward is nn.Module.forward:
        raise ArchitectureInterfaceError(f"arch {label!r}: sequence module {cls.__name__} has no forward(x)")
    if callable(getattr(cls, "step", None)):
        _check_signature(label, cls.step, (None, None, None), "a sequence module's step must take (x_t, state)")
        names = getattr(cls, "state_names", ("h",))
        if not isinstance(names, (tuple, list)) or "h" not in names or len(set(names)) != len(names):
            raise ArchitectureInterfaceError(
                f"arch {label!r}: {cls.__name__}.state_names must be a tuple naming each state element "
                f"once, with 'h' for the layer's output, got {names!r}")

    def build(input_size, output_size, hidden_size, num_layers=1, **options):
        return SequenceModel(cls, input_size, output_size, hidden_size, num_layers, **options)

    build.__wrapped__ = cls
    if summary.startswith("__init__("):  # torch.nn's docstrings open with the signature
        summary = f"{cls.__module__}.{cls.__qualname__}"
    views = "fast and step view" if callable(getattr(cls, "step", None)) else "fast view only"
    return Architecture(_without_source(build), f"{summary} (sequence module, {views})", origin=origin,
                        source=source, source_files=_file_names(cls), stackable=False)


# -- the three ways in ----------------------------------------------------------------------------


def register_architecture(name: str, summary: str | None = None):
    """Class decorator: register a cell class, a RecurrentModel subclass (or an Architecture) as `name`.

    The defining module is appended to $VGSUITE_PLUGINS, so sweep workers (fresh "spawn" processes,
    which inherit the environment) import it and find `name` too.
    """

    if not isinstance(name, str) or not name or ":" in name or name != name.strip() or " " in name:
        raise ValueError(f"name must be a non-empty string without ':' or spaces, got {name!r}")
    if name in ARCHITECTURES:
        raise ValueError(f"name {name!r} is a built-in architecture; choose another")

    def register(obj):
        arch = as_architecture(obj, name, "registered")
        if summary:
            arch = replace(arch, summary=summary)
        PLUGINS[name] = arch
        module = getattr(obj, "__module__", None)
        # a module loaded from a file path ("vgsuite_user_...") or run as a script has no importable name
        if module and module not in ("__main__", "__mp_main__") and not module.startswith(FILE_MODULE_PREFIX):
            listed = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m]
            if module not in listed:
                os.environ[PLUGINS_ENV] = ",".join([*listed, module])
        return obj

    return register


def resolve(name):
    """The Architecture a non-built-in `name` stands for (see the module docstring)."""

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)} or an import path, got {name!r}")
    if name in PLUGINS:
        return PLUGINS[name]
    if name in _RESOLVED:
        return _RESOLVED[name]
    if ":" in name:
        arch = as_architecture(_import_object(name), name, "import path")
    else:
        _import_listed_plugins()
        if name in PLUGINS:
            return PLUGINS[name]
        arch = _from_entry_point(name)
    _RESOLVED[name] = arch
    return arch


def _import_object(name: str):
    where, _, attr = name.rpartition(":")
    if not where or not attr:
        raise ArchitectureImportError(
            f"arch {name!r} is not an import path: write 'package.module:Object' or 'path/to/file.py:Object'")
    if where.endswith(".py") or "/" in where or os.sep in where:
        module = _import_file(name, where)
    else:
        cwd = os.getcwd()  # like `python -m`: the working directory's modules import
        if cwd not in sys.path:
            sys.path.append(cwd)
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as exc:
            raise ArchitectureImportError(f"arch {name!r}: cannot import module {where!r} ({exc})") from None
        except BaseException as exc:  # the user's module raised while importing, SystemExit included
            if real_interrupt(exc):
                raise
            raise ArchitectureImportError(
                f"arch {name!r}: importing module {where!r} raised {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ArchitectureImportError(
                f"arch {name!r}: module {where!r} has no attribute {attr!r}"
                + _suggest(module))
        obj = getattr(obj, part)
    return obj


def _import_file(name: str, where: str):
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise ArchitectureImportError(f"arch {name!r}: no such file {where!r}")
    module_name = f"{FILE_MODULE_PREFIX}{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    if str(path.parent) not in sys.path:  # its own imports of modules beside it resolve, as under `python file.py`
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        if real_interrupt(exc):
            raise
        raise ArchitectureImportError(
            f"arch {name!r}: importing file {where!r} raised {type(exc).__name__}: {exc}") from None
    return module


def _suggest(module) -> str:
    found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and not n.startswith("_")
                   and issubclass(v, nn.Module) and getattr(v, "__module__", None) == module.__name__)
    return f"; its nn.Module classes: {found}" if found else ""


def _import_listed_plugins() -> None:
    for module in [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]:
        try:
            importlib.import_module(module)
        except BaseException as exc:
            if real_interrupt(exc):
                raise
            raise ArchitectureImportError(
                f"{PLUGINS_ENV}: importing module {module!r} raised {type(exc).__name__}: {exc}") from None


def entry_point_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _from_entry_point(name: str):

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        plugins = sorted(PLUGINS) + entry_point_names()
        raise ValueError(
            f"arch must be one of {sorted(ARCHITECTURES)}"
            + (f", a registered or entry-point name {plugins}" if plugins else "")
            + f", or an import path 'package.module:Class' / 'file.py:Class', got {name!r}")
    ep = found[0]
    try:
        obj = ep.load()
    except BaseException as exc:
        if real_interrupt(exc):
            raise
        raise ArchitectureImportError(
            f"arch {name!r}: entry point {ep.value!r} (group {ENTRY_POINT_GROUP!r}) raised "
            f"{type(exc).__name__}: {exc}") from None
    return as_architecture(obj, name, "entry point")


__all__ = [
    "ArchitectureImportError", "ArchitectureInterfaceError", "CellModel", "ENTRY_POINT_GROUP",
    "PLUGINS", "PLUGINS_ENV", "SOURCE_OPTION", "as_architecture", "entry_point_names",
    "register_architecture", "resolve", "source_hash",
    "is_sequence_module", "module_kind", "sequence_architecture",
]
