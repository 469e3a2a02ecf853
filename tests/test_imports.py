"""No import circles among the project's modules.

Static analysis with `ast` of every import statement, at module level and inside functions alike
(a lazy import that closes a circle still ties the two modules together). `from pkg import name`
counts as an import of the submodule `pkg.name` when that module exists, else of `pkg`; a module's
own parent packages, which Python runs first anyway, are not counted as edges.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def package_folder(package: str, package_dir: dict[str, str], repo: Path = REPO) -> Path:
    """The source folder of a package: by the longest package-dir prefix, else by its name."""
    prefix = max((p for p in package_dir if package == p or package.startswith(p + ".")), key=len, default="")
    base = repo / package_dir[prefix] if prefix else repo
    rest = package[len(prefix):].lstrip(".")
    return base.joinpath(*rest.split(".")) if rest else base


def project_modules(repo: Path = REPO) -> dict[str, Path]:
    """Module name -> source file, for every package pyproject lists (package-dir mapping applied)."""
    setuptools = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    modules = {}
    for package in setuptools["packages"]:
        for path in package_folder(package, setuptools["package-dir"], repo).glob("*.py"):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that `name` (stored at `path`) imports anywhere in its body."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    found = set()
    for target in targets:
        while target and target not in modules:  # `import a.b.c` where only a.b is ours, or a class name
            target = target.rpartition(".")[0]
        if target and target != name and not name.startswith(target + "."):
            found.add(target)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def test_the_project_has_no_import_circle():
    graph = import_graph()
    assert len(graph) > 50  # every package was found, mapped ones included
    assert "harmony_bench.metrics.base" in graph and "harmony_bench.case_set" in graph
    found = circles(graph)
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_the_checker_finds_a_circle_through_a_function_level_import(tmp_path):
    """Known answer: a -> b at module level, b -> a inside a function, c -> a only."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from . import a\n    return a\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    modules = {"pkg": pkg / "__init__.py", **{f"pkg.{m}": pkg / f"{m}.py" for m in "abc"}}
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert circles(graph) == [["pkg.a", "pkg.b"]]
