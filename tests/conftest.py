"""Shared fixtures: the `device` fixture over cpu and cuda (skipped when CUDA is absent), and one
torch thread per test process: the suite's models are tiny, and two processes with two threads
each on two cores run them up to 20x slower than one thread each (measured on the CI machine).
MKL's strict reproducibility is asked for before torch is imported, as `import suite` does."""

from __future__ import annotations

import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")  # before torch computes (see suite/__init__.py)

import pytest  # noqa: E402
import torch  # noqa: E402

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def pytest_configure(config):
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by subprocesses the tests start


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return request.param
