"""The import graph of the core and the plugins points one way (docs/architecture.md, "Layers").

Every ``import`` counts: module level, inside functions, under ``TYPE_CHECKING``. The checks:

- **layers**: cli -> api -> run/report -> the rest of the core (store, identity, protocols,
  codec bases, scoring, analysis); ``cvb.testing`` (the plugin author's harness around the CLI)
  sits above the CLI. A module never imports one of a higher layer, and nothing below the CLI
  imports click.
- **no cycles** between modules (a cycle hidden in function-level imports still is one).
- **plugins use public names only**: a plugin (plugins/cvb_*, contrib/*) imports from the core
  only the modules docs/architecture.md lists as the public API, and from another plugin only
  the names its package root exports (``__all__`` of ``cvb_x/__init__.py``, its documented seam);
  a name starting with ``_`` is private everywhere.

``KNOWN`` lists the arrows other engineers' work in flight removes, each with its owner; it
only shrinks (a listed arrow that no longer exists fails the test, so the list stays true).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: layer of a core module: the longest matching prefix wins; the rest of the core is layer 1
LAYERS = {
    "cvb.testing": 5,  # the plugin author's harness: runs the real CLI in-process
    "cvb.__main__": 4, "cvb.cli": 4,
    "cvb.api": 3,
    "cvb.run": 2, "cvb.report": 2, "cvb.rdbench": 2, "cvb.conformance": 2, "cvb.scaffold": 2,
}
LAYER_NAMES = {1: "core below run/report", 2: "run/report", 3: "api", 4: "cli", 5: "testing harness"}

#: (importer, imported) arrows still present, removed by work in flight: owner, what removes it
KNOWN: dict[tuple[str, str], str] = {
}


@dataclass(frozen=True)
class Arrow:
    source: str  # importing module
    target: str  # imported module (the deepest one the statement names)
    names: tuple[str, ...]  # names taken from ``target`` (``from target import names``)
    line: int
    typing_only: bool = False  # under ``if TYPE_CHECKING:`` (never runs: no import-time cycle)

    def where(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}" + (f" ({', '.join(self.names)})" if self.names else "")


def module_files() -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package ``__init__``) for the core, the plugins and contrib."""
    roots = [ROOT / "core", ROOT / "plugins", *sorted(p for p in (ROOT / "contrib").iterdir() if p.is_dir())]
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if not (parts[0] == "cvb" or parts[0].startswith("cvb_")):
                continue
            package = parts[-1] == "__init__"
            out[".".join(parts[:-1] if package else parts)] = (path, package)
    return out


def _typing_only_nodes(tree: ast.AST) -> set[int]:
    """ids of the import statements inside an ``if TYPE_CHECKING:`` body."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def arrows_of(name: str, source: str, package: bool, known: set[str]) -> list[Arrow]:
    """Every import in ``source`` (module ``name``) as arrows; relative imports resolved."""
    out = []
    tree = ast.parse(source)
    typing_only = _typing_only_nodes(tree)
    for node in ast.walk(tree):
        hint = id(node) in typing_only
        if isinstance(node, ast.Import):
            out += [Arrow(name, alias.name, (), node.lineno, hint) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: None if package else -1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = []
            for alias in node.names:
                if f"{target}.{alias.name}" in known:  # ``from pkg import submodule``
                    out.append(Arrow(name, f"{target}.{alias.name}", (), node.lineno, hint))
                else:
                    names.append(alias.name)
            if names:
                out.append(Arrow(name, target, tuple(names), node.lineno, hint))
    return out


def new_name(module: str) -> str:
    """A module's name now: an old name (``cvb.codec``, ``cvb.old_names``) is the moved module."""
    from cvb.old_names import MOVED

    for old in sorted(MOVED, key=len, reverse=True):
        if module == old or module.startswith(old + "."):
            return MOVED[old] + module[len(old):]
    return module


def import_graph() -> tuple[dict[str, tuple[Path, bool]], list[Arrow]]:
    files = module_files()
    arrows = []
    for name, (path, package) in files.items():
        arrows += arrows_of(name, path.read_text(encoding="utf-8"), package, set(files))
    return files, [dataclasses.replace(a, target=new_name(a.target)) for a in arrows]


def layer(module: str) -> int:
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return LAYERS[best] if best else 1


def is_core(module: str) -> bool:
    return module == "cvb" or module.startswith("cvb.")


def top(module: str) -> str:
    return module.split(".")[0]


def upward(arrows: list[Arrow]) -> list[Arrow]:
    return [a for a in arrows if is_core(a.source) and is_core(a.target) and layer(a.target) > layer(a.source)]


def click_below_cli(arrows: list[Arrow]) -> list[Arrow]:
    return [a for a in arrows if is_core(a.source) and layer(a.source) < LAYERS["cvb.cli"] and top(a.target) == "click"]


def cycles(modules: set[str], arrows: list[Arrow]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm); an
    import under ``TYPE_CHECKING`` never runs, so it makes no cycle."""
    succ: dict[str, set[str]] = {m: set() for m in modules}
    for a in arrows:
        if a.target in modules and a.target != a.source and not a.typing_only:
            succ[a.source].add(a.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(succ[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(succ[nxt]))))
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


ARCHITECTURE = ROOT / "docs" / "architecture.md"


def public_core() -> set[str]:
    """The core modules docs/architecture.md lists under "The public API" (old names as now)."""
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## The public API", 1)[1].split("\n## ", 1)[0]
    return {new_name(m) for m in re.findall(r"`(cvb(?:\.[a-z_]+)*)`", section)}


def exported(package: str) -> set[str]:
    """``__all__`` of a plugin's package root (the roots load their names lazily: light)."""
    import importlib

    return set(getattr(importlib.import_module(package), "__all__", ()))


def private_reaches(arrows: list[Arrow], public: set[str]) -> list[Arrow]:
    """Arrows from a plugin to the core outside ``public``, or into another plugin past its root."""
    out = []
    for a in arrows:
        src, dst = top(a.source), top(a.target)
        if src == "cvb" or not (dst == "cvb" or dst.startswith("cvb_")) or src == dst:
            continue
        if any(n.startswith("_") and not n.endswith("__") for n in a.names):
            out.append(a)
        elif dst == "cvb":
            if a.target not in public:
                out.append(a)
        elif a.target != dst or not set(a.names) <= exported(dst):
            out.append(a)
    return out


def problems(arrows: list[Arrow]) -> list[tuple[tuple[str, str], str]]:
    found = [((a.source, a.target), f"upward ({LAYER_NAMES[layer(a.source)]} -> {LAYER_NAMES[layer(a.target)]}): "
              + a.where()) for a in upward(arrows)]
    found += [((a.source, a.target), "click below the CLI: " + a.where()) for a in click_below_cli(arrows)]
    found += [((a.source, a.target), "a plugin reaches past a public API: " + a.where())
              for a in private_reaches(arrows, public_core())]
    return found


def test_layers_point_down_and_plugins_use_public_names():
    files, arrows = import_graph()
    assert len(files) > 200 and "cvb.report.tables" in files and "cvb_hf.vlm" in files  # the graph is real
    found = problems(arrows)
    bad = sorted(where for key, where in found if key not in KNOWN)
    assert not bad, "imports that point the wrong way:\n" + "\n".join(bad)
    stale = sorted(set(KNOWN) - {key for key, _ in found})
    assert not stale, f"KNOWN lists arrows that are gone (remove them): {stale}"


def test_no_import_cycles():
    files, arrows = import_graph()
    found = cycles(set(files), arrows)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_public_api_list_is_real():
    """Every module the docs call public imports, and the list holds what plugins need most."""
    files = module_files()
    public = public_core()
    assert {"cvb", "cvb.types", "cvb.specs", "cvb.errors", "cvb.codecs.base", "cvb.scoring"} <= public
    assert not sorted(public - set(files)), "docs/architecture.md lists modules that do not exist"
    for name in sorted(public):
        importlib.import_module(name)


def test_every_core_module_is_on_the_map():
    """docs/architecture.md names every module of core/cvb (in backticks)."""
    named = set(re.findall(r"`(cvb(?:\.[A-Za-z_]+)*)`", ARCHITECTURE.read_text(encoding="utf-8")))
    missing = sorted(m for m in module_files() if m.split(".")[0] == "cvb" and m not in named)
    assert not missing, f"modules missing from docs/architecture.md: {missing}"


def test_old_import_paths_are_the_moved_modules():
    """``import cvb.codec`` (a contrib package of before the regrouping) gives the module that
    moved, the very same object, and every old name is documented."""
    from cvb.old_names import MOVED

    section = ARCHITECTURE.read_text(encoding="utf-8").split("## The public API", 1)[1]
    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
        assert f"`{old}`" in section, f"docs/architecture.md does not name the old path {old}"
    from cvb.codec import BaseCodec
    from cvb.codecs.base import BaseCodec as moved

    assert BaseCodec is moved


def documented_imports() -> list[tuple[str, str, str]]:
    """(where, module, name) of every ``from cvb... import name`` in the docs, CONTRIBUTING.md,
    README.md, the scaffold's templates and the contrib packages: what third parties copy."""
    files = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "CONTRIBUTING.md", ROOT / "README.md",
             *sorted((ROOT / "core" / "cvb" / "scaffold").rglob("*.tmpl")),
             *sorted(p for p in (ROOT / "contrib").rglob("*") if p.suffix in (".py", ".md"))]
    out = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"from (cvb(?:\.[a-z_]+)*) import (\([^)]*\)|[^\n`]*)", text):
            names = re.sub(r"#[^\n]*", "", m.group(2)).strip("()")
            for part in names.split(","):
                name = part.split()[0] if part.split() else ""
                if re.fullmatch(r"[A-Za-z_]\w*", name):
                    out.append((str(path.relative_to(ROOT)), m.group(1), name))
    return out


def test_every_documented_public_name_imports():
    found = documented_imports()
    assert len(found) > 40 and ("core/cvb/scaffold/templates/task/{{module}}/task.py.tmpl", "cvb.scoring",
                                "parse_yes_no") in found  # the list is real
    broken = []
    for where, module, name in found:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            broken.append(f"{where}: {module}: {exc}")
            continue
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                broken.append(f"{where}: from {module} import {name}")
    assert not broken, "documented imports that fail:\n" + "\n".join(broken)


def test_the_checks_catch_what_they_claim():
    """Controls on made-up modules: a function-level upward import, a cycle through a
    function-level import, a plugin's private module, a private name and a core internal."""
    known = {"cvb.run.x", "cvb.cli.y", "cvb.types", "cvb_a", "cvb_a.inner", "cvb_b.m"}
    run_x = arrows_of("cvb.run.x", "import os\ndef f():\n    from ..cli import y\n    import click\n", False, known)
    assert [a.target for a in upward(run_x)] == ["cvb.cli.y"]
    assert [a.line for a in click_below_cli(run_x)] == [4]
    assert not upward(arrows_of("cvb.cli.y", "from cvb.run import x\n", False, known))
    loop = arrows_of("cvb.types", "def g():\n    from .run import x\n", False, known) + \
        arrows_of("cvb.run.x", "from ..types import Sample\n", False, known)
    assert cycles(known, loop) == [["cvb.run.x", "cvb.types"]]
    hinted = arrows_of("cvb.types", "if TYPE_CHECKING:\n    from .run import x\n", False, known)
    assert hinted[0].typing_only and not cycles(known, hinted + loop[1:])
    reach = arrows_of("cvb_b.m", "from cvb_a.inner import f\nfrom cvb_a import _hidden\n"
                      "from cvb.run import x\nfrom cvb.types import Sample\nfrom cvb import hookimpl, __version__\n"
                      "from cvb_hf import HFVLM, features\nfrom cvb_hf import load_model\n", False, known)
    assert [a.line for a in private_reaches(reach, {"cvb", "cvb.types"})] == [1, 2, 3, 7]
