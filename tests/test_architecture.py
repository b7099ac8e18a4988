"""One-way imports (ARCHITECTURE.md): the import-linter contracts in `.importlinter` hold,
and break on a reverse import; no import cycle in amm/ even counting imports inside
functions; no import inside a function but those Django's app loading forces."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AMM = ROOT / "amm"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("amm", "exchange", "ammproject", "sim")
APP_LOADING = "app loading"  # the comment an allowed function-local import carries


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 5 kept, 0 broken." in result.stdout, result.stdout[-2000:]


def test_a_reverse_import_breaks_the_layers(tmp_path):
    """The state layer importing the runtime (upwards) is refused, by name."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    keys = tmp_path / "amm" / "state" / "keys.py"
    keys.write_text(keys.read_text() + "\nimport amm.runtime  # noqa: E402 - the trial's reverse import\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "amm.state is not allowed to import amm.runtime" in result.stdout, result.stdout[-3000:]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _amm_sources() -> dict[str, Path]:
    return {_module_name(p): p for p in AMM.rglob("*.py") if "migrations" not in p.parts}


def _imports(path: Path, module: str) -> list[tuple[ast.AST, list[str], bool]]:
    """(node, imported names, inside a function?) for every import statement of a file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.append((child, [a.name for a in child.names], in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                    package = package[:len(package) - child.level + 1]
                    base = ".".join(package + ([base] if base else []))
                found.append((child, [f"{base}.{a.name}" for a in child.names] + [base], in_function))
            visit(child, inside)

    visit(tree, False)
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in (`amm.state.keys.X` -> `amm.state.keys`)."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def test_no_function_local_imports_in_amm_but_those_app_loading_forces():
    offenders = []
    for module, path in _amm_sources().items():
        lines = path.read_text().splitlines()
        for node, _, in_function in _imports(path, module):
            if in_function and APP_LOADING not in lines[node.lineno - 1]:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert offenders == [], "\n".join(offenders)


def _targets(node: ast.AST, names: list[str], modules: dict[str, Path]) -> set[str]:
    """The modules one import statement loads, as import-linter counts them: `from
    amm.state import keys` -> amm.state.keys; `from amm.state import X` -> amm.state."""
    if isinstance(node, ast.ImportFrom):
        *members, base = names
        return {m if m in modules else _resolve(base, modules) for m in members} - {None}
    return {_resolve(n, modules) for n in names} - {None}


def test_no_import_cycle_in_amm_counting_imports_inside_functions():
    modules = _amm_sources()
    graph = {module: set() for module in modules}
    for module, path in modules.items():
        for node, names, _ in _imports(path, module):
            graph[module] |= _targets(node, names, modules) - {module}
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    components.append(sorted(component))
    return components


def _app_sources(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts and p.name != "conf.py"]


def test_every_app_setting_is_read_through_its_apps_conf_module():
    """`amm_settings.AMM_X` / `exchange_settings.EXCHANGE_X` only: no `getattr(settings, ...)`
    with a default written again, no Django settings read of an app's setting."""
    import re

    direct = re.compile(r"getattr\(settings,|(?<![\w.\"])settings\.(AMM|EXCHANGE)_")  # a quoted name is text
    offenders = [f"{p.relative_to(ROOT)}:{n}" for app in ("amm", "exchange", "sim") for p in _app_sources(app)
                 for n, line in enumerate(p.read_text().splitlines(), 1) if direct.search(line)]
    assert offenders == []


def test_every_app_setting_read_is_declared_once_with_a_default():
    import re

    from amm.conf import SETTINGS as AMM_SETTINGS
    from exchange.conf import SETTINGS as EXCHANGE_SETTINGS

    read = {(m.group(1), m.group(2)) for app in ("amm", "exchange", "sim") for p in _app_sources(app)
            for m in re.finditer(r"(amm|exchange)_settings\.([A-Z_]+)", p.read_text())}
    undeclared = sorted(name for app, name in read if name not in (AMM_SETTINGS if app == "amm" else EXCHANGE_SETTINGS))
    assert read and undeclared == []
