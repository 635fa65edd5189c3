"""The report's tables laid out as fixed-width text for the terminal.

rich's ``Table`` measures and renders every cell as a renderable of its own (about 0.15 ms a
cell on the project's machine); a study's report is 63 sections, about 20,000 cells, which
took 3-6 s to print. A ``cvb.report.table.Table`` holds strings only, so one pass of padding
lays it out: numbers right-aligned and never wrapped, the row's name and free-text reasons
left-aligned (wrapped only when the terminal is too narrow), a rule under the header. rich
then prints each table as one styled ``Text``.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .table import Table

GAP = "  "  # between columns
MIN_WRAPPED = 8  # a wrapped text column keeps at least this many characters
Segment = tuple[str, "str | None"]  # text and its rich style


def text_columns(t: "Table") -> set[int]:
    """Columns laid out as text (left-aligned, wrappable): the row's name (the first two) and
    any column holding a reason (``table.Reason``)."""
    from .table import Reason

    return {0, 1} | {i for r in t.rows for i, c in enumerate(r) if isinstance(c, Reason)}


def column_widths(t: "Table", width: int | None) -> list[int]:
    """Each column's width: its longest entry; when the table is wider than ``width``, the
    widest text column gives up characters, one at a time (down to ``MIN_WRAPPED``), so it
    fits if it can."""
    widths = [max([len(h), *(len(str(r[i])) for r in t.rows)]) for i, h in enumerate(t.header)]
    if width is None:
        return widths
    excess = 1 + sum(widths) + len(GAP) * (len(widths) - 1) - width
    wrappable = [i for i in text_columns(t) if i < len(widths)]
    while excess > 0:
        i = max(wrappable, key=lambda i: widths[i], default=None)
        if i is None or widths[i] <= MIN_WRAPPED:
            break
        widths[i] -= 1
        excess -= 1
    return widths


def _wrapped(text: str, width: int | None) -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def table_lines(t: "Table", width: int | None = None) -> Iterator[list[Segment]]:
    """The lines of ``t`` as styled segments: title, header, rule, rows (a wrapped row takes
    several lines), note; a reason is italic red. Each line one leading space, no trailing one."""
    from .table import Reason

    def prose(text: str, style: str) -> Iterator[list[Segment]]:  # title and note: the full width
        for line in _wrapped(text, width):
            yield [(line, style)]

    yield from prose(t.title, "bold")
    if not t.rows:
        if t.note:
            yield from prose(t.note, "dim")
        return
    widths = column_widths(t, width)
    left = text_columns(t)
    last = len(widths) - 1

    def row_lines(cells: list, style: str | None = None) -> Iterator[list[Segment]]:
        parts = [_wrapped(str(c), widths[i]) for i, c in enumerate(cells)]
        for k in range(max(len(p) for p in parts)):
            line: list[Segment] = [(" ", None)]
            for i, p in enumerate(parts):
                x = p[k] if k < len(p) else ""
                x = x.ljust(widths[i]) if i in left else x.rjust(widths[i])
                line.append((x, "italic red" if isinstance(cells[i], Reason) else style))
                if i < last:
                    line.append((GAP, None))
            while len(line) > 1 and not line[-1][0].strip():  # no trailing blanks
                line.pop()
            line[-1] = (line[-1][0].rstrip(), line[-1][1])
            yield line

    yield [("", None)]
    yield from row_lines(t.header, "bold")
    yield [(" " + "\u2500" * (sum(widths) + len(GAP) * last), None)]
    for row in t.rows:
        yield from row_lines(row)
    if t.note:
        yield from prose(t.note, "dim")


def plain_lines(t: "Table", width: int | None = None) -> list[str]:
    """``table_lines`` without styles."""
    return ["".join(x for x, _ in line) for line in table_lines(t, width)]


class TextTable:
    """A rich renderable laying ``t`` out at the console's width when it is printed."""

    def __init__(self, t: "Table"):
        self.t = t

    def __rich_console__(self, console, options):
        from rich.text import Text

        text = Text(no_wrap=True, overflow="ellipsis", end="")  # laid out to the width already
        for line in table_lines(self.t, options.max_width):
            for x, style in line:
                text.append(x, style=style)
            text.append("\n")
        text.append("\n")  # a blank line after each table
        yield text
