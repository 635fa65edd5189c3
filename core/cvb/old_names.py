"""Old import paths of modules that moved when the core was grouped by idea (docs/architecture.md).

``import cvb.codec`` (and ``from cvb.research import ResearchCodec``...) still work for packages
written against them: the old name is the new module itself (one module object, so a patch or an
``isinstance`` through either name sees the same thing), found by a finder that
``cvb/__init__.py`` installs and that only answers for the names below.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

#: old module name -> where it lives now
MOVED = {
    "cvb.codec": "cvb.codecs.base",
    "cvb.external": "cvb.codecs.external",
    "cvb.learned": "cvb.codecs.learned",
    "cvb.framing": "cvb.codecs.framing",
    "cvb.bitstream": "cvb.codecs.bitstream",
    "cvb.yuv": "cvb.codecs.yuv",
    "cvb.yuv_codec": "cvb.codecs.yuv_reference",
    "cvb.research": "cvb.codecs.research",
    "cvb.research_check": "cvb.codecs.research.check",
    "cvb.research_driver": "cvb.codecs.research.driver",
    "cvb.research_revision": "cvb.codecs.research.revision",
    "cvb.scorers": "cvb.scoring.tally",
}


class OldNames:
    """A ``sys.meta_path`` finder and loader: an old name loads as the moved module (duck-typed:
    ``importlib.abc`` would cost every ``import cvb`` about 8 ms)."""

    def __init__(self) -> None:
        self.specs: dict[str, importlib.machinery.ModuleSpec | None] = {}  # moved module -> its own spec

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        loader: Any = self
        return importlib.machinery.ModuleSpec(fullname, loader)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The moved module ran when it was imported; the import machinery has just given it
        the old name's spec, so give it back its own (its relative imports read it)."""
        module.__spec__ = self.specs[module.__name__]


def install() -> None:
    if not any(isinstance(f, OldNames) for f in sys.meta_path):
        sys.meta_path.append(OldNames())
