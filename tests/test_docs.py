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
