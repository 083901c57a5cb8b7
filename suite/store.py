"""Embedded SQLite store for experiment results.

Every experiment run is one row in a single SQLite file, keyed by the hex
sha256 of its spec (the caller computes the key).  Keeping results here,
rather than in loose files, gives three things:

* Resumable sweeps: a sweep asks ``store.has(key)`` and skips runs that are
  already done, so an interrupted sweep picks up where it stopped.
* Report re-rendering without retraining: tables and plots are rebuilt from
  ``store.query(...)`` alone.
* Safe concurrent writing: several worker processes may point at the same
  file.  The database runs in WAL mode with a long busy timeout, and every
  ``put`` is one ``BEGIN IMMEDIATE`` transaction, so a row is either fully
  stored or absent, and there is exactly one row per key.

Runs are deterministic, so the first "ok" result for a key wins and later
puts for it are ignored; a "failed" row is replaced by the next put.

Spec, result and meta are stored as canonical JSON (sorted keys, compact).
Result and meta may hold NaN and +/-Infinity, written with Python's json
default tokens ``NaN``/``Infinity``; they are not strict JSON but round-trip
through this module.  The spec must be strict JSON (non-finite floats are
rejected) because ``query`` reads it with SQLite's ``json_extract``, which
refuses those tokens.

An existing file is checked read-only before anything is written to it; a
file that is not a store of this schema version is refused with
``StoreError`` and left untouched.  This module uses only the standard
library.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_PATH = ".vgsuite/results.sqlite"
ENV_VAR = "VGSUITE_STORE"

# Written to the SQLite header so a vgsuite store is recognisable ("VGSU").
APPLICATION_ID = 0x56475355
STATUSES = ("ok", "failed")
BUSY_TIMEOUT_S = 60.0

_COLUMNS = "key, spec, result, meta, status, error, created"
_SCHEMA = (
    "CREATE TABLE runs (key TEXT PRIMARY KEY, spec TEXT NOT NULL,"
    " result TEXT NOT NULL, meta TEXT NOT NULL, status TEXT NOT NULL,"
    " error TEXT, created TEXT NOT NULL)",
    "CREATE TABLE info (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class StoreError(Exception):
    """The store file cannot be used (wrong format, corrupt, closed, ...)."""


@dataclass(frozen=True)
class RunRecord:
    key: str
    spec: dict
    result: dict
    meta: dict
    status: str
    error: str | None
    created: str


def default_store_path() -> Path:
    """The store path from ``$VGSUITE_STORE`` if set, else ``DEFAULT_PATH``."""
    override = os.environ.get(ENV_VAR)
    return Path(override).expanduser() if override else Path(DEFAULT_PATH)


def _to_json(obj: object, *, strict: bool = False) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=not strict)


def _json_path(dotted: str) -> str:
    parts = dotted.split(".")
    if not dotted or any(not p or '"' in p for p in parts):
        raise ValueError(f"bad spec path {dotted!r}: expected dotted keys like 'task.name'")
    # Quoted labels so keys with '-', '[' or spaces still address one member.
    return "$" + "".join(f'."{p}"' for p in parts)


def _flatten(prefix: str, obj: object, out: dict[str, object]) -> None:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif isinstance(obj, (dict, list, tuple)):
        out[prefix] = _to_json(obj)
    else:
        out[prefix] = obj


def _schema_problem(conn: sqlite3.Connection) -> str | None:
    """Why ``conn`` is not a usable store of this version, or None if it is."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID:
        return (f"SQLite database with application_id {app_id}, expected "
                f"{APPLICATION_ID} (not a vgsuite results store)")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = {"runs", "info"} - tables
    if missing:
        return f"missing table(s): {', '.join(sorted(missing))}"
    row = conn.execute("SELECT value FROM info WHERE name='schema_version'").fetchone()
    if row is None:
        return "no schema_version in the info table"
    if str(row[0]) != str(Store.SCHEMA_VERSION):
        return f"schema_version {row[0]}, this code expects {Store.SCHEMA_VERSION}"
    check = [r[0] for r in conn.execute("PRAGMA quick_check")]
    if check != ["ok"]:
        return "corrupt: " + "; ".join(check[:5])
    return None


class Store:
    """One SQLite file of run records; see the module docstring."""

    SCHEMA_VERSION = 1

    def __init__(self, path: str | os.PathLike | None = None):
        self._path = Path(path) if path is not None else default_store_path()
        self._conn: sqlite3.Connection | None = None
        if self._path.is_dir():
            raise self._error("is a directory")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self._path.exists() and self._path.stat().st_size > 0:
                self._validate_read_only()
                conn = self._connect()
            else:
                conn = self._connect()
                self._initialise(conn)
            self._enable_wal(conn)
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise self._error(f"cannot be used as an SQLite database ({exc})") from exc
            raise

    # -- opening -----------------------------------------------------------

    def _error(self, reason: str) -> StoreError:
        return StoreError(f"results store {str(self._path)!r}: {reason}")

    def _validate_read_only(self) -> None:
        uri = self._path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            problem = _schema_problem(conn)
        except sqlite3.DatabaseError as exc:
            problem = f"not a readable SQLite database ({exc})"
        finally:
            conn.close()
        if problem:
            raise self._error(f"refusing to use it: {problem}")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._conn = conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        # The write lock makes concurrent creators take turns; whoever comes
        # second finds the schema in place and only checks it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO info VALUES ('schema_version', ?)",
                             (str(self.SCHEMA_VERSION),))
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                problem = None
            else:
                problem = _schema_problem(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if problem:
            raise self._error(f"refusing to use it: {problem}")

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise self._error(f"could not switch to WAL journal mode (got {mode!r})")
        # NORMAL is crash-safe in WAL mode; only a power loss may drop the
        # last few commits, which a resumed sweep would simply rerun.
        conn.execute("PRAGMA synchronous = NORMAL")

    # -- lifecycle ---------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self._path)!r})"

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self._error("store is closed")
        return self._conn

    # -- reading -----------------------------------------------------------

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    def has(self, key: str) -> bool:
        """True if ``key`` has a successful ("ok") result."""
        row = self._db.execute(
            "SELECT 1 FROM runs WHERE key = ? AND status = 'ok'", (key,)).fetchone()
        return row is not None

    def keys(self, status: str | None = "ok") -> set[str]:
        if status is None:
            return {r[0] for r in self._db.execute("SELECT key FROM runs")}
        return {r[0] for r in self._db.execute("SELECT key FROM runs WHERE status = ?", (status,))}

    def get(self, key: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM runs WHERE key = ?", (key,)).fetchone()
        return self._record(row) if row else None

    def query(self, where: Mapping[str, object] | None = None,
              status: str | None = "ok") -> list[RunRecord]:
        """Records whose spec matches ``where``, sorted by key.

        ``where`` maps dotted spec paths to a value, or to a list/tuple/set
        meaning "any of".  A missing member matches None.  ``status=None``
        returns rows of every status.
        """
        clauses: list[str] = []
        params: list[object] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        for dotted, wanted in (where or {}).items():
            options = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
            if not options or any(isinstance(v, (dict, list, tuple)) for v in options):
                raise ValueError(f"where[{dotted!r}] must be a scalar or a non-empty "
                                 f"list/tuple/set of scalars, got {wanted!r}")
            json_path = _json_path(dotted)
            # IS rather than = so that None matches JSON null / absent members.
            clauses.append("(" + " OR ".join(["json_extract(spec, ?) IS ?"] * len(options)) + ")")
            for value in options:
                params.extend((json_path, value))
        sql = f"SELECT {_COLUMNS} FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = self._db.execute(sql + " ORDER BY key", params).fetchall()
        return [self._record(r) for r in rows]

    @staticmethod
    def _record(row: tuple) -> RunRecord:
        key, spec, result, meta, status, error, created = row
        return RunRecord(key, json.loads(spec), json.loads(result), json.loads(meta),
                         status, error, created)

    # -- writing -----------------------------------------------------------

    def put(self, key: str, spec: dict, result: dict, meta: dict,
            status: str = "ok", error: str | None = None) -> bool:
        """Store one run; return True if a row was written.

        An existing "ok" row is kept (first result wins) and False returned;
        a "failed" row is replaced.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        try:
            spec_json = _to_json(spec, strict=True)
        except ValueError as exc:
            raise ValueError(f"spec for {key!r} must be strict JSON: {exc}") from exc
        values = (key, spec_json, _to_json(result), _to_json(meta), status, error,
                  datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT status FROM runs WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] == "ok":
                db.execute("ROLLBACK")
                return False
            db.execute(f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       values)
            db.execute("COMMIT")
            return True
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # -- export ------------------------------------------------------------

    def _records(self, records: Iterable[RunRecord] | None) -> list[RunRecord]:
        return self.query(status=None) if records is None else list(records)

    def export_jsonl(self, path: str | os.PathLike,
                     records: Iterable[RunRecord] | None = None) -> int:
        """Write one JSON object per record (all rows by default); return the count."""
        rows = self._records(records)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(_to_json({"key": r.key, "status": r.status, "error": r.error,
                                   "created": r.created, "spec": r.spec,
                                   "result": r.result, "meta": r.meta}) + "\n")
        return len(rows)

    def export_csv(self, path: str | os.PathLike,
                   records: Iterable[RunRecord] | None = None) -> int:
        """Write a flat CSV (all rows by default); return the count.

        Columns: key, status, error, created, then sorted ``spec.*``,
        ``result.*`` and ``meta.*`` columns.  Nested dicts become dotted
        columns; lists and empty dicts are JSON-encoded; None is empty.
        """
        rows = self._records(records)
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
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            for flat in flat_rows:
                writer.writerow({k: "" if v is None else v for k, v in flat.items()})
        return len(rows)
