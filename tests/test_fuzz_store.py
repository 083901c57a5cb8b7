"""Fuzz the store: a generated malformed row among good ones never crashes show or export, never
hides the good rows, and leaves the store file byte for byte as it was; an older layout (a missing
column) is read, and migrated only by a command that writes."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.store import Store
from tests.fuzz import assert_clean, call

SPEC = {"task": {"name": "copy", "gap": 10, "options": []}, "arch": {"name": "lstm"}, "train": {}, "seed": 0,
        "device": "cpu"}
RESULT = {"solved": True, "steps_to_solve": 50, "final_metric": 1.0, "wall_s": 0.5, "diverged": False}

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)


def _mutated(base: dict) -> st.SearchStrategy:
    """`base` with one (possibly nested) member replaced or removed."""
    paths = [(k,) for k in base] + [(k, j) for k, v in base.items() if isinstance(v, dict) for j in v]

    def apply(path, value, drop):
        data = json.loads(json.dumps(base))
        where = data
        for part in path[:-1]:
            where = where[part]
        if drop:
            where.pop(path[-1])
        else:
            where[path[-1]] = value
        return json.dumps(data)

    return st.builds(apply, st.sampled_from(paths), JSON, st.booleans())


COLUMN = st.one_of(st.text(max_size=20), JSON.map(json.dumps), st.integers(-2**63, 2**63 - 1))  # NOT NULL columns
ROW = st.fixed_dictionaries({
    "spec": st.one_of(_mutated(SPEC), COLUMN), "result": st.one_of(_mutated(RESULT), COLUMN),
    "meta": st.one_of(st.just("{}"), COLUMN), "status": st.one_of(st.sampled_from(["ok", "failed"]), COLUMN),
})


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@settings(max_examples=40)
@given(row=ROW)
def test_a_malformed_row_is_skipped_and_the_store_is_unchanged(tmp_path_factory, row):
    folder = tmp_path_factory.mktemp("store")
    path = folder / "results.sqlite"
    with Store(path) as store:
        store.put("good", SPEC, RESULT, {})
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO runs VALUES ('bad', ?, ?, ?, ?, NULL, '2026')",
                     (row["spec"], row["result"], row["meta"], row["status"]))
    conn.close()
    before = _digest(path)
    code, lines, out = call(["show", "--store", str(path), "--json"])
    assert_clean(code, lines, allowed=(0,))
    shown = [r["key"] for r in json.loads(out)]
    assert "good" in shown
    for argv in (["show", "--store", str(path)], ["export", "--store", str(path), "--out", str(folder / "o.csv")],
                 ["export", "--store", str(path), "--out", str(folder / "o.jsonl")]):
        code, lines, _ = call(argv)
        assert_clean(code, lines, allowed=(0,))
    assert _digest(path) == before


def test_an_older_layout_is_read_and_migrated_by_a_writer(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.put("good", SPEC, RESULT, {})
    with sqlite3.connect(path) as conn:  # the first layout: no error, no created
        conn.execute("ALTER TABLE runs DROP COLUMN created")
        conn.execute("ALTER TABLE runs DROP COLUMN error")
    conn.close()
    code, lines, out = call(["show", "--store", str(path), "--json"])
    assert_clean(code, lines, allowed=(0,))
    assert [r["key"] for r in json.loads(out)] == ["good"]
    with Store(path) as store:  # a writer migrates: the columns are added, the row kept
        assert store.get("good").created == "" and store.put("new", SPEC | {"seed": 1}, RESULT, {})
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN spec")
    conn.close()
    code, lines, _ = call(["show", "--store", str(path)])
    assert code == 2 and "spec" in lines[0]


def test_a_store_on_read_only_media_can_be_read(tmp_path):
    path = tmp_path / "ro" / "results.sqlite"
    with Store(path) as store:
        store.put("good", SPEC, RESULT, {})
    folder = path.parent
    before = _digest(path)
    # what read-only media look like to SQLite: no side files can be made (immutable=1 fallback)
    uri_ro = Store(path, readonly=True)
    assert [r.key for r in uri_ro.query()] == ["good"]
    uri_ro.close()
    folder.chmod(0o555)
    try:
        code, lines, out = call(["show", "--store", str(path), "--json"])
    finally:
        folder.chmod(0o755)
    assert_clean(code, lines, allowed=(0,))
    assert [r["key"] for r in json.loads(out)] == ["good"] and _digest(path) == before


def test_a_malformed_ok_row_is_not_done_and_the_next_result_replaces_it(tmp_path):
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.put("good", SPEC, RESULT, {})
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO runs VALUES ('bad', ?, '{not json', '{}', 'ok', NULL, '2026')", (json.dumps(SPEC),))
    conn.close()
    with Store(path) as store:
        assert store.has("good") and not store.has("bad")
        assert store.keys() == {"good"}          # a sweep sees 'bad' as pending and trains it again
        assert store.put("bad", SPEC, RESULT, {})  # ...and its result replaces the unreadable row
        assert store.has("bad") and store.get("bad").result == RESULT
        assert not store.put("good", SPEC, {**RESULT, "wall_s": 9.0}, {})  # a readable ok row still wins
