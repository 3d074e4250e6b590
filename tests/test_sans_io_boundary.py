"""The pure core never imports trio (STYLE.md 2.2): checked on the source, not sys.modules.

Importing a module would run gatetrio/__init__, which imports the trio shell, so the check
parses each file with `ast` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gatetrio"

# The sans-IO modules, listed explicitly so a rename cannot silently drop one from the check.
PURE_MODULES = (
    "_errors",
    "_events",
    "_requests",
    "_decode",
    "_reference_decode",
    "_encode",
    "_auth",
    "_protocol",
    "_book",
    "_backoff",
    "_config",
)


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # walk: imports inside functions and TYPE_CHECKING count too
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
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


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_module_does_not_import_trio(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    if not path.exists():
        pytest.skip(f"{name}.py does not exist yet")
    offenders = sorted(filter(is_trio, imported_modules(ast.parse(path.read_text("utf-8")))))
    assert offenders == [], f"{name}.py imports {offenders}: the sans-IO core must not"


def test_the_check_sees_trio_imports() -> None:
    source = "import trio\nfrom trio_websocket import x\ndef f():\n    import trio.testing\n"
    assert sorted(filter(is_trio, imported_modules(ast.parse(source)))) == [
        "trio",
        "trio.testing",
        "trio_websocket",
    ]
    assert not is_trio("triolet")
