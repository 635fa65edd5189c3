"""Running a planned matrix: compress, measure, infer, score, each finished unit committed.

Stages, overlapped:

1. **compress** (+ metrics): one unit per distinct image x codec, only for keys the store lacks
   (the image cache and the ``compressed`` table are content-addressed, so an image is
   compressed once per key across samples, VLMs, tasks and runs). Units run on a background
   thread (``compress_feed``: in this process, or in the ``-j`` worker pool); the main thread
   stores their outcomes.
2. **inference**, one VLM at a time over all its cells, so each model loads once; it starts at
   once with the samples whose image is ready (the uncompressed reference cell, images
   compressed by earlier runs) and takes each newly compressed image as soon as it is stored,
   so the model never waits while it has work. A VLM whose cells are all answered (by the same
   model ``version``) is built, which is cheap, but never loaded. Answers are committed per batch.
3. **scoring**: each cell's score from the task's own rule, recomputed only when its inputs
   changed (a fingerprint of its predictions, samples and rate numbers).

The main thread is the store's only writer. Any unit that fails (unreadable image, codec
error, a model error on one sample) is stored with its error and the run goes on; the summary
lists failures.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..errors import CvbError, UnavailableError
from ..identity import Identity
from ..types import Answer, Sample
from .claims import Claims, answer_unit, compression_unit, poll_delays
from .compress_claims import shared
from .compress_feed import CompressionFeed
from .compress_units import JobOutcome, LevelOutcome, LevelWork, Workshop, measurements
from .executor import Executor, LocalExecutor
from .job_spool import NOT_FRESH, JobSpool
from . import judge_replies
from .image_cache import CacheError, ImageCache, keeps_pixels, max_size_from_env
from .plan import NONE_BPP, CodecPlan, Plan, TaskPlan, VLMPlan, create, query_for
from .progress import Bar, Progress
from .store import Store, StoreError, batched
from .store_rows import CompressedRow, ImageInfo, ImageRow, MetricRow, PredictionRow, StoredAnswer
from .vlm_session import VLMSession, answer_meta

_FLUSH_UNITS = 32  # compression outcomes per transaction at most...
_FLUSH_SECONDS = 0.5  # ...and at most this old: a kill loses under a second of codec work
_SCORE_CHUNK = 500  # samples whose answers scoring reads from the store at once
_IMAGE_LRU = 32  # decoded images kept while a cell's samples (grouped by image) are asked
MAX_LISTED_FAILURES = 200
_MISSING = NOT_FRESH  # a compressed image never made (status of a sample's key)
_ORDER_CHUNK = 512  # samples of a cell whose keys' state is looked up at once


@dataclass
class Work:
    """What this run did (a rerun of a finished matrix does none of it)."""

    codec_calls: int = 0
    compressed: int = 0
    metrics: int = 0
    predictions: int = 0
    models_loaded: list[str] = field(default_factory=list)
    cells_scored: int = 0
    #: compressed images and answers a run beside this one made while it ran (read, not redone)
    by_other_runs: int = 0
    #: units claimed from a run that was gone (killed): redone here
    taken_over: int = 0


@dataclass
class _Item:
    task: TaskPlan
    codec: CodecPlan
    level: str
    index: int  # into task.samples
    key: str | None


class Runner:
    def __init__(self, plan: Plan, store: Store, cache: ImageCache, registry, run_id: int, *,
                 executor: Executor | None = None, batch_size: int | None = None,
                 retry_failed: bool = False, progress: Progress | None = None):
        self.plan, self.store, self.cache, self.registry = plan, store, cache, registry
        #: where the work runs (``cvb.run.executor.make_executor``): this process's pool by default
        self.executor = executor or LocalExecutor()
        self.run_id, self.batch_size, self.retry = run_id, batch_size, retry_failed
        self.progress = progress or Progress(enabled=False)
        self.work = Work()
        self._decode_errors: dict[str, str] = {}  # content hash -> why it cannot be decoded
        self._images: OrderedDict[str, Any] = OrderedDict()
        self._metric_names = tuple(m.name for m in plan.metrics)
        #: VLM label -> its ``version`` (part of an answer's identity); None: it could not be
        #: built, so stored answers are taken as they are (and new ones fail on the build error)
        self._vlm_versions: dict[str, str | None] = {}
        self._feed: CompressionFeed | None = None
        #: the compression units, the keys being compressed now (their samples wait for them),
        #: those compressed by this run with their errors, and the waiting samples: on disk
        self._jobs = JobSpool()
        self._outcomes: list[JobOutcome] = []  # taken from the feed, not yet stored
        self._last_flush = time.monotonic()
        self._wanted_now = False  # a sample waits for a compression: store outcomes at once
        self._bar_c: Bar | None = None
        self._bar_m: Bar | None = None
        #: units claimed in the store, shared with concurrent runs (``cvb.run.claims``); what a
        #: run beside this one stored since this moment is its work, not this run's to redo
        self._claims: Claims | None = None
        self._started_ns = time.time_ns()

    @property
    def feed(self) -> CompressionFeed:
        """The compression feed of the run in progress (``_start_compression`` makes it)."""
        assert self._feed is not None, "a run is in progress"
        return self._feed

    @property
    def claims(self) -> Claims:
        """The units this run claims in the store (``run`` opens them)."""
        assert self._claims is not None, "a run is in progress"
        return self._claims

    def run(self) -> dict[str, Any]:
        self._claims = Claims(self.store, self.run_id)
        try:
            with judge_replies.kept_in(self.store, self.run_id):  # a judge's replies kept: never asked twice
                return self._run()
        finally:
            self._jobs.close()
            try:
                self.claims.release_all()
            except StoreError:
                pass  # the store failed already (that error is on its way); a later run takes them over
            self.claims.close()

    def _run(self) -> dict[str, Any]:
        self._file_components()
        self._refuse_vlms_that_cannot_answer()
        self._record_images()
        self._record_samples()
        self.executor.start()  # on the main thread, before the compression feed needs it
        self._start_compression()
        try:
            for vlm in self.plan.vlms:
                self._inference_stage(vlm)
            while not self.feed.finished:  # compression no VLM waited for (all answered)
                self._drain(block=True)
            self._flush_outcomes()
            self.claims.renew()  # what this run stored is free to read for a run beside it
            self.work.taken_over = self.claims.taken_over
        except StoreError:
            self.feed.stop()
            raise
        except BaseException:  # Ctrl-C or a fatal error: what finished is kept
            self.feed.stop()
            self._drain(block=False, catch=True)
            self._flush_outcomes()
            raise
        result = self._score_stage()
        if self.work.codec_calls:  # new entries: keep the cache under its cap (LRU first)
            self.cache.prune(max_bytes=max_size_from_env())
        return result

    def _file_components(self) -> None:
        """Record the identities this run files results under (the store's ``components``),
        and take over the answers an older cvb stored under another label of the same VLM."""
        today = self._labels_today("vlm", self.store.component_labels("vlm"))
        for vlm in self.plan.vlms:
            earlier = [label for label, now in today.items() if label != vlm.label and now == vlm.label]
            if earlier:  # only answers of this model version move (any, if it cannot be built here)
                version = None if vlm.model is None else str(getattr(vlm.model, "version", "")) or None
                self.store.adopt_vlm_label(vlm.label, earlier, version)
        labels = [("vlm", v.label) for v in self.plan.vlms] + [("metric", m.name) for m in self.plan.metrics]
        labels += [("task", label) for t in self.plan.tasks for label in {t.label, t.answers_label or t.label}]
        self.store.record_components([(cat, Identity.parse(label)) for cat, label in labels])

    def _labels_today(self, category: str, labels: Iterable[str]) -> dict[str, str]:
        """Each stored label -> the label it names today (``Identity.read`` by the rules of the
        spec it names, which may be another spelling's: ``hf:ORG/NAME`` reads as its alias);
        a label whose component is no longer registered here is left out."""
        out = {}
        for label in labels:
            try:
                spec = self.registry.spec(category, Identity.parse(label).name)
            except CvbError:  # its plugin is gone or broken: nothing of this run can be it
                continue
            out[label] = Identity.read(spec, label).label
        return out

    def _refuse_vlms_that_cannot_answer(self) -> None:
        """Before any work: a VLM that could not be built here (no API key, a hub model not in
        the cache while offline) stops the run if it has anything to answer; a rerun whose
        answers are all stored does not need it."""
        for vlm in self.plan.vlms:
            if vlm.model is not None or vlm.build_error is None:
                continue
            todo = sum(len(self._pending(t, vlm, c, lv)) for t in self.plan.tasks for c, lv in self.plan.cells())
            if todo:
                raise UnavailableError(f"vlm {vlm.label} cannot answer here: {vlm.build_error} "
                                       f"({todo} questions to ask; nothing was run)")

    # ---- images ------------------------------------------------------------------------------
    def _record_images(self) -> None:
        """Store each task's images (new or changed ones), and find those an earlier run
        could not decode; a batch of images at a time."""
        for t in self.plan.tasks:
            for chunk in batched(t.images.items(), _SCORE_CHUNK):
                known = self.store.images(t.label, [k for k, _ in chunk])
                new = [ImageRow(k, im.content_hash, im.num_bytes, im.error) for k, im in chunk
                       if k not in known or known[k].content_hash != im.content_hash]
                if new:
                    self.store.add_images(t.label, new)
                if not self.retry:
                    self._decode_errors.update(self.store.decode_errors(
                        [im.content_hash for _, im in chunk if im.content_hash]))

    def _record_samples(self) -> None:
        """Store what each sample asks (new or changed ones), for ``cvb export --what samples``
        and the report's sample browser: a store then explains its answers without the task."""
        from .sample_rows import asked_row

        for t in self.plan.tasks:
            label = t.answers_label or t.label
            known = self.store.sample_versions(label)
            for chunk in t.samples.chunks(_SCORE_CHUNK):
                rows = [asked_row(label, t.version, s, sha) for _, s, sha in chunk
                        if known.get(s.id) != (t.version, sha)]
                if rows:
                    self.store.save_samples(rows)

    def _image_error(self, t: TaskPlan, i: int) -> str | None:
        """Why the image of sample ``i`` of ``t`` cannot be used (unreadable, or undecodable)."""
        return t.samples.image_error(i) or self._decode_errors.get(t.samples.content_hash(i) or "")

    # ---- stage 1: compression and image metrics ---------------------------------------------
    def _list_jobs(self) -> tuple[int, int]:
        """List the compression units (one per distinct image x codec, for the keys and metrics
        the store lacks) into the job spool; returns how many compressions and metrics."""
        codecs = [c for c in self.plan.codecs if not c.is_reference]
        if not codecs:
            return 0, 0
        n_compress = n_metrics = 0
        for ti, t in enumerate(self.plan.tasks):
            earlier = self.plan.tasks[:ti]
            images = ((key, h) for key, h in t.samples.distinct_images()
                      if h not in self._decode_errors and not any(e.samples.has_hash(h) for e in earlier))
            for chunk in batched(images, 100):
                keys = {(h, c.name, lv): c.key(h, lv) for _, h in chunk for c in codecs for lv in c.levels}
                status = self.store.compressed(list(keys.values()))
                metric_status = self.store.metric_status(list(keys.values())) if self._metric_names else {}
                units = []
                for image, h in chunk:
                    for c in codecs:
                        work = []
                        for lv in c.levels:
                            key = keys[(h, c.name, lv)]
                            w = self._level_work(lv, key, status, metric_status, self.retry)
                            if w is not None:
                                work.append(w)
                                n_compress += w.compress
                                n_metrics += len(w.metrics)
                        if work:
                            units.append((ti, image, h, c.name, tuple(work)))
                self._jobs.add(units)
        return n_compress, n_metrics

    def _level_work(self, level: str, key: str, status: dict, metric_status: dict, retry: bool) -> LevelWork | None:
        """What one compressed image still needs, given the store's ``compressed`` and
        ``metric_status`` of its key (None: nothing)."""
        compress = key not in status or (status[key] is not None and retry)
        if not compress and status[key] is not None:
            return None  # failed before; --retry-failed tries again
        have = metric_status.get(key, {})
        metrics = tuple(m for m in self._metric_names if m not in have or (have[m] is not None and retry))
        return LevelWork(level, key, compress, metrics) if compress or metrics else None

    def _recheck(self, works) -> dict[str, tuple[LevelWork | None, str | None]]:
        """For levels just claimed (``compress_claims``, on the compression thread, so through
        the claims' own connection): what each still needs now, and its stored error. What a
        run beside this one stored since this run began counts as done, failed or not."""
        keys = [w.key for w in works]
        with self.claims.reading() as db:
            status = db.compressed(keys)
            metric_status = db.metric_status(keys) if self._metric_names else {}
            recent = db.written_since(keys, self._started_ns) if self.retry else set()
        out = {}
        for w in works:
            still = self._level_work(w.level, w.key, status, metric_status, self.retry and w.key not in recent)
            if still is not None and not still.compress and w.compress:
                still = LevelWork(w.level, w.key, True, still.metrics)  # stored: read from the cache
            out[w.key] = (still, status.get(w.key))
        return out

    def _make_local(self, category: str, name: str) -> Any:
        if category == "codec":
            return next(c.codec for c in self.plan.codecs if c.name == name)
        metric = next(m for m in self.plan.metrics if m.name == name)
        return create(self.registry, "metric", metric.ref or name, metric.options)

    def _worker_options(self) -> dict:
        opts: dict = {("codec", c.name): c.options for c in self.plan.codecs if not c.is_reference}
        opts.update({("metric", m.name): m.options for m in self.plan.metrics})
        return opts

    def _start_compression(self) -> None:
        """Start compressing on a background thread; inference starts at once beside it."""
        n_compress, n_metrics = self._list_jobs()
        self._bar_c = self.progress.bar("compress", n_compress) if self._jobs.count else None
        self._bar_m = self.progress.bar("metrics", n_metrics) if n_metrics else None
        workshop = Workshop(self._make_local, self.cache)
        options = self._worker_options()
        # read on the compression thread: the image of a unit without the sample spool's cache
        jobs = self._jobs.units(lambda ti, image: self.plan.tasks[ti].samples.source(image, cached=False))
        def run(todo, stop):
            return self.executor.compress(todo, workshop, self.cache, self.registry, options, stop)

        # each level claimed before it is done; those of a run beside this one waited for
        self._feed = CompressionFeed(jobs, shared(run, self.claims, self._recheck), count=self._jobs.count)

    def _drain(self, block: bool, catch: bool = False) -> list[str]:
        """Take finished compression units from the feed, store them (in transactions of at
        most ``_FLUSH_UNITS`` units or ``_FLUSH_SECONDS``, and at once when a sample waits for
        one of them), and return the keys that became usable."""
        try:
            outcomes = self.feed.take(block, timeout=_FLUSH_SECONDS if block else None)
        except BaseException:
            if not catch:
                raise
            outcomes = []
        self._outcomes += outcomes
        self.work.by_other_runs += sum(len(out.job.levels) for out in outcomes if out.elsewhere)
        for out in outcomes:
            works = out.job.levels
            if self._bar_c:
                self._bar_c.advance(sum(w.compress for w in works))
            if self._bar_m:
                self._bar_m.advance(sum(len(w.metrics) for w in works))
        if not self._outcomes and not self.feed.finished:
            return []
        if not (self.feed.finished or len(self._outcomes) >= _FLUSH_UNITS
                or time.monotonic() - self._last_flush > _FLUSH_SECONDS or self._wanted_now):
            return []
        return self._flush_outcomes()

    def _flush_outcomes(self) -> list[str]:
        outcomes, self._outcomes = self._outcomes, []
        self._last_flush = time.monotonic()
        self._save_outcomes(outcomes, {c.name: c for c in self.plan.codecs})
        done: list[tuple[str, str | None]] = []
        for out in outcomes:
            levels: list[LevelOutcome | None] = list(out.levels) or [None] * len(out.job.levels)
            done += [(w.key, out.image_error if lo is None else lo.error)
                     for w, lo in zip(out.job.levels, levels) if w.compress]
        self._jobs.done(done)
        self.claims.release(compression_unit(w.key) for out in outcomes for w in out.job.levels)
        if self.feed.finished:  # nothing more will come: whatever still waits is let go
            self._jobs.finish()
        return [key for key, _ in done]

    def _save_outcomes(self, outcomes: list[JobOutcome], codec_of: dict[str, CodecPlan]) -> None:
        if not outcomes:
            return
        compressed, metrics, images = [], [], []
        for out in outcomes:
            if out.elsewhere:
                continue  # stored by a run beside this one
            h, c = out.job.content_hash, codec_of[out.job.codec]
            if out.image_error is not None:
                images.append(ImageInfo(h, None, None, out.image_error))
                self._decode_errors[h] = out.image_error
                continue
            images.append(ImageInfo(h, out.width, out.height, None))
            for work, lo in zip(out.job.levels, out.levels):
                self.work.codec_calls += lo.codec_calls
                if lo.compressed:
                    self.work.compressed += lo.error is None
                    compressed.append(CompressedRow(lo.key, h, c.name, c.version, lo.level, c.params, lo.num_bytes,
                                                    lo.bpp, out.width, out.height, lo.encode_s, lo.decode_s,
                                                    lo.error))
                if lo.error is not None and not lo.compressed:  # the cache was gone, redo failed
                    metrics += [MetricRow(lo.key, m, None, f"cannot redo the compressed image: {lo.error}")
                                for m in work.metrics]
                for m, value in lo.metrics.items():
                    self.work.metrics += 1
                    metrics.append(MetricRow(lo.key, m, value, lo.metric_errors.get(m)))
        self.store.save_compression_results(compressed, metrics, images, self.run_id)

    # ---- stage 2: inference -----------------------------------------------------------------
    @staticmethod
    def _key(t: TaskPlan, c: CodecPlan, level: str, i: int) -> str | None:
        """The compressed key of the image of sample ``i`` of ``t`` in a cell (None where the
        image is unreadable)."""
        h = t.samples.content_hash(i)
        return c.key(h, level) if h else None

    def _current(self, t: TaskPlan, vlm: VLMPlan, c: CodecPlan, level: str,
                 with_text: bool = False) -> Iterator[tuple[int, str | None, str | None]]:
        """(sample index, error, text) of the stored answers that are current: for one of this
        run's samples, given for the same image, prompt and task version by the same model
        version (new weights under the same name are a new model). Streamed, so a cell of 100k
        answers never sits in memory as rows; the samples are looked up a batch at a time."""
        version = self._vlm_versions.get(vlm.label)
        rows = self.store.iter_predictions(t.answers_label or t.label, vlm.label, c.name, level, with_text, True)
        while True:
            batch = list(itertools.islice(rows, _SCORE_CHUNK))
            if not batch:
                return
            ours = t.samples.lookup([row.sample_id for row in batch])
            for row in batch:
                hit = ours.get(row.sample_id)
                if hit is None:
                    continue
                key = c.key(hit.content_hash, level) if hit.content_hash else None
                if self._is_current(t, row, key, hit.prompt_sha, version):
                    yield hit.position, row.error, row.text if with_text else None

    @staticmethod
    def _is_current(t: TaskPlan, row: StoredAnswer, key: str | None, sha: str, version: str | None) -> bool:
        """Whether a stored answer is for this image (compressed ``key``), prompt (fingerprint
        ``sha``) and task version, by this model version."""
        if version is not None and row.vlm_version != version and not (row.vlm_version is None and row.error):
            return False  # another model's answer (a failure before any model stays a failure)
        return row.key == key and row.task_version == t.version and row.prompt_sha == sha

    def _cell_answers(self, t: TaskPlan, vlm: VLMPlan, c: CodecPlan, level: str
                      ) -> Iterator[tuple[Sample, str | None, str | None, str | None]]:
        """(sample, error, text, the reference cell's text) of every sample of one cell, in the
        task's order, read from the store a chunk of samples at a time (so scoring never holds
        a cell's answers). An error of "no prediction stored" where a sample has none; the
        reference text is None where the reference has no usable answer."""
        stored_as, ref = t.answers_label or t.label, self.plan.codecs[0]
        version = self._vlm_versions.get(vlm.label)
        for chunk in t.samples.chunks(_SCORE_CHUNK, with_hash=True):
            ids = [s.id for _, s, _, _ in chunk]
            rows = self.store.predictions_of(stored_as, vlm.label, c.name, level, ids)
            refs = rows if c.is_reference else self.store.predictions_of(stored_as, vlm.label, ref.name,
                                                                          ref.levels[0], ids)
            for _, s, sha, h in chunk:
                row, ref_row = rows.get(s.id), refs.get(s.id)
                ref_text = None
                if ref_row is not None and ref_row.error is None and self._is_current(
                        t, ref_row, h, sha, version):  # the reference's key: the hash
                    ref_text = ref_row.text or ""
                if row is None or not self._is_current(t, row, c.key(h, level) if h else None, sha, version):
                    yield s, "no prediction stored (run interrupted?)", None, ref_text
                else:
                    yield s, row.error, (row.text or "") if row.error is None else None, ref_text

    def _pending(self, t: TaskPlan, vlm: VLMPlan, c: CodecPlan, level: str) -> array:
        """Indices of the samples of one cell still to ask, each image's samples together."""
        done = bytearray(len(t.samples))  # one byte per sample, not a set of them
        for i, error, _ in self._current(t, vlm, c, level):
            if error is None or not self.retry:
                done[i] = 1
        return array("l", (i for i in t.samples.order() if not done[i]))

    def _inference_stage(self, vlm: VLMPlan) -> None:
        session = VLMSession(vlm, self.registry, self.batch_size, self.work.models_loaded)
        try:
            self._vlm_versions[vlm.label] = session.identify()
            self._infer_pending(session, vlm)
        finally:
            session.close()

    def _inference_executor(self, session: VLMSession, vlm: VLMPlan):
        return self.executor.inference(session, vlm, self.registry, self.batch_size, self.work.models_loaded)

    def _work_order(self, todo: list[tuple[TaskPlan, CodecPlan, str, array]]
                    ) -> Iterator[tuple[TaskPlan, CodecPlan, str, int, str | None, object]]:
        """(task, codec, level, sample index, compressed key, compression status) of every
        sample to ask, in ``todo``'s order, except that a sample whose image is being compressed
        waits aside and comes as soon as that image is stored. Status: None (compressed),
        an error, or ``_MISSING`` (never compressed)."""
        self._wanted_now = False
        for n, (t, c, level, pending) in enumerate(todo):
            pending = pending() if callable(pending) else pending  # a cell's are listed when it begins
            for start in range(0, len(pending), _ORDER_CHUNK):
                part = pending[start:start + _ORDER_CHUNK]
                keys = [self._key(t, c, level, i) for i in part]
                waiting: set[str] = set()
                status: dict[str, str | None] = {}
                if not c.is_reference:
                    named = sorted({k for k in keys if k is not None})
                    waiting = self._jobs.waiting(named)
                    status = self.store.compressed([k for k in named if k not in waiting])
                parked = []
                for j, (i, key) in enumerate(zip(part, keys)):
                    if key in waiting:
                        parked.append((key, n, i))
                    elif c.is_reference:
                        yield t, c, level, i, key, None
                    else:  # stored before this part began, or by this run since (no longer waiting)
                        yield t, c, level, i, key, (status[key] if key in status else
                                                    self._jobs.fresh(key) if key is not None else NOT_FRESH)
                    if j % 32 == 31:  # store finished compressions now and then, needed or not yet
                        yield from self._park(todo, parked)
                        parked = []
                        yield from self._released(todo, block=False)
                yield from self._park(todo, parked)
        self._wanted_now = bool(self._jobs.parked)
        while self._jobs.parked:  # the VLM has nothing else to do: wait for the next image
            yield from self._released(todo, block=True)
        self._wanted_now = False

    def _park(self, todo, rows: list[tuple[str, int, int]]):
        """Park samples whose image is being compressed; yields those whose image came since."""
        for key, n, i, status in self._jobs.park(rows):
            t, c, level, _ = todo[n]
            yield t, c, level, i, key, status

    def _released(self, todo, block: bool):
        """The samples parked for the images that became ready (all of them once the
        compression is finished), with their keys' status."""
        ready = self._drain(block)
        for key, n, i, status in self._jobs.release(None if self.feed.finished else ready):
            t, c, level, _ = todo[n]
            yield t, c, level, i, key, status

    def _pending_cells(self, vlm: VLMPlan) -> tuple[list[tuple], int]:
        """(task, codec, level, its pending samples when the cell begins) of each cell with
        answers to ask, and how many answers in all (counted now)."""
        todo, total = [], 0
        for t in self.plan.tasks:
            for c, level in self.plan.cells():
                n = len(self._pending(t, vlm, c, level))
                if n:
                    todo.append((t, c, level, lambda t=t, c=c, level=level: self._pending(t, vlm, c, level)))
                    total += n
        return todo, total

    def _unanswerable(self, t, c, level: str, i: int, status) -> str | None:
        """Why sample ``i`` cannot be asked at this codec and level (its image or its
        compression failed), or None."""
        error = self._image_error(t, i)
        if error is None and not c.is_reference:
            if status is _MISSING:
                error = f"codec {c.name} level {level}: not compressed"
            elif status is not None:
                error = f"codec: {status}"
        return error

    def _infer_pending(self, session: VLMSession, vlm: VLMPlan) -> None:
        todo, total = self._pending_cells(vlm)
        if not total:
            return  # every answer is stored: the model is never loaded
        bar = self.progress.bar(f"infer {vlm.label}", total)
        executor = self._inference_executor(session, vlm)
        batch: list[_Item] = []
        failed: list[PredictionRow] = []
        aside: list[_Item] = []  # samples a run beside this one is asking
        try:
            for t, c, level, i, key, status in self._work_order(todo):
                error = self._unanswerable(t, c, level, i, status)
                if error is not None:
                    failed.append(self._row(t, i, vlm, self._vlm_versions[vlm.label], c, level, key,
                                            Answer("", error=error)))
                    if len(failed) >= 256:
                        self._save_predictions(failed, bar)
                        failed = []
                    continue
                batch.append(_Item(t, c, level, i, key))
                if len(batch) >= session.batch_size:
                    batch = self._claimed(vlm, batch, aside, bar)  # those this run asks: fill up again
                    if len(batch) >= session.batch_size:
                        self._infer(executor, vlm, batch, bar)
                        batch = []
            if batch:
                batch = self._claimed(vlm, batch, aside, bar)
                if batch:
                    self._infer(executor, vlm, batch, bar)
            self._answers_of_others(executor, session, vlm, aside, bar)
            while executor.pending():
                self._collect(executor, vlm, bar, block=True)
            self.claims.renew()  # before the next model loads: its answers are stored
        except StoreError:
            raise
        except BaseException:  # Ctrl-C or a fatal error: what finished is kept
            self._save_predictions(failed, bar)
            raise
        finally:
            executor.close()
        self._save_predictions(failed, bar)

    def _unit(self, vlm: VLMPlan, item: _Item) -> str:
        return answer_unit(item.task.answers_label or item.task.label, vlm.label, item.codec.name, item.level,
                           item.task.samples[item.index].id)

    def _claimed(self, vlm: VLMPlan, items: list[_Item], aside: list[_Item], bar) -> list[_Item]:
        """Those of ``items`` this run now holds (``cvb.run.claims``) and still has to ask; the
        ones another live run holds go to ``aside``, the ones a run beside this one answered
        since this run began are counted done."""
        units = [self._unit(vlm, item) for item in items]
        mine = self.claims.claim(units)
        aside += [item for item, unit in zip(items, units) if unit not in mine]
        ours = [(item, unit) for item, unit in zip(items, units) if unit in mine]
        answered = self._answered_elsewhere(vlm, [item for item, _ in ours])
        if answered:
            self.claims.release(unit for item, unit in ours if id(item) in answered)
            bar.advance(len(answered))
            self.work.by_other_runs += len(answered)
        return [item for item, _ in ours if id(item) not in answered]

    def _answered_elsewhere(self, vlm: VLMPlan, items: list[_Item]) -> set[int]:
        """``id()`` of the ``items`` whose current answer a run beside this one stored since
        this run began (failed or not: it is that run's answer to give)."""
        version, out = self._vlm_versions.get(vlm.label), set()
        cells: dict[tuple, list[_Item]] = {}
        for item in items:
            cells.setdefault((id(item.task), item.codec.name, item.level), []).append(item)
        for part in cells.values():
            t, c, level = part[0].task, part[0].codec, part[0].level
            rows = self.store.answers_since(t.answers_label or t.label, vlm.label, c.name, level,
                                            [t.samples[item.index].id for item in part], self._started_ns)
            for item in part:
                row = rows.get(t.samples[item.index].id)
                if row is not None and self._is_current(t, row, item.key, t.samples.prompt_sha(item.index), version):
                    out.add(id(item))
        return out

    def _answers_of_others(self, executor, session: VLMSession, vlm: VLMPlan, aside: list[_Item], bar) -> None:
        """Once this run has asked all it could: the samples a run beside it held, until each
        is answered there, or free again (its run ended or died) and asked here. Compression
        outcomes are stored meanwhile (the other run may be waiting for one of them)."""
        delays = poll_delays()
        while aside:
            items = aside[:]
            aside.clear()
            todo = self._claimed(vlm, items, aside, bar)
            for start in range(0, len(todo), session.batch_size):
                self._infer(executor, vlm, todo[start:start + session.batch_size], bar)
            if todo:
                delays = poll_delays()
            elif aside:
                self._collect(executor, vlm, bar, block=False)
                self.claims.renew()
                if self.feed.finished:
                    time.sleep(next(delays))
                else:
                    self._drain(block=True)

    def _load(self, item: _Item):
        """The image the VLM sees for ``item``: the original, or the cached decoded image
        (recompressed if the cache entry is gone). Raises CvbError when it cannot be had."""
        assert item.key is not None  # an unreadable image fails before it is asked about
        return self._load_image(item.codec, item.level, item.task.samples[item.index].image, item.key)

    def _load_more(self, item: _Item) -> tuple:
        """The sample's ``more_images`` as the VLM sees them: each through the same codec and
        level as its first image, from the same cache (compressed here if it is not there yet:
        a content-addressed key, so the compression stage's copy is the same bits)."""
        t = item.task
        sample = t.samples[item.index]
        if not sample.more_images:
            return ()
        out = []
        for source, h in zip(sample.more_images, t.samples.more_hashes(item.index)):
            if h is None or h in self._decode_errors:
                raise CvbError(f"image {source.key}: " + (self._decode_errors.get(h or "") or "unreadable"))
            try:
                out.append(self._load_image(item.codec, item.level, source, item.codec.key(h, item.level)))
            except (CacheError, CvbError):
                raise
            except Exception as exc:  # noqa: BLE001 - a codec failing on one image fails its sample
                raise CvbError(f"image {source.key}: codec {item.codec.name} level {item.level}: "
                               f"{type(exc).__name__}: {exc}") from None
        return tuple(out)

    def _load_image(self, codec: CodecPlan, level: str, source, key: str):
        if key in self._images:
            self._images.move_to_end(key)
            return self._images[key]
        if codec.is_reference:
            try:
                image = source.load()
            except (CvbError, OSError, ValueError) as exc:
                self._decode_errors[key] = str(exc)
                self.store.set_image_info([ImageInfo(key, None, None, str(exc))])
                raise CvbError(str(exc)) from None
        else:
            image = self.cache.image(key, codec.codec.decode)
            if image is None:
                from ..codecs.base import compress

                self.work.codec_calls += 1
                comp = compress(codec.codec, source.load(), level)
                self.cache.put(key, comp.bits, comp.image, measurements(comp),
                               keep_pixels=keeps_pixels(codec.codec, comp.decode_s))
                image = comp.image
        self._images[key] = image
        if len(self._images) > _IMAGE_LRU:
            self._images.popitem(last=False)
        return image

    def _infer(self, executor, vlm: VLMPlan, batch: list[_Item], bar) -> None:
        """Hand a batch to the executor (its images loaded here), then store what it answered."""
        rows, ready, queries = [], [], []
        for item in batch:
            try:
                image = self._load(item)
                more = self._load_more(item)
            except CacheError:
                raise
            except CvbError as exc:
                rows.append(self._row(item.task, item.index, vlm, self._vlm_versions[vlm.label],
                                      item.codec, item.level, item.key, Answer("", error=str(exc))))
                continue
            ready.append(item)
            queries.append(query_for(item.task.samples[item.index], image, item.codec.name, item.level, more))
        self._save_predictions(rows, bar)
        if queries:
            executor.submit(ready, queries)
        self._collect(executor, vlm, bar, block=False)
        while executor.busy():
            self._collect(executor, vlm, bar, block=True)

    def _collect(self, executor, vlm: VLMPlan, bar, block: bool) -> None:
        rows = []
        version = self._vlm_versions[vlm.label]
        for ready, answers, latency in executor.collect(block):
            for item, ans in zip(ready, answers):
                rows.append(self._row(item.task, item.index, vlm, version, item.codec, item.level,
                                      item.key, ans, latency))
        self._save_predictions(rows, bar)

    def _row(self, t: TaskPlan, i: int, vlm: VLMPlan, vlm_version: str | None, c: CodecPlan, level: str,
             key: str | None, ans: Answer, latency: float | None = None) -> PredictionRow:
        s = t.samples[i]
        text, error, judge, parsed = ans.text, ans.error, None, None
        if error is None:
            try:
                j = t.task.judge(s, text)
                judge = None if j is None else float(j)
                parse = getattr(t.task, "parse", None)
                if parse is not None:
                    p = parse(s, text)
                    parsed = None if p is None else str(p)
            except Exception as exc:  # noqa: BLE001 - a judge bug fails this sample, not the run
                error = f"judge failed: {type(exc).__name__}: {exc}"
        return PredictionRow(t.answers_label or t.label, t.version, s.id, vlm.label, vlm_version or None, c.name,
                             level, key, t.samples.prompt_sha(i), text, parsed, judge, error, latency,
                             answer_meta(ans))

    def _save_predictions(self, rows: list[PredictionRow], bar) -> None:
        if rows:
            self.store.save_predictions(rows, self.run_id)
            self.work.predictions += len(rows)
            bar.advance(len(rows))
            self.claims.release(answer_unit(r[0], r[3], r[5], r[6], r[2]) for r in rows)

    # ---- stage 3: scoring -------------------------------------------------------------------
    def _score_stage(self) -> dict[str, Any]:
        failures: dict[tuple, dict[str, Any]] = {}
        ref = self.plan.codecs[0]
        for t in self.plan.tasks:
            for key, im in t.images.items():
                error = im.error or self._decode_errors.get(im.content_hash or "")
                if error:
                    failures[("image", t.label, key)] = {"stage": "image", "task": t.label, "vlm": None,
                                                         "codec": None, "level": None, "item": key,
                                                         "error": error}
            rates = {(c.name, lv): self._rate(t, c, lv, failures) for c, lv in self.plan.cells()}
            for vlm in self.plan.vlms:
                stored_as = t.answers_label or t.label  # predictions' label (no scoring options)
                ref_stamp = self.store.cell_stamp(stored_as, vlm.label, ref.name, ref.levels[0])
                for c, level in self.plan.cells():
                    bpp, metrics = rates[(c.name, level)]
                    stamp = ref_stamp if c.is_reference else self.store.cell_stamp(stored_as, vlm.label, c.name, level)
                    fingerprint = hashlib.sha1(json.dumps(
                        [t.version, t.ids_hash, stamp, ref_stamp, bpp, metrics, c.version, c.params]
                        + ([t.scoring] if t.scoring else []),
                        default=str).encode()).hexdigest()
                    stored_fp, stored_error = self.store.cell_state(t.label, vlm.label, c.name, level)
                    if stored_fp == fingerprint and stored_error:
                        failures[("score", t.label, vlm.label, c.name, level)] = {
                            "stage": "score", "task": t.label, "vlm": vlm.label, "codec": c.name,
                            "level": level, "item": None, "error": stored_error}
                    if stored_fp == fingerprint and not stamp[2]:
                        continue  # inputs unchanged and nothing failed: the stored cell stands
                    cell = self._score_cell(t, vlm, c, level, stored_fp != fingerprint, failures)
                    if cell is None:
                        continue
                    cell.update(bpp=bpp, metrics=metrics)
                    if cell.get("error"):
                        failures[("score", t.label, vlm.label, c.name, level)] = {
                            "stage": "score", "task": t.label, "vlm": vlm.label, "codec": c.name,
                            "level": level, "item": None, "error": cell["error"]}
                    self.store.save_cell(cell, fingerprint, self.run_id)
                    self.work.cells_scored += 1
        return {"work": self.work.__dict__, "failures": list(failures.values())}

    def _rate(self, t: TaskPlan, c: CodecPlan, level: str, failures: dict) -> tuple[float | None, dict]:
        """Mean bpp and metrics over the cell's distinct images; collects their failures."""
        if c.is_reference:
            return NONE_BPP, {}
        def keys():  # the cell's distinct compressed images, streamed
            return (c.key(h, level) for _, h in t.samples.distinct_images())

        for part in batched(keys(), _SCORE_CHUNK):
            for key, err in self.store.compressed(part).items():
                if err is not None:
                    failures[("compress", key)] = {"stage": "compress", "task": t.label, "vlm": None,
                                                   "codec": c.name, "level": level, "item": key, "error": err}
            if self._metric_names:
                for key, errs in self.store.metric_status(part).items():
                    for m, err in errs.items():
                        if err is not None and m in self._metric_names:
                            failures[("metric", key, m)] = {"stage": "metric", "task": t.label, "vlm": None,
                                                            "codec": c.name, "level": level,
                                                            "item": f"{m} {key}", "error": err}
        return self.store.mean_bpp(keys()), self.store.mean_metrics(keys(), self._metric_names)

    def _score_cell(self, t: TaskPlan, vlm: VLMPlan, c: CodecPlan, level: str, rescore: bool,
                    failures: dict) -> dict[str, Any] | None:
        """Feed one cell's answers, in sample order, to the task's streamed scorer
        (``cvb.scoring.tally.scorer_for``: the task's own, or its whole-set ``score`` behind one) and
        store each answer's verdict under this cell's rule. Collects the samples without an
        answer into ``failures``; None when only those were wanted (``rescore`` False)."""
        from ..scoring.tally import scorer_for
        from ..text_spool import SampleView

        stored_as = t.answers_label or t.label
        # a whole-set score reads the task's samples from the spool: every one is fed below, in order
        scorer, error, n_failed = (scorer_for(t.task, SampleView(t.samples)) if rescore else None), None, 0
        verdicts: dict[str, float | None] = {}
        for s, err, text, ref_text in self._cell_answers(t, vlm, c, level):
            if err is not None:
                n_failed += 1
                failures[("predict", t.label, vlm.label, c.name, level, s.id)] = {
                    "stage": "predict", "task": t.label, "vlm": vlm.label, "codec": c.name,
                    "level": level, "item": s.id, "error": err}
            elif rescore:  # the verdict under the rule of the cell being scored (protocol, judge)
                try:
                    j = t.task.judge(s, text)
                except Exception:  # noqa: BLE001 - no verdict; the cell's score stands
                    j = None
                verdicts[s.id] = None if j is None else float(j)
            if scorer is not None and error is None:
                try:
                    scorer.add(s, text, ref_text)
                except Exception as exc:  # noqa: BLE001 - a scoring bug fails the cell, not the run
                    error = f"score failed: {type(exc).__name__}: {exc}"
            if len(verdicts) >= _SCORE_CHUNK:
                self.store.set_verdicts(stored_as, vlm.label, c.name, level, t.label, verdicts)
                verdicts = {}
        if not rescore:
            return None
        self.store.set_verdicts(stored_as, vlm.label, c.name, level, t.label, verdicts)
        cell: dict[str, Any] = {
            "task": t.label, "vlm": vlm.label, "codec": c.name, "level": level, "task_version": t.version,
            "codec_kind": c.kind, "rate_rank": c.rate_rank(level), "n": len(t.samples),
            "n_failed": n_failed, "error": error,
        }
        if error is None and scorer is not None:
            try:
                ts = scorer.result()
                value = float(ts.value)
                cell.update(score=None if math.isnan(value) else value, score_metric=ts.metric,
                            higher_is_better=bool(ts.higher_is_better), details=dict(ts.details))
            except Exception as exc:  # noqa: BLE001 - a scoring bug fails the cell, not the run
                cell["error"] = error = f"score failed: {type(exc).__name__}: {exc}"
        if error is not None:
            cell.update(score=None, score_metric=None, higher_is_better=None, details={})
        return cell

