"""The library's shape: no import cycle, no private name across modules, short modules, short lines.

Two independent checks guard against import cycles:

* a static one: the import graph of ``lib/bbcollapse`` built from the AST, with relative imports
  resolved, must have no cycle.  It sees every cycle, including those that happen to work at run
  time in today's import order (Python only fails on a cycle when a name is read from a module that
  is still initialising, so a cycle can pass until someone imports the modules in another order);
* a dynamic one: every module is imported on its own in a fresh interpreter, which catches what
  the AST cannot see (a module-level error, a name missing from the module it is imported from).

Imports inside functions count as edges.  A function-level import defers the import, so it cannot
fail at import time, but it still makes the two modules depend on each other: it is how the old
engine / reducers / tile-kernel cycle was hidden.  Only ``if TYPE_CHECKING:`` blocks are skipped:
they never run.

Each checker takes the source root and the package name, so the self-tests below run it on a small
package with a planted cycle and a planted private import, in ``tmp_path``, to show it can fail.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
PACKAGE = "bbcollapse"
MAX_LINES = 600
MAX_COLUMNS = 120


# --------------------------------------------------------------------------- the checkers
def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``root/package`` (``__init__`` -> the package)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def ancestors(name: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b"]``: the packages Python initialises before ``a.b.c``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _runtime_nodes(tree: ast.AST):
    """Every node that can run: the whole tree except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = child.test if isinstance(child, ast.If) else None
            if test is not None and "TYPE_CHECKING" in ast.unparse(test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _base_of(module: str, is_package: bool, level: int) -> str:
    """The package a relative import of ``level`` dots in ``module`` starts from."""
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(level - 1):
        base = base.rpartition(".")[0]
    return base


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """``(target module, imported name or "", explicit)`` for each import of a package module.

    ``explicit`` is False for a package that Python initialises only because a submodule of it is
    imported (``import a.b.c`` runs ``a/__init__`` and ``a/b/__init__``): such an edge to one of
    the importer's own packages is always satisfied (that package is already initialising) and is
    dropped by :func:`import_graph`; an edge to another package's ``__init__`` is real.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    out.append((alias.name, "", True))
                    out += [(a, "", False) for a in ancestors(alias.name) if a in modules]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base_of(module, is_package, node.level)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target not in modules:
                continue  # a third-party or standard-library module
            out += [(a, "", False) for a in ancestors(target) if a in modules]
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:  # `from pkg import submodule`: pkg is only initialised on the way
                    out += [(target, "", False), (sub, "", True)]
                else:
                    out.append((target, alias.name, True))
    return out


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package modules it imports (see :func:`imports_of` for the edges kept)."""
    modules = modules_of(root, package)
    graph = {}
    for name, path in modules.items():
        own = set(ancestors(name))
        graph[name] = {
            t for t, _, explicit in imports_of(name, path, modules) if t != name and (explicit or t not in own)
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a chain of attribute accesses on a name; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def private_imports(root: Path, package: str) -> list[str]:
    """``module: name from target`` for each private name one package module takes from another.

    Importing a private *module* (``from .. import _validation``, ``from .._validation import
    check_theta``) is allowed: a leading underscore on a module keeps it out of the public API
    while its functions serve the whole package.  Private names are caught both as
    ``from x import _y`` and as ``x._y`` on a name bound to a package module.
    """
    modules = modules_of(root, package)
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        bound = {}  # local name -> the package module it is bound to
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:  # `import a.b` binds a; `import a.b as m` binds m to a.b
                        local = alias.asname or alias.name.partition(".")[0]
                        bound[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom):
                base = _base_of(name, path.name == "__init__.py", node.level) if node.level else ""
                target = ".".join(p for p in (base, node.module) if p)
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        bound[alias.asname or alias.name] = f"{target}.{alias.name}"
        for target, imported, _ in imports_of(name, path, modules):
            if imported and is_private(imported) and target != name:
                found.append(f"{name}: {imported} from {target}")
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                owner = _dotted(node.value)
                head, _, rest = owner.partition(".")
                target = ".".join(p for p in (bound.get(head), rest) if p)
                if head in bound and target in modules and target != name:
                    found.append(f"{name}: {node.attr} via {owner}.{node.attr} (line {node.lineno})")
    return sorted(set(found))


# Run in a fresh interpreter: imports each module on its own, with every module of the package
# removed from sys.modules before the next, and prints {module: error} as JSON.  Third-party
# modules (torch, scipy, ...) stay loaded between modules: they take no part in a cycle of the
# package, and loading them once keeps the check to seconds instead of minutes.
_IMPORT_EACH = """
import importlib, json, sys
package, names = sys.argv[1], sys.argv[2:]
errors = {}
for name in names:
    for loaded in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(errors))
"""


def fresh_import_errors(root: Path, package: str, names: list[str] | None = None) -> dict[str, str]:
    """Module -> its error, for each module of ``package`` that fails to import on its own.

    One new interpreter, ``root`` first on its path, imports the modules one at a time, each
    with the package's modules cleared first, so that each import starts from nothing of the
    package, as a user's first ``import`` does.
    """
    names = list(modules_of(root, package)) if names is None else names
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, package, *names],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def long_modules(root: Path, package: str, limit: int = MAX_LINES) -> dict[str, int]:
    counts = {n: len(p.read_text().splitlines()) for n, p in modules_of(root, package).items()}
    return {n: c for n, c in counts.items() if c > limit}


def long_lines(root: Path, package: str, limit: int = MAX_COLUMNS) -> list[str]:
    return [
        f"{p.relative_to(root)}:{i}: {len(line)} columns"
        for p in modules_of(root, package).values()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if len(line) > limit
    ]


# --------------------------------------------------------------------------- the library
def test_no_import_cycle_in_the_import_graph():
    graph = import_graph(LIB, PACKAGE)
    assert len(graph) > 20 and sum(map(len, graph.values())) > 20  # the walk found the package
    assert cycles(graph) == []


@pytest.mark.slow
def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    assert fresh_import_errors(LIB, PACKAGE) == {}


def test_no_private_name_crosses_a_module():
    assert private_imports(LIB, PACKAGE) == []


def test_no_module_over_600_lines():
    assert long_modules(LIB, PACKAGE) == {}


def test_no_line_over_120_columns():
    assert long_lines(LIB, PACKAGE) == []


# --------------------------------------------------------------------------- the checkers can fail
def write_package(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


PLANTED = {
    "pkg/__init__.py": "",
    "pkg/_util.py": "def helper():\n    return 1\n",
    # a <-> b through names: fails at run time whichever is imported first
    "pkg/a.py": "from pkg.b import g\n\n\ndef f():\n    return g()\n",
    "pkg/b.py": "from .a import f\n\n\ndef g():\n    return 2\n",
    # c -> sub (package __init__) -> sub.d -> c: only through a function-level import
    "pkg/c.py": "def h():\n    from .sub import d\n    return d\n",
    "pkg/sub/__init__.py": "from . import d\n",
    "pkg/sub/d.py": "from .. import c\n",
    # private names: by name, by attribute, and from a parent package
    "pkg/e.py": "from .a import _hidden\nfrom . import b\nimport pkg.c\n\nx = b._secret + pkg.c._inner\n",
    "pkg/sub/f.py": "from .._util import helper\nfrom .. import _util\nfrom ..c import _private as p\n",
    # allowed: a private module's public name, dunders, TYPE_CHECKING-only imports, stdlib
    "pkg/ok.py": (
        "from typing import TYPE_CHECKING\nfrom ._util import helper\nfrom .a import __doc__\n"
        "import os._exit\n\nif TYPE_CHECKING:\n    from .b import _only_for_types\n"
    ),
}


def test_import_graph_finds_planted_cycles(tmp_path):
    write_package(tmp_path, PLANTED)
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}  # absolute and relative alike
    assert graph["pkg.sub.f"] == {"pkg._util", "pkg.c"}  # `..` from a submodule of pkg.sub is pkg
    assert "pkg.b" not in graph["pkg.ok"]  # the TYPE_CHECKING block is skipped
    assert sorted(cycles(graph)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub", "pkg.sub.d"]]
    # a package's own __init__ is not a dependency of its submodules, so the graph of a tree with
    # re-exporting __init__s (like the library's) has no spurious cycle
    write_package(
        tmp_path, {"q/__init__.py": "from .m import x\n", "q/m.py": "from q.n import y\nx = y\n", "q/n.py": "y = 1\n"}
    )
    assert cycles(import_graph(tmp_path, "q")) == []


def test_fresh_interpreter_import_fails_on_a_planted_cycle(tmp_path):
    write_package(tmp_path, PLANTED)
    errors = fresh_import_errors(tmp_path, "pkg", ["pkg._util", "pkg.a", "pkg.b", "pkg.c"])
    # a and b each fail when imported first (the other takes a name from it half-initialised);
    # c's cycle runs only when h() is called, so only the static check sees it
    assert sorted(errors) == ["pkg.a", "pkg.b"]
    assert all("partially initialized" in e for e in errors.values()), errors


def test_private_import_check_finds_planted_names(tmp_path):
    write_package(tmp_path, PLANTED)
    found = private_imports(tmp_path, "pkg")
    assert [f.split(" (")[0] for f in found] == [
        "pkg.e: _hidden from pkg.a",
        "pkg.e: _inner via pkg.c._inner",
        "pkg.e: _secret via b._secret",
        "pkg.sub.f: _private from pkg.c",
    ]


def test_size_checks_find_planted_violations(tmp_path):
    write_package(tmp_path, {"p/__init__.py": "x = 1\n" * 601, "p/m.py": f"y = '{'a' * 120}'\n"})
    assert long_modules(tmp_path, "p") == {"p": 601}
    assert long_lines(tmp_path, "p") == [f"{Path('p/m.py')}:1: 126 columns"]
