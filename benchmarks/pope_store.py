"""A results store of POPE-shaped cells that ``cvb report`` can rescore (benchmarks' helper).

``pope_copy`` writes a local copy of the POPE dataset layout (``images`` x ``questions``
yes/no questions, tiny pictures) that the real ``pope:`` task reads; ``fill`` stores synthetic
answers for a matrix of cells through ``Store.save_predictions`` (the runner's write path),
scores each cell with the task's own rule and records the task in a run, as ``cvb run`` does:
the report then rebuilds the task and resamples every cell.
"""

from __future__ import annotations

import sys
from pathlib import Path


def pope_copy(root: Path, images: int, questions: int) -> Path:
    """``images`` x ``questions`` POPE questions (half "yes") in the hub's parquet layout."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "plugins" / "cvb-fakes"))
    from cvb_fakes.pope_data import pope_layout

    return pope_layout(root, images, questions, color=lambda i: (i % 256, 7 * i % 256, 90))


def fill(store_path: Path, datasets_: list[Path], vlms: int, codecs: int, levels: int, options: dict | None = None,
         progress=None) -> int:
    """Answers and scored cells of every POPE copy x ``vlms`` x (reference + ``codecs`` x ``levels``);
    the number of answers. A lower level answers worse (more "yes" to "no" questions)."""
    import numpy as np

    from cvb.plugins import get_registry
    from cvb.run.plan import create
    from cvb.run.store import Store

    options = dict(options or {})
    suffix = "".join(f"[{k}={v}]" for k, v in sorted(options.items()))
    cells = [("none", "-")] + [(f"codec{c}", str(lv)) for c in range(codecs) for lv in range(1, levels + 1)]
    tasks = [(f"pope:{d}", create(get_registry(), "task", f"pope:{d}", options)) for d in datasets_]
    n = 0
    with Store(store_path) as store:
        run_id = store.begin_run({"cvb_version": "bench", "argv": ["bench"], "plugins": [], "prompts": {},
                                  "options": {"tasks": [{"label": ref + suffix, "ref": ref} for ref, _ in tasks]}})
        for t, (ref, task) in enumerate(tasks):
            samples = list(task.samples())
            truth = np.array([s.answer == "yes" for s in samples])
            for v in range(vlms):
                vlm = f"hf:org/model-{v}"
                if progress:
                    progress(f"filling {ref} x {vlm}")
                for c, (codec, level) in enumerate(cells):
                    rng = np.random.default_rng([t, v, c])
                    wrong = rng.random(len(samples)) < (0.08 if codec == "none" else 0.3 / int(level))
                    said_yes = truth ^ wrong
                    answers = {s.id: "Yes" if y else "No" for s, y in zip(samples, said_yes)}
                    store.save_predictions([(ref, task.version, s.id, vlm, "v1", codec, level, f"k{i % 500}",
                                             "0123456789abcdef", answers[s.id], None,
                                             float(y == (s.answer == "yes")), None, 0.01)
                                            for i, (s, y) in enumerate(zip(samples, said_yes))], run_id)
                    n += len(samples)
                    score = task.score(samples, answers)
                    store.save_cell({"task": ref + suffix, "vlm": vlm, "codec": codec, "level": level,
                                     "task_version": task.version, "codec_kind": "traditional",
                                     "rate_rank": None if codec == "none" else float(level), "n": len(samples),
                                     "n_failed": 0, "score": score.value, "score_metric": score.metric,
                                     "higher_is_better": True, "details": dict(score.details),
                                     "bpp": 24.0 if codec == "none" else (0.1 + 0.01 * c) * int(level),
                                     "metrics": {}}, "bench", run_id)
        store.finish_run(run_id, "ok")
    return n
