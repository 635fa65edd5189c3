"""The matrix of a run, resolved and validated before any work starts.

Unknown names and levels fail here (exit status 2), so a typo never costs an hour of
compression. Tasks are asked for their samples once, and the samples kept on disk
(``sample_spool``: memory does not grow with the task); each distinct image is read once to
hash its content (the cache key is the content, not the name). VLMs are only *looked up* here: the
model is created later, and only if some cell of it has work to do.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .. import plugin_returns
from ..errors import BrokenPluginError, CvbError, ImageLoadError, UnavailableError, UnknownNameError, UsageError
from ..identity import answers_label, label_of
from ..imageio import max_image_pixels
from ..options import OPTION_CATEGORIES, codec_levels, metric_names, options_for, parse_levels, parse_options, split_csv
from ..prompts import build_prompt
from ..specs import resolve, split_ref
from ..types import Query, Sample
from .image_cache import key_maker, max_size_from_env, params_json
from .sample_spool import DuplicateSampleId, SampleSpool, SpooledImages

NONE = "none"  # the uncompressed reference codec of every matrix
NONE_LEVEL = "-"
NONE_BPP = 24.0  # an uncompressed 8-bit RGB pixel
DEFAULT_METRICS = ("psnr", "ms-ssim")


@dataclass
class RunRequest:
    """What the user asked for, as the command line gives it (lists may hold comma lists)."""

    vlms: Sequence[str]
    tasks: Sequence[str]
    codecs: Sequence[str] = ()
    levels: Sequence[str] = ()
    metrics: Sequence[str] | None = None  # None: DEFAULT_METRICS, skipping any not installed
    limit: int | None = None
    batch_size: int | None = None
    device: str | None = None
    mode: str | None = None
    options: Sequence[str] = ()  # "vlm.KEY=VALUE", "codec.KEY=VALUE", "task.KEY=VALUE", "metric.KEY=VALUE"


def _check_option_targets(opts: Mapping[str, Any], names: set[str]) -> None:
    unknown = sorted(set(opts) - set(OPTION_CATEGORIES) - names)
    if unknown:
        from ..errors import did_you_mean

        targets = OPTION_CATEGORIES + tuple(sorted(names))
        raise UsageError(f"-o {unknown[0]}.KEY=VALUE names no component of this run"
                         f"{did_you_mean(unknown[0], targets)}; targets: "
                         f"{', '.join(targets)}")


def check_options(registry, category: str, ref: str, options: Mapping[str, Any]) -> None:
    """Refuse options the component's factory does not take (usage error naming the ones it
    has), from the factory's signature, without creating anything."""
    name, arg = split_ref(ref)
    spec = registry.spec(category, name)
    try:
        signature = inspect.signature(resolve(spec.factory))
    except (TypeError, ValueError, ImportError, AttributeError):
        return  # no signature to read (or no module): creating it will say what is wrong
    args = (arg,) if arg is not None else ()
    try:
        signature.bind(*args)
    except TypeError:
        return  # e.g. a missing ARG: Spec.create and the factory say it best
    bad = []
    for key in options:
        try:
            signature.bind(*args, **{key: options[key]})
        except TypeError:
            bad.append(key)
    if bad:
        known = ", ".join(sorted(spec.options)) or "(none)"
        listed = [k for k in bad if k in spec.options]
        note = (f" (its plugin lists {', '.join(listed)} but its factory does not take "
                f"{'it' if len(listed) == 1 else 'them'}: a bug in the plugin)") if listed else ""
        raise UsageError(f"{category} {ref!r} does not accept option(s) {', '.join(sorted(bad))}; "
                         f"its options: {known}{note}")


def create(registry, category: str, ref: str, options: Mapping[str, Any]) -> Any:
    """``registry.create``, with options the factory does not take refused as a usage error
    naming the good ones, and any other failure of the plugin's factory a ``CvbError`` naming
    the component (not a traceback)."""
    check_options(registry, category, ref, options)
    try:
        return registry.create(category, ref, **options)
    except CvbError:
        raise
    except Exception as exc:  # a plugin's factory failing: name it
        raise CvbError(f"cannot create {category} {ref!r}: {type(exc).__name__}: {exc}") from exc


def query_for(sample: Sample, image: Any, codec: str | None = None, level: str | None = None,
              more_images: tuple = ()) -> Query:
    """The question a VLM is asked about ``image`` for ``sample`` (compressed by ``codec`` at
    ``level``; ``"none"`` for the uncompressed reference, whose level is None).

    A task's scoring protocol speaks through the sample's meta: ``prompt`` (the complete text,
    sent verbatim), ``max_new_tokens``, ``stop`` (stop strings), ``answer_by`` ("logits": a peer's
    loglikelihood question); older hints ``prompt_suffix``. ``more_images``: the decoded
    ``sample.more_images``, in order."""
    meta = sample.meta or {}
    max_new = meta.get("max_new_tokens")
    extra: dict[str, Any] = {"max_new_tokens": int(max_new)} if isinstance(max_new, int) else {}
    if isinstance(meta.get("prompt_suffix"), str):
        extra["suffix"] = meta["prompt_suffix"]
    if meta.get("stop"):
        extra["stop"] = tuple(str(t) for t in meta["stop"])
    if meta.get("answer_by"):
        extra["answer_by"] = str(meta["answer_by"])
    prompt = sample.question
    if isinstance(meta.get("prompt"), str):
        prompt, extra["verbatim"] = meta["prompt"], True
    return Query(image=image, prompt=prompt, kind=sample.kind, options=tuple(sample.options),
                 sample_id=sample.id, codec=codec, level=None if codec == NONE else level,
                 more_images=tuple(more_images), **extra)


def prompt_sha(sample: Sample) -> str:
    """Fingerprint of what the model is asked (prompt text with suffix, answer kind, length,
    stop strings): the identity of a prediction besides the model and the image."""
    q = query_for(sample, None)
    text = f"{q.kind.value}\n{q.max_new_tokens}\n{build_prompt(q)}"
    if q.stop:  # absent from older fingerprints, which stay valid
        text += "\n" + json.dumps(list(q.stop))
    if q.answer_by:
        text += f"\nanswer_by={q.answer_by}"
    if sample.more_images:  # the other images are part of the question: their contents name it
        text += "\nimages:" + ",".join(_content_id(src) for src in sample.more_images)
    return sys.intern(hashlib.sha1(text.encode()).hexdigest()[:16])  # questions repeat: share


def _content_id(source) -> str:
    """An image's content hash, or its key where it cannot be read (the sample then fails on it)."""
    try:
        return hashlib.sha256(source.read_bytes()).hexdigest()
    except (OSError, ValueError, CvbError):
        return "unreadable:" + source.key


@dataclass
class CodecPlan:
    name: str
    levels: list[str]
    codec: Any = None  # None for the reference
    options: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    params: str = "{}"
    kind: str = "reference"
    _key_makers: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def is_reference(self) -> bool:
        return self.codec is None

    def key(self, content_hash: str, level: str) -> str:
        """Compressed-image key; the original's content hash for the reference."""
        if self.is_reference:
            return content_hash
        make = self._key_makers.get(level)
        if make is None:
            make = self._key_makers[level] = key_maker(self.name, self.version, level, self.params)
        return make(content_hash)

    def rate_rank(self, level: str) -> float | None:
        return None if self.is_reference else float(self.codec.rate_rank(level))


@dataclass
class VLMPlan:
    ref: str
    label: str
    options: dict[str, Any]
    #: built while planning (cheap: weights load on the first answer) so a bad alias or option
    #: fails before any compression; None when building needs what a rerun may lack (a key)
    model: Any = field(default=None, repr=False, compare=False)
    #: why it could not be built here (no API key, a hub model not cached while offline): the
    #: runner refuses before any work if this VLM has anything left to answer
    build_error: str | None = field(default=None, compare=False)


@dataclass
class MetricPlan:
    name: str  # the label values are stored under: the metric plus value-changing options
    options: dict[str, Any]
    higher_is_better: bool
    ref: str = ""  # the registered name (``name`` without options)


@dataclass
class TaskPlan:
    ref: str
    label: str
    task: Any
    version: str
    #: the samples, on disk (``len``, ``samples[i]``, ``prompt_sha(i)``, ``order()``: each image's
    #: samples together, ``chunks(n)``, ``lookup(ids)``): memory does not grow with the task
    samples: SampleSpool
    #: its distinct images (``TaskImage`` by ImageSource.key), on disk in the spool: ``len``,
    #: ``[key]``, ``items()`` streamed
    images: SpooledImages
    ids_hash: str
    #: the label its predictions are stored under (``label`` without SCORING_OPTIONS)
    answers_label: str = ""
    #: the scoring rule's identity (``task.scoring``): part of each cell's fingerprint
    scoring: str = ""


@dataclass
class Plan:
    codecs: list[CodecPlan]  # the reference first
    vlms: list[VLMPlan]
    tasks: list[TaskPlan]
    metrics: list[MetricPlan]
    notes: list[str] = field(default_factory=list)  # things the user should know (skipped defaults)

    def cells(self) -> list[tuple[CodecPlan, str]]:
        return [(c, lv) for c in self.codecs for lv in c.levels]

    def close(self) -> None:
        """Remove the tasks' sample spools (temporary files)."""
        for t in self.tasks:
            t.samples.close()

    def describe(self) -> dict[str, Any]:
        """The resolved matrix, as recorded in the store's ``runs.options``."""
        return {
            "codecs": {c.name: {"levels": c.levels, "version": c.version, "params": json.loads(c.params),
                                "kind": c.kind} for c in self.codecs},
            "vlms": [{"ref": v.ref, "label": v.label, "options": v.options} for v in self.vlms],
            "tasks": [{"ref": t.ref, "label": t.label, "version": t.version, "samples": len(t.samples),
                       "images": len(t.images), **({"scoring": t.scoring} if t.scoring else {})}
                      for t in self.tasks],
            "metrics": [m.name for m in self.metrics],
        }


def _option_for(spec, name: str, value: Any) -> dict[str, Any]:
    return {name: value} if value is not None and name in spec.options else {}


def _plan_codecs(req: RunRequest, registry, opts: dict[str, dict[str, Any]]) -> list[CodecPlan]:
    names = [n for n in split_csv(req.codecs) if n != NONE]
    requested = parse_levels(req.levels, names) if req.levels else {}
    plans = [CodecPlan(NONE, [NONE_LEVEL])]
    for name in names:
        try:
            spec = registry.spec("codec", name)
        except BrokenPluginError:
            raise
        except UnknownNameError as exc:
            raise UnknownNameError("codec", name, exc.known + [NONE], exc.broken) from None
        options = {**options_for(opts, "codec", name), **_option_for(spec, "device", req.device)}
        codec = create(registry, "codec", name, options)
        levels = codec_levels(codec, requested.get(name))
        # a codec's options key its cache unless they cannot change the bitstream (device, and
        # what the spec declares so, such as a timeout); threads may, for some encoders
        cache_params = {**dict(codec.params()), **{k: v for k, v in options.items() if spec.affects_results(k)}}
        kind = getattr(codec.kind, "value", codec.kind)
        plans.append(CodecPlan(name, levels, codec, options, str(codec.version),
                               params_json(cache_params), str(kind)))
    return plans


def _plan_metrics(req: RunRequest, registry, opts: dict[str, dict[str, Any]], notes: list[str]) -> list[MetricPlan]:
    explicit = req.metrics is not None
    names = metric_names(req.metrics) if explicit else list(DEFAULT_METRICS)
    plans = []
    for name in names:
        try:
            spec = registry.spec("metric", name)
            reason = spec.status()
            if reason:
                raise UnavailableError(f"metric {name!r} is not usable here: {reason}")
        except (UnknownNameError, UnavailableError) as exc:
            if explicit:
                raise
            notes.append(f"default metric {name} skipped: {exc}")
            continue
        options = {**options_for(opts, "metric", name), **_option_for(spec, "device", req.device)}
        check_options(registry, "metric", name, options)  # metrics are created in the workers
        plans.append(MetricPlan(label_of(spec, name, options), options,
                                bool(getattr(spec, "higher_is_better", True)), name))
    return plans


def _plan_vlms(req: RunRequest, registry, opts: dict[str, dict[str, Any]], notes: list[str]) -> list[VLMPlan]:
    plans = []
    for ref in split_csv(req.vlms):
        spec = registry.spec("vlm", split_ref(ref)[0])
        reason = spec.status()
        if reason:
            raise UnavailableError(f"vlm {ref!r} is not usable here: {reason}")
        options = options_for(opts, "vlm", ref)
        for name, value in (("mode", req.mode), ("device", req.device), ("batch_size", req.batch_size)):
            if value is not None and name in spec.options:
                options[name] = value
            elif value is not None and name == "mode":
                notes.append(f"vlm {ref} has no answer modes; --mode {value} ignored for it")
        model, error = None, None
        try:
            model = create(registry, "vlm", ref, options)
        except UsageError:
            raise  # an unknown alias, a bad option value: exit 2 now, not after compression
        except Exception as exc:  # noqa: BLE001 - e.g. no API key: only an error if it must answer
            error = str(exc) if isinstance(exc, CvbError) else f"{type(exc).__name__}: {exc}"
        plans.append(VLMPlan(ref, label_of(spec, ref, options), options, model, error))
    return plans


def _plan_task(ref: str, registry, options: dict[str, Any], limit: int | None) -> TaskPlan:
    task = create(registry, "task", ref, options)
    try:
        spool = SampleSpool(task.samples(limit=limit), prompt_sha, lambda i, s: plugin_returns.sample(ref, i, s))
    except DuplicateSampleId as exc:
        raise UsageError(f"task {ref!r} yields sample id {exc.sample_id!r} more than once; "
                         f"sample ids must be unique") from None
    _hash_images(spool)
    spec = registry.spec("task", split_ref(ref)[0])
    label = label_of(spec, ref, options)
    return TaskPlan(ref, label, task, str(getattr(task, "version", "")), spool, spool.images, spool.ids_hash,
                    answers_label(label), str(getattr(task, "scoring", "") or ""))


def _hash_images(spool: SampleSpool, batch: int = 256) -> None:
    """Read each distinct image once: its content hash (the cache key) and size, or why it
    cannot be read; kept in the spool, a batch at a time."""
    rows: list[tuple[str, str | None, int | None, str | None]] = []
    for key, im in spool.images.items():
        source = im.source
        try:
            data = source.read_bytes()
            rows.append((key, hashlib.sha256(data).hexdigest(), len(data), None))
        except ImageLoadError as exc:
            rows.append((key, None, None, str(exc)))
        except (OSError, ValueError) as exc:
            rows.append((key, None, None, f"cannot read image {source.path or key}: {exc}"))
        if len(rows) >= batch:
            spool.set_image_info(rows)
            rows = []
    spool.set_image_info(rows)


def build_plan(req: RunRequest, registry) -> Plan:
    """Validate every name, level and option, and read the tasks' samples."""
    max_image_pixels()  # a bad $CVB_MAX_IMAGE_PIXELS is a usage error now, not a failure per image
    max_size_from_env()  # a bad $CVB_CACHE_MAX_SIZE too, not after the whole run
    opts = parse_options(req.options)
    notes: list[str] = []
    codecs = _plan_codecs(req, registry, opts)
    metrics = _plan_metrics(req, registry, opts, notes)
    vlms = _plan_vlms(req, registry, opts, notes)
    if not vlms:
        raise UsageError("no VLM given; pass --vlm NAME (`cvb list vlms`)")
    task_refs = split_csv(req.tasks)
    if not task_refs:
        raise UsageError("no task given; pass --task NAME (`cvb list tasks`)")
    for ref in task_refs:  # names first, so a typo fails before any task reads its data
        registry.spec("task", split_ref(ref)[0])
    refs = [c.name for c in codecs] + [m.ref for m in metrics] + split_csv(req.vlms) + task_refs
    _check_option_targets(opts, {split_ref(r)[0] for r in refs})
    tasks = [_plan_task(ref, registry, options_for(opts, "task", ref), req.limit) for ref in task_refs]
    return Plan(codecs, vlms, tasks, metrics, notes)


def codec_plans(codecs: Sequence[str], levels: Sequence[str], registry, options: Sequence[str] = (),
                device: str | None = None) -> list[CodecPlan]:
    """The codecs of ``-c``/``-l``/``-o codec.KEY=VALUE`` resolved as ``cvb run`` resolves them
    (the reference first), for other commands that compress through the same cache keys
    (``cvb adapt``'s training data)."""
    req = RunRequest(vlms=(), tasks=(), codecs=codecs, levels=levels, device=device, options=options)
    return _plan_codecs(req, registry, parse_options(options))
