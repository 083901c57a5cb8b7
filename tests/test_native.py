"""The compiled loops (suite/engine/native.py, native_loops.cpp) against the Python loops they
stand in for: the same numbers, forward and backward, for every cell they serve, with the rows
split into any number of parts; and the Python loops taking over when they can't be built."""

from __future__ import annotations

import itertools

import pytest
import torch

from suite import environment
from suite.engine import native
from suite.engine.kernels import recurrent_layer

COMPILED = ("tanh", "sigmoid", "relu", "lstm", "gru")
GATES = {"lstm": 4, "gru": 3}

needs_compiled = pytest.mark.skipif(not native.available(), reason="the compiled loops can't be built here")


def _layer(kind: str, members: int, batch: int, train: bool, seed: int = 0, steps: int = 11, hidden: int = 8):
    """Output and gradients (of a random projection of the output) of one stacked layer."""
    gen = torch.Generator().manual_seed(seed)
    rows = GATES.get(kind, 1) * hidden
    x = torch.randn(members, steps, batch, 3, generator=gen)
    shapes, scales = [(rows, 3), (rows, hidden), (rows,), (rows,)], [0.6, 0.4, 0.2, 0.2]
    params = [torch.randn(members, *shape, generator=gen) * scale for shape, scale in zip(shapes, scales)]
    for p in params:
        p.requires_grad_(train)
    with torch.set_grad_enabled(train):
        h = recurrent_layer(kind, x, *params)
    if not train:
        return [h]
    (h * torch.randn(h.shape, generator=gen)).sum().backward()
    return [h.detach(), *(p.grad for p in params)]


def _python_loops(monkeypatch):
    monkeypatch.setenv("VGSUITE_NATIVE", "0")
    assert native.loops(torch.zeros(1)) is None


@needs_compiled
@pytest.mark.parametrize("kind", COMPILED)
@pytest.mark.parametrize("train", [True, False], ids=["train", "no_grad"])
def test_one_part_gives_the_python_loops_numbers_bit_for_bit(kind, train, monkeypatch):
    monkeypatch.setattr(native, "chunks", lambda: 1)
    compiled = {(m, b): _layer(kind, m, b, train) for m, b in itertools.product((1, 3), (1, 5))}
    _python_loops(monkeypatch)
    for (m, b), values in compiled.items():
        reference = _layer(kind, m, b, train)
        assert all(torch.equal(a, r) for a, r in zip(values, reference)), (kind, m, b)


@needs_compiled
@pytest.mark.parametrize("kind", COMPILED)
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_rows_split_into_parts_give_the_same_numbers(kind, parts, monkeypatch):
    """Members split when there are at least `parts` of them, else batch rows (more parts than
    rows: one row each). A part runs its matmuls on one thread, which may round differently:
    float tolerance, relative to each tensor's largest entry (gradients are sums over steps)."""
    monkeypatch.setattr(native, "chunks", lambda: parts)
    shapes = [(1, 1), (1, 5), (3, 5), (8, 2)]
    split = {s: _layer(kind, *s, train=True) for s in shapes}
    monkeypatch.setattr(native, "chunks", lambda: 1)
    for s in shapes:
        for a, r in zip(split[s], _layer(kind, *s, train=True)):
            torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5 * r.abs().max().item(), msg=f"{kind} {s}")


@needs_compiled
def test_the_layer_runs_the_compiled_loops_on_cpu(monkeypatch):
    calls = []
    real = native.loops

    def spy(like):
        ops = real(like)
        calls.append(ops is not None)
        return ops

    monkeypatch.setattr(native, "loops", spy)
    _layer("gru", 2, 3, train=True)
    assert calls and all(calls)  # forward and backward


def test_switched_off_by_the_environment(monkeypatch):
    _python_loops(monkeypatch)
    assert not native.available()
    assert environment.metadata("cpu")["compiled_loops"] is False


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_tensors_never_get_the_compiled_loops():
    assert native.loops(torch.zeros(1, device="cuda")) is None


def test_a_failed_build_warns_once_and_the_python_loops_serve(monkeypatch):
    import torch.utils.cpp_extension as cpp_extension

    def broken(*args, **kwargs):
        raise RuntimeError("Error building extension 'vgsuite_native'\nno compiler here")

    monkeypatch.setenv("VGSUITE_NATIVE", "1")
    native._build.cache_clear()
    monkeypatch.setattr(cpp_extension, "load", broken)
    monkeypatch.setattr(native, "_load_built", lambda name: False)  # no finished build to load
    try:
        with pytest.warns(RuntimeWarning, match="Python loops.*no compiler here"):
            assert native.loops(torch.zeros(1)) is None
        assert native.loops(torch.zeros(1)) is None  # cached: no second build, no second warning
        values = _layer("lstm", 2, 3, train=True)
        assert all(torch.isfinite(v).all() for v in values)
    finally:
        native._build.cache_clear()


def test_the_result_cache_fingerprints_the_cpp_source(tmp_path, monkeypatch):
    """Cached probe results depend on the compiled loops too: a change to the C++ invalidates them."""
    from suite import cache
    from suite.imports import closure

    assert cache.ROOT / "suite/engine/native_loops.cpp" in closure(cache.DEPENDENCIES["probe-arm"])
    source = tmp_path / "pkg" / "loops.cpp"
    source.parent.mkdir()
    source.write_text("int a;")
    monkeypatch.setattr(cache, "ROOT", tmp_path)
    cache.code_fingerprint.cache_clear()
    before = cache.code_fingerprint(("pkg",))
    source.write_text("int b;")
    cache.code_fingerprint.cache_clear()
    assert cache.code_fingerprint(("pkg",)) != before
    cache.code_fingerprint.cache_clear()


def test_a_build_lock_left_by_a_killed_build_is_removed_not_waited_on(tmp_path, monkeypatch):
    import os
    import time

    import torch.utils.cpp_extension as cpp

    monkeypatch.setattr(cpp, "_get_build_directory", lambda name, verbose: str(tmp_path))
    lock = tmp_path / "lock"
    lock.write_text("")
    assert native._load_built("vgsuite_native_test") is False and lock.exists()  # a live build: wait
    old = time.time() - native.STALE_LOCK_S - 60
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="removing a build lock"):
        assert native._load_built("vgsuite_native_test") is False  # rebuild, never wait forever
    assert not lock.exists()
    assert native._load_built("vgsuite_native_test") is False  # nothing built there yet


@pytest.mark.skipif(not native.available(), reason="no C++ toolchain")
def test_a_finished_build_is_loaded_without_the_lock():
    import hashlib

    digest = hashlib.sha256(native.SOURCE.read_bytes() + torch.__version__.encode()).hexdigest()[:12]
    assert native._load_built(f"vgsuite_native_{digest}") is True
