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

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from .export import export_csv, export_jsonl
from .store_rows import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    STATUSES,
    RunRecord,
    _to_json,
    missing_columns,
    parse_row,
    select_columns,
)

DEFAULT_PATH = ".vgsuite/results.sqlite"
ENV_VAR = "VGSUITE_STORE"

# Written to the SQLite header so a vgsuite store is recognisable ("VGSU").
APPLICATION_ID = 0x56475355
BUSY_TIMEOUT_S = 60.0

_COLUMNS = "key, spec, result, meta, status, error, created"
_SCHEMA = (
    "CREATE TABLE runs (key TEXT PRIMARY KEY, spec TEXT NOT NULL,"
    " result TEXT NOT NULL, meta TEXT NOT NULL, status TEXT NOT NULL,"
    " error TEXT, created TEXT NOT NULL)",
    "CREATE TABLE info (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def _matches(record: RunRecord, status: str | None, where: Mapping[str, object]) -> bool:
    if status is not None and record.status != status:
        return False
    for dotted, wanted in where.items():
        value = record.spec
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        options = list(wanted) if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
        if value not in options:
            return False
    return True


class StoreError(Exception):
    """The store file cannot be used (wrong format, corrupt, closed, ...)."""


def default_store_path() -> Path:
    """The store path from ``$VGSUITE_STORE`` if set, else ``DEFAULT_PATH``."""
    override = os.environ.get(ENV_VAR)
    return Path(override).expanduser() if override else Path(DEFAULT_PATH)


def _json_path(dotted: str) -> str:
    parts = dotted.split(".")
    if not dotted or any(not p or '"' in p for p in parts):
        raise ValueError(f"bad spec path {dotted!r}: expected dotted keys like 'task.name'")
    # Quoted labels so keys with '-', '[' or spaces still address one member.
    return "$" + "".join(f'."{p}"' for p in parts)


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
    required, _ = missing_columns(_runs_columns(conn))
    if required:
        return (f"an older or foreign layout: the runs table lacks the column(s) {', '.join(required)} "
                "that every row needs (this version cannot migrate it)")
    row = conn.execute("SELECT value FROM info WHERE name='schema_version'").fetchone()
    if row is None:
        return "no schema_version in the info table"
    if str(row[0]) != str(Store.SCHEMA_VERSION):
        return f"schema_version {row[0]}, this code expects {Store.SCHEMA_VERSION}"
    check = [r[0] for r in conn.execute("PRAGMA quick_check")]
    if check != ["ok"]:
        return "corrupt: " + "; ".join(check[:5])
    return None


def _runs_columns(conn: sqlite3.Connection) -> set[str]:
    return {r[1] for r in conn.execute("PRAGMA table_info(runs)")}


class Store:
    """One SQLite file of run records; see the module docstring.

    `readonly=True` opens an existing store for reading only, also on read-only media: SQLite's
    `mode=ro` first, and where even that fails (a WAL database needs its -shm side file, which a
    read-only folder cannot hold) `immutable=1`, which reads the file as it lies. Rows that do not
    parse (suite/store_rows.py) are skipped by every reader and listed in `skipped`."""

    SCHEMA_VERSION = 1

    def __init__(self, path: str | os.PathLike | None = None, *, readonly: bool = False):
        self._path = Path(path) if path is not None else default_store_path()
        self._conn: sqlite3.Connection | None = None
        self.readonly = readonly
        self.skipped: list[str] = []
        if self._path.is_dir():
            raise self._error("is a directory")
        if readonly and not self._path.is_file():
            raise self._error("no such file")
        try:
            if readonly:
                self._conn = self._open_read_only()
            else:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                if self._path.exists() and self._path.stat().st_size > 0:
                    self._validate_read_only()
                    conn = self._connect()
                    self._migrate(conn)
                else:
                    conn = self._connect()
                    self._initialise(conn)
                self._enable_wal(conn)
            self._select = select_columns(_runs_columns(self._conn))
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise self._error(f"cannot be used as an SQLite database ({exc})") from exc
            raise

    # -- opening -----------------------------------------------------------

    def _error(self, reason: str) -> StoreError:
        return StoreError(f"results store {str(self._path)!r}: {reason}")

    def _validate_read_only(self, keep: bool = False) -> sqlite3.Connection | None:
        conn = None
        for mode in ("mode=ro", "immutable=1"):  # immutable: read-only media, no side files possible
            conn = sqlite3.connect(self._path.resolve().as_uri() + "?" + mode, uri=True, timeout=BUSY_TIMEOUT_S)
            try:
                problem = _schema_problem(conn)
                break
            except sqlite3.OperationalError as exc:
                problem = f"not a readable SQLite database ({exc})"
                conn.close()
                conn = None
            except sqlite3.DatabaseError as exc:
                problem = f"not a readable SQLite database ({exc})"
                break
        if conn is not None and (problem or not keep):
            conn.close()
            conn = None
        if problem:
            raise self._error(f"refusing to use it: {problem}")
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        return self._validate_read_only(keep=True)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Add the columns an older layout lacks (suite/store_rows.py); no row is rewritten."""
        _, optional = missing_columns(_runs_columns(conn))
        if not optional:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for column in missing_columns(_runs_columns(conn))[1]:  # again, under the lock
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {OPTIONAL_COLUMNS[column][0]}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

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
        # Switching the journal mode needs the file to itself, and SQLite answers "database is
        # locked" at once, without its busy handler, when another process is opening the same fresh
        # file (seen with three writers starting together): wait for it as the busy timeout would.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, 0.2)
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
        """True if ``key`` has a successful ("ok") result that reads back (a malformed row does not
        count: a sweep trains the run again and `put` replaces the row)."""
        record = self.get(key)
        return record is not None and record.status == "ok"

    def keys(self, status: str | None = "ok") -> set[str]:
        """The keys of the rows of `status` (None: any) that read back; malformed rows are left out."""
        clause, params = ("", ()) if status is None else (" WHERE status = ?", (status,))
        rows = self._db.execute(f"SELECT {self._select} FROM runs{clause}", params)
        return {record.key for record in map(self._record, rows) if record is not None}

    def get(self, key: str) -> RunRecord | None:
        """The record of `key`; None when absent or malformed (then named in `skipped`)."""
        row = self._db.execute(f"SELECT {self._select} FROM runs WHERE key = ?", (key,)).fetchone()
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
        sql = f"SELECT {self._select} FROM runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        try:
            rows = self._db.execute(sql + " ORDER BY key", params).fetchall()
        except sqlite3.OperationalError as exc:
            if "malformed JSON" not in str(exc):
                raise
            # a spec that is not JSON stops json_extract: filter here instead, row by row
            rows = self._db.execute(f"SELECT {self._select} FROM runs ORDER BY key").fetchall()
            records = [r for r in map(self._record, rows) if r is not None]
            return [r for r in records if _matches(r, status, where or {})]
        return [r for r in map(self._record, rows) if r is not None]

    def _record(self, row: tuple) -> RunRecord | None:
        record, problem = parse_row(row)
        if problem and problem not in self.skipped:
            self.skipped.append(problem)
        return record

    # -- writing -----------------------------------------------------------

    def put(self, key: str, spec: dict, result: dict, meta: dict,
            status: str = "ok", error: str | None = None, *, created: str | None = None) -> bool:
        """Store one run; return True if a row was written.

        An existing "ok" row is kept (first result wins) and False returned;
        a "failed" row is replaced. `created` (ISO 8601) keeps a copied row's
        own time (suite/merge.py); by default the row is created now.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        try:
            spec_json = _to_json(spec, strict=True)
        except ValueError as exc:
            raise ValueError(f"spec for {key!r} must be strict JSON: {exc}") from exc
        values = (key, spec_json, _to_json(result), _to_json(meta), status, error,
                  created or datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(f"SELECT {self._select} FROM runs WHERE key = ?", (key,)).fetchone()
            if row is not None and row[COLUMNS.index("status")] == "ok" and parse_row(row)[0] is not None:
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

    # -- export (suite/export.py) --------------------------------------------

    def _records(self, records: Iterable[RunRecord] | None) -> list[RunRecord]:
        return self.query(status=None) if records is None else list(records)

    def export_jsonl(self, path: str | os.PathLike, records: Iterable[RunRecord] | None = None) -> int:
        """Write one JSON object per record (all rows by default); return the count."""
        return export_jsonl(path, self._records(records))

    def export_csv(self, path: str | os.PathLike, records: Iterable[RunRecord] | None = None) -> int:
        """Write a flat CSV (all rows by default); return the count (columns: suite/export.py)."""
        return export_csv(path, self._records(records))
