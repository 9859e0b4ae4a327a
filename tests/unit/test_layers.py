"""The folders are the architecture: each layer imports only the layers it may.

Read from the source with `ast`, so a forbidden import fails here before anyone runs it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IO_LIBRARIES = (
    "aiobotocore",
    "aiohttp",
    "aiosqlite",
    "asyncmy",
    "boto3",
    "botocore",
    "fastapi",
    "httpx",
    "jinja2",
    "socket",
    "sqlalchemy",
    "starlette",
    "subprocess",
    "urllib.request",
)
"""What does I/O, or would tie the rules to a framework."""

MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "shared.domain": ("shared.domain",),
    "shared.views": (
        "shared.domain",
        "shared.views",
        "shared.adapters.db",
        "shared.adapters.topology",
    ),
    "shared.service_layer": (
        "shared.domain",
        "shared.service_layer",
        "shared.views",
        "shared.adapters.db",
        "shared.consumer.outcomes",  # the handler contract: Retry, Reject
        "shared.observability",
    ),
    "shared.adapters": (
        "shared.domain",
        "shared.adapters",
        "shared.config",
        "shared.service_layer.unit_of_work",
        "shared.observability",
    ),
    "shared.consumer": (
        "shared.domain",
        "shared.consumer",
        "shared.service_layer.unit_of_work",
        "shared.adapters.publisher",
        "shared.adapters.topology",
        "shared.observability",
    ),
    "shared.observability": ("shared.observability",),
    "shared.bootstrap": ("shared.",),
    "services": ("shared.", "services."),
    "infra": ("shared.adapters", "shared.config", "shared.domain", "infra."),
}
"""Layer (module prefix) → the prefixes of this project it may import from. Longest match wins."""

NEVER: dict[str, tuple[str, ...]] = {
    "shared.bootstrap": ("shared.entrypoints", "shared.devtools", "services", "infra"),
    "shared.service_layer": ("shared.adapters.db.engine",),
    "services": ("shared.devtools", "shared.entrypoints", "infra"),
}
"""Prefixes a layer may not import even where MAY_IMPORT is broad."""

OURS = ("shared", "services", "infra")


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer_of(module: str) -> str | None:
    if module.endswith(".__main__"):
        return None  # `python -m services.<name>` is an entrypoint
    matches = [layer for layer in MAY_IMPORT if module == layer or module.startswith(layer + ".")]
    return max(matches, key=len) if matches else None


def _within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(
        prefix if prefix.endswith(".") else prefix + "."
    )


@pytest.mark.parametrize(("module", "path"), modules(), ids=lambda v: str(v))
def test_each_module_imports_only_what_its_layer_may(module: str, path: Path) -> None:
    layer = layer_of(module)
    if layer is None:
        return  # entrypoints and devtools sit outside every layer and may import anything
    ours = {name for name in imports(path) if name.split(".")[0] in OURS}
    allowed, never = MAY_IMPORT[layer], NEVER.get(layer, ())
    wrong = sorted(
        name
        for name in ours
        if not any(_within(name, p) for p in allowed) or any(_within(name, p) for p in never)
    )
    # `from shared.adapters import outbox` names the package and the module: judge the module.
    wrong = [w for w in wrong if not any(o.startswith(w + ".") for o in ours)]
    assert not wrong, f"{module} ({layer}) imports {wrong}"


@pytest.mark.parametrize(
    ("module", "path"), [m for m in modules() if layer_of(m[0]) == "shared.domain"], ids=str
)
def test_the_domain_does_no_io(module: str, path: Path) -> None:
    used = {name for name in imports(path) if name.startswith(IO_LIBRARIES)}
    assert not used, f"{module} imports {sorted(used)}"
