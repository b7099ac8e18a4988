"""The clearing engine's package (exchange/services/clearing/): each concern is a mixin over
one `ClearingState`, composed in `Clearing`. Mixins that shared a name would silently override
one another, and a concern importing another concern (or the composition) would tangle them."""
import ast
from pathlib import Path

from exchange.services import clearing
from exchange.services.clearing.engine import Clearing
from exchange.services.clearing.state import ClearingState

PACKAGE = Path(clearing.__file__).parent
CONCERNS = {"locking", "ledger", "order_entry", "matching", "pairs", "settlement", "flush"}
MAY_IMPORT = {  # module -> the package's modules it may import
    "rules": set(),
    "reads": {"rules"},
    "state": set(),
    **{concern: {"rules", "reads", "state"} for concern in CONCERNS},
    "engine": CONCERNS,
    "__init__": {"engine", "flush", "reads", "rules"},
}


def test_no_concern_overrides_another():
    seen: dict[str, str] = {}
    for concern in Clearing.__mro__[1:]:
        if concern in (ClearingState, object):
            continue
        for name in vars(concern):
            if name.startswith("__") and name != "__init__":
                continue
            assert name not in seen, f"{seen[name]}.{name} hides {concern.__name__}.{name}"
            seen[name] = concern.__name__
    assert seen["__init__"] == "Locking"


def test_concerns_import_only_the_shared_modules():
    prefix = "exchange.services.clearing."
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(MAY_IMPORT)
    for path in PACKAGE.glob("*.py"):
        imported = {node.module.removeprefix(prefix) for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix)}
        assert imported <= MAY_IMPORT[path.stem], f"{path.name} imports {sorted(imported - MAY_IMPORT[path.stem])}"
