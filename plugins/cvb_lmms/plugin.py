"""Registers ``lmms-eval``: any lmms-eval 0.7.3 image task by name (``lmms-eval:NAME[:PATH]``).

Light by design: the status check reads package metadata only; lmms-eval (and its task code)
is imported when a bridged task is created or the catalogue is listed.
"""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import TaskSpec

from .upstream import missing_reason


@hookimpl
def register_tasks(register):
    register(TaskSpec(
        name="lmms-eval",
        factory="cvb_lmms.task:LmmsEvalTask",
        kind="bridge",
        summary="any lmms-eval 0.7.3 image task by name, scored by lmms-eval's own process_results and "
                "aggregation (`cvb list tasks --source lmms-eval` lists them)",
        check=missing_reason,
        check_sees_arg=False,
        arg="NAME[:PATH]",
        options={"path": "local copy of the task's dataset: a save_to_disk folder or the hub's parquet "
                         "layout (same as lmms-eval:NAME:PATH); default $CVB_DATA_DIR/<dataset_path> if present",
                 "model": "model family whose lmms_eval_specific_kwargs (pre/post prompts) apply, e.g. "
                          "qwen_vl; default: the task's `default`",
                 "metric": "the headline among the task's metrics (all are reported); default: the first of its "
                           "metric_list that every document reports"},
        catalogue="cvb_lmms.catalogue:rows",
    ))
