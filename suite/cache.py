"""A small JSON cache for derived results (claim verdicts, figure data), keyed by what they depend on.

Training runs live in the SQLite store; what is *computed from* them or from probes (a verdict, a
gradient-profile panel) is cheap to keep and slow to redo, so `nox` can re-render the report in
seconds. An entry's key is the sha256 of its parameters plus a fingerprint of the source files its
code runs (`DEPENDENCIES`: the import closure of the code that computes it, read from the source
by suite.imports), so a stale number is never reused, while a change to what only renders (the
report, the plots, the CLI) leaves every verdict and probe cached. A kind not listed depends on
all of `suite/` and `tasks/`.
The file is written atomically (temporary file + rename) and a corrupt file is ignored,
never trusted.

It also remembers how long each entry took to compute (`duration`), keyed by its parameters
alone, so a hint survives code changes: the claims' evaluation hands out the longest claims first.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from .imports import closure

ROOT = Path(__file__).resolve().parent.parent


#: kind of entry -> the modules whose code computes it; the entry depends on their import closure
DEPENDENCIES = {
    "verdict": ("suite.claims",),
    "probe-arm": ("suite.overview",),
}
EVERYTHING = ("suite", "tasks")
SOURCE_SUFFIXES = (".py", ".cpp")


@cache
def code_fingerprint(paths: tuple[str, ...] = EVERYTHING) -> str:
    """sha256 of the source files (Python, and the C++ of suite/engine/native_loops.cpp) under
    `paths` (folders or files under the repository root), in a stable order."""
    files = []
    for name in paths:
        root = ROOT / name
        files += sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES) if root.is_dir() else [root]
    return _digest(files)


@cache
def dependencies_fingerprint(kind: str) -> str:
    """The fingerprint an entry of `kind` is keyed on: its DEPENDENCIES' import closure, else all code."""
    if kind not in DEPENDENCIES:
        return code_fingerprint()
    return _digest(closure(DEPENDENCIES[kind]))


def _digest(files) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(Path(path).relative_to(ROOT)).encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class ResultCache:
    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self._entries = self._load()

    def _load(self) -> dict:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def key(kind: str, params: dict) -> str:
        code = dependencies_fingerprint(kind)
        text = json.dumps({"kind": kind, "params": params, "code": code}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def has(self, kind: str, params: dict) -> bool:
        """Whether an entry for (kind, params) under the current code is cached."""
        return self.key(kind, params) in self._entries

    def get_or_compute(self, kind: str, params: dict, compute: Callable[[], dict]) -> dict:
        key = self.key(kind, params)
        if key not in self._entries:
            # normalised exactly as a reload from disk gives it back (sorted keys), so that a first
            # render and a re-render from the cache are byte-identical
            self._entries[key] = json.loads(json.dumps(compute(), sort_keys=True))
            self._save()
        return self._entries[key]

    def duration(self, kind: str, params: dict) -> float | None:
        """Seconds the last computation of (kind, params) took, under any code; None if unknown."""
        value = self._entries.get(self._duration_key(kind, params))
        seconds = value.get("seconds") if isinstance(value, dict) else None
        return float(seconds) if isinstance(seconds, (int, float)) else None

    def record_duration(self, kind: str, params: dict, seconds: float, *, save: bool = True) -> None:
        """Remember how long (kind, params) took; `save=False` leaves the write to the next entry
        computed, so a verdict and its duration cost one write of the file, not two."""
        self._entries[self._duration_key(kind, params)] = {"seconds": round(float(seconds), 3)}
        if save:
            self._save()

    @staticmethod
    def _duration_key(kind: str, params: dict) -> str:
        text = json.dumps({"kind": kind, "params": params}, sort_keys=True)
        return "duration:" + hashlib.sha256(text.encode()).hexdigest()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cache-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(self._entries, handle, sort_keys=True)
        os.replace(tmp, self.path)
