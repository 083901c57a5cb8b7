"""Exporting stored runs as JSON lines or a flat CSV, written whole or not at all.

The file is written beside its destination under a temporary name and moved into place
(`os.replace`) only once complete, so a full disk or an interrupted export leaves no half-written
file behind (and an existing file unchanged); the temporary file is removed on failure.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .store_rows import RunRecord, _to_json


@contextlib.contextmanager
def _replacing(path):
    path = Path(path)
    if path.exists() and not path.is_file():  # a device or a pipe (/dev/stdout): write through
        with path.open("w", encoding="utf-8", newline="") as fh:
            yield fh
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the mode a plain open() would give, not mkstemp's 0600
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _flatten(prefix: str, obj: object, out: dict[str, object]) -> None:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(obj, (dict, list, tuple)):
        out[prefix] = _to_json(obj)
    else:
        out[prefix] = obj


def export_jsonl(path: str | os.PathLike, records: Iterable[RunRecord]) -> int:
    """Write one JSON object per record (all rows by default); return the count."""
    rows = list(records)
    with _replacing(path) as fh:
        for r in rows:
            fh.write(_to_json({"key": r.key, "status": r.status, "error": r.error,
                               "created": r.created, "spec": r.spec,
                               "result": r.result, "meta": r.meta}) + "\n")
    return len(rows)


def export_csv(path: str | os.PathLike, records: Iterable[RunRecord]) -> int:
    """Write a flat CSV (all rows by default); return the count.

    Columns: key, status, error, created, then sorted ``spec.*``,
    ``result.*`` and ``meta.*`` columns.  Nested dicts become dotted
    columns; lists and empty dicts are JSON-encoded; None is empty.
    """
    rows = list(records)
    flat_rows = []
    groups: dict[str, set[str]] = {"spec": set(), "result": set(), "meta": set()}
    for r in rows:
        flat: dict[str, object] = {"key": r.key, "status": r.status,
                                   "error": r.error, "created": r.created}
        for group in groups:
            part: dict[str, object] = {}
            _flatten(group, getattr(r, group), part)
            part.pop(group, None)  # an empty top-level dict adds no column
            groups[group].update(part)
            flat.update(part)
        flat_rows.append(flat)
    columns = ["key", "status", "error", "created"]
    for group in groups:
        columns += sorted(groups[group])
    with _replacing(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for flat in flat_rows:
            writer.writerow({k: "" if v is None else v for k, v in flat.items()})
    return len(rows)


__all__ = ["export_csv", "export_jsonl"]
