"""The package's import structure, read statically with ``ast`` (nothing is imported).

- No import cycle among the package's modules. Counted: every import at module level,
  those under ``if TYPE_CHECKING:`` included (a type-only import is still a dependency of
  the design). Not counted across the package: imports inside functions, which are how a
  module stays inert until used (heavy extras, the plugin's active branch). In the pytest
  layer (``pytest_plugin/``, and any module that imports pytest) they count as well: that
  is where deferred imports once hid a circle (session -> items -> fixtures -> session).
- Only the pytest layer imports pytest (any import, anywhere in a module).

A package's ``__init__`` is not counted as imported by its submodules (Python runs it, but
it is the package's face, not a dependency of the design).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import unisafe_pytest

ROOT = Path(unisafe_pytest.__file__).parent
PACKAGE = "unisafe_pytest"
PYTEST_LAYER = f"{PACKAGE}.pytest_plugin"


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The package module that importing ``name`` names (a name inside it gives it)."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str, *, deferred: bool) -> Iterator[tuple[str, int]]:
    """``(imported name, line)`` per import of ``module``; ``deferred`` adds the imports
    inside functions."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom) and (deferred or not nested):
                yield from ((name, child.lineno) for name in _names(module, is_package, child))
            yield from visit(child, nested)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), False)


def _names(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")[: len(module.split(".")) - node.level + int(is_package)]
        base = ".".join([*parts, base] if base else parts)
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names]


def _imports_pytest(module: str) -> bool:
    return any(name.split(".")[0] in ("pytest", "_pytest")
               for name, _ in _imports(module, deferred=True))


def _in_pytest_layer(module: str) -> bool:
    return module == PYTEST_LAYER or module.startswith(PYTEST_LAYER + ".") or (
        _imports_pytest(module))


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (deferred imports: in the pytest layer)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        deferred = _in_pytest_layer(module)
        targets = {_resolve(name) for name, _ in _imports(module, deferred=deferred)
                   if name.startswith(PACKAGE)}
        graph[module] = {t for t in targets if t is not None and t != module
                         and not module.startswith(t + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_modules_import_one_way() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith(PYTEST_LAYER)])
def test_only_the_pytest_layer_imports_pytest(module: str) -> None:
    """Any import counts, deferred or under ``TYPE_CHECKING``."""
    found = [f"{MODULES[module].name}:{line} imports {name}"
             for name, line in _imports(module, deferred=True)
             if name.split(".")[0] in ("pytest", "_pytest")]
    assert found == [], f"{module} is outside {PYTEST_LAYER} but {found}; move it there"


def test_the_checks_see_a_cycle_and_a_pytest_import() -> None:
    """The checks themselves: a made-up cycle is found, and so is a deferred pytest import."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    layer = _graph()
    assert f"{PYTEST_LAYER}.session" in layer[f"{PYTEST_LAYER}.plugin"]  # deferred, counted


def test_every_module_sits_in_a_layer_folder() -> None:
    """The package's top holds only its public face and the exception tree; every other
    module lives in a folder named for its layer (README, "Architecture")."""
    top = sorted(path.name for path in ROOT.glob("*.py"))
    assert top == ["__init__.py", "errors.py"], (
        f"modules at the top of {PACKAGE}: {top}; move each into the folder of its layer")
