"""The package layout's dependency rules, checked over the source with :mod:`ast`.

Every import counts: module level, inside functions, under ``if TYPE_CHECKING:``, relative
imports (resolved against the importing module's package) and
``importlib.import_module("…")`` / ``__import__("…")`` calls with a literal name. Nothing is
imported to do the check, so it runs on the base install.

The rules are the tables right below: which layer each module is in (``LAYERS``; a module
imports only its own layer or lower), the SDK room (``client/*`` imports layer 0 and
itself only), core modules kept apart (``MUST_NOT_IMPORT``), the command line's lazy
imports, the rooms' extra-free ``__init__`` modules, and which rooms may import each
third-party package (``THIRD_PARTY_ROOMS``; layers 0 and 1 import none, but for one guarded
optional import). A module that no entry places is a failure: a new module must be given a
layer. Every failure names the file, the line, the import and the rule it breaks.

A pattern is a module's path inside the package without ``.py`` (``"smtp/config"``,
``"cli/__init__"`` for a package itself, ``"__init__"`` for ``authmail_relay``), or
``"room/*"`` for every module under ``room/``. An exact entry wins over a ``room/*`` one;
a longer ``room/*`` prefix wins over a shorter one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

pytestmark = pytest.mark.library

PACKAGE = "authmail_relay"
SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src" / PACKAGE

SHARED, PURE, EDGE, CORE, ENTRY, SDK = "0 shared", "1 pure", "2 edges", "3 core", "4 entry", "sdk"

# ---------------------------------------------------------------------------------------
# The rules. Layers in order: a module may import modules of its own layer or lower.
# ---------------------------------------------------------------------------------------
LAYERS: dict[str, tuple[str, ...]] = {
    # The shared vocabulary every part speaks; standard library only.
    SHARED: (
        "exceptions",
        "vocabulary",
        "ids",
        "redaction",
        "envfile",
        "file_modes",
        "process_identity",
        "backoff",
    ),
    # Library mode and the service's pure core: standard library only (Python 3.10).
    # ``__main__`` only calls ``cli.main``, which is pure; ``python -m authmail_relay test``
    # works on the base install.
    PURE: (
        "__init__",
        "__main__",
        "settings",
        "sender",
        "notifiers",
        "retry",
        "lanes",
        "urgency",
        "status_waits",
        "task_pool",
        "periodic",
        "compose_work",
        "retention",
        "mail/*",
        "smtp/__init__",
        "smtp/config",
        "smtp/outcome",
        "smtp/circuit_breaker",
        "smtp/transaction",
        "webhooks/__init__",
        "webhooks/records",
        "webhooks/payloads",
        "webhooks/signing",
        "webhooks/retry",
        "webhooks/ssrf",
        "webhooks/targets",
        "dkim/nameservers",
        "trust/*",
        "oversight/*",
        "cli/__init__",
        "cli/templates",
        "cli/testmail",
        "client/_args",
        "client/_decode",
        "client/_decode_resources",
        "client/_models",
        "client/_resources",
        # Old top-level paths kept for one minor release; each re-exports a pure module.
        "branding",
        "previews",
        "wrapper",
        "overrides",
        "locales",
        "composing",
        "auth_mail",
        "smtp_config",
    ),
    # Adapters to the outside world, each behind its extra.
    EDGE: (
        "db/*",
        "smtp/session",
        "smtp/pool",
        "smtp/upstreams",
        "dkim/*",
        "trust/secrets_at_rest",
        "webhooks/http",
    ),
    # The service core that ties the edges together.
    CORE: (
        "relay",
        "worker",
        "delivery",
        "webhooks/dispatcher",
        "background",
        "audit_checkpoints",
        "oversight_sweep",
    ),
    # Entry points: the HTTP API, the command line and the MCP server; they may import
    # each other.
    ENTRY: ("api/*", "cli/*", "mcp/*"),
    # The HTTP SDK: ships beside the server, imports only the shared layer and itself.
    SDK: (
        "client/__init__",
        "client/_client",
        "client/_base",
        "client/_calls",
        "client/_calls_reads",
    ),
}
ORDER = (SHARED, PURE, EDGE, CORE, ENTRY)

# Entries for modules that may not exist yet (planned, or kept only for a while); every
# other entry must name a module that exists (a rename must not leave a stale rule behind).
NOT_YET_PRESENT: frozenset[str] = frozenset()

# Modules of one layer that must not import each other, and why. In the core, the relay is
# what the two background loops call, and the loops are independent of each other (the
# delivery worker drags aiosmtplib and dkimpy in; the webhook dispatcher needs neither).
MUST_NOT_IMPORT: dict[str, tuple[str, ...]] = {
    "relay": ("worker", "delivery", "webhooks/dispatcher"),
    "delivery": ("worker", "webhooks/dispatcher"),
    "worker": ("webhooks/dispatcher",),
    "webhooks/dispatcher": ("worker", "delivery"),
}

# The SDK room: its modules import only layer 0 and each other, and nothing else imports
# the modules of layer SDK. Importing a module's own enclosing package (e.g. the package's
# ``__version__``) is always allowed: Python has loaded that package before the module.
CLIENT_ROOM = "client/*"
# Adapters built on the SDK: every MCP tool is an API call made through the client, so
# they may import its public package (``client/__init__``), and nothing deeper.
SDK_USERS = ("mcp/*", "cli/mcp")

# The one layer-1 module allowed to import higher layers, and only inside a function (the
# command line loads a command's extras when that command runs).
LAZY_ENTRY_IMPORTER = "cli/__init__"

# Package ``__init__`` modules that must import nothing needing an extra: a room of
# library-mode modules must be importable on the base install.
EXTRA_FREE_INITS = (
    "mail/__init__",
    "smtp/__init__",
    "dkim/__init__",
    "webhooks/__init__",
    "trust/__init__",
)

# Each third-party package (top-level import name) and the modules that may import it.
THIRD_PARTY_ROOMS: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("db/*",),
    "alembic": ("db/*",),
    "asyncpg": ("db/*",),
    "aiosmtplib": ("smtp/session", "smtp/pool", "smtp/upstreams"),
    "cryptography": ("dkim/*", "trust/secrets_at_rest"),
    "dkim": ("dkim/*",),
    "dns": ("dkim/*",),
    "httpx": (
        "webhooks/http",
        "webhooks/dispatcher",
        "client/_client",
        "client/_base",
        "mcp/connect",
    ),
    "httpcore": ("webhooks/http", "webhooks/dispatcher", "client/_client", "client/_base"),
    "fastapi": ("api/*",),
    "starlette": ("api/*", "mcp/transport"),
    "pydantic": ("api/*", "mcp/*"),
    "mcp": ("mcp/*",),
    "uvicorn": ("cli/*",),
    "aiosmtpd": ("cli/*",),
    "idna": ("mail/domains",),
}

# Third-party imports a layer-0/1 module may make: only inside a function, under
# ``try: … except ImportError`` (library mode runs without the package).
GUARDED_OPTIONAL = {("mail/domains", "idna")}

# Known violations, each with the change that removes it, as ``"<module> -> <import>"``. A
# violation not listed here fails, and so does an entry that no longer occurs: remove an
# entry when its fix lands, until the set is empty.
PENDING: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------------------
# The checker.
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in one module."""

    module: str  # the importer's key, e.g. "dkim/store"
    path: Path
    line: int
    target: str  # absolute dotted name, e.g. "authmail_relay.relay" or "sqlalchemy.orm"
    statement: str  # the import as written, for messages
    in_function: bool
    type_checking: bool
    import_error_guarded: bool

    @property
    def root(self) -> str:
        return self.target.split(".")[0]


@dataclass(frozen=True)
class Violation:
    """One broken rule, with everything needed to find and understand it."""

    imp: Import
    rule: str

    @property
    def key(self) -> str:
        return f"{self.imp.module} -> {self.imp.target}"

    def __str__(self) -> str:
        return f"{self.imp.path}:{self.imp.line}: `{self.imp.statement}`: {self.rule}"


def module_keys(root: Path) -> dict[str, Path]:
    """Every module under ``root`` (the package directory), by key."""
    keys = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        keys["/".join(rel.parts)] = path
    return keys


def dotted(key: str) -> str:
    """``"cli/__init__"`` → ``"authmail_relay.cli"``; ``"db/outbox"`` → ``"…db.outbox"``."""
    parts = key.split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        isinstance(kind, ast.Name) and kind.id in {"ImportError", "ModuleNotFoundError"}
        for kind in kinds
    )


def _literal_import_call(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` or ``__import__("x")``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def _resolve_relative(importer: str, name: str, level: int) -> str:
    """The absolute name of ``from <level dots><name> import …`` inside module ``importer``."""
    if level == 0:
        return name
    here = dotted(importer).split(".")
    package = here if importer.split("/")[-1] == "__init__" else here[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


@dataclass(frozen=True)
class _Context:
    """Where a statement runs: in a function, only for the type checker, under a guard."""

    in_function: bool = False
    type_checking: bool = False
    import_error_guarded: bool = False


def _walk(nodes: Iterable[ast.AST], ctx: _Context) -> Iterator[tuple[ast.AST, _Context]]:
    """Every node in ``nodes`` and under them, each with the context it runs in."""
    for node in nodes:
        yield node, ctx
        inner = replace(ctx, in_function=True) if isinstance(node, _FUNCTIONS) else ctx
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.body, replace(inner, type_checking=True))
            yield from _walk(node.orelse, inner)
        elif isinstance(node, ast.Try):
            catches = any(_catches_import_error(h) for h in node.handlers)
            guarded = replace(inner, import_error_guarded=inner.import_error_guarded or catches)
            yield from _walk(node.body, guarded)
            yield from _walk([*node.handlers, *node.orelse, *node.finalbody], inner)
        else:
            yield from _walk(ast.iter_child_nodes(node), inner)


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def imports_of(key: str, path: Path, known: Iterable[str]) -> list[Import]:
    """Every import ``path`` (module ``key``) makes; ``known`` holds the tree's dotted names.

    ``from X import n`` targets the module ``X.n`` when that is a module of the tree, else
    ``X`` itself.
    """
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def add(node: ast.stmt | ast.expr, target: str, ctx: _Context) -> None:
        found.append(
            Import(
                key,
                path,
                node.lineno,
                target,
                ast.unparse(node),
                ctx.in_function,
                ctx.type_checking,
                ctx.import_error_guarded,
            )
        )

    for node, ctx in _walk(tree.body, _Context()):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name, ctx)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(key, node.module or "", node.level)
            if base == "__future__":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(node, sub if sub in known else base, ctx)
        elif isinstance(node, ast.Call):
            name = _literal_import_call(node)
            if name is not None:
                if name.startswith("."):
                    level = len(name) - len(name.lstrip("."))
                    name = _resolve_relative(key, name.lstrip("."), level)
                add(node, name, ctx)
    return found


def _matches(key: str, pattern: str) -> bool:
    return key.startswith(pattern[:-1]) if pattern.endswith("/*") else key == pattern


def _specificity(pattern: str) -> tuple[int, int]:
    return (0, len(pattern)) if pattern.endswith("/*") else (1, len(pattern))


def layer_of(key: str) -> str | None:
    """The layer of module ``key``: its most specific matching entry, or None."""
    best: tuple[tuple[int, int], str] | None = None
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if _matches(key, pattern) and (best is None or _specificity(pattern) > best[0]):
                best = (_specificity(pattern), layer)
    return None if best is None else best[1]


def _internal_key(target: str, keys: dict[str, str]) -> str | None:
    """The key of the tree's module that ``target`` names (its longest known prefix)."""
    parts = target.split(".")
    while parts:
        key = keys.get(".".join(parts))
        if key is not None:
            return key
        parts.pop()
    return None


def _rank(layer: str) -> int:
    return ORDER.index(layer)


def _check_internal(imp: Import, own: str, target: str, theirs: str) -> list[str]:
    """The rules an import of the tree's module ``target`` (layer ``theirs``) breaks."""
    broken: list[str] = []
    in_client = _matches(imp.module, CLIENT_ROOM)
    if dotted(imp.module).startswith(dotted(target) + "."):
        return broken  # the importer's own enclosing package
    if target in MUST_NOT_IMPORT.get(imp.module, ()):
        broken.append(f"{imp.module} and {target} are kept apart (see MUST_NOT_IMPORT)")
    if theirs == SDK:
        sdk_user = any(_matches(imp.module, user) for user in SDK_USERS)
        if sdk_user and target == "client/__init__":
            pass
        elif sdk_user:
            broken.append(f"an SDK user imports only the client's public package ({target})")
        elif not in_client:
            broken.append(f"only client/* and SDK_USERS import the HTTP SDK ({target})")
        elif own != SDK:
            broken.append(f"layer {own} imports the HTTP SDK ({target})")
    elif in_client:
        if theirs != SHARED and not _matches(target, CLIENT_ROOM):
            broken.append(f"the client (SDK) imports only layer 0 and client/*, not {target}")
    elif _rank(theirs) > _rank(own):
        lazy_entry = imp.module == LAZY_ENTRY_IMPORTER and imp.in_function and not imp.type_checking
        if not lazy_entry:
            why = f"layer {own} imports layer {theirs} ({target})"
            if imp.module == LAZY_ENTRY_IMPORTER:
                why += f"; {LAZY_ENTRY_IMPORTER} may import it only inside a function"
            broken.append(why)
    if imp.module in EXTRA_FREE_INITS and theirs not in (SHARED, PURE):
        broken.append(f"a room's __init__ imports nothing needing an extra ({target})")
    return broken


def _check_third_party(imp: Import, own: str | None) -> list[str]:
    """The rules an import of a package from outside the standard library breaks."""
    rooms = THIRD_PARTY_ROOMS.get(imp.root)
    if rooms is None:
        return [f"{imp.root} is a third-party package with no rooms in THIRD_PARTY_ROOMS"]
    broken: list[str] = []
    if not any(_matches(imp.module, room) for room in rooms):
        broken.append(f"{imp.root} is imported only in {', '.join(rooms)}")
    if own in (SHARED, PURE):
        if (imp.module, imp.root) not in GUARDED_OPTIONAL:
            broken.append(f"layer {own} imports no third-party package ({imp.root})")
        elif not (imp.in_function and imp.import_error_guarded and not imp.type_checking):
            broken.append(
                f"{imp.root} is optional here: import it inside a function, "
                "under try/except ImportError"
            )
    if imp.module in EXTRA_FREE_INITS:
        broken.append(f"a room's __init__ imports nothing needing an extra ({imp.root})")
    return broken


def check_import(imp: Import, by_dotted: dict[str, str]) -> list[str]:
    """The rules ``imp`` breaks (empty when it is allowed)."""
    own = layer_of(imp.module)
    if imp.root == PACKAGE:
        target = _internal_key(imp.target, by_dotted)
        theirs = None if target is None else layer_of(target)
        if own is None or target is None or theirs is None:
            return []  # an unplaced module is reported once, by itself
        return _check_internal(imp, own, target, theirs)
    if imp.root in sys.stdlib_module_names:
        return []
    return _check_third_party(imp, own)


def check_tree(root: Path) -> list[Violation]:
    """Every rule broken by the modules under ``root`` (the package directory)."""
    keys = module_keys(root)
    by_dotted = {dotted(key): key for key in keys}

    def shown(path: Path) -> Path:  # "src/authmail_relay/relay.py" for the real tree
        return path.relative_to(root.parent.parent)

    violations: list[Violation] = []
    for key, path in keys.items():
        if layer_of(key) is None:
            here = Import(key, shown(path), 1, dotted(key), "(module)", False, False, False)
            violations.append(Violation(here, "no entry of LAYERS places this module"))
        for imp in imports_of(key, path, by_dotted):
            imp = replace(imp, path=shown(path))
            violations.extend(Violation(imp, rule) for rule in check_import(imp, by_dotted))
    return violations


def _report(violations: Iterable[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


# ---------------------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------------------
def test_the_source_keeps_the_layer_rules() -> None:
    """Apart from ``PENDING``, no module breaks a rule."""
    new = [v for v in check_tree(SOURCE_ROOT) if v.key not in PENDING]
    assert not new, "dependency rules broken:\n" + _report(new)


def test_pending_lists_only_violations_that_still_exist() -> None:
    """A fixed violation leaves ``PENDING``, so the set cannot hide it coming back."""
    stale = PENDING - {v.key for v in check_tree(SOURCE_ROOT)}
    assert not stale, f"no longer broken, remove from PENDING: {sorted(stale)}"


def test_every_rule_names_a_module() -> None:
    """A renamed or removed module does not leave a rule that checks nothing."""
    keys = set(module_keys(SOURCE_ROOT))
    placed = [p for patterns in LAYERS.values() for p in patterns]
    assert len(placed) == len(set(placed)), "a pattern is in two layers"
    named = [
        *placed,
        *(room for rooms in THIRD_PARTY_ROOMS.values() for room in rooms),
        *MUST_NOT_IMPORT,
        *(other for others in MUST_NOT_IMPORT.values() for other in others),
        *EXTRA_FREE_INITS,
        *(module for module, _ in GUARDED_OPTIONAL),
        LAZY_ENTRY_IMPORTER,
    ]
    stale = sorted(
        {
            pattern
            for pattern in named
            if pattern not in NOT_YET_PRESENT and not any(_matches(k, pattern) for k in keys)
        }
    )
    assert not stale, f"rules naming no module: {stale}"


def _write(root: Path, files: dict[str, str]) -> Path:
    package = root / PACKAGE
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_the_checker_reports_deliberate_violations(tmp_path: Path) -> None:
    """Each kind of violation, planted in a synthetic tree, is reported with its place."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "relay.py": "class Relay: ...\n",
            "webhooks/__init__.py": "",
            "webhooks/dispatcher.py": "from ..worker import new_id\n",
            "exceptions.py": "",
            "mail/__init__.py": "",
            "mail/database.py": "import sqlalchemy\n",
            "mail/core.py": "from ..relay import Relay\n",
            "mail/late.py": "def f():\n    from authmail_relay import relay\n",
            "mail/typed.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from ..db.engine import Engine\n"
            ),
            "mail/dynamic.py": (
                "import importlib\nimportlib.import_module('authmail_relay.worker')\n"
            ),
            "mail/domains.py": "import idna\n",
            "db/__init__.py": "",
            "db/engine.py": "import sqlalchemy\n",
            "worker.py": "",
            "client/__init__.py": "",
            "client/_client.py": (
                "from .. import relay\nfrom .. import exceptions\nfrom .. import __version__\n"
            ),
            "mystery.py": "",
        },
    )
    found: dict[tuple[str, int, str], str] = {}
    for v in check_tree(package):
        place = (v.imp.module, v.imp.line, v.imp.target)
        found[place] = found.get(place, "") + str(v) + "\n"

    assert "sqlalchemy is imported only in db/*" in found["mail/database", 1, "sqlalchemy"]
    assert "layer 1 pure imports no third-party package" in found["mail/database", 1, "sqlalchemy"]
    assert (
        "layer 1 pure imports layer 3 core (relay)" in found["mail/core", 1, "authmail_relay.relay"]
    )
    assert (
        "mail/core.py:1: `from ..relay import Relay`"
        in found["mail/core", 1, "authmail_relay.relay"]
    )
    assert ("mail/late", 2, "authmail_relay.relay") in found
    assert ("mail/typed", 3, "authmail_relay.db.engine") in found
    assert ("mail/dynamic", 2, "authmail_relay.worker") in found
    assert (
        "webhooks/dispatcher and worker are kept apart"
        in found["webhooks/dispatcher", 1, "authmail_relay.worker"]
    )
    assert "inside a function, under try/except ImportError" in found["mail/domains", 1, "idna"]
    assert (
        "the client (SDK) imports only layer 0 and client/*, not relay"
        in found["client/_client", 1, "authmail_relay.relay"]
    )
    assert "no entry of LAYERS places this module" in found["mystery", 1, "authmail_relay.mystery"]
    # Allowed imports are not reported.
    assert ("client/_client", 2, "authmail_relay.exceptions") not in found
    assert ("client/_client", 3, "authmail_relay") not in found
    assert ("db/engine", 1, "sqlalchemy") not in found


def test_the_checker_accepts_the_allowed_shapes(tmp_path: Path) -> None:
    """The guarded optional import and the command line's lazy entry imports pass."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "mail/__init__.py": "",
            "mail/domains.py": (
                "def _idna():\n    try:\n        import idna\n"
                "    except ImportError:\n        return None\n    return idna\n"
            ),
            "cli/__init__.py": "def main():\n    from . import service\n",
            "cli/service.py": "import uvicorn\nfrom ..api import app\n",
            "api/__init__.py": "import fastapi\napp = None\n",
        },
    )
    assert check_tree(package) == []


def test_the_command_line_imports_entry_points_only_lazily(tmp_path: Path) -> None:
    """``cli/__init__`` importing a command at module level (or for typing) is reported."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "cli/__init__.py": (
                "from typing import TYPE_CHECKING\nfrom . import service\n"
                "if TYPE_CHECKING:\n    from ..api import app\n"
            ),
            "cli/service.py": "",
            "api/__init__.py": "",
        },
    )
    found = {(v.imp.line, v.imp.target) for v in check_tree(package)}
    assert found == {(2, "authmail_relay.cli.service"), (4, "authmail_relay.api")}


def test_a_room_init_needing_an_extra_is_reported(tmp_path: Path) -> None:
    """``dkim/__init__`` is in layer 2, yet must not import what needs the extra."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "dkim/__init__.py": "from .signing import sign\n",
            "dkim/signing.py": "import dkim\n",
        },
    )
    (violation,) = check_tree(package)
    assert violation.imp.module == "dkim/__init__"
    assert "imports nothing needing an extra (dkim/signing)" in str(violation)


def test_relative_imports_resolve_against_the_package(tmp_path: Path) -> None:
    """``.`` in a package ``__init__`` is the package itself; in a module, its parent."""
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "api/__init__.py": "from . import routes\nfrom .. import relay\n",
            "api/routes.py": "from . import problems\nfrom ..db import store\n",
            "api/problems.py": "",
            "db/__init__.py": "",
            "db/store.py": "",
            "relay.py": "",
        },
    )
    keys = module_keys(package)
    known = {dotted(k) for k in keys}
    init = {i.target for i in imports_of("api/__init__", keys["api/__init__"], known)}
    routes = {i.target for i in imports_of("api/routes", keys["api/routes"], known)}
    assert init == {"authmail_relay.api.routes", "authmail_relay.relay"}
    assert routes == {"authmail_relay.api.problems", "authmail_relay.db.store"}
