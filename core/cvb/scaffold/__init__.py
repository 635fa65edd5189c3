"""``cvb new-plugin``: write a ready, pip-installable plugin package from a template.

The templates are the ``*.tmpl`` files beside this module, one folder per category plus the
files every package shares; ``{{name}}``, ``{{module}}``, ``{{dist}}``, ``{{Class}}`` and ``{{category}}``
are filled in. The package passes ``cvb check`` and its own test as written.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError

CATEGORIES = ("codec", "vlm", "task", "metric")
TEMPLATES = Path(__file__).with_name("templates")
_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")


def names(name: str) -> dict[str, str]:
    if not _NAME.match(name):
        raise UsageError(f"plugin name {name!r}: use lower-case letters, digits and '-', starting "
                         f"with a letter (e.g. my-codec)")
    module = "cvb_" + name.replace("-", "_")
    return {"name": name, "module": module, "dist": "cvb-" + name,
            "Class": "".join(part.capitalize() for part in name.split("-"))}


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def install_command(root: Path) -> str:
    """The command that installs the package at ``root`` with cvb's pins as constraints
    (CONTRIBUTING.md, "Keep cvb's pins"): the checkout's ``constraints.txt`` when cvb runs from
    one, else the numpy and torch this environment has, so the plugin's dependencies cannot
    upgrade them."""
    constraints = Path(__file__).resolve().parents[3] / "constraints.txt"
    if constraints.is_file():
        return f"pip install -c {constraints} -e {root}"
    return (f"pip freeze | grep -iE '^(numpy|torch|torchvision)==' > cvb-pins.txt && "
            f"pip install -c cvb-pins.txt -e {root}")


def new_plugin(category: str, name: str, parent: Path) -> Path:
    """Write the package ``parent/cvb-NAME`` and return its folder (never overwrites)."""
    if category not in CATEGORIES:
        raise UsageError(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}")
    values = {**names(name), "category": category}
    root = parent / values["dist"]
    if root.exists():
        raise UsageError(f"{root} already exists; choose another name or folder")
    files = {}
    for source in sorted((TEMPLATES / "common").rglob("*.tmpl")) + sorted((TEMPLATES / category).rglob("*.tmpl")):
        base = TEMPLATES / ("common" if "common" in source.relative_to(TEMPLATES).parts[:1] else category)
        rel = render(str(source.relative_to(base)).removesuffix(".tmpl"), values)
        files[rel] = render(source.read_text(), values)
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root
