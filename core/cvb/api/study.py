"""A study: everything one ``cvb run`` is asked to do, as one value.

The command line builds one from its flags, ``load_study`` from a TOML file (``cvb run --config
study.toml``), and ``cvb.api.run_study`` runs one; flags given with a file override it
(``Study.merged``). A field left at its default (``None``, an empty tuple) is "not said": the
run's own default applies. A study made from a file remembers the file (``StudyFile``: path,
SHA-256 and text), and the run records it whole in the store's provenance.

The file's keys are the fields below (``cache_dir`` or ``cache-dir``, as the flag); lists may
also be given as one comma-separated string, as on the command line::

    vlms = ["hf:HuggingFaceTB/SmolVLM-256M-Instruct"]
    tasks = ["pope"]
    codecs = ["jpeg", "webp"]
    limit = 500
    store = "results.sqlite"

    [levels]          # or: levels = [1, 3, 5] with a single codec
    jpeg = [1, 3, 5]

    [options.vlm]     # -o vlm.max_new_tokens=16
    max_new_tokens = 16
    [options.task]    # -o task.protocol=lmms-eval
    protocol = "lmms-eval"
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import UsageError
from ..run.executor import EXECUTORS

#: the list fields, in the command line's spelling ("jpeg,webp" or repeated flags)
LISTS = ("vlms", "tasks", "codecs", "metrics")
#: ``cvb report``'s choices and defaults (here, not from cvb.report: numpy stays unloaded)
INTERPOLATIONS = ("pchip", "akima", "cubic")
DEFAULT_RESAMPLES = 1000  # cvb.analysis.stats.DEFAULT_RESAMPLES
DEFAULT_SEED = 20260401  # cvb.analysis.stats.DEFAULT_SEED
INFERENCES = ("bootstrap", "mcnemar")  # cvb.report.uncertainty.INFERENCES
#: the ``[report]`` table's keys: ``cvb report``'s settings for this study (``--config``)
REPORT_KEYS = ("anchor", "interp", "resamples", "seed", "inference", "adapted", "allow_unlike", "out")


@dataclass(frozen=True)
class StudyFile:
    """The study file a study came from: its path as given, and its content."""

    path: str
    sha256: str
    text: str = field(repr=False)

    def record(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256, "text": self.text}


@dataclass(frozen=True)
class Study:
    """What to run: the matrix (codecs x levels x VLMs x tasks, with options and metrics) and
    how (store, cache, workers, executor). Mirrors ``cvb run``'s flags (docs/run.md)."""

    vlms: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    codecs: tuple[str, ...] = ()
    #: "CODEC=L1,L2", or "L1,L2" with a single codec (``-l``)
    levels: tuple[str, ...] = ()
    #: () : the default metrics; ("none",): no metric
    metrics: tuple[str, ...] = ()
    #: "TARGET.KEY=VALUE" (``-o``); a later entry for the same TARGET.KEY wins
    options: tuple[str, ...] = ()
    limit: int | None = None
    store: Path | None = None  # None: $CVB_STORE, else cvb-out/results.sqlite
    cache_dir: Path | None = None  # None: $CVB_CACHE_DIR, else the user cache dir's cvb/images
    jobs: int | str | None = None  # a count or "auto"; None: $CVB_JOBS, else auto
    executor: str | None = None  # "local" (None) or "ray"
    address: str | None = None
    replicas: int | None = None
    replica_gpus: float | None = None
    batch_size: int | None = None
    device: str | None = None
    mode: str | None = None
    retry_failed: bool | None = None  # None: False
    #: ``cvb report --config``'s settings (``REPORT_KEYS``): anchor, resamples, seed...; ``cvb
    #: run`` only records them
    report: Mapping[str, Any] = field(default_factory=dict)
    #: the file this study was read from (None: made in Python or from flags alone)
    source: StudyFile | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Python callers may write a field as a study file does: a list or one comma string
        for the lists, ``{"jpeg": [1, 3]}`` for levels, ``{"vlm": {"max_new_tokens": 16}}``
        for options, a string for a path; it is kept in the command line's form."""
        for name in (*LISTS, "levels", "options"):
            value = getattr(self, name)
            if not (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
                object.__setattr__(self, name, _convert(name, list(value) if isinstance(value, tuple) else value,
                                                        "Study"))
        for name in ("store", "cache_dir"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, Path(value))
        if self.report:
            object.__setattr__(self, "report", _report(dict(self.report), "Study"))

    def merged(self, over: "Study") -> "Study":
        """This study with what ``over`` says on top (``over`` wins): a field ``over`` leaves
        unsaid keeps this one's value; options and levels are merged per key (``-o vlm.x=1``
        replaces only the file's ``vlm.x``, ``-l jpeg=1`` only the file's jpeg levels). The
        result came from ``over``'s study file if it has one, else from this one's."""
        changes: dict[str, Any] = {"source": over.source or self.source}
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(over, f.name)
            if value is None or value == ():
                continue
            if f.name == "report":
                value = {**self.report, **value}
            elif f.name == "options":
                value = _merge_keyed(self.options, value, _option_key)
            elif f.name == "levels":
                value = _merge_levels(self.levels, value)
            changes[f.name] = value
        return replace(self, **changes)

    def values(self) -> dict[str, Any]:
        """The fields that are said, JSON-ready (what the store's provenance records)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source" or value is None or value == () or value == {}:
                continue
            if f.name == "report":
                out[f.name] = {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                               for k, v in value.items()}
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Path) else value
        return out

    def record(self) -> dict[str, Any]:
        """The study as a run's provenance keeps it: its values, and its file whole."""
        out: dict[str, Any] = {"values": self.values()}
        if self.source is not None:
            out["file"] = self.source.record()
        return out


def store_path(study: Study) -> Path:
    """Where ``study``'s results go: its ``store``, else ``$CVB_STORE``, else cvb-out/results.sqlite."""
    import os

    from ..run.store import DEFAULT_STORE, STORE_ENV

    return study.store or Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def known_keys() -> list[str]:
    return [f.name for f in fields(Study) if f.name != "source"]


def _option_key(entry: str) -> str:
    return entry.partition("=")[0].strip()


def _merge_keyed(base: tuple[str, ...], over: tuple[str, ...], key: Callable[[str], str]) -> tuple[str, ...]:
    replaced = {key(e) for e in over}
    return tuple(e for e in base if key(e) not in replaced) + tuple(over)


def _merge_levels(base: tuple[str, ...], over: tuple[str, ...]) -> tuple[str, ...]:
    """Per codec; a bare "L1,L2" (single codec) in ``over`` replaces all of ``base``."""
    if any("=" not in e for e in over):
        return tuple(over)
    return _merge_keyed(base, over, lambda e: e.partition("=")[0].strip() if "=" in e else "")


# ---- the file ----------------------------------------------------------------------------------
def load_study(path: str | Path) -> Study:
    """The study in TOML file ``path``; a usage error names the file and what is wrong in it
    (a syntax error with its line, an unknown key with the known ones, a value of the wrong kind)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    p = Path(path)
    try:
        blob = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read the study file: {exc.strerror or exc}") from None
    try:
        text = blob.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"--config {path}: not a TOML file: {exc}") from None
    source = StudyFile(str(path), hashlib.sha256(blob).hexdigest(), text)
    return _beside(replace(study_from_dict(data, where=f"study file {path}"), source=source), p.parent)


def _beside(study: Study, folder: Path) -> Study:
    """``study`` with its own relative paths (``store``, ``cache_dir``, ``[report]`` ``out``)
    read from ``folder``, the study file's: the file lives in a paper's repository and names
    its store from there, whichever directory ``cvb run --config`` is typed in. A folder of
    ``.`` (a file in the current directory) leaves them as written."""

    def near(path: Path | None) -> Path | None:
        return None if path is None else folder / path.expanduser()

    report = dict(study.report)
    if "out" in report:
        report["out"] = near(report["out"])
    return replace(study, store=near(study.store), cache_dir=near(study.cache_dir), report=report)


def study_from_dict(data: Mapping[str, Any], where: str = "study") -> Study:
    """A ``Study`` from a plain mapping (a TOML file's tables, or a dict in Python); keys may
    use the flag's spelling (``cache-dir``) or the field's (``cache_dir``)."""
    known = known_keys()
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        if key not in known:
            from ..errors import did_you_mean

            raise UsageError(f"{where}: unknown key {raw_key!r}{did_you_mean(key, known)}; "
                             f"known keys: {', '.join(known)}")
        values[key] = _convert(key, value, where)
    return Study(**values)


def _fail(where: str, key: str, expected: str, value: Any) -> UsageError:
    return UsageError(f"{where}: {key} must be {expected}, not {json.dumps(value, default=str)}")


def _strings(key: str, value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                       for v in value):
        return tuple(str(v) for v in value)
    raise _fail(where, key, "a list of names or a comma-separated string", value)


def _option_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true, 16, 0.5 (read back as the command line's -o reads them)


def _options(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):  # ["vlm.max_new_tokens=16", ...], as -o takes them
        return _strings("options", value, where)
    if not isinstance(value, dict):
        raise _fail(where, "options", 'a table of tables ([options.vlm] max_new_tokens = 16)', value)
    out = []
    for target, opts in value.items():
        if not isinstance(opts, dict):
            raise _fail(where, f"options.{target}", "a table of KEY = VALUE", opts)
        out += [f"{target}.{k}={_option_value(v)}" for k, v in opts.items()]
    return tuple(out)


def _report(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "report", "a table ([report] anchor = \"jpeg\")", value)
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = f"report.{key}"
        if key not in REPORT_KEYS:
            from ..errors import did_you_mean

            raise UsageError(f"{where}: unknown key {name!r}{did_you_mean(key, REPORT_KEYS)}; "
                             f"known keys of [report]: {', '.join(REPORT_KEYS)}")
        if key in ("resamples", "seed"):
            if isinstance(v, bool) or not isinstance(v, int) or (key == "resamples" and v < 0):
                raise _fail(where, name, "a whole number" + (" (0 or more)" if key == "resamples" else ""), v)
        elif key == "allow_unlike":
            if not isinstance(v, bool):
                raise _fail(where, name, "true or false", v)
        elif key == "adapted":
            v = _strings(name, v, where)
        elif key in ("interp", "inference"):
            choices = INTERPOLATIONS if key == "interp" else INFERENCES
            if v not in choices:
                raise _fail(where, name, f"one of {', '.join(choices)}", v)
        elif not (isinstance(v, str) or (key == "out" and isinstance(v, Path))) or not str(v):
            raise _fail(where, name, "a path" if key == "out" else "a codec name", v)
        out[key] = Path(v) if key == "out" else v
    return out


def _levels(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, dict):  # {codec: [levels]}, {codec: "1,3"} or {codec: 5}
        return tuple(f"{codec}={','.join(_level_list(f'levels.{codec}', v, where))}" for codec, v in value.items())
    return (",".join(_level_list("levels", value, where)),)  # the single codec's


def _level_list(key: str, value: Any, where: str) -> tuple[str, ...]:
    """A list of levels, one comma-separated string, or one level (``jpeg = 5``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (str(value),)
    try:
        return _strings(key, value, where)
    except UsageError:
        raise _fail(where, key, "a list of levels, one level or a comma-separated string", value) from None


def _path(key: str, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise _fail(where, key, "a path", value)
    return Path(value)


def _count(key: str, value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, key, "a whole number of at least 1", value)
    return value


def _jobs(key: str, value: Any, where: str) -> int | str:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise _fail(where, key, 'a number of processes (1 or more) or "auto"', value)


def _gpus(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _fail(where, key, "a number of GPUs (0 or more)", value)
    return float(value)


def _flag(key: str, value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, key, "true or false", value)
    return value


#: the study keys whose values are not plain strings: key -> (key, value, file) -> the value
_CONVERTERS: dict[str, Callable[[str, Any, str], Any]] = {
    "options": lambda _key, value, where: _options(value, where),
    "report": lambda _key, value, where: _report(value, where),
    "levels": lambda _key, value, where: _levels(value, where),
    "store": _path, "cache_dir": _path, "limit": _count, "replicas": _count, "batch_size": _count,
    "jobs": _jobs, "replica_gpus": _gpus, "retry_failed": _flag,
}


def _convert(key: str, value: Any, where: str) -> Any:
    if key in LISTS:
        return _strings(key, value, where)
    if key in _CONVERTERS:
        return _CONVERTERS[key](key, value, where)
    choices = {"executor": EXECUTORS, "mode": ("generate", "logits")}.get(key)
    if not isinstance(value, str) or (choices and value not in choices):
        raise _fail(where, key, f"one of {', '.join(choices)}" if choices else "a string", value)
    return value
