"""A leading underscore means "used only in this file" (STYLE 2.2).

Inside a package-private module (`_core/_x.py`) a name other modules use has no underscore: the
module's own underscore already keeps it inside the package. So an underscored name defined in
one module under src/gatetrio is never imported by another, nor read off an imported module
(`_numbers._units_text`). Tests may import privates; the library may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "gatetrio"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imported_from(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module an `from X import ...` in `path` names."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_imports(path: Path, text: str | None = None) -> list[str]:
    """Every underscored name `path` (or `text`, as if it were at `path`) takes from another
    gatetrio module, as ``"line: module.name"``."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    found: list[str] = []
    modules: dict[str, str] = {}  # local name bound to a gatetrio module -> that module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = imported_from(node, path)
            if source.split(".")[0] != "gatetrio":
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if is_module(target):
                    modules[alias.asname or alias.name] = target
                elif is_private(alias.name):
                    found.append(f"{node.lineno}: {target}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "gatetrio" and alias.asname:
                    modules[alias.asname] = alias.name
    found.extend(
        f"{node.lineno}: {modules[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
        and is_private(node.attr)
        and not is_module(f"{modules[node.value.id]}.{node.attr}")
    )
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{where}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for where in private_imports(path)
    ]
    # Each line names a module and the underscored name it took from another: drop the
    # underscore where that name is defined, since another module uses it.
    assert offenders == []


def test_the_check_sees_each_way_of_reaching_a_private_name() -> None:
    # The check itself, on text read as if it were src/gatetrio/testing/_example.py.
    text = (
        "from ._market._numbers import _units_text, units_int\n"
        "from gatetrio._core._events import _Hidden\n"
        "from . import _faults\n"
        "import gatetrio._core._decode as decode\n"
        "x = _faults._run_fault, decode._private, _faults.apply_fault, _faults.__doc__\n"
        "from ._market import _numbers\n"
        "from os import _exit\n"
    )
    found = private_imports(PACKAGE / "testing" / "_example.py", text)
    assert found == [
        "1: gatetrio.testing._market._numbers._units_text",
        "2: gatetrio._core._events._Hidden",
        "5: gatetrio.testing._faults._run_fault",
        "5: gatetrio._core._decode._private",
    ]
