"""Registers the paper's benchmarks (POPE, MME, SEED-Bench-IMG, MMBench, OCRBench, GQA, COCO).

Light by design: nothing here imports ``datasets``; each status check only looks at
environment variables and directories (see ``hubdata.offline_reason``).
"""

from __future__ import annotations

from cvb import hookimpl
from cvb.specs import TaskSpec

from .hubdata import offline_reason
from .protocols import JUDGE_HELP, PROTOCOL_HELP

_PATH_OPTION = {"path": "local copy: a save_to_disk directory or the hub's parquet layout "
                        "(same as name:PATH); default $CVB_DATA_DIR/<dataset id> if present"}

#: (name, dataset id, factory, summary, splits, extra options)
_TASKS: tuple[tuple[str, str, str, str, tuple[str, ...], dict[str, str]], ...] = (
    ("pope", "lmms-lab/POPE", "cvb_tasks.pope:PopeTask",
     "POPE object hallucination, 9000 yes/no on 500 COCO images; F1 x100 (+acc, precision, "
     "recall, yes-ratio)", ("all", "random", "popular", "adversarial"),
     {"split": "all (default), random, popular or adversarial (same as pope:SPLIT)"}),
    ("mme", "lmms-lab/MME", "cvb_tasks.mme:MmeTask",
     "MME, 14 yes/no subtasks, 2374 questions in image pairs; perception+cognition sum of "
     "acc+acc+ (max 2800)", (), {}),
    ("seedbench", "lmms-lab/SEED-Bench", "cvb_tasks.seedbench:SeedBenchTask",
     "SEED-Bench-IMG, 14233 4-way multiple choice; accuracy x100", (), {}),
    ("mmbench", "lmms-lab/MMBench", "cvb_tasks.mmbench:MmbenchTask",
     "MMBench-dev-en multiple choice; accuracy x100, CircularEval with circular=true", (),
     {"circular": "true: ask every rotation of the options, a question counts only if all are "
                  "right (MMBench's CircularEval); default false"}),
    ("ocrbench", "echo840/OCRBench", "cvb_tasks.ocrbench:OcrBenchTask",
     "OCRBench v1, 1000 OCR questions in 10 categories; right answers out of 1000", (), {}),
    ("gqa", "lmms-lab/GQA", "cvb_tasks.gqa:GqaTask",
     "GQA testdev-balanced, 12578 short-answer questions; normalised exact-match accuracy x100",
     (), {}),
    ("coco-caption", "lmms-lab/COCO-Caption2017", "cvb_tasks.coco_caption:CocoCaptionTask",
     "COCO 2017 val captions, 5000 images x 5 references; CIDEr-D x100 (+BLEU-1..4)", (),
     {"ids": "file of image ids (COCO file names) to keep, one per line, e.g. the Karpathy test "
             "split over a local copy of lmms-lab/COCO-Caption (2014 val)"}),
)


def _status(dataset_id: str, task: str):
    return lambda: offline_reason(dataset_id, task)


@hookimpl
def register_tasks(register):
    for name, dataset_id, factory, summary, splits, options in _TASKS:
        register(TaskSpec(
            name=name,
            factory=factory,
            kind="benchmark",
            summary=f"{summary} [{dataset_id}]",
            check=_status(dataset_id, name),
            check_sees_arg=False,  # the check cannot see a path given as name:PATH / path=
            arg="SPLIT|PATH" if splits else "PATH",
            options={**_PATH_OPTION, **options, "protocol": PROTOCOL_HELP,
                     **({"judge": JUDGE_HELP} if name != "coco-caption" else {})},
            splits=splits,
        ))
