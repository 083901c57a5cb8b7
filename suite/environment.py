"""Where a run happens: device resolution, thread settings and the metadata saved with results.

Metadata records what can change the numbers (library versions, device and CPU model, thread
count, determinism settings, the code's version) and never the hostname.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

import torch

from . import __version__
from .engine import native

ROOT = Path(__file__).resolve().parent.parent


def resolve_device(device: str) -> torch.device:
    """A torch.device for 'cpu' or 'cuda[:N]', with a clear error when CUDA is absent."""
    kind = str(device).split(":")[0]
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available (use --device cpu)")
    return torch.device(device)


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(n: int | None = None) -> int:
    """Pin torch's intra-op threads (e.g. one per sweep worker) and return the count in use."""
    if n is not None:
        torch.set_num_threads(n)
        os.environ["OMP_NUM_THREADS"] = str(n)
    return torch.get_num_threads()


@lru_cache(maxsize=1)
def batched_products_reproducible() -> bool:
    """Whether a member's matrix product in torch.bmm is the same whatever the batch around it
    (its size and the member's place), as it is under MKL_CBWR=...,STRICT (suite/__init__.py):
    checked on shapes where MKL's default rounding differs (measured on AMD EPYC, AVX-512)."""
    gen = torch.Generator().manual_seed(0)
    for m, k, n in ((13, 40, 6), (9, 320, 13), (33, 1280, 1), (6, 13, 96), (64, 5, 8)):
        a, b = torch.randn(8, m, k, generator=gen), torch.randn(8, k, n, generator=gen)
        reference = torch.bmm(a[:8], b[:8])[3]
        for lo, size in ((3, 2), (2, 2), (1, 3), (0, 5), (3, 5)):
            if not torch.equal(torch.bmm(a[lo : lo + size].clone(), b[lo : lo + size].clone())[3 - lo], reference):
                return False
    return True


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version plus the git commit if known, with '+dirty' for uncommitted changes
    outside reports/ (what `nox` writes there is output, not code: a report regenerated over the
    committed one is still made by the committed code)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()

    try:
        commit = git("describe", "--always")
        if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports"):
            commit += "+dirty"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{__version__}+{commit}"


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str | torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def metadata(device: str | torch.device = "cpu") -> dict:
    """What a result row stores besides its spec and its numbers."""
    import numpy

    return {
        "code_version": code_version(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": str(device),
        "device_name": device_name(device),
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
        "compiled_loops": torch.device(device).type == "cpu" and native.available(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "mkl_cbwr": os.environ.get("MKL_CBWR"),
        "batched_products_reproducible": batched_products_reproducible(),
        "platform": platform.platform(terse=True),
        "host": platform.node(),
    }
