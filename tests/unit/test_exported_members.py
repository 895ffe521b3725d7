"""Every module declares its public API in ``__all__`` and every name there exists (as
httpx's test_exported_members does); every package ``__init__`` re-exports only names that
exist and that the submodule defining them exports itself.

Alembic's migration scripts (``store/migrations``) are run by Alembic, not imported, and
are left out.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import govtrust

ROOT = Path(govtrust.__file__).resolve().parent
EXCLUDED = ("store/migrations",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _source_modules() -> list[str]:
    """Every ``.py`` file under src/govtrust, as a module name."""
    return sorted(
        _module_name(p)
        for p in ROOT.rglob("*.py")
        if not any(p.relative_to(ROOT).as_posix().startswith(e) for e in EXCLUDED)
    )


def _walked_modules() -> list[str]:
    names = [govtrust.__name__]
    names += [m.name for m in pkgutil.walk_packages(govtrust.__path__, govtrust.__name__ + ".")]
    return sorted(names)


MODULES = _source_modules()
PACKAGES = sorted(_module_name(p) for p in ROOT.rglob("__init__.py"))


def _import(name: str) -> ModuleType:
    return importlib.import_module(name)


def _defined_in_source(module: ModuleType) -> set[str]:
    """Names a module binds itself at top level (not by import)."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_source_file_is_an_importable_module() -> None:
    """No module hides from the checks below (e.g. in a directory without __init__.py)."""
    assert len(MODULES) > 20
    assert _walked_modules() == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all(name: str) -> None:
    module = _import(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = module.__all__
    assert isinstance(exported, (list, tuple)), f"{name}.__all__ is a {type(exported).__name__}"
    assert all(isinstance(n, str) for n in exported), f"{name}.__all__ holds a non-string"
    duplicates = sorted({n for n in exported if list(exported).count(n) > 1})
    assert duplicates == [], f"{name}.__all__ lists twice: {duplicates}"


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_is_defined(name: str) -> None:
    module = _import(name)
    missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not define: {missing}"
    # ``from module import *`` works.
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)  # noqa: S102 - a fixed, trusted module name
    assert set(module.__all__) <= set(namespace)


@pytest.mark.parametrize("name", PACKAGES)
def test_package_reexports_exist_in_their_submodules(name: str) -> None:
    package = _import(name)
    own = _defined_in_source(package)
    submodules = [
        _import(m.name) for m in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    ]
    problems = []
    for member in package.__all__:
        if member in own:
            continue  # defined by the package itself (e.g. __version__)
        obj = getattr(package, member)
        homes = [
            sub.__name__
            for sub in submodules
            if member in getattr(sub, "__all__", ()) and getattr(sub, member, None) is obj
        ]
        if not homes:
            problems.append(f"{member} is not exported by any submodule of {name}")
        origin = getattr(obj, "__module__", None)
        if isinstance(origin, str) and not origin.startswith(name + "."):
            problems.append(f"{member} comes from {origin}, outside {name}")
    assert problems == []


def test_top_level_package_exports_its_version() -> None:
    assert govtrust.__all__ == ["__version__"]
    assert isinstance(govtrust.__version__, str) and govtrust.__version__.count(".") >= 2
    assert importlib.metadata.version("govtrust") == govtrust.__version__
