"""The floors of the code, checked from source: no import cycle among casework/ and worker/ modules, and a
case's status written in one place only (casework/cases/transitions.py).

Imports are read with ``ast`` (module-level and inside functions alike), so a function-local import that
dodges a cycle at run time still counts as the edge it is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("casework", "worker")
STATUS_WRITER = "casework.cases.transitions"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, with relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _known(name: str) -> str | None:
    """The nearest casework/worker module that ``name`` lies in (``a.b.c`` → ``a.b`` if c is an attribute)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every casework/worker module ``module`` imports, anywhere in its body."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := _known(alias.name)) is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                # ``from x import y``: y is a submodule when there is one, else a name inside x.
                target = _known(f"{source}.{alias.name}") if alias.name != "*" else _known(source)
                if target is not None:
                    found.add(target)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def _status_writes(tree: ast.AST) -> Iterator[int]:
    """Lines that assign a ``.status`` attribute, or pass ``status=`` to ``update(Case)…values(…)``."""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            for name in names:
                if isinstance(name, ast.Attribute) and name.attr == "status" and _on_case(name.value):
                    yield node.lineno
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values"
                and any(k.arg == "status" for k in node.keywords) and _updates_case(node.func.value)):
            yield node.lineno


def _on_case(value: ast.expr) -> bool:
    """Whether ``value.status`` is a case's: letters, e-mails, reminders and jobs have statuses of their own."""
    source = ast.unparse(value).lower()
    return "case" in source or source in ("absorbed", "survivor")


def _updates_case(chain: ast.expr) -> bool:
    """Whether a ``….values(…)`` call sits on ``update(Case)``."""
    node: ast.expr = chain
    while True:
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "update":
                return any(isinstance(a, ast.Name) and a.id == "Case" for a in node.args)
            node = func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return False


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_case_status_written_only_by_transitions() -> None:
    writes = [f"{MODULES[module].relative_to(ROOT)}:{line}"
              for module in MODULES if module != STATUS_WRITER
              for line in _status_writes(ast.parse(MODULES[module].read_text(encoding="utf-8")))]
    assert writes == [], "a case's status written outside transitions.py: " + ", ".join(writes)


def test_the_checks_see_what_they_look_for() -> None:
    """The scanners themselves: a cycle and each kind of status write are found."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    sample = ast.parse("case.status = x\n"
                       "case.status, case.outcome = x, y\n"
                       "session.execute(update(Case).where(Case.id == 1).values(status=x))\n"
                       "email.status = 'pending'\n"
                       "session.execute(update(Letter).values(status='failed'))\n")
    assert list(_status_writes(sample)) == [1, 2, 3]
    assert "casework.cases.models" in imports_of("casework.cases.workflow")
