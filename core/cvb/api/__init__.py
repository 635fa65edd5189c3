"""cvb's Python API: run a study, build a report, with the results ``cvb run`` and ``cvb
report`` print (docs/api.md). The command line is a thin layer over these functions.

    from cvb.api import Study, run_study, report_store

    result = run_study(Study(vlms=("hf:HuggingFaceTB/SmolVLM-256M-Instruct",), tasks=("sample",),
                             codecs=("jpeg",), levels=("jpeg=10,50",)))
    for cell in result.cells:
        print(cell.codec, cell.level, cell.score, cell.delta)
    report = report_store(result.store, resamples=200)

Light at import: nothing heavy loads until a function runs.
"""

from __future__ import annotations

from .cell import Cell
from .failure import Failure
from .report import Report, report_store, report_study
from .run import RunInterrupted, RunResult, run_study
from .study import Study, StudyFile, load_study, study_from_dict

__all__ = ["Cell", "Failure", "Report", "RunInterrupted", "RunResult", "Study", "StudyFile", "load_study",
           "report_store", "report_study", "run_study", "study_from_dict"]
