"""Tests for suite.store: the SQLite results store."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.store import DEFAULT_PATH, ENV_VAR, RunRecord, Store, StoreError, default_store_path

ROOT = Path(__file__).resolve().parents[1]


def key_of(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def spawn(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# -- basic behaviour ----------------------------------------------------------

def test_round_trip(tmp_path):
    path = tmp_path / "deep" / "dir" / "results.sqlite"
    spec = {"task": {"name": "copy", "gap": 10}, "arch": {"name": "lstm"}, "seed": 0}
    result = {"acc": 0.5, "curve": [1.0, 0.5], "diverged_at": math.nan, "best": math.inf}
    meta = {"torch": "2.x", "device": "cpu", "threads": 1}
    key = key_of(spec)
    with Store(path) as store:
        assert store.path == path and path.exists()
        assert len(store) == 0 and store.get(key) is None and not store.has(key)
        assert store.put(key, spec, result, meta) is True
    with Store(path) as store:  # reopen: data persisted, schema accepted
        rec = store.get(key)
        assert isinstance(rec, RunRecord)
        assert (rec.key, rec.spec, rec.meta, rec.status, rec.error) == (key, spec, meta, "ok", None)
        assert rec.result["acc"] == 0.5 and rec.result["curve"] == [1.0, 0.5]
        assert math.isnan(rec.result["diverged_at"]) and rec.result["best"] == math.inf
        assert rec.created.endswith("+00:00") and rec.created[:4].isdigit()
        assert store.has(key) and store.keys() == {key} and len(store) == 1
        raw = store._db.execute("SELECT spec FROM runs").fetchone()[0]
        assert raw == json.dumps(spec, sort_keys=True, separators=(",", ":"))


def test_first_ok_wins_and_failed_is_replaced(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        assert store.put("a", {"n": 1}, {}, {}, status="failed", error="boom") is True
        assert not store.has("a") and store.keys() == set()
        assert store.keys("failed") == {"a"} and store.get("a").error == "boom"
        assert store.put("a", {"n": 1}, {}, {}, status="failed", error="boom2") is True
        assert store.get("a").error == "boom2"
        assert store.put("a", {"n": 1}, {"v": 1}, {}) is True
        assert store.has("a") and store.get("a").result == {"v": 1}
        assert store.get("a").status == "ok" and store.get("a").error is None
        assert store.put("a", {"n": 1}, {"v": 2}, {}) is False
        assert store.put("a", {"n": 1}, {"v": 3}, {}, status="failed", error="x") is False
        assert store.get("a").result == {"v": 1} and len(store) == 1
        assert store.keys(None) == {"a"}


def test_put_rejects_bad_input(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ValueError, match="status.*'ok'.*'failed'"):
            store.put("a", {}, {}, {}, status="done")
        with pytest.raises(ValueError, match="strict JSON"):
            store.put("a", {"lr": math.nan}, {}, {})
        with pytest.raises(TypeError):
            store.put("a", {"x": object()}, {}, {})
        assert len(store) == 0
        store.put("b", {}, {}, {})  # still usable: no transaction left open
        assert store.keys() == {"b"}
    with pytest.raises(StoreError, match="closed"):
        store.has("b")


def test_empty_file_is_initialised(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    with Store(path) as store:
        store.put("k", {}, {"x": 1}, {})
    with Store(path) as store:
        assert store.get("k").result == {"x": 1}


@pytest.fixture
def populated(tmp_path):
    store = Store(tmp_path / "q.sqlite")
    for task in ("copy", "adding"):
        for arch in ("lstm", "rnn", "gru"):
            for gap in (10, 20):
                spec = {"task": {"name": task, "gap": gap}, "arch": {"name": arch},
                        "flags": {"clip": gap == 10, "init": None}}
                status = "failed" if (arch == "gru" and gap == 20) else "ok"
                store.put(key_of(spec), spec, {"acc": gap / 100}, {}, status=status,
                          error="nan loss" if status == "failed" else None)
    yield store
    store.close()


def test_query_filters(populated):
    store = populated
    everything = store.query()
    assert len(everything) == 10 and all(r.status == "ok" for r in everything)
    assert [r.key for r in everything] == sorted(r.key for r in everything)
    assert len(store.query(status=None)) == 12
    failed = store.query(status="failed")
    assert len(failed) == 2 and {r.spec["arch"]["name"] for r in failed} == {"gru"}

    copy_lstm = store.query({"task.name": "copy", "arch.name": "lstm"})
    assert {r.spec["task"]["gap"] for r in copy_lstm} == {10, 20}
    one = store.query({"task.name": "copy", "arch.name": "lstm", "task.gap": 10})
    assert len(one) == 1 and one[0].spec["task"] == {"name": "copy", "gap": 10}
    assert len(store.query({"task.gap": 10.0})) == 6  # numbers compare by value
    assert store.query({"task.gap": "10"}) == []      # but not across types

    any_of = store.query({"arch.name": ["lstm", "gru"], "task.gap": 20})
    assert {(r.spec["task"]["name"], r.spec["arch"]["name"]) for r in any_of} == \
        {("copy", "lstm"), ("adding", "lstm")}
    any_of_all = store.query({"arch.name": {"lstm", "gru"}, "task.gap": (20,)}, status=None)
    assert len(any_of_all) == 4

    assert len(store.query({"flags.clip": True})) == 6
    assert len(store.query({"flags.init": None})) == 10
    assert len(store.query({"flags.missing": None})) == 10
    assert store.query({"task.name": "nope"}) == []

    with pytest.raises(ValueError):
        store.query({"task.name": []})
    with pytest.raises(ValueError):
        store.query({"task": {"name": "copy"}})
    with pytest.raises(ValueError):
        store.query({"task..name": "copy"})


# -- export -------------------------------------------------------------------

def test_export_jsonl_and_csv(populated, tmp_path):
    store = populated
    store.put("zz", {"task": {"name": "copy", "gap": 5}, "arch": {"name": "lstm"}, "extra": [1, 2]},
              {"acc": math.nan, "curve": [0.1, 0.2], "per_step": {"a": 1}},
              {"device": "cpu", "threads": 2})

    n = store.export_jsonl(tmp_path / "out" / "all.jsonl")
    lines = (tmp_path / "out" / "all.jsonl").read_text().splitlines()
    assert n == 13 == len(lines)
    parsed = [json.loads(line) for line in lines]
    assert {p["key"] for p in parsed} == store.keys(None)
    by_key = {p["key"]: p for p in parsed}
    assert by_key["zz"]["spec"]["extra"] == [1, 2] and math.isnan(by_key["zz"]["result"]["acc"])
    assert set(by_key["zz"]) == {"key", "status", "error", "created", "spec", "result", "meta"}
    assert sum(p["status"] == "failed" for p in parsed) == 2

    n = store.export_csv(tmp_path / "all.csv")
    with open(tmp_path / "all.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        rows = list(reader)
    assert n == 13 == len(rows)
    assert header == ["key", "status", "error", "created",
                      "spec.arch.name", "spec.extra", "spec.flags.clip", "spec.flags.init",
                      "spec.task.gap", "spec.task.name",
                      "result.acc", "result.curve", "result.per_step.a",
                      "meta.device", "meta.threads"]
    row = next(r for r in rows if r["key"] == "zz")
    assert json.loads(row["spec.extra"]) == [1, 2] and json.loads(row["result.curve"]) == [0.1, 0.2]
    assert row["result.per_step.a"] == "1" and row["meta.threads"] == "2"
    assert row["spec.flags.clip"] == "" and row["error"] == ""
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all(r["error"] == "nan loss" for r in failed)

    subset = store.query({"arch.name": "rnn"})
    assert store.export_csv(tmp_path / "rnn.csv", subset) == 4
    with open(tmp_path / "rnn.csv", newline="") as fh:
        rnn_rows = list(csv.DictReader(fh))
    assert {r["spec.arch.name"] for r in rnn_rows} == {"rnn"}
    assert store.export_jsonl(tmp_path / "none.jsonl", []) == 0


# -- default path -------------------------------------------------------------

def test_default_path_and_env_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_store_path() == Path(DEFAULT_PATH)
    with Store() as store:
        store.put("k1", {}, {}, {})
    assert (tmp_path / DEFAULT_PATH).is_file()

    other = tmp_path / "elsewhere" / "r.sqlite"
    monkeypatch.setenv(ENV_VAR, str(other))
    assert default_store_path() == other
    with Store() as store:
        assert store.path == other and len(store) == 0
        store.put("k2", {}, {}, {})
    with Store(tmp_path / DEFAULT_PATH) as store:
        assert store.keys() == {"k1"}


# -- refusing foreign files ---------------------------------------------------

def _text_file(path: Path) -> None:
    path.write_text("run,acc\n1,0.5\n" * 50)


def _random_file(path: Path) -> None:
    path.write_bytes(b"\x00not sqlite" + os.urandom(8192))


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()


def _wrong_version(path: Path) -> None:
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE info SET value = '2' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()


def _corrupt_store(path: Path) -> None:
    with Store(path) as store:
        for i in range(40):
            store.put(f"k{i}", {"i": i}, {"blob": "x" * 3000}, {})
    data = bytearray(path.read_bytes())
    data[3 * 4096:5 * 4096] = os.urandom(2 * 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, reason", [
    (_text_file, "not a readable SQLite"),
    (_random_file, "not a readable SQLite"),
    (_foreign_sqlite, "application_id"),
    (_wrong_version, "schema_version 2"),
    (_corrupt_store, ""),
])
def test_foreign_files_are_refused_untouched(tmp_path, make, reason):
    path = tmp_path / "victim.sqlite"
    make(path)
    before = snapshot(path)
    time.sleep(0.01)  # so a write would show up in mtime_ns
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(path) in str(info.value) and reason in str(info.value)
    assert snapshot(path) == before


def test_directory_is_refused(tmp_path):
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


# -- several processes --------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from suite.store import Store
path, worker, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
with Store(path) as store:
    for i in range(worker * 100, worker * 100 + 300):
        key = f"{i:064x}"
        store.put(key, {"i": i}, {"i": i, "worker": worker, "pad": "p" * 200}, {"pid": worker})
"""


def test_concurrent_writers(tmp_path):
    path, go = tmp_path / "shared" / "r.sqlite", tmp_path / "go"
    procs = [spawn(WRITER, str(path), str(w), str(go)) for w in range(3)]
    time.sleep(0.3)
    go.touch()  # all writers open the fresh file at about the same time
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    with Store(path) as store:
        assert len(store) == 500
        assert store.keys() == {f"{i:064x}" for i in range(500)}
        records = store.query()
        assert len(records) == 500
        for r in records:
            assert r.spec["i"] == r.result["i"] == int(r.key, 16)
            assert r.result["worker"] == r.meta["pid"] and len(r.result["pad"]) == 200


KILLED_WRITER = """
import sys
from suite.store import Store
store = Store(sys.argv[1])
i = 0
while True:
    payload = [i] * 3000  # several pages per row, so a kill can land mid-write
    store.put(f"{i:064x}", {"i": i}, {"payload": payload, "n": len(payload)}, {})
    if i == 5:
        print("writing", flush=True)
    i += 1
"""


def test_killed_writer_leaves_complete_rows(tmp_path):
    path = tmp_path / "r.sqlite"
    proc = spawn(KILLED_WRITER, str(path))
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        time.sleep(0.4)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Store(path) as store:
        records = store.query(status=None)
        assert len(records) >= 6 and len(store) == len(records)
        for r in records:
            i = r.spec["i"]
            assert r.key == f"{i:064x}" and r.status == "ok"
            assert r.result["n"] == 3000 and r.result["payload"] == [i] * 3000
        assert store.put("after", {}, {}, {}) is True


def test_switching_to_wal_waits_while_another_opener_holds_the_fresh_file(tmp_path):
    """SQLite reports 'database is locked' for the journal-mode switch without calling its busy
    handler while another process is opening the same fresh file (seen once in CI with three
    writers): the store waits for it like the busy timeout, and other errors still raise."""
    import sqlite3

    class Opener:
        def __init__(self, fails, message="database is locked"):
            self.fails, self.message, self.calls = fails, message, []

        def execute(self, sql):
            self.calls.append(sql)
            if "journal_mode" in sql and self.fails:
                self.fails -= 1
                raise sqlite3.OperationalError(self.message)
            return self

        def fetchone(self):
            return ("wal",)

    with Store(tmp_path / "r.sqlite") as store:
        busy = Opener(fails=3)
        store._enable_wal(busy)
        assert busy.fails == 0 and busy.calls[-1] == "PRAGMA synchronous = NORMAL"
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            store._enable_wal(Opener(fails=1, message="disk I/O error"))
