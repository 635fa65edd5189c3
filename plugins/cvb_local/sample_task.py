"""``sample``: hand-annotated questions on the real photographs that installed packages ship.

Needs nothing downloaded, so it is the offline default of the demo. The annotations are data
(``data/sample.jsonl``, provenance in ``data/PROVENANCE.md``): POPE-style yes/no object
existence questions, balanced yes/no on every photo, and OCR questions whose answers were read
off the images by hand.

Scoring: existence questions get POPE's numbers (acc, precision, recall, F1, yes-ratio), OCR
questions OCRBench's substring rule; the headline ``acc`` is the percentage of all questions
answered correctly. All rates are percentages.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from cvb.errors import UnavailableError
from cvb.options import reject_unknown
from cvb.sample_images import package_file, sample_photo_paths
from cvb.scoring import parse_yes_no
from cvb_tasks import pope_metrics
from cvb.types import AnswerKind, ImageSource, Sample, TaskScore

from .answers import MAX_NEW_TOKENS, is_correct, percent

DATA = Path(__file__).with_name("data") / "sample.jsonl"

#: images used besides ``cvb.sample_images.SAMPLE_PHOTOS``: name -> (package, path inside it)
EXTRA_IMAGES: dict[str, tuple[str, str]] = {
    "page": ("skimage", "data/page.png"),  # a scanned page of printed text (greyscale)
}

#: category -> how its questions are answered
KINDS = {"existence": AnswerKind.YESNO, "ocr": AnswerKind.OPEN}

#: questions taken from one photo before moving to the next (see ``interleave``)
CHUNK = 2

_INSTALL_HINT = "pip install scikit-image scikit-learn matplotlib (they ship the photos)"


def image_paths() -> dict[str, Path]:
    """Every image the annotations may use that exists here, by name."""
    found = dict(sample_photo_paths())
    for name, (pkg, rel) in EXTRA_IMAGES.items():
        path = package_file(pkg, rel)
        if path is not None:
            found[name] = path
    return found


def read_annotations(path: Path = DATA) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def missing_images() -> list[str]:
    """Names of annotated images not found in this environment (cheap: no package import)."""
    have = image_paths()
    return sorted({row["image"] for row in read_annotations()} - set(have))


def check() -> str | None:
    """The TaskSpec status check: None when every annotated image is installed."""
    if not DATA.is_file():
        return f"annotation file {DATA} is missing; reinstall cvb"
    missing = missing_images()
    if missing:
        return f"sample images not installed: {', '.join(missing)}; {_INSTALL_HINT}"
    return None


def interleave(rows: Sequence[dict[str, Any]], chunk: int = CHUNK) -> list[dict[str, Any]]:
    """Cycle over the images, ``chunk`` questions at a time, in file order.

    The file lists each photo's existence questions alternating yes, no; so any prefix of the
    result (``limit``) covers as many photos as it can with yes and no balanced.
    """
    by_image: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_image.setdefault(row["image"], []).append(row)
    queues = [list(v) for v in by_image.values()]
    out: list[dict[str, Any]] = []
    while any(queues):
        for q in queues:
            out.extend(q[:chunk])
            del q[:chunk]
    return out


class SampleTask:
    """The bundled offline task. ``version`` follows the annotation file's content."""

    name = "sample"

    def __init__(self, **unknown: object) -> None:
        reject_unknown("task 'sample'", unknown, ())
        self._rows = read_annotations()
        digest = hashlib.sha256(DATA.read_bytes()).hexdigest()[:10]
        self.version = f"1-{digest}"

    @cached_property
    def _paths(self) -> dict[str, Path]:
        return image_paths()

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        rows = interleave(self._rows)
        if limit is not None:
            rows = rows[: max(0, limit)]
        missing = sorted({r["image"] for r in rows} - set(self._paths))
        if missing:
            raise UnavailableError(f"task 'sample': images not installed: {', '.join(missing)}; "
                                   f"{_INSTALL_HINT}")
        sources = {name: ImageSource(key=name, path=str(path))
                   for name, path in self._paths.items()}
        for row in rows:
            yield to_sample(row, sources[row["image"]])

    def judge(self, sample: Sample, prediction: str | None) -> float:
        ocr = sample.category == "ocr"
        return float(is_correct(sample.kind, prediction, sample.answer, sample.options, ocr=ocr))

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        return score_sample_task(samples, predictions)


def to_sample(row: Mapping[str, Any], image: ImageSource) -> Sample:
    category = row["category"]
    kind = KINDS[category]
    meta = {k: row[k] for k in ("object", "negative") if k in row}
    meta["max_new_tokens"] = MAX_NEW_TOKENS[kind]
    return Sample(id=row["id"], image=image, question=row["question"], kind=kind,
                  answer=row["answer"], category=category, meta=meta)


def score_sample_task(samples: Iterable[Sample], predictions: Mapping[str, str]) -> TaskScore:
    """POPE numbers on the existence questions, OCRBench accuracy on the OCR ones, overall acc.

    A sample without a prediction (it failed) counts as answered wrongly, and in POPE's numbers
    as a prediction that is not "yes". Keys of categories absent from ``samples`` are left out.
    """
    samples = list(samples)
    details: dict[str, float] = {"questions": float(len(samples)),
                                 "missing": float(sum(s.id not in predictions for s in samples))}
    if not samples:
        return TaskScore(value=float("nan"), metric="acc", details=details)
    right = 0
    existence = [s for s in samples if s.category == "existence"]
    if existence:
        labels = [parse_yes_no(predictions.get(s.id)) for s in existence]
        pope = pope_metrics(labels, [s.answer for s in existence])
        details.update({("acc/existence" if k == "acc" else k): 100.0 * v for k, v in pope.items()})
        details["questions/existence"] = float(len(existence))
        # answers given but neither yes nor no (failed samples are counted in "missing")
        details["unparsed"] = float(sum(lab is None and s.id in predictions
                                        for lab, s in zip(labels, existence)))
        ok = [lab == s.answer for lab, s in zip(labels, existence)]
        right += sum(ok)
        for negative in ("adversarial", "random"):
            picked = [o for o, s in zip(ok, existence) if s.meta.get("negative") == negative]
            if picked:
                details[f"acc/{negative}_negatives"] = percent(sum(picked), len(picked))
    ocr = [s for s in samples if s.category == "ocr"]
    if ocr:
        hits = sum(is_correct(s.kind, predictions.get(s.id), s.answer, ocr=True) for s in ocr)
        details["acc/ocr"] = percent(hits, len(ocr))
        details["questions/ocr"] = float(len(ocr))
        right += hits
    acc = percent(right, len(samples))
    details["acc"] = acc
    return TaskScore(value=acc, metric="acc", details=details, accuracy_scale=100.0)
