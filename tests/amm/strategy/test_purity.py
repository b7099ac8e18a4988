"""The strategy package is pure (issue 5, STYLE habit 1): no Django, Redis, HTTP, platform,
numpy, clock or randomness imports."""
import ast
from pathlib import Path

import amm.strategy

PACKAGE = Path(amm.strategy.__file__).parent
FORBIDDEN = {"django", "redis", "httpx", "requests", "exchange", "numpy", "time", "random", "datetime", "os",
             "socket", "threading", "asyncio", "rq", "django_rq", "secrets", "uuid"}
ALLOWED_AMM = {"amm.enums", "amm.constants"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_forbidden_imports():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for module in imported_modules(path):
            root = module.split(".")[0]
            if root in FORBIDDEN:
                offenders.append(f"{path.name}: {module}")
            if root == "amm" and module not in ALLOWED_AMM and not module.startswith("amm.strategy"):
                offenders.append(f"{path.name}: {module}")
    assert offenders == []
