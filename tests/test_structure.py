"""The package's shape (issue 14): no import circle inside suite/, late imports included, so that
no module needs a function-level import to break one."""

from __future__ import annotations

from suite.imports import circles, import_graph


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "suite.claims.evaluate" in graph and "suite.workers" in graph["suite.sweep"]
    assert "suite.claims" in graph["suite.claims.evaluate"]  # "from . import CLAIMS" counts
    assert circles(graph) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
