"""The rows the results store takes and gives (``Store``), named: a field is read by its name,
never by its place in a tuple. Each is a ``NamedTuple`` in the column order of its table
(``schema.sql``), so it goes to SQLite as it is."""

from __future__ import annotations

from typing import NamedTuple


class ImageRow(NamedTuple):
    """One image a task uses (``Store.add_images``): its content hash and size, or why it
    cannot be read."""

    image_key: str
    content_hash: str | None
    num_bytes: int | None
    error: str | None


class StoredImage(NamedTuple):
    """An image a task uses, as stored (``Store.images``)."""

    content_hash: str | None
    error: str | None


class ImageInfo(NamedTuple):
    """What decoding an image found (``Store.set_image_info``): its size, or why it failed."""

    content_hash: str
    width: int | None
    height: int | None
    error: str | None


class CompressedRow(NamedTuple):
    """One compressed image (table ``compressed``)."""

    key: str
    content_hash: str
    codec: str
    codec_version: str
    level: str
    params: str  # JSON
    num_bytes: int | None
    bpp: float | None
    width: int | None
    height: int | None
    encode_s: float | None
    decode_s: float | None
    error: str | None


class MetricRow(NamedTuple):
    """One metric of one compressed image against its original (table ``metrics``)."""

    key: str
    metric: str
    value: float | None
    error: str | None


class SampleRow(NamedTuple):
    """What one sample asks (table ``samples``; JSON columns already text)."""

    task: str
    sample_id: str
    task_version: str
    prompt_sha: str
    image: str | None
    image_path: str | None
    kind: str
    question: str
    options: str | None
    gold: str | None
    category: str | None
    prompt: str
    generation: str | None
    meta: str | None


class PredictionRow(NamedTuple):
    """One answer of one VLM to one sample in one cell (table ``predictions``, without the
    columns the store fills: id, run_id, updated_ns, scored_as)."""

    task: str  # the label answers are stored under (``Identity.answers``)
    task_version: str
    sample_id: str
    vlm: str
    vlm_version: str | None
    codec: str
    level: str
    key: str | None
    prompt_sha: str
    text: str | None
    parsed: str | None
    judge: float | None
    error: str | None
    latency_s: float | None
    answer_meta: str | None = None  # JSON: the VLM's note on how it answered (``Answer.meta``)


class StoredAnswer(NamedTuple):
    """A stored answer as the runner checks and scores it (``Store.iter_predictions``,
    ``predictions_of``): ``text`` and ``vlm_version`` are None where not asked for."""

    sample_id: str
    key: str | None
    task_version: str
    prompt_sha: str
    error: str | None
    text: str | None = None
    vlm_version: str | None = None
