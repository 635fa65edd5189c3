"""Registers the offline local-image tasks: ``sample`` (bundled photos) and ``folder:SPEC``."""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import TaskSpec


def _sample_status() -> str | None:
    from .sample_task import check

    return check()


@hookimpl
def register_tasks(register):
    register(TaskSpec(
        name="sample",
        factory="cvb_local.sample_task:SampleTask",
        kind="offline",
        summary="75 hand-checked questions on 9 images shipped by scikit-image/scikit-learn/"
                "matplotlib: POPE-style object existence (yes/no) + OCR; no download",
        check=_sample_status,
    ))
    register(TaskSpec(
        name="folder",
        factory="cvb_local.folder_task:FolderTask",
        kind="offline",
        summary="your own images (a folder, searched recursively, a glob or one file): a "
                "caption each (scored by consistency with the uncompressed image), or your "
                "questions file (accuracy where answers are given)",
        arg="PATH|GLOB",
        options={
            "questions": "JSON-lines file: image (relative to the folder), question, optional "
                         "answer, options, kind (yesno/choice/open/caption), id, category",
            "prompt": "the caption question asked when there is no questions file "
                      "(default: 'Describe this image briefly.')",
        },
    ))
