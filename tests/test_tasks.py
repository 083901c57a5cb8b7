"""Task layouts, label ranges, determinism, devices and memoryless baselines (by Monte Carlo)."""

from __future__ import annotations

import math

import pytest
import torch

from tasks import TASKS, make_task
from tasks.copy import MARKER, N_RECALL

ALL_TASKS = [
    ("copy", {}), ("copy", {"variant": "tcn"}), ("copy", {"loss_window": "recall"}),
    ("adding", {}), ("adding", {"variant": "anywhere"}), ("delayed_recall", {}),
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def task_id(value) -> str:
    return value if isinstance(value, str) else "-".join(map(str, value.values())) or "default"


@pytest.mark.parametrize("name,options", ALL_TASKS, ids=task_id)
def test_shapes_determinism_and_device(name, options, device):
    task = make_task(name, 7, **options)
    x1, y1 = task.sample(16, gen(3), device)
    x2, y2 = task.sample(16, gen(3), device)
    x3, _ = task.sample(16, gen(4), device)
    assert x1.shape == (16, task.seq_len, task.input_size)
    assert x1.dtype == torch.float32 and x1.device.type == device
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    # the same generator state gives the same data on any device
    x_cpu, _ = task.sample(16, gen(3), "cpu")
    assert torch.equal(x1.cpu(), x_cpu)
    assert task.describe()["options"] == task.options()


def test_copy_layout_urnn_and_tcn():
    gap = 5
    for variant, n_markers in (("urnn", 1), ("tcn", 11)):
        task = make_task("copy", gap, variant=variant)
        x, y = task.sample(32, gen())
        tokens = x.argmax(-1)
        assert task.seq_len == gap + 20 and task.min_lag == gap + 10
        assert torch.all(x.sum(-1) == 1)  # one-hot
        assert torch.all((tokens[:, :N_RECALL] >= 1) & (tokens[:, :N_RECALL] <= 8))
        assert torch.all(tokens[:, N_RECALL : N_RECALL + gap - 1] == 0)
        assert torch.all((tokens == MARKER).sum(1) == n_markers)
        assert torch.all(tokens[:, N_RECALL + gap - 1] == MARKER)  # marker right after the gap
        assert torch.all(y[:, : gap + N_RECALL] == 0)
        assert torch.equal(y[:, -N_RECALL:], tokens[:, :N_RECALL])
        assert y.max() <= task.output_size - 1


@pytest.mark.parametrize("gap,expected", [(100, 0.1733), (200, 0.0945), (500, 0.0400), (1000, 0.0204)])
def test_copy_baseline_matches_literature(gap, expected):
    assert make_task("copy", gap).baseline_loss == pytest.approx(expected, abs=5e-5)
    assert make_task("copy", gap, loss_window="recall").baseline_loss == pytest.approx(math.log(8))


def test_copy_memoryless_predictor_scores_the_baseline():
    """Blank with certainty before the recall window, uniform over 8 symbols inside it."""
    for window in ("all", "recall"):
        task = make_task("copy", 30, loss_window=window)
        x, y = task.sample(256, gen())
        logits = torch.full((256, task.seq_len, task.output_size), -1e4)
        logits[:, : -N_RECALL, 0] = 0.0
        logits[:, -N_RECALL:, 1:] = 0.0
        outputs = logits[:, task.output_positions]
        assert task.loss(outputs, y).item() == pytest.approx(task.baseline_loss, rel=1e-6)
        assert task.metric(outputs, y) < 0.2  # recall accuracy of a memoryless model is ~1/8


def test_adding_layout_and_halves():
    task = make_task("adding", 50)
    x, y = task.sample(2000, gen())
    values, markers = x[..., 0], x[..., 1]
    assert torch.all((values >= 0) & (values < 1))
    assert torch.all(markers.sum(1) == 2)
    assert torch.all(markers[:, :25].sum(1) == 1) and torch.all(markers[:, 25:].sum(1) == 1)
    assert torch.allclose(y, (values * markers).sum(1))
    assert task.min_lag == 25
    anywhere = make_task("adding", 50, variant="anywhere")
    xa, _ = anywhere.sample(2000, gen())
    assert torch.all(xa[..., 1].sum(1) == 2)
    assert (xa[:, :25, 1].sum(1) == 2).any()  # both markers can fall in one half


@pytest.mark.parametrize("variant", ["halves", "anywhere"])
def test_adding_baseline_is_one_sixth(variant):
    task = make_task("adding", 20, variant=variant)
    x, y = task.sample(200_000, gen(1))
    always_one = torch.ones(200_000, 1, 1)
    mse = task.loss(always_one, y).item()
    assert task.baseline_loss == 1 / 6
    assert mse == pytest.approx(1 / 6, abs=0.003)


def test_delayed_recall_layout_and_baseline():
    task = make_task("delayed_recall", 9, n_symbols=5, n_distractors=3)
    x, y = task.sample(5000, gen())
    tokens = x.argmax(-1)
    assert task.seq_len == 11 and task.min_lag == 10 and task.output_size == 5
    assert torch.equal(tokens[:, 0], y) and y.min() == 0 and y.max() == 4
    assert torch.all((tokens[:, 1:-1] >= 5) & (tokens[:, 1:-1] < 8))
    assert torch.all(tokens[:, -1] == 8)
    uniform = torch.zeros(5000, 1, 5)
    assert task.loss(uniform, y).item() == pytest.approx(math.log(5), rel=1e-6)
    assert task.baseline_loss == pytest.approx(math.log(5))
    # the distractors carry no information about the symbol: chance accuracy from them alone
    counts = torch.bincount(y, minlength=5).double() / 5000
    assert torch.all((counts - 0.2).abs() < 0.03)


def test_solved_criteria():
    copy, adding = make_task("copy", 5), make_task("adding", 5)
    assert copy.is_solved(0.995) and not copy.is_solved(0.98) and not copy.is_solved(float("nan"))
    assert adding.is_solved(0.009) and not adding.is_solved(0.02)
    assert "recall_accuracy >= 0.99" in copy.criterion and "mse <= 0.01" in adding.criterion


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: make_task("nope", 5), "task must be one of"),
        (lambda: make_task("copy", 0), "gap must be an integer >= 1"),
        (lambda: make_task("copy", 2.5), "gap must be an integer"),
        (lambda: make_task("adding", 1), "gap must be an integer >= 2"),
        (lambda: make_task("copy", 5, variant="x"), "variant must be one of"),
        (lambda: make_task("copy", 5, colour=1), "has no option 'colour'"),
        (lambda: make_task("delayed_recall", 5, n_symbols=1), "n_symbols"),
        (lambda: make_task("copy", 5).sample(0, gen()), "n must be an integer >= 1"),
        (lambda: make_task("copy", 5).sample(4, 123), "generator must be a torch.Generator"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_registry_lists_the_three_tasks():
    assert sorted(TASKS) == ["adding", "copy", "delayed_recall"]


def test_one_hot_is_torchs_one_hot_in_float(device):
    from tasks.base import one_hot

    indices = torch.randint(0, 7, (4, 9, 3), generator=torch.Generator().manual_seed(0)).to(device)
    expected = torch.nn.functional.one_hot(indices, 7).to(torch.float32)
    got = one_hot(indices, 7)
    assert got.dtype == torch.float32 and got.device == indices.device
    assert torch.equal(got, expected)
    if device == "cpu":  # on CUDA a bad index is a device-side assert that ends the process's CUDA use
        with pytest.raises((IndexError, RuntimeError)):
            one_hot(indices, 5)  # an index past the size is an error, not a silent wrong vector
