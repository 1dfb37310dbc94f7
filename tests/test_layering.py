"""The package's layering: every module uses only modules below it, so its imports form no cycle,
counting the imports made inside functions (deferred for start-up time, not to hide a cycle).
One module alone imports durable-rules.

Read from the source (``ast``), so a test of the import graph needs no module imported.
"""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ENGINE.rglob("*.py"):
        parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(nodes: list[ast.stmt]):
    """Every import statement, at any depth, but those only a type checker runs."""
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _imports(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for name in ("body", "orelse", "finalbody", "handlers"):
            kids = getattr(node, name, None)
            if isinstance(kids, list):
                yield from _imports(kids)


def _uses(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The engine modules ``name`` imports (``from pkg import module`` uses the module only: the
    package's own ``__init__`` is run, but its names are not used)."""
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.ImportFrom):
            if node.level or not node.module or not node.module.startswith("engine"):
                continue
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            out |= subs
            if len(subs) < len(node.names) and node.module in modules:
                out.add(node.module)
        else:
            out |= {a.name for a in node.names} & modules.keys()
    out.discard(name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _uses(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            visit(u)
    return found


def test_the_engine_modules_import_each_other_without_a_cycle():
    graph = _graph()
    assert len(graph) > 60 and graph["engine.api"]  # the walk found the package and its imports
    assert "engine.distributed.pool" in graph["engine.cli"]  # imports inside functions count
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_deferred_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    tree = ast.parse("def f():\n    from engine.api import Engine\nif TYPE_CHECKING:\n    import engine.case\n")
    got = [ast.unparse(n) for n in _imports(tree.body)]
    assert got == ["from engine.api import Engine"]


def test_the_batch_knows_no_cluster_and_the_evaluation_no_batch():
    graph = _graph()
    below = {"engine.batch.run", "engine.batch.parallel", "engine.batch.reuse"}
    for name in below:
        assert not {m for m in graph[name] if m.startswith("engine.distributed")}, name
    for name in ("engine.evaluation.evaluator", "engine.evaluation.plancode", "engine.evaluation.resolve"):
        assert not {m for m in graph[name] if m.startswith(("engine.batch", "engine.streams", "engine.distributed"))}, name


def test_one_module_alone_imports_durable_rules():
    importers = set()
    for name, path in _modules().items():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8")).body):
            roots = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(r == "durable" or r.startswith("durable.") for r in roots):
                importers.add(name)
    assert importers == {"engine.durable.safe_host"}
