"""The import graph of vgsuite's own code, read from source: which files a piece of code runs.

    closure(["suite.claims"])     # every source file the claims' code imports, transitively
    circles(import_graph())       # groups of modules that import each other ([] is the rule)

The result cache keys an entry on the files its code depends on (suite.cache): the claims'
verdicts on `closure(["suite.claims"])`, the probe overview on `closure(["suite.overview"])`. Read
from the source rather than listed by hand, a new module cannot be forgotten, and a change to
what only renders (the report, the plots, the CLI) leaves every verdict cached.

Every import counts, at the top of a module or inside a function, and importing a module runs its
packages' __init__ files too. A package's non-Python sources (the C++ of suite/engine) count as
part of each of its modules. The graph covers the packages `suite` and `tasks`; anything else
(torch, a user's plugin) is outside it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("suite", "tasks")
OTHER_SOURCES = (".cpp",)


@cache
def module_files() -> dict[str, Path]:
    """Dotted module name -> its file, for every module of PACKAGES."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return modules


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the modules of PACKAGES it imports anywhere in its source."""
    modules = module_files()
    return {name: frozenset(_imports(name, path, modules)) for name, path in modules.items()}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # "from .x import function" names module x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def closure(roots: Iterable[str]) -> list[Path]:
    """The source files that importing `roots` runs: their modules, everything those import, the
    packages' __init__ files on the way and the packages' other sources, in a stable order."""
    graph, modules = import_graph(), module_files()
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in modules:
            raise ValueError(f"module must be one of vgsuite's own, got {name!r}")
        seen.add(name)
        todo += graph[name]
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
    files = {modules[name] for name in seen}
    for folder in {path.parent for path in files}:
        files |= {p for p in folder.iterdir() if p.suffix in OTHER_SOURCES}
    return sorted(files)


def circles(graph: dict[str, Iterable[str]]) -> list[list[str]]:
    """Groups of more than one module that import each other, directly or not (Tarjan's strongly
    connected components), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found
