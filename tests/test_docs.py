"""Documentation is part of the feature: every hook, command and built-in component is documented."""

from __future__ import annotations

import re

from conftest import ROOT

DOCS = ROOT / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text() for p in sorted(DOCS.glob("*.md")))


def test_every_hook_documented():
    from cvb import hookspecs

    text = (DOCS / "hooks.md").read_text()
    for hook in hookspecs.HOOKS:
        assert f"`{hook}(" in text, f"hook {hook} missing from docs/hooks.md"


def test_every_command_documented():
    from click.testing import CliRunner

    from cvb.cli import cli

    import click

    ctx = click.Context(cli)
    text = (DOCS / "cli.md").read_text()
    for name in cli.list_commands(ctx):
        assert f"`cvb {name}`" in text, f"command `cvb {name}` missing from docs/cli.md"
        res = CliRunner().invoke(cli, [name, "--help"])
        assert res.exit_code == 0 and len(res.output) > 200, f"`cvb {name} --help` says too little"


def test_every_builtin_component_documented():
    """Each codec, VLM, task and metric the `cvb` distribution registers appears in docs/."""
    from cvb.plugins import Registry

    reg = Registry()
    reg.load_entry_points()
    text = all_docs()
    missing = []
    for category in ("codec", "vlm", "task", "metric"):
        for spec in reg.specs(category):
            if reg.plugins[reg.owner(category, spec.name)].distribution != "cvb":
                continue
            if not re.search(rf"`{re.escape(spec.name)}(`|:)", text):
                missing.append(f"{category} {spec.name}")
    assert not missing, f"undocumented: {missing}"


def test_every_contrib_package_documented():
    """Each separately installable package in contrib/ has a README and a place in docs/codecs.md."""
    text = (DOCS / "codecs.md").read_text()
    for package in sorted((ROOT / "contrib").glob("cvb-*")):
        assert (package / "README.md").is_file(), f"{package.name} has no README"
        assert f"contrib/{package.name}" in text, f"{package.name} missing from docs/codecs.md"


def test_readme_names_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/demo.sh" in readme and "scripts/test.sh" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_every_value_type_field_and_kind_documented():
    """docs/protocols.md is the field-by-field reference of what crosses the protocol boundaries."""
    import dataclasses

    from cvb import specs, types

    text = (DOCS / "protocols.md").read_text()
    missing = []
    for cls in (types.ImageSource, types.Sample, types.Query, types.Answer, types.TaskScore,
                types.Compressed, specs.Spec, specs.CodecSpec, specs.TaskSpec, specs.MetricSpec):
        missing += [f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls)
                    if not re.search(rf"^\|[^\n]*`{f.name}`", text, re.M)]  # in a field table row
    for enum in (types.CodecKind, types.AnswerKind):
        missing += [f"{enum.__name__}.{k.value}" for k in enum if f"`{k.value}`" not in text]
    assert not missing, f"add to docs/protocols.md: {missing}"


def prose_files() -> list:
    """What a plugin author reads: docs/, CONTRIBUTING.md, README.md, each contrib package's README."""
    return [*sorted(DOCS.glob("*.md")), ROOT / "CONTRIBUTING.md", ROOT / "README.md",
            *sorted(ROOT.glob("contrib/*/README.md"))]


#: a dotted name of cvb or a plugin in backticks (`cvb.codecs.base.compress`, `cvb_tasks.rules`);
#: a file name inside a path (`cvb/report/cvb.mplstyle`) is not one
_DOTTED = re.compile(r"`[^`\n]*?(?<![/\w.])((?:cvb|cvb_[a-z]+)(?:\.[A-Za-z_]\w*)+)")


def _resolves(name: str) -> bool:
    """``name`` is a module, or an attribute reached from the longest module prefix that imports."""
    import importlib

    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_docs_name_modules_and_names_that_exist():
    """Every `cvb.x.y` / `cvb_plugin.x` the docs name imports (a module, or a name in one)."""
    missing = {}
    for path in prose_files():
        for match in _DOTTED.finditer(path.read_text()):
            name = match.group(1)
            if not _resolves(name):
                missing.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    assert not missing, f"docs name what does not exist: {missing}"


def test_docs_use_the_grouped_paths():
    """The modules that moved when the core was grouped (`cvb.old_names`) are named by their new
    paths, `cvb.codecs.base` and not `cvb.codec`, `cvb/scoring/` and not `cvb/scorers.py`; the old
    names appear only where the docs say that they still import (a paragraph naming old_names)."""
    from cvb.old_names import MOVED

    old = [re.compile(rf"`{re.escape(name)}(?![\w])") for name in MOVED]
    old += [re.compile(rf"\bcvb/{re.escape('/'.join(name.split('.')[1:]))}\.py\b") for name in MOVED]
    old.append(re.compile(r"\bcvb/scoring\.py\b"))  # a package now
    stale = []
    for path in prose_files():
        for paragraph in path.read_text().split("\n\n"):
            if "old_names" in paragraph or "before the core was grouped" in paragraph:
                continue
            stale += [f"{path.name}: {m.group(0)}" for pattern in old for m in pattern.finditer(paragraph)]
    assert not stale, f"old module paths in the docs (use the new ones, docs/architecture.md): {stale}"


def test_architecture_maps_every_plugin_package():
    """docs/architecture.md, "The plugins": each built-in plugin package and contrib package is on the map."""
    text = (DOCS / "architecture.md").read_text()
    section = text.split("## The plugins", 1)[1].split("\n## ", 1)[0]
    missing = [f"plugins/{p.name}/" for p in sorted((ROOT / "plugins").glob("cvb_*"))
               if p.is_dir() and f"`plugins/{p.name}/`" not in section]
    missing += [p.name for p in sorted((ROOT / "contrib").glob("cvb-*")) if f"`{p.name}`" not in section]
    assert not missing, f"add to docs/architecture.md, \"The plugins\": {missing}"


def test_every_cvb_import_the_docs_show_runs():
    """Each `import cvb...` / `from cvb... import X` in the docs' Python blocks and inline code works
    (imports of other packages, a hypothetical `my_plugin`, are the reader's)."""
    import ast

    statements = set()
    for path in prose_files():
        text = path.read_text()
        sources = re.findall(r"```python\n(.*?)```", text, re.S)
        sources += re.findall(r"`((?:from|import) cvb[\w.]* ?[^`\n]*)`", text)
        for source in sources:
            for node in ast.walk(ast.parse(source)):
                module = node.module if isinstance(node, ast.ImportFrom) else \
                    node.names[0].name if isinstance(node, ast.Import) else None
                if module and (module == "cvb" or module.startswith(("cvb.", "cvb_"))):
                    statements.add((ast.unparse(node), path.name))
    assert len(statements) > 20  # the docs' examples were found
    failed = []
    for statement, where in sorted(statements):
        try:
            exec(statement, {})
        except ImportError as exc:
            failed.append(f"{where}: {statement}: {exc}")
    assert not failed, failed
