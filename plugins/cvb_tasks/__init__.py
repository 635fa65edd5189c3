"""The paper's benchmark tasks, loaded from the Hugging Face hub datasets lmms-eval uses.

One module per benchmark; ``plugin`` registers them without importing ``datasets``. Each task
takes a local copy (``name:PATH`` or ``path=``) for machines without the hub. See docs/tasks.md.

What another plugin may use (the lmms-eval bridge reads the same hub copies) is what this
package root exports: the hub-data helpers ``default_path``, ``offline_reason``, ``hub_cached``,
``parquet_files``, ``DATA_DIR_ENV`` and ``spread`` (an evenly spread subset of whole groups);
the benchmarks' scoring rules (``rules``: ``pope_metrics``, ``pope_counts_metrics``,
``ocrbench_match``, ``gqa_match``, ``mme_scores``, ``MME_GROUPS``), which the offline tasks reuse.
"""

from typing import Any

#: the public names (imported from the package root; its modules are internal) -> their module,
#: imported on first use so that loading the plugin stays light
_WHERE = {
    "default_path": "hubdata",
    "offline_reason": "hubdata",
    "hub_cached": "hubdata",
    "parquet_files": "hubdata",
    "DATA_DIR_ENV": "hubdata",
    "spread": "base",
    "pope_metrics": "rules",
    "pope_counts_metrics": "rules",
    "ocrbench_match": "rules",
    "gqa_match": "rules",
    "mme_scores": "rules",
    "MME_GROUPS": "rules",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
