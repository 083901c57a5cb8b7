"""What a user architecture's runs are keyed by: all of the user's code it computes with.

A plug-in class lives in a file that may import other modules of the user's own tree (a helpers.py
beside it, the other modules of their package), and an edit to any of them can change what the
cell computes. So a plug-in's source hash covers the file that defines the class and, transitively,
every local module it imports; "local" means a file outside the Python installation (the standard
library, site-packages) and outside vgsuite itself (whose version every stored row records in its
metadata). Imports are read from the files' syntax (`import a.b`, `from a import b`, relative
`from .a import b`) and resolved to the modules this process imported, so a module imported only
inside a function counts too.

The hash is location-free: each file contributes its display name (the defining file by its base
name, the others by module name) and its bytes, so the same code keys the same runs in any
checkout, and different code never shares them. Every command that builds a spec of a plug-in
carries the hash in the spec (suite.specs.ArchSpec adds the option `vgsuite_source`), and
`vgsuite check` prints which files it covers.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
import sysconfig
from pathlib import Path

_SUITE_ROOT = Path(__file__).resolve().parents[2]          # the checkout or site dir holding suite/
_OWN = tuple(str(_SUITE_ROOT / name) for name in ("suite", "tasks"))
_INSTALLED = tuple({str(Path(p).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib")
                    if (p := sysconfig.get_paths().get(key))})


def defining_file(obj) -> Path | None:
    try:
        path = inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return None
    return Path(path).resolve() if path and Path(path).is_file() else None


def local_sources(obj) -> list[tuple[str, Path]]:
    """(display name, file) of the code `obj` computes with: its defining file first, then every
    local module it imports, transitively, sorted by name."""
    root = defining_file(obj)
    if root is None:
        return []
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    package = getattr(module, "__package__", None) or ""
    found: dict[Path, str] = {root: root.name}
    queue = [(root, package)]
    while queue:
        path, pkg = queue.pop()
        for name in _imported_names(path, pkg):
            file = _module_file(name)
            if file is not None and file not in found and _is_local(file):
                found[file] = name
                queue.append((file, name if file.name == "__init__.py" else name.rpartition(".")[0]))
    rest = sorted(((name, file) for file, name in found.items() if file != root))
    return [(root.name, root), *rest]


def source_hash(obj) -> str | None:
    """sha256 (12 hex digits) over the names and bytes of `local_sources(obj)`; None without a file."""
    sources = local_sources(obj)
    if not sources:
        return None
    digest = hashlib.sha256()
    for name, file in sources:
        digest.update(name.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:12]


def _imported_names(path: Path, package: str) -> list[str]:
    """Every module name the file's import statements could refer to."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names += [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names


def _absolute(module: str | None, level: int, package: str) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module and base else (module or base or None)


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    if file is None and module is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            return None
        file = getattr(spec, "origin", None) if spec is not None else None
    if not file or not str(file).endswith(".py"):
        return None
    path = Path(file).resolve()
    return path if path.is_file() else None


def _is_local(file: Path) -> bool:
    text = str(file)
    return not text.startswith(_INSTALLED) and not text.startswith(_OWN) and "site-packages" not in text


__all__ = ["defining_file", "local_sources", "source_hash"]
