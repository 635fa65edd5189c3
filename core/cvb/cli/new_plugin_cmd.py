"""``cvb new-plugin codec|vlm|task|metric NAME``: a ready plugin package from a template."""

from __future__ import annotations

from pathlib import Path

import click

from .options import Aliased, Choice


@click.command("new-plugin")
@click.argument("category", type=Choice(["codec", "vlm", "task", "metric"]))
@click.argument("name")
@click.option("--out", "--dir", "-d", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, cls=Aliased, hidden=("--dir", "-d"),
              help="Folder in which the package folder cvb-NAME is created.")
def new_plugin_cmd(category: str, name: str, parent: Path) -> None:
    """Write a ready, pip-installable plugin package cvb-NAME.

    It holds a pyproject.toml with the `cvb` entry point, the module registering NAME
    (light: nothing heavy at import), a working component to edit (codec: JPEG via Pillow;
    vlm: brightness rules; task: yes/no questions on the sample photos; metric: mean
    absolute error), a README, and tests/ running the conformance kit and a real `cvb run`
    on cvb's fakes. It passes both as written.

    \b
    Examples:
      cvb new-plugin codec my-codec        # writes ./cvb-my-codec
      cd cvb-my-codec && pip install -c CVB/constraints.txt -e . && cvb check codec my-codec && pytest tests

    Install it with cvb's pins as constraints (the printed `next:` line does), so its
    dependencies cannot upgrade numpy or torch under cvb.
    """
    from ..scaffold import install_command, new_plugin

    root = new_plugin(category, name, parent)
    click.echo(f"wrote {root}/")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        click.echo(f"  {path.relative_to(root)}")
    click.echo(f"next: {install_command(root)} && cvb check {category} {name} && pytest {root}/tests")
