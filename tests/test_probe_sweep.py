"""The chunked log-space sweep (issue 15) against the per-step sweep it replaced
(tests/probe_reference.py): the same numbers to float64 rounding on every architecture, every
loss and the saliency, across chunks that must be halved (decay or growth beyond SAFE_DECADES per
chunk) and across exact zeros; and against the exact linear RNN where no sweep could hold the
number in float64 at all."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from probe_reference import reference_backward

from suite.models import ARCHITECTURES
from suite.probes import LinearRNN, build_model, gradient_profile, input_saliency, probe_batch
from suite.probes import backward as sweep_module
from suite.specs import ArchSpec, TaskSpec

TASK = TaskSpec("copy", 20)  # T = 40, a direct term at every step under loss "task"


def both(monkeypatch, measure):
    """measure() with the chunked sweep, then with the per-step reference swapped in."""
    chunked = measure()
    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "_log_backward", reference_backward)
        reference = measure()
    return chunked, reference


def assert_same(chunked, reference, atol=1e-9):
    assert set(chunked.log10) == set(reference.log10)
    for name in chunked.log10:
        a, b = chunked.log10[name], reference.log10[name]
        assert np.array_equal(np.isneginf(a), np.isneginf(b)), name  # exact zeros where they were
        finite = np.isfinite(b)
        np.testing.assert_allclose(a[finite], b[finite], atol=atol, rtol=0, err_msg=name)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
@pytest.mark.parametrize("loss", ["probe", "task"])
def test_every_architecture_matches_the_per_step_sweep(monkeypatch, name, loss):
    arch = ArchSpec(name, hidden=8, layers=2)
    model = build_model(arch, TASK, seed=3)
    x, y = probe_batch(TASK, 3, seed=3)
    task = TASK.build()
    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "CHUNK", 7)  # several chunks, one of them short
        chunked, reference = both(monkeypatch, lambda: gradient_profile(model, x, loss=loss, task=task, y=y))
    assert_same(chunked, reference)


@pytest.mark.parametrize("name", ["rnn-tanh", "lstm", "gru", "resrnn", "rnn-attention"])
def test_saliency_matches_the_per_step_sweep(monkeypatch, name):
    model = build_model(ArchSpec(name, hidden=8, layers=2), TASK, seed=4)
    x, _ = probe_batch(TASK, 2, seed=4)
    assert_same(*both(monkeypatch, lambda: input_saliency(model, x)))


@pytest.mark.parametrize("name", ["rnn-sigmoid", "lstm"])
def test_a_long_sequence_matches_the_per_step_sweep(monkeypatch, name):
    task = TaskSpec("copy", 480)  # T = 500: sigmoid's gradient falls some 400 decades
    model = build_model(ArchSpec(name, hidden=16), task, seed=0)
    x, _ = probe_batch(task, 2, seed=0)
    chunked, reference = both(monkeypatch, lambda: gradient_profile(model, x))
    assert_same(chunked, reference, atol=1e-8)  # 500 steps of rounding, either way
    if name == "rnn-sigmoid":
        assert chunked.mean()[-1] < -300


@pytest.mark.parametrize("a", [1e-5, 3e5])
def test_chunks_halve_where_a_chunk_would_leave_float64(a):
    """5 or 5.5 decades per step: a 64-step chunk would span over 300 decades, so it must halve."""
    torch.manual_seed(0)
    model = LinearRNN(3, 2, 4, a=a).double()
    with torch.no_grad():
        model.weight_hh.copy_(a * torch.eye(4, dtype=torch.float64))
    x = torch.randn(2, 300, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    profile = gradient_profile(model, x)
    expected = profile.k * math.log10(a)
    assert np.abs(profile.log10["total"] - expected).max() < 1e-9  # down to -1500 or up to +1643


def test_exact_zeros_stay_exact_and_the_rest_matches(monkeypatch):
    """A ReLU RNN whose every unit is off at one step: the gradient before it is exactly 0 (-inf)."""
    task = TaskSpec("copy", 30)
    model = build_model(ArchSpec("rnn-relu", hidden=8), task, seed=0)
    x, _ = probe_batch(task, 2, seed=0)
    with torch.no_grad():
        model.layer_params(0)[0].fill_(1.0)
    x = x.clone()
    x[0, 20] = -1e3  # sample 0 only: all units off at step 21
    chunked, reference = both(monkeypatch, lambda: gradient_profile(model, x))
    assert_same(chunked, reference)
    values = chunked.log10["total"]
    k_off = x.shape[1] - 20  # s_20 feeds the dead step 21
    assert np.isneginf(values[0, k_off:]).all() and np.isfinite(values[1]).all()
