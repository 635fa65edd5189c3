"""``cvb plugins``: which plugins are installed, what they provide, and which failed."""

from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--traceback", "show_tb", is_flag=True, help="Show full tracebacks of failed plugins.")
def plugins_cmd(as_json: bool, show_tb: bool) -> None:
    """List installed plugins: distribution, version, hooks, what each provides, status.

    A plugin that fails to import is shown with its error; the others keep working. A plugin
    that imports torch, transformers or the like when it loads is shown as slow.
    Set CVB_LOAD_PLUGINS=dist1,dist2 to load only those distributions (empty: none).
    """
    from ..plugins import get_registry, iter_errors

    reg = get_registry()
    infos = list(reg.plugins.values())
    if as_json:
        data = [i.as_dict() for i in infos]
        conflicts = [
            {"category": c, "name": n, "plugins": owners} for (c, n), owners in reg.conflicts().items()
        ]
        click.echo(json.dumps({"plugins": data, "conflicts": conflicts}, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    from .console import console

    table = Table(title="cvb plugins")
    for col in ("plugin", "distribution", "version", "hooks", "provides", "status"):
        table.add_column(col, overflow="fold")
    for i in infos:
        provides = "; ".join(f"{c}: {', '.join(n)}" for c, n in sorted(i.provides.items()))
        hooks = ", ".join(h.removeprefix("register_") for h in i.hooks)
        if i.error is not None:
            status = f"[red]{escape(i.error)}[/]"
        elif i.warning is not None:
            status = f"[yellow]slow: {escape(i.warning)}[/]"
        else:
            status = "[green]ok[/]"
        table.add_row(escape(i.name), escape(i.distribution), escape(i.version), escape(hooks),
                      escape(provides), status)
    console().print(table)
    for line in iter_errors(reg):
        if "registered by more than one plugin" in line:
            console().print(f"[red]conflict:[/] {escape(line)}")
    if show_tb:
        for i in infos:
            if i.detail:  # the name in bold; the traceback as plain text (it may hold [brackets])
                console().print(f"[bold]{escape(i.name)}[/]")
                console().print(i.detail, markup=False, highlight=False)
