"""Checks the import graph of pyjitwasm: the stages' layering and no cycles between modules.

Every import counts, function-level ones included, since an import moved into a function
still ties the two modules together. Run from the checkout root: ``python tools/check_imports.py``.
Exit status 1 lists each violation.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pyjitwasm"

# What each stage may import from the others. wasm/ and ir/ are the roots; translate/
# builds IR from wasm; jit/ compiles IR and knows nothing of wasm; runtime/ drives a
# module through translation and the back end and owns the objects code runs on; interp/
# and libcalls/ work on those objects; the API package ("api") sits on top of everything.
ALLOWED: dict[str, set[str]] = {
    "wasm": set(),
    "ir": set(),
    "translate": {"wasm", "ir"},
    "jit": {"ir"},
    "interp": {"wasm", "runtime"},
    "runtime": {"wasm", "ir", "translate", "jit", "baseline", "x64"},
    # tier 0 straight to LLVM text: reads wasm, the vmctx layout and libcalls, writes
    # for jit/'s module text; only the compile driver (runtime/) uses it
    "baseline": {"wasm", "ir", "translate", "jit"},
    # tier 0 straight to x86-64 machine code (the default): the same inputs, writes objects
    # for jit/'s loader; only the compile driver (runtime/) uses it
    "x64": {"wasm", "ir", "translate", "jit"},
    "libcalls": {"wasm", "translate", "runtime"},
    "api": {"wasm", "ir", "translate", "jit", "runtime", "libcalls", "interp", "baseline",
            "x64"},
}
STAGES = set(ALLOWED) - {"api"}


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name, read through the stage links."""
    files: dict[str, Path] = {}
    base = ROOT / PACKAGE
    # rglob does not descend into the stage links; os.walk can be told to.
    paths = [Path(folder, file) for folder, _, names in os.walk(base, followlinks=True)
             for file in names if file.endswith(".py")]
    for path in sorted(paths):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join([PACKAGE, *parts])] = path
    return files


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else "api"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def violations() -> list[str]:
    files = module_files()
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        # A package's __init__ importing its own submodules is the package, not a cycle.
        graph[name] = {m for m in imported_modules(name, path, known)
                       if not (path.name == "__init__.py" and m.startswith(name + "."))}
    problems: list[str] = []
    for name, targets in sorted(graph.items()):
        stage = stage_of(name)
        for target in sorted(targets):
            other = stage_of(target)
            if other != stage and other not in ALLOWED[stage]:
                problems.append(f"layering: {name} ({stage}) imports {target} ({other})")
    for cycle in find_cycles(graph):
        problems.append("cycle: " + " <-> ".join(cycle))
    return problems


def main() -> int:
    problems = violations()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import problem(s)")
        return 1
    print("imports: layering and cycles OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
