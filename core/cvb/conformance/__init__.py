"""The conformance kit: rules every codec, VLM, task and metric plugin must keep.

Run it from the command line (``cvb check codec NAME``) or from pytest
(``cvb.testing.check_codec(NAME).raise_for_failures()``); see docs/conformance.md.
"""

from .results import CheckFailed, CheckResult, Report

__all__ = ["CheckFailed", "CheckResult", "Report", "check_codec", "check_vlm", "check_task", "check_metric"]


def check_codec(*args, **kwargs) -> Report:
    from .codec_checks import check_codec as run

    return run(*args, **kwargs)


def check_vlm(*args, **kwargs) -> Report:
    from .vlm_checks import check_vlm as run

    return run(*args, **kwargs)


def check_task(*args, **kwargs) -> Report:
    from .task_checks import check_task as run

    return run(*args, **kwargs)


def check_metric(*args, **kwargs) -> Report:
    from .metric_checks import check_metric as run

    return run(*args, **kwargs)
