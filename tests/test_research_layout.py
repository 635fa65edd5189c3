"""The research packages import only modules their real upstream repositories have, and the
stand-in checkouts (tests/research_standins) have exactly the upstream's module paths.

The upstream file lists were recorded from the real checkouts at the commits each package's
README names (tests/research_standins/upstream_files/*.txt, `git ls-tree -r --name-only`).
The modules a package imports are read from its code, not listed by hand: the imports inside
its hooks (and inside the driver helpers those hooks call), its model module and the file its
status check looks for. A package importing a module upstream lacks (StableCodec's
``compress_utils``, which upstream keeps in ``src/my_utils/``) fails here, and so does a
stand-in with a file where upstream has none.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from conftest import ROOT

STANDINS = Path(__file__).with_name("research_standins")
DRIVER = ROOT / "core" / "cvb" / "codecs" / "research" / "driver.py"
#: package -> (the stand-in folder, the folder of the checkout the worker imports from, the
#: stand-in folders copied over it, as tests/test_research_hooks.py lays the checkouts out)
PACKAGES = {
    "tcm": ("tcm", "", ()),
    "mlicpp": ("mlicpp", "MLIC++", ()),
    "stablecodec": ("stablecodec", "src", ()),
    "diffeic": ("diffeic", "", ("ldm_shared",)),
    "rdeic": ("rdeic", "", ("ldm_shared",)),
}
#: what the hooks import that is not the repository's own code
EXTERNAL = {"research_driver", "torch", "numpy", "PIL", "os", "sys", "struct", "omegaconf", "math"}
#: stand-in files with no upstream counterpart: the tiny codec inside every stand-in, and a
#: minimal OmegaConf for CI (the real one is a pip package)
STANDIN_ONLY = {"tiny.py", "omegaconf.py", "__init__.py"}


def upstream_files(package: str) -> set[str]:
    lines = (STANDINS / "upstream_files" / f"{package}.txt").read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def imports_in(tree: ast.AST, functions: set[str] | None = None) -> set[str]:
    """Absolute module names imported anywhere in ``tree`` (or only inside ``functions``)."""
    nodes = [tree] if functions is None else [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                                               and n.name in functions]
    out = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                out |= {alias.name for alias in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                out.add(sub.module)
    return out


def driver_helpers_used(tree: ast.AST) -> set[str]:
    """``research_driver.NAME`` references in a hooks file."""
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == "research_driver"}


def repo_modules(package: str) -> set[str]:
    """The repository modules a package makes the worker import, from its own code."""
    sys.path.insert(0, str(ROOT / "contrib" / f"cvb-{package}"))
    try:
        codec_module = importlib.import_module(f"cvb_{package}.codec")
    finally:
        sys.path.pop(0)
    codec = next(v for v in vars(codec_module).values() if isinstance(v, type) and getattr(v, "name", "") == package)
    names = {codec.module} if codec.module else set()
    if codec.hooks:
        tree = ast.parse(Path(codec.hooks).read_text())
        names |= imports_in(tree)
        names |= imports_in(ast.parse(DRIVER.read_text()), driver_helpers_used(tree))
    return {n for n in names if n.split(".")[0] not in EXTERNAL}


def module_path(name: str, files: set[str], root: str) -> str | None:
    base = (root + "/" if root else "") + name.replace(".", "/")
    return next((p for p in (base + ".py", base + "/__init__.py") if p in files), None)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_a_package_imports_is_in_the_upstream_repository(package):
    standin, root, _ = PACKAGES[package]
    files = upstream_files(package)
    modules = repo_modules(package)
    assert modules, "no repository module found: the test reads nothing"
    missing = sorted(m for m in modules if module_path(m, files, root) is None)
    assert not missing, f"cvb-{package} imports modules the upstream repository does not have: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_each_stand_in_has_the_upstream_module_paths(package):
    standin, root, shared = PACKAGES[package]
    files = upstream_files(package)
    trees = [STANDINS / standin, *(STANDINS / s for s in shared)]
    present = {str(p.relative_to(t)) for t in trees for p in t.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    extra = sorted(p for p in present if p not in files and Path(p).name not in STANDIN_ONLY)
    assert not extra, f"the {standin} stand-in has files upstream does not: {extra}"
    for module in repo_modules(package):  # and what the package imports is there to import
        path = module_path(module, files, root)
        assert path in present or (path.endswith("__init__.py") and any(p.startswith(path[:-11]) for p in present)), (
            f"the {standin} stand-in lacks {path}, which cvb-{package} imports")


def test_the_layout_check_catches_a_wrong_module_path(monkeypatch):
    """Control: the StableCodec hooks as they were (``from compress_utils import ...``) fail it."""
    files = upstream_files("stablecodec")
    assert module_path("compress_utils", files, "src") is None
    assert module_path("my_utils.compress_utils", files, "src") == "src/my_utils/compress_utils.py"
    old = ast.parse("def encode():\n    from compress_utils import write_body\n")
    assert imports_in(old) == {"compress_utils"}
