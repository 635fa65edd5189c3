"""``cvb plugins``: which plugins are installed, what they provide, and which failed."""

from __future__ import annotations


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
        from .output import json_result

        click.echo(json_result({"plugins": data, "conflicts": conflicts}))
        return
    from rich.markup import escape
    from rich.table import Table

    from .console import console

    from rich import box

    rows = []
    for i in infos:
        provides = "; ".join(f"{c}: {', '.join(n)}" for c, n in sorted(i.provides.items()))
        hooks = ", ".join(h.removeprefix("register_") for h in i.hooks)
        if i.error is not None:
            status = f"[red]{escape(i.error)}[/]"
        elif i.warning is not None:
            status = f"[yellow]slow: {escape(i.warning)}[/]"
        else:
            status = "[green]ok[/]"
        rows.append((escape(i.name), escape(f"{i.distribution} {i.version}"), escape(hooks), escape(provides), status))
    # names are never broken mid-word: a column is at least as wide as its longest word
    longest = lambda col: max((len(w) for r in rows for w in r[col].split()), default=4)
    table = Table(title="cvb plugins", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("plugin", no_wrap=True)
    table.add_column("distribution", min_width=min(longest(1), 24))
    table.add_column("hooks", min_width=longest(2))
    table.add_column("provides", min_width=longest(3), ratio=1)
    table.add_column("status", overflow="fold", min_width=6)
    for row in rows:
        table.add_row(*row)
    console().print(table)
    for line in iter_errors(reg):
        if "registered by more than one plugin" in line:
            console().print(f"[red]conflict:[/] {escape(line)}")
    if show_tb:
        for i in infos:
            if i.detail:  # the name in bold; the traceback as plain text (it may hold [brackets])
                console().print(f"[bold]{escape(i.name)}[/]")
                console().print(i.detail, markup=False, highlight=False)
