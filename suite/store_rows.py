"""What a stored row must look like before anyone reads it, and the columns of each store layout.

The store (suite/store.py) trusts nothing it reads back: a row may have been written by another
version, edited by hand, or damaged. `parse_row` turns one row into a `RunRecord`, or names what
is wrong with it (the row's key and the field), so that readers skip it with a warning instead of
crashing on the first bad value, and every good row stays readable. `parse_row` checks what the
store itself promises (JSON objects for spec, result and meta; a known status); `run_problem`
adds what the readers of vgsuite's runs rely on (the spec fields that show and export index by:
task name and gap, architecture name, seed; the result numbers that `vgsuite show` formats).

Layouts: the first stores had no `error` and `created` columns. `select_columns` reads such a
store with NULL / '' in their place, and `missing_columns` tells the store what to add when it
may write (a migration by ALTER TABLE ADD COLUMN, nothing rewritten). A store without one of the
columns every row needs (key, spec, result, meta, status) is refused by name. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

STATUSES = ("ok", "failed")
REQUIRED_COLUMNS = ("key", "spec", "result", "meta", "status")
#: columns added after the first layout, with what a row of an older store reads as
OPTIONAL_COLUMNS = {"error": ("TEXT", "NULL"), "created": ("TEXT NOT NULL DEFAULT ''", "''")}
COLUMNS = REQUIRED_COLUMNS + tuple(OPTIONAL_COLUMNS)


def _to_json(obj: object, *, strict: bool = False) -> str:
    """The store's JSON encoding (sorted keys, compact; NaN refused when strict)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=not strict)


#: result fields that readers format as numbers (None allowed)
_NUMBERS = ("final_metric", "final_loss", "wall_s", "baseline_loss", "baseline_metric", "steps_to_solve",
            "steps_run", "diverged_at")
_FLAGS = ("solved", "diverged")


@dataclass(frozen=True)
class RunRecord:
    key: str
    spec: dict
    result: dict
    meta: dict
    status: str
    error: str | None
    created: str


def select_columns(present: set[str]) -> str:
    """The SELECT list that reads `COLUMNS` from a table that has `present`."""
    return ", ".join(c if c in present else f"{OPTIONAL_COLUMNS[c][1]} AS {c}" for c in COLUMNS)


def missing_columns(present: set[str]) -> tuple[list[str], list[str]]:
    """(required columns missing: refuse, optional columns missing: migrate) for a runs table."""
    return ([c for c in REQUIRED_COLUMNS if c not in present],
            [c for c in OPTIONAL_COLUMNS if c not in present])


def _is_number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _problem(key, spec, result, meta, status) -> str | None:
    if not isinstance(key, str) or not key:
        return "the key is not a string"
    if status not in STATUSES:
        return f"status {status!r} is not one of {list(STATUSES)}"
    for name, value in (("spec", spec), ("result", result), ("meta", meta)):
        if not isinstance(value, dict):
            return f"{name} is not a JSON object"
    return None


def run_problem(record: RunRecord) -> str | None:
    """What a reader of *vgsuite runs* (show, export, sweeps, claims) needs beyond `parse_row`'s
    generic checks, or None: the spec fields it indexes by and the result numbers it formats."""
    problem = _run_problem(record.spec, record.result)
    return f"row {record.key[:16]!r}: {problem}" if problem else None


def _run_problem(spec: dict, result: dict) -> str | None:
    task, arch = spec.get("task"), spec.get("arch")
    if not isinstance(task, dict) or not isinstance(task.get("name"), str):
        return "spec.task.name is missing or not a string"
    if isinstance(task.get("gap"), bool) or not isinstance(task.get("gap"), int):
        return "spec.task.gap is missing or not an integer"
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        return "spec.arch.name is missing or not a string"
    if isinstance(spec.get("seed"), bool) or not isinstance(spec.get("seed"), int):
        return "spec.seed is missing or not an integer"
    if not isinstance(spec.get("train", {}), dict):
        return "spec.train is not a JSON object"
    for field in _NUMBERS:
        if not _is_number(result.get(field)):
            return f"result.{field} is not a number"
    for field in _FLAGS:
        if result.get(field) is not None and not isinstance(result.get(field), bool):
            return f"result.{field} is not true or false"
    return None


def parse_row(row: tuple) -> tuple[RunRecord | None, str | None]:
    """(record, None) for a well-formed row, else (None, 'row KEY: what is wrong')."""
    key, spec, result, meta, status, error, created = row
    label = f"row {str(key)[:16]!r}"
    try:
        spec, result, meta = (json.loads(v) if isinstance(v, (str, bytes)) else v for v in (spec, result, meta))
    except (ValueError, RecursionError) as exc:
        return None, f"{label}: a column is not valid JSON ({type(exc).__name__})"
    problem = _problem(key, spec, result, meta, status)
    if problem:
        return None, f"{label}: {problem}"
    return RunRecord(key, spec, result, meta, status, error if isinstance(error, str) else None,
                     created if isinstance(created, str) else ""), None


__all__ = ["COLUMNS", "OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "RunRecord", "STATUSES", "missing_columns",
           "parse_row", "run_problem", "select_columns"]
