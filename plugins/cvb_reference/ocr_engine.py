"""Text lines from an image with RapidOCR (PP-OCRv4 detection + recognition, ONNX, offline).

The ONNX models ship inside ``rapidocr-onnxruntime``. Two changes from its one-call default,
both measured on scikit-image's ``page`` scan (384x191, text lines ~15 px high):

* detection keeps boxes down to score 0.3 (default 0.5), which finds a faint line the default
  drops ("the markers are found at the two extreme parts of the");
* each detected line is cut out with a perspective transform *and upscaled with bicubic
  resampling to at least 48 px high* before recognition. PP-OCRv4's recogniser works on 48 px
  high strips; fed the raw 15 px crop (which it enlarges bilinearly itself) it drops most
  spaces between words ("histogram ofgreyvalues:"); fed the bicubic strip it reads the line
  exactly ("histogram of grey values:").

* images whose shorter side is under ``UPSCALE_BELOW`` px are enlarged 2x (bicubic) before
  detection: the detector otherwise misses or merges small text in photographs (a fuel-tank
  brand on the 741x500 ``motorcycle`` photo is found only at 2x). Box coordinates are reported
  in the original image's pixels.

Lines come back in reading order: top to bottom, then left to right within a line. The
180-degree text-direction classifier is skipped (scanned and photographed text is upright).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from .deps import require
from .threads import DEFAULT_THREADS

if TYPE_CHECKING:
    from PIL import Image

#: detection box score threshold (RapidOCR default 0.5)
BOX_THRESH = 0.3
#: detection box expansion ratio (RapidOCR default)
UNCLIP_RATIO = 1.6
#: lines recognised with a lower mean character confidence are dropped (RapidOCR default)
MIN_SCORE = 0.5
#: text strips are upscaled to at least this height before recognition
REC_HEIGHT = 48
#: images with a shorter side below this are enlarged 2x before detection
UPSCALE_BELOW = 1024


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float
    box: tuple[tuple[float, float], ...]  # 4 corners: top-left, top-right, bottom-right, bottom-left

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)


class OcrEngine:
    """Loads RapidOCR on first use (about 0.3 s); ``read(image)`` -> lines in reading order."""

    def __init__(self, min_score: float = MIN_SCORE, box_thresh: float = BOX_THRESH,
                 rec_height: int = REC_HEIGHT, threads: int = DEFAULT_THREADS):
        self.min_score = min_score
        self.threads = threads
        self.box_thresh = box_thresh
        self.rec_height = rec_height
        self._engine = None
        self._lock = threading.Lock()  # RapidOCR keeps per-call settings on the engine

    def load(self):
        with self._lock:
            if self._engine is None:
                require("rapidocr_onnxruntime", "onnxruntime")
                from rapidocr_onnxruntime import RapidOCR

                # onnxruntime threads per session; RapidOCR's -1 means "all cores"
                self._engine = RapidOCR(intra_op_num_threads=self.threads or -1,
                                        inter_op_num_threads=1 if self.threads else -1)
        return self._engine

    def read(self, image: "Image.Image") -> list[TextLine]:
        from PIL import Image

        engine = self.load()
        image = image.convert("RGB")
        scale = 2 if min(image.size) < UPSCALE_BELOW else 1
        if scale != 1:
            image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
        with self._lock:
            boxes, _ = engine(image, use_det=True, use_cls=False, use_rec=False,
                              box_thresh=self.box_thresh, unclip_ratio=UNCLIP_RATIO,
                              text_score=self.min_score)
            lines = []
            for box in boxes or []:
                quad = tuple((float(x), float(y)) for x, y in box)
                strip = line_strip(image, quad, self.rec_height)
                quad = tuple((x / scale, y / scale) for x, y in quad)
                if strip is None:
                    continue
                rec, _ = engine(strip, use_det=False, use_cls=False, use_rec=True)
                if not rec:
                    continue
                text, score = str(rec[0][0]), float(rec[0][1])
                text = unicodedata.normalize("NFKC", text).strip()
                if text and score >= self.min_score:
                    lines.append(TextLine(text=text, score=score, box=quad))
        return reading_order(lines)

    def close(self) -> None:
        with self._lock:
            self._engine = None


def line_strip(image: "Image.Image", quad: Sequence[tuple[float, float]], height: int):
    """The quadrilateral ``quad`` rectified to an upright strip at least ``height`` px high."""
    import math

    from PIL import Image

    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    width = max(math.dist((x0, y0), (x1, y1)), math.dist((x3, y3), (x2, y2)))
    high = max(math.dist((x0, y0), (x3, y3)), math.dist((x1, y1), (x2, y2)))
    if width < 2 or high < 2:
        return None
    scale = max(1.0, height / high)
    size = (max(1, round(width * scale)), max(1, round(high * scale)))
    # PIL's QUAD data: upper-left, lower-left, lower-right, upper-right corners of the source
    data = (x0, y0, x3, y3, x2, y2, x1, y1)
    return image.transform(size, Image.Transform.QUAD, data, resample=Image.Resampling.BICUBIC)


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """Top-to-bottom rows, left-to-right within a row.

    Two boxes share a row when they overlap vertically by at least half the smaller height
    (robust to the slight slant of photographed text, unlike sorting by the top edge).
    """
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.top + ln.bottom) / 2):
        for row in rows:
            ref = row[0]
            overlap = min(ref.bottom, line.bottom) - max(ref.top, line.top)
            smaller = min(ref.bottom - ref.top, line.bottom - line.top)
            if smaller > 0 and overlap >= 0.5 * smaller:
                row.append(line)
                break
        else:
            rows.append([line])
    rows.sort(key=lambda row: min(ln.top for ln in row))
    return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.left)]


def joined(lines: Sequence[TextLine]) -> str:
    """All the text, in reading order, one space between lines."""
    return " ".join(ln.text for ln in lines)
