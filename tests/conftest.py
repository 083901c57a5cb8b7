"""Shared fixtures: the `device` fixture over cpu and cuda (skipped when CUDA is absent), and one
torch thread per pytest-xdist worker so that parallel workers don't oversubscribe the cores."""

from __future__ import annotations

import os

import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
        os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return request.param
