"""The rules of docs/architecture.md, read from the source so they cannot silently regress:

- nothing below `interfaces/` imports NiceGUI, FastAPI or Starlette;
- storage imports nothing from the hub (nor from the services or the interfaces);
- `records/` and `config/`, at the bottom, import nothing of the app;
- the attachment reader's child (`services/documents/extract.py`, run as `python -I extract.py`)
  imports nothing of the app either;
- the interfaces reach the hub only through its verbs (never its store, registry, service or settings),
  and import nothing of the app but the hub's public package, the records and config (the start-up,
  `interfaces/runtime.py`, builds what the hub runs on);
- the HTTP API and the page do not import each other;
- the metrics package imports nothing of the app but the records, and nothing else imports
  prometheus_client (the hub reports through its observer port);
- no module over 400 lines, no function over 60 lines except route tables;
- no `asyncio.wait_for` in the app (Python 3.11's swallows a cancellation that lands as the awaited
  thing completes; `asyncio.timeout` does not).

Each check is also run on a small bad example, so a check that can no longer fail is noticed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "secretgpt"
WEB_FRAMEWORKS = ("nicegui", "fastapi", "starlette", "sse_starlette", "uvicorn")
HUB_INTERNALS = {"store", "registry", "service", "settings", "_store", "_registry", "_service", "_settings"}
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "page"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in ([root] if root.is_file() else root.rglob("*.py"))
                  if ".venv" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str) -> Iterator[str]:
    """Every module `source` imports, relative imports resolved against `module` (a package's
    `__init__` is its package)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                package = base[: len(base) - node.level]
                yield ".".join([*package, *([node.module] if node.module else [])])
            else:
                yield node.module or ""


def imported_by(path: Path) -> list[str]:
    module = module_name(path) + (".__init__" if path.name == "__init__.py" else "")
    return list(imports(path.read_text(encoding="utf-8"), module))


def forbidden_imports(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return [name for name in imported_by(path)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def hub_internals_reached(source: str) -> list[str]:
    """`hub.store`, `self.hub.registry`, `runtime.hub._service`…: the hub's parts, not its verbs."""
    reached: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in HUB_INTERNALS:
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name == "hub" or name.endswith("_hub"):
                reached.append((node.lineno, f"{name}.{node.attr} (line {node.lineno})"))
    return [text for _, text in sorted(reached)]


def is_route_table(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose nested functions are routes (`@api.get(...)`, `@ui.page(...)`)."""
    nested = [n for n in ast.walk(function) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
              and n is not function]
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
               for n in nested for d in n.decorator_list)


def wait_for_calls(source: str) -> list[int]:
    """Lines calling `asyncio.wait_for` (or a bare `wait_for` imported from asyncio)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "wait_for"
         and isinstance(node.func.value, ast.Name) and node.func.value.id == "asyncio")
        or (isinstance(node.func, ast.Name) and node.func.id == "wait_for"))]


def long_functions(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not is_route_table(node):
                found.append(f"{node.name} ({length} lines, line {node.lineno})")
    return found


# --- the rules, on the code -----------------------------------------------------------------------


def below_interfaces() -> list[Path]:
    return [p for p in python_files(APP) if "interfaces" not in p.relative_to(APP).parts]


def test_nothing_below_the_interfaces_imports_a_web_framework() -> None:
    assert len(below_interfaces()) > 30  # the walk found the code
    found = {str(p.relative_to(ROOT)): bad for p in below_interfaces() if (bad := forbidden_imports(p, WEB_FRAMEWORKS))}
    assert found == {}


def test_storage_imports_nothing_from_the_hub_services_or_interfaces() -> None:
    layers = ("secretgpt.hub", "secretgpt.services", "secretgpt.interfaces")
    storage = python_files(APP / "storage")
    assert any("secretgpt.records" in imported_by(p) for p in storage)  # it does import the records
    found = {str(p.relative_to(ROOT)): bad for p in storage if (bad := forbidden_imports(p, layers))}
    assert found == {}


def test_config_imports_nothing_of_the_app() -> None:
    found = {str(p.relative_to(ROOT)): bad for p in python_files(APP / "config")
             if (bad := [n for n in forbidden_imports(p, ("secretgpt",)) if not n.startswith("secretgpt.config")])}
    assert found == {}


def test_records_import_nothing_of_the_app() -> None:
    records = python_files(APP / "records")
    assert len(records) >= 4
    found = {str(p.relative_to(ROOT)): bad for p in records
             if (bad := [n for n in forbidden_imports(p, ("secretgpt",)) if not n.startswith("secretgpt.records")])}
    assert found == {}


def test_the_file_readers_child_imports_nothing_of_the_app() -> None:
    # It runs as a script in a fresh interpreter: an import of the app would fail there (or pull it in).
    child = APP / "services" / "documents" / "extract.py"
    assert forbidden_imports(child, ("secretgpt",)) == []
    assert not [n for n in ast.walk(ast.parse(child.read_text())) if isinstance(n, ast.ImportFrom) and n.level]


def test_the_api_and_the_page_do_not_import_each_other() -> None:
    api, page = python_files(APP / "interfaces" / "http_api"), python_files(APP / "interfaces" / "web_ui")
    assert [str(p) for p in api if forbidden_imports(p, ("secretgpt.interfaces.web_ui", "nicegui"))] == []
    assert [str(p) for p in page if forbidden_imports(p, ("secretgpt.interfaces.http_api",))] == []


def test_metrics_import_only_the_records_and_only_they_know_prometheus() -> None:
    metrics = python_files(APP / "metrics")
    assert any("prometheus_client" in imported_by(p) for p in metrics)  # the walk found them
    found = {str(p.relative_to(ROOT)): bad for p in metrics
             if (bad := [n for n in forbidden_imports(p, ("secretgpt",))
                         if not n.startswith(("secretgpt.records", "secretgpt.metrics"))])}
    assert found == {}
    elsewhere = {str(p.relative_to(ROOT)): bad for p in python_files(APP) if "metrics" not in p.relative_to(APP).parts
                 and (bad := forbidden_imports(p, ("prometheus_client",)))}
    assert elsewhere == {}


INTERFACE_MAY_IMPORT = ("secretgpt.hub", "secretgpt.records", "secretgpt.config", "secretgpt.interfaces")
COMPOSITION_ROOT = APP / "interfaces" / "runtime.py"  # builds the services, storage and bus the hub runs on


def reaches_past_the_hub(names: list[str]) -> list[str]:
    """What an interface module imports of the app beyond the hub's public face, the records,
    config and the interfaces themselves (`secretgpt.hub.stream` is past the face; `secretgpt.hub`
    is the face)."""
    return [name for name in names if name.startswith("secretgpt")
            and not any(name == ok or (ok != "secretgpt.hub" and name.startswith(ok + "."))
                        for ok in INTERFACE_MAY_IMPORT)]


def test_the_interfaces_see_the_hub_through_its_public_face() -> None:
    interfaces = [p for p in python_files(APP / "interfaces") if p != COMPOSITION_ROOT]
    assert len(interfaces) > 30
    found = {str(p.relative_to(ROOT)): bad for p in interfaces if (bad := reaches_past_the_hub(imported_by(p)))}
    assert found == {}


def test_interfaces_use_the_hubs_verbs_only() -> None:
    found = {str(p.relative_to(ROOT)): bad for p in python_files(APP / "interfaces")
             if (bad := hub_internals_reached(p.read_text(encoding="utf-8")))}
    assert found == {}
    hub_source = (APP / "hub" / "chat_hub.py").read_text(encoding="utf-8")
    public = {n.attr for n in ast.walk(ast.parse(hub_source)) if isinstance(n, ast.Attribute)
              and isinstance(n.value, ast.Name) and n.value.id == "self" and not n.attr.startswith("_")}
    assert public & HUB_INTERNALS == set()


def test_the_app_never_uses_asyncio_wait_for() -> None:
    """Python 3.11's `wait_for` returns the result instead of raising when a cancel arrives just as
    the awaited thing completes; a stream's watchdog then waited for good and shutdowns hung."""
    found = {str(p.relative_to(ROOT)): lines for p in python_files(APP)
             if (lines := wait_for_calls(p.read_text(encoding="utf-8")))}
    assert found == {}


CODE = python_files(APP, ROOT / "tests", ROOT / "benchmarks", ROOT / "main.py", ROOT / "docs")


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    assert long_functions(source) == []


# --- each check fails on a bad example ------------------------------------------------------------


def test_the_checks_can_fail(tmp_path: Path) -> None:
    assert list(imports("from nicegui import ui\nimport fastapi.responses", "secretgpt.hub.x")) == [
        "nicegui", "fastapi.responses"]
    assert list(imports("from ..hub.stream import X", "secretgpt.storage.sql")) == ["secretgpt.hub.stream"]
    assert list(imports("from .sql import X", "secretgpt.storage.__init__")) == ["secretgpt.storage.sql"]
    assert hub_internals_reached("async def f(self):\n    await self.hub.store.get(1)\n    hub._registry.x") == [
        "hub.store (line 2)", "hub._registry (line 3)"]
    assert hub_internals_reached("hub.send()\nhub.catalog\nself.store") == []
    bad = ("from ...hub.stream import ActiveStream\nfrom ...hub import ChatHub\n"
           "from ...storage import SqlConversationStore\nfrom ...records import ChatTurn\nfrom .notices import notify\n")
    assert reaches_past_the_hub(list(imports(bad, "secretgpt.interfaces.web_ui.bad"))) == [
        "secretgpt.hub.stream", "secretgpt.storage"]
    assert wait_for_calls("import asyncio\nasync def f(e):\n    await asyncio.wait_for(e.wait(), 1)") == [3]
    assert wait_for_calls("async def f(e):\n    async with asyncio.timeout(1):\n        await e.wait()") == []
    long = "def f():\n" + "    x = 1\n" * 61
    assert long_functions(long) == ["f (62 lines, line 1)"]
    table = "def routes(api):\n    @api.get('/')\n    def one():\n        pass\n" + "    x = 1\n" * 60
    assert long_functions(table) == []
