"""The project's import graph, read from the source: no cycle anywhere (imports inside
functions count too), `domain/` stays pure, and nothing but the app factory imports a route or
a page module (they call commands; commands never call them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "domain", "store", "workflows", "activities", "worker", "relais", "bench")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, wherever in the file."""
    tree = ast.parse(path.read_text("utf-8"))
    skipped = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and _type_checking_only(block)
        for n in ast.walk(block)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            # The longest known module the name starts with (`a.b.c` → `a.b` if `c` is a
            # function of module `a.b`).
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items()}


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_graph_sees_the_imports_it_must():
    g = graph()
    assert "api.commands.recruitment" in g["api.routes.recruitment"]
    assert "api.deps" in g["api.pages.dashboard"]
    # an import inside a function counts: `relais dev` imports the app when it starts it
    assert "api.app" in g["worker.dev"]


def test_no_module_imports_itself_back():
    assert _cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_domain_is_pure():
    for module, imported in graph().items():
        if module.startswith("domain"):
            assert all(m.startswith("domain") for m in imported), (module, imported)


def test_only_the_app_imports_routes_and_pages():
    # The pages' shared helpers (templates, formats, history sentences), not pages (forms,
    # picker: the forms' shared helpers); and the bookings' week grid, read by its page.
    shared = {
        "api.pages.render",
        "api.pages.formats",
        "api.pages.history",
        "api.pages.booking_week",
        "api.pages.forms",
        "api.pages.picker",
    }
    for module, imported in graph().items():
        for m in imported - shared:
            if m.startswith(("api.routes.", "api.pages.")):
                assert module == "api.app", f"{module} imports {m}: call a command instead"
