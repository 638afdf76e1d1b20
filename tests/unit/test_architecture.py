"""The import boundaries of ``docs/architecture.md``, enforced on the source (no imports run).

Every module of ``app/`` belongs to one layer (longest matching prefix in :data:`LAYERS`). A
module may import modules of its own layer or of lower layers, never of a higher one; type-only
imports (``if TYPE_CHECKING:``) count too. The surfaces (HTTP API, HTML pages, live streams)
do not import one another: what two of them share lives in a lower layer (``app/deps.py``,
``app/templating.py``…).

A new module must be placed here *and* in ``docs/architecture.md`` (both are checked).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
DOC = ROOT / "docs" / "architecture.md"

#: Lowest first. A module may import its own layer and the layers before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "pure",
        (
            "app",  # the package itself: __version__
            "app.config",
            "app.schemas",
            "app.text",
            "app.forwarded",
            "app.events",
            "app.render",
            "app.media.html",
            "app.media.processing",
            "app.i18n",
            "app.studio_strings",
            "app.api_messages",
            "app.timeline",
            "app.tokens",
            "app.permissions",
            "app.passwords",
            "app.live.close_codes",
            "app.live.frames",
            "app.live.flood",
            "app.workflow",
        ),
    ),
    ("storage", ("app.store", "app.brokers", "app.media", "app.importer", "app.mailer")),
    (
        "process",
        (
            "app.hub",
            "app.catchup",
            "app.watched",
            "app.presence",
            "app.team",
            "app.state",
            "app.scheduler",
        ),
    ),
    (
        "http",
        (
            "app.deps",
            "app.auth",
            "app.templating",
            "app.page_cache",
            "app.metrics",
            "app.logging",
            "app.errors",
            "app.lifecycle",
            "app.http_limits",
            "app.accepting",
            "app.openapi",
        ),
    ),
    (
        "surfaces",
        ("app.api", "app.pages", "app.embeds", "app.studio", "app.login", "app.cards", "app.live"),
    ),
    ("entry", ("app.main", "app.cli", "app.server")),
]

#: Within the surfaces layer: groups that must not import one another.
SURFACES: dict[str, tuple[str, ...]] = {
    "HTTP API": ("app.api",),
    "HTML pages": ("app.pages", "app.embeds", "app.studio", "app.login", "app.cards"),
    "live streams": ("app.live",),
}

RANK = {prefix: rank for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _longest(module: str, prefixes: Iterable[str]) -> str | None:
    found = [p for p in prefixes if _matches(module, p)]
    return max(found, key=len) if found else None


def layer_of(module: str) -> int | None:
    prefix = _longest(module, RANK)
    return None if prefix is None else RANK[prefix]


def surface_of(module: str) -> str | None:
    if layer_of(module) != RANK["app.api"]:
        return None
    for name, prefixes in SURFACES.items():
        if _longest(module, prefixes) is not None:
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in sorted(APP.rglob("*.py"))
        if "migrations" not in p.relative_to(APP).parts
    }


def imports_of(module: str, source: str, is_package: bool) -> set[str]:
    """The ``app`` modules that ``source`` imports (absolute or relative, anywhere in it)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _matches(a.name, "app"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not _matches(target, "app"):
                continue
            # ``from app import pages`` imports the module app.pages; ``from app.x import y``
            # imports app.x (or its submodule app.x.y, which lies in the same or a lower layer
            # only if app.x.y is placed there: check the submodule when it exists).
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    found.discard(module)
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every import in ``graph`` (module → modules it imports) that breaks a rule."""
    found: list[str] = []
    for module, targets in sorted(graph.items()):
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine is None or theirs is None:
                continue  # reported by test_every_module_has_a_layer
            if theirs > mine:
                found.append(
                    f"{module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]}), "
                    "a higher layer"
                )
            ours, other = surface_of(module), surface_of(target)
            if ours and other and ours != other:
                found.append(f"{module} ({ours}) imports {target} ({other}), another surface")
    return found


def import_graph() -> dict[str, set[str]]:
    return {
        name: imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py")
        for name, path in app_modules().items()
    }


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in app_modules() if m != "app" and _longest(m, RANK) in (None, "app")]
    assert not unplaced, (
        f"place {unplaced} in LAYERS (tests/unit/test_architecture.py) and docs/architecture.md"
    )


def test_no_module_imports_a_higher_layer_or_another_surface() -> None:
    assert violations(import_graph()) == []


def test_the_rules_catch_what_they_forbid() -> None:
    """The checker is not vacuous: each kind of forbidden import is reported."""
    assert violations({"app.store.store": {"app.pages"}}) == [
        "app.store.store (storage) imports app.pages (surfaces), a higher layer"
    ]
    assert violations({"app.pages": {"app.api.entries"}}) == [
        "app.pages (HTML pages) imports app.api.entries (HTTP API), another surface"
    ]
    assert violations({"app.live.ws": {"app.pages"}}) != []
    assert violations({"app.live.close_codes": {"app.live.connection"}}) != []
    assert violations({"app.pages": {"app.embeds", "app.deps", "app.store"}}) == []
    assert violations({"app.embeds": {"app.pages", "app.templating"}}) == []


def test_imports_are_read_in_every_form() -> None:
    source = (
        "from __future__ import annotations\n"
        "import app.hub\n"
        "from app import pages\n"
        "from app.store import Store\n"
        "from . import frames\n"
        "from .close_codes import POLICY\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from app.state import AppState\n"
    )
    assert imports_of("app.live.ws", source, is_package=False) == {
        "app.hub",
        "app.pages",
        "app.store",
        "app.live.frames",
        "app.live.close_codes",
        "app.state",
    }


def doc_name(prefix: str) -> str | None:
    """How ``docs/architecture.md`` names an existing module or package (None if absent)."""
    relative = prefix.replace(".", "/")
    if (ROOT / relative).is_dir():
        return f"`{relative}/`"
    if (ROOT / relative).with_suffix(".py").is_file():
        return f"`{relative}.py`"
    return None


def test_the_architecture_document_names_every_placed_module() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [doc_name(prefix) for prefix in RANK if prefix != "app"]
    missing = [name for name in names if name is not None and name not in text]
    assert not missing, f"docs/architecture.md does not describe {missing}"
