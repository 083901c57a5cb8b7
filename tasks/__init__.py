"""Synthetic long-range dependency tasks with a tunable gap, and their registry.

    >>> import torch
    >>> from tasks import make_task
    >>> task = make_task("delayed_recall", gap=50)
    >>> x, y = task.sample(64, generator=torch.Generator().manual_seed(0))
    >>> task.baseline_loss      # the best memoryless predictor's loss, ln 8
    2.0794415416798357

A new task is one module with a `Task` subclass plus one line in `TASKS`.
"""

from __future__ import annotations

import inspect

from .adding import AddingTask
from .base import Task
from .copy import CopyTask
from .delayed_recall import DelayedRecallTask

TASKS: dict[str, type[Task]] = {
    "copy": CopyTask,
    "adding": AddingTask,
    "delayed_recall": DelayedRecallTask,
}


def task_option_names(name: str) -> list[str]:
    """The keyword options (besides `gap`) that task `name` accepts."""
    params = inspect.signature(task_class(name).__init__).parameters
    return [p for p in params if p not in ("self", "gap")]


def task_class(name: str) -> type[Task]:
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]


def make_task(name: str, gap: int, **options) -> Task:
    """Build task `name` with the given gap and variant options; errors name what is wrong."""
    cls = task_class(name)
    allowed = task_option_names(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"task {name!r} has no option {unknown[0]!r}; its options are {allowed}")
    return cls(gap, **options)


__all__ = ["TASKS", "Task", "make_task", "task_class", "task_option_names"]
