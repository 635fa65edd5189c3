"""cvb refuses to start with a numpy 2 that a plugin's install pulled in, naming who pulled it.

cvb and its learned codecs need ``numpy<2`` (compressai 1.2.8 is compiled against numpy 1: with
numpy 2 it fails at import, far from the install that caused it). pip does not weigh installed
packages' requirements when it installs another, so ``pip install some-plugin`` whose
dependencies want ``numpy>=2`` (an unpinned ``imagecodecs``, say) silently upgrades it. The fix
is to install plugins with cvb's pins: ``pip install -c constraints.txt PACKAGE`` (see
CONTRIBUTING.md). This check reads package metadata only (no numpy import); it costs about a
millisecond and runs before every command (``cvb --help`` aside). ``CVB_ALLOW_NUMPY2=1`` skips it.
"""

from __future__ import annotations

import os
import re
from importlib import metadata

from .errors import UnavailableError

ENV_SKIP = "CVB_ALLOW_NUMPY2"
#: a requirement on numpy whose lower bound is 2 or more: ``numpy>=2``, ``numpy (>=2.0.0)``, ``numpy~=2.1``
_NEEDS_2 = re.compile(r"^numpy(?![-a-z0-9._])[^;]*?(?:>=|==|~=|>)\s*([0-9]+)")


def check_numpy_pin() -> None:
    """Raise ``UnavailableError`` when numpy 2 or later is installed (unless ``CVB_ALLOW_NUMPY2``)."""
    if os.environ.get(ENV_SKIP):
        return
    version = installed_numpy()
    if version is None or int(version.split(".")[0]) < 2:
        return
    culprits = numpy2_requirers()
    who = (f"required by {', '.join(culprits)}" if culprits else
           "no installed package requires it: an upgrade (pip install -U) brought it")
    raise UnavailableError(
        f"numpy {version} is installed, but cvb needs numpy<2 (compressai and the learned codecs are "
        f"built against numpy 1); {who}. Put it back with pip install 'numpy<2', and install plugins "
        f"with cvb's pins: pip install -c constraints.txt PACKAGE (CONTRIBUTING.md); "
        f"{ENV_SKIP}=1 starts cvb anyway")


def installed_numpy() -> str | None:
    """The version of the numpy that ``import numpy`` would load, from the ``.dist-info`` beside
    it (``metadata.version`` scans every path entry: tens of ms on each start)."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("numpy")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    for info in Path(spec.origin).parent.parent.glob("numpy-*.dist-info"):
        return info.name[len("numpy-"):-len(".dist-info")]
    try:
        return metadata.version("numpy")  # another layout (an .egg-info, a system package)
    except metadata.PackageNotFoundError:
        return None


def numpy2_requirers() -> list[str]:
    """``["imagecodecs 2025.3.30 (numpy>=2)", ...]``: installed distributions whose (non-extra)
    requirements exclude every numpy 1."""
    found = []
    for dist in metadata.distributions():
        for req in dist.requires or ():
            req_text = req.strip()
            if "extra ==" in req_text.replace('"', "").replace("'", ""):
                continue  # an optional extra: not necessarily installed
            match = _NEEDS_2.match(req_text.lower().replace("_", "-"))
            if match and int(match.group(1)) >= 2:
                found.append(f"{dist.metadata['Name']} {dist.version} ({req_text.split(';')[0].strip()})")
                break
    return sorted(set(found))
