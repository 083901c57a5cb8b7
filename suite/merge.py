"""Combine results stores filled on different machines (the shards of `vgsuite sweep --shard I/N`,
a laptop's store and a cluster's) into one, without losing, duplicating or silently replacing a row.

    vgsuite merge part1.sqlite part2.sqlite ... --out all.sqlite

Rows are read from each input in turn (read-only: inputs are never changed) and written to `out`
(which may already hold rows: it is merged into, as if it were the first input). For each key:

* the first "ok" row wins, as in the store itself; a "failed" row is kept only while no input has
  an "ok" one for its key (a failed run is a placeholder the next sweep retries);
* two "ok" rows of one key must agree: runs are deterministic, so the same spec gives the same
  numbers on the same device and thread count, and within float tolerance elsewhere (another
  machine, another BLAS). Their results are compared number by number (`rtol`, default 1e-6;
  timings such as wall_s are not numbers of the run and are left out); rows that disagree beyond
  it are reported as conflicts, with both rows' provenance (host, device, threads, code version),
  and the first is kept. `vgsuite merge` then exits 1, so a scheduler notices.

Every row keeps its own metadata and creation time, so the merged store still says where and with
which code each run was trained.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .store import Store, StoreError
from .store_rows import RunRecord

DEFAULT_RTOL = 1e-6
ABS_TOL = 1e-12           # numbers this close to 0 agree whatever their ratio
#: result fields that measure the machine, not the run
TIMINGS = ("wall_s",)
PROVENANCE = ("host", "device", "device_name", "threads", "code_version", "torch")


@dataclass(frozen=True)
class Conflict:
    key: str
    field: str               # the first result field that differs, dotted into lists and dicts
    kept: dict               # provenance of the row kept (from the earlier input)
    other: dict              # provenance of the row that disagrees
    source: str              # the input the other row came from

    def line(self) -> str:
        return (f"{self.key[:12]} differs in {self.field}: kept {_where(self.kept)}, "
                f"not {_where(self.other)} from {self.source}")


@dataclass
class MergeSummary:
    inputs: int
    read: int = 0            # rows read from the inputs
    added: int = 0           # rows written to out (new keys, or an ok row replacing a failed one)
    same: int = 0            # ok rows whose key out already held with agreeing numbers
    kept_failed: int = 0     # failed rows skipped because out already held the key
    conflicts: list[Conflict] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.read} rows from {self.inputs} stores: {self.added} added, {self.same} already there "
                 f"and equal, {self.kept_failed} failed rows superseded, {len(self.conflicts)} conflicts"]
        lines += ["  " + c.line() for c in self.conflicts[:20]]
        if len(self.conflicts) > 20:
            lines.append(f"  ... and {len(self.conflicts) - 20} more")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "read": self.read, "added": self.added, "same": self.same,
                "kept_failed": self.kept_failed,
                "conflicts": [{"key": c.key, "field": c.field, "kept": c.kept, "other": c.other, "source": c.source}
                              for c in self.conflicts]}


def merge(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, rtol: float = DEFAULT_RTOL) -> MergeSummary:
    """Merge the stores `inputs` into `out` (created if absent); see the module docstring."""
    if not isinstance(rtol, (int, float)) or isinstance(rtol, bool) or not 0 <= rtol < 1:
        raise ValueError(f"rtol must be a number in [0, 1), got {rtol!r}")
    paths = [Path(p) for p in inputs]
    if not paths:
        raise ValueError("inputs must name at least one store")
    target = Path(out)
    for path in paths:
        if target.exists() and path.exists() and path.resolve() == target.resolve():
            raise ValueError(f"out must not be one of the inputs, got {str(out)!r}")
    sources = [Store(path, readonly=True) for path in paths]  # every input opens (or is refused) first
    summary = MergeSummary(inputs=len(paths))
    try:
        with Store(target) as dest:
            for path, source in zip(paths, sources):
                for record in source.query(status=None):
                    summary.read += 1
                    _merge_one(dest, record, str(path), rtol, summary)
    finally:
        for source in sources:
            source.close()
    return summary


def _merge_one(dest: Store, record: RunRecord, source: str, rtol: float, summary: MergeSummary) -> None:
    held = dest.get(record.key)
    if held is None or (held.status == "failed" and record.status == "ok"):
        dest.put(record.key, record.spec, record.result, record.meta, record.status, record.error,
                 created=record.created or None)
        summary.added += 1
    elif record.status == "failed":  # out holds the key already (ok, or failed: the first kept)
        summary.kept_failed += 1
    else:  # both ok: they must agree
        differs = first_difference(held.result, record.result, rtol)
        if differs is None:
            summary.same += 1
        else:
            summary.conflicts.append(Conflict(record.key, differs, _provenance(held), _provenance(record), source))


def first_difference(a, b, rtol: float, path: str = "") -> str | None:
    """The dotted path of the first place two results differ beyond `rtol` (None if they agree);
    NaN equals NaN, timings are skipped."""
    if isinstance(a, dict) and isinstance(b, dict):
        for name in sorted(set(a) | set(b)):
            if name in TIMINGS and not path:
                continue
            if name not in a or name not in b:
                return f"{path}{name}"
            found = first_difference(a[name], b[name], rtol, f"{path}{name}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path.rstrip('.')} (length)"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, rtol, f"{path}{i}.")
            if found is not None:
                return found
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        if (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=ABS_TOL) or a == b:
            return None
        return path.rstrip(".")
    return None if a == b else path.rstrip(".")


def _provenance(record: RunRecord) -> dict:
    return {name: record.meta.get(name) for name in PROVENANCE} | {"created": record.created}


def _where(p: dict) -> str:
    return (f"{p.get('host') or 'unknown host'} {p.get('device')} x{p.get('threads')} threads, "
            f"code {str(p.get('code_version'))[:12]}")


__all__ = ["Conflict", "DEFAULT_RTOL", "MergeSummary", "StoreError", "first_difference", "merge"]
