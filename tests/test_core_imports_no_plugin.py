"""The core (core/cvb) imports no built-in plugin: plugins depend on the core, never the other
way, so a plugin can be left out (or fail to import) without breaking cvb. Every import in
every module counts: module level, inside functions, under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "cvb"
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if p.is_dir() and p.name.startswith("cvb_"))


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import statement anywhere in ``tree``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def plugin_imports(source: str, plugins: list[str]) -> list[tuple[int, str]]:
    return [(line, name) for line, name in sorted(imported_modules(ast.parse(source)))
            if name.split(".")[0] in plugins]


def test_the_core_imports_no_plugin():
    assert "cvb_pillow" in PLUGINS and "cvb_hf" in PLUGINS  # the list is real
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 50
    found = [f"{path.relative_to(ROOT)}:{line}: imports {name}" for path in modules
             for line, name in plugin_imports(path.read_text(encoding="utf-8"), PLUGINS)]
    assert not found, "the core imports a plugin:\n" + "\n".join(found)


def test_the_check_finds_imports_at_every_level():
    """The control: a plugin imported in a function, under TYPE_CHECKING or as ``from X import``
    is found; a core import and a relative one are not."""
    source = ("import os\nfrom . import types\nfrom cvb.errors import CvbError\n"
              "if TYPE_CHECKING:\n    import cvb_hf.vision\n"
              "def f():\n    from cvb_pillow.codecs import JPEG\n    import cvb_tasks as t\n")
    assert plugin_imports(source, PLUGINS) == [(5, "cvb_hf.vision"), (7, "cvb_pillow.codecs"), (8, "cvb_tasks")]
