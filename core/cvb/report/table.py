"""A report table: a title, a header and rows of strings (``cvb.report.tables`` fills them, the
renderers lay them out)."""

from __future__ import annotations

from dataclasses import dataclass


class Reason(str):
    """A table cell that explains why a value is undefined (renderers may style it)."""


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
