"""The compiled time loops (suite/engine/native_loops.cpp): built on first use, optional, same numbers.

The stacked recurrences (suite.engine.kernels, suite.engine.gated_kernels) spend most of a small
model's step in per-call costs: the interpreter around each of the few kernel calls a time step
makes, and one thread doing all the element-wise work (ATen only splits work over 32,768
elements). The compiled loops make the same ATen calls in the same order, so they give the same
numbers as the Python loops (tests/test_native.py compares them bit for bit), and split the
independent rows (slices of the batch, every member in each) over the intra-op threads so that the whole loop,
not each call, runs in parallel. Measured on 2 cores (GRU, H = 64, T = 100, batch 64): the
forward loop of one network 5.4 -> 3.4 ms, of 8 stacked networks 23.6 -> 16.9 ms.

`loops()` compiles the extension with torch.utils.cpp_extension (a C++ compiler and ninja are
needed; about 15 s once per machine and source version, cached under TORCH_EXTENSIONS_DIR) and
returns its ops, or None where it can't be built, with one warning: everything then runs the
Python loops. A library an earlier process built is loaded directly; a build lock left by a killed
build is removed once it is 10 minutes old, so a kill during the build cannot hang later runs.
CPU tensors only (on CUDA the Python loops launch the same kernels asynchronously).
VGSUITE_NATIVE=0 turns the compiled loops off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
import warnings
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("native_loops.cpp")
PLAIN_KINDS = {"tanh": 0, "sigmoid": 1, "relu": 2}  # the enum Plain in native_loops.cpp
#: a build takes ~15 s (a minute on a busy machine): a lock this old was left by a killed build
STALE_LOCK_S = 600


def enabled() -> bool:
    return os.environ.get("VGSUITE_NATIVE", "1") != "0"


@lru_cache(maxsize=1)
def _build():
    """torch.ops.vgsuite_native after building and loading the extension, or None (warned)."""
    try:
        from torch.utils.cpp_extension import load

        here = str(Path(sys.executable).parent)  # the pip-installed ninja of an unactivated venv
        if shutil.which("ninja") is None and shutil.which("ninja", path=here):
            os.environ["PATH"] = os.pathsep.join([here, os.environ.get("PATH", "")])

        # named by the source and torch version, so checkouts and torch versions never share a
        # build; -fopenmp: at::parallel_for is inline in the headers and runs serially without
        # it (the OpenMP runtime itself is the one torch has already loaded)
        digest = hashlib.sha256(SOURCE.read_bytes() + torch.__version__.encode()).hexdigest()[:12]
        name = f"vgsuite_native_{digest}"
        if not _load_built(name):
            load(name=name, sources=[str(SOURCE)], extra_cflags=["-O2", "-fopenmp"],
                 is_python_module=False, verbose=False)
        return torch.ops.vgsuite_native
    except Exception as error:  # no compiler, no ninja, a failed build: the Python loops serve
        lines = str(error).strip().splitlines()
        warnings.warn(f"vgsuite: the compiled loops are unavailable, using the Python loops (same numbers, "
                      f"slower): {type(error).__name__}: {lines[-1] if lines else ''}", RuntimeWarning, stacklevel=3)
        return None


def _load_built(name: str) -> bool:
    """Load an extension some earlier process finished building, without torch's build lock; True
    when loaded. A lock left by a build that was killed (a process never releases it, and every
    later build would wait on it forever) is removed once it is STALE_LOCK_S old, with a warning."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        folder = Path(_get_build_directory(name, verbose=False))
    except Exception:  # a torch without the helper: torch's own load() decides
        return False
    library, lock = folder / f"{name}.so", folder / "lock"
    if lock.exists():
        age = time.time() - lock.stat().st_mtime
        if age < STALE_LOCK_S:
            return False  # a build is under way: load() waits for it
        warnings.warn(f"vgsuite: removing a build lock {age:.0f} s old (a killed build): {lock}",
                      RuntimeWarning, stacklevel=4)
        lock.unlink(missing_ok=True)
        return False  # its half-built library is not trusted: build again
    if not library.exists():
        return False
    torch.ops.load_library(str(library))
    return True


def loops(like: Tensor):
    """The compiled loops' ops for tensors like `like`, or None (CUDA, disabled, unavailable)."""
    if like.device.type != "cpu" or not enabled():
        return None
    return _build()


def available() -> bool:
    """Whether the compiled loops serve CPU tensors in this process (builds them if needed)."""
    return enabled() and _build() is not None


def chunks() -> int:
    """Parts the rows of a loop are split into: one per intra-op thread."""
    return torch.get_num_threads()


def run(name: str, python_loop, *tensors: Tensor) -> None:
    """The compiled loop `name` on `tensors` (its outputs among them) where there is one, else
    `python_loop(*tensors)`, its twin with the same arguments."""
    compiled = loops(tensors[0])
    if compiled is None:
        python_loop(*tensors)
    else:
        getattr(compiled, name)(*tensors, chunks())


__all__ = ["PLAIN_KINDS", "SOURCE", "available", "chunks", "enabled", "loops", "run"]
