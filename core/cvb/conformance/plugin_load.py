"""The rule that a component's plugin loads light: importing it and running its register hooks
must not import torch, transformers or the like, which every cvb command (``cvb --help``,
``cvb plugins``, ``cvb list``) would then pay for on every start.

Measured in a new Python process, so what the checking process imported already cannot hide it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from .results import INFO, Report

if TYPE_CHECKING:
    from .subjects import Subject

RULE = "its plugin loads light (no torch, transformers... at import)"
#: loads one plugin (module or module:attr) as the registry does and prints the warning, if any
PROBE = """
import json, sys, time
sys.path[:0] = json.loads(sys.argv[2])  # the checking process's path: plugins found there are found here
from cvb.plugins import PluginInfo, Registry, heavy_load_warning
from cvb.specs import resolve
before, t0 = set(sys.modules), time.perf_counter()
Registry().add_plugin(resolve(sys.argv[1]), PluginInfo("probe", "?", "?", sys.argv[1]))
print(json.dumps(heavy_load_warning(set(sys.modules) - before, time.perf_counter() - t0)))
"""


def plugin_load_rule(report: Report, subj: Subject, registry) -> None:
    if subj.spec is None or registry is None:
        report.add(RULE, INFO, "checked as an object, not by its registered name: no plugin to load")
        return
    owner = registry.plugins.get(registry.owner(subj.category, subj.spec.name))
    if owner is None:
        report.add(RULE, INFO, "its plugin was registered in this process, not through an entry point")
        return
    with report.rule(RULE) as r:
        path = json.dumps([p for p in sys.path if p])
        proc = subprocess.run([sys.executable, "-c", PROBE, owner.value, path], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"loading {owner.value} alone failed: {proc.stderr.strip()[-400:]}"
        warning = json.loads(proc.stdout.strip().splitlines()[-1])
        assert warning is None, f"plugin {owner.label()} ({owner.value}) {warning}"
        r.detail = f"{owner.value} loads without heavy imports"
