"""Architecture checks on the source (STYLE.md 2.2), made with `ast`, not by importing.

- Nothing under `_core/` (nor `testing/_market/`) imports trio: a glob, so a new module is
  checked the day it is added.
- No import cycle between gatetrio's modules, counting every import: module level, inside
  functions and under `TYPE_CHECKING` (a cycle there still couples the two modules' designs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gatetrio"
PURE_FOLDERS = ("_core", "testing/_market")


def module_name(path: Path) -> str:
    parts = ["gatetrio", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, *, importer: str = "", is_package: bool = False) -> set[str]:
    """Absolute names of the modules `tree` imports (relative imports resolved from `importer`)."""
    names: set[str] = set()
    for node in ast.walk(tree):  # walk: imports inside functions and TYPE_CHECKING count too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                package = importer.split(".")
                if not is_package:
                    package.pop()
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([node.module] if node.module else [])])
            names.add(base)
            # `from . import x` and `from .pkg import mod` import submodules too
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def is_trio(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    return top == "trio" or top.startswith("trio_")


PURE_FILES = sorted(p for folder in PURE_FOLDERS for p in (PACKAGE / folder).rglob("*.py"))


def test_the_core_exists() -> None:
    assert len(PURE_FILES) >= 10, PURE_FILES  # a moved folder must not empty the check


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_does_not_import_trio(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    offenders = sorted(filter(is_trio, imported_modules(tree)))
    assert offenders == [], f"{path.name} imports {offenders}: the sans-IO core must not"


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text("utf-8"))
        found = imported_modules(tree, importer=name, is_package=path.name == "__init__.py")
        # a package's __init__ re-exports its children; an edge to a package is to its __init__
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    # Edges from a package's __init__ to its own children are how packages re-export: they
    # close no real cycle, because the child never needs the __init__ to be complete.
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # package <-> own submodule
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20
    # gatetrio/__init__ re-exports everything; modules import their siblings directly
    graph = {
        m: {d for d in deps if d != "gatetrio" or m == "gatetrio"} for m, deps in graph.items()
    }
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_checks_see_what_they_check() -> None:
    source = "import trio\nfrom trio_websocket import x\ndef f():\n    import trio.testing\n"
    assert sorted(filter(is_trio, imported_modules(ast.parse(source)))) == [
        "trio",
        "trio.testing",
        "trio_websocket",
        "trio_websocket.x",
    ]
    assert not is_trio("triolet")
    rel = imported_modules(
        ast.parse("from .._core._errors import E\nfrom . import _x\n"),
        importer="gatetrio._shell._client",
    )
    assert {"gatetrio._core._errors", "gatetrio._shell._x"} <= rel
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
