"""lmms-eval's own task machinery, reached as lmms-eval reaches it: its ``TaskManager`` finds a
task's YAML by name, ``load_yaml_config`` resolves ``include`` and ``!function`` (importing the
task's ``utils.py``), and a ``ConfigurableTask`` holds the config (``lmms_eval_specific_kwargs``
for a model family, generation kwargs, metric list, filters). The one thing replaced is where
the documents come from (``ConfigurableTask.download``): a local copy when one is given, so a
task runs offline, else the hub exactly as lmms-eval loads it.

Everything here imports lmms-eval (and ``datasets``, ``accelerate`` behind it): only inside
functions, so registering the plugin stays light.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from cvb.errors import UnavailableError, UsageError

LMMS_EVAL_VERSION = "0.7.3"  # the version whose task code the bridge is tested against
INSTALL_HINT = ("pip install 'cvb[lmms-eval]' and `pip install --no-deps lmms-eval==0.7.3` "
                "(scripts/setup.sh does both)")


def installed_version() -> str | None:
    try:
        return metadata.version("lmms_eval")
    except metadata.PackageNotFoundError:
        return None


def missing_reason() -> str | None:
    """Why lmms-eval's task code cannot run here (cheap: package metadata only), or None."""
    version = installed_version()
    if version is None:
        return f"lmms-eval is not installed: {INSTALL_HINT}"
    if version != LMMS_EVAL_VERSION:
        return (f"lmms-eval {version} is installed; the bridge follows {LMMS_EVAL_VERSION}: "
                f"pip install --no-deps lmms-eval=={LMMS_EVAL_VERSION}")
    return None


def _quiet() -> None:
    """lmms-eval logs every task file it indexes at INFO (hundreds of lines) through loguru."""
    from loguru import logger

    logger.disable("lmms_eval")
    logger.disable("utils")  # the task files, imported by file path under their own names


def _task_manager_class():
    reason = missing_reason()
    if reason:
        raise UnavailableError(reason)
    from cvb.compat import ensure_torchvision

    ensure_torchvision()  # lmms-eval's api.task imports transformers/accelerate, which import torchvision
    _quiet()
    import sys

    bare = sys.modules.get("lmms_eval.tasks")
    if bare is not None and getattr(bare, "__file__", None) is None:  # a namespace stand-in (the
        del sys.modules["lmms_eval.tasks"]  # tests' scoring oracle imports task files alone): the real one
    try:
        from lmms_eval.tasks import TaskManager
    except ImportError as exc:
        raise UnavailableError(f"lmms-eval's task code needs {exc.name or exc}: {INSTALL_HINT}") from exc
    return TaskManager


@functools.lru_cache(maxsize=1)
def task_manager():
    """lmms-eval's task index of every YAML under lmms_eval/tasks (about 2000 tasks: seconds),
    built once per process."""
    return _task_manager_class()(verbosity="ERROR")


def tasks_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UnavailableError(f"lmms-eval is not installed: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "tasks"


@functools.lru_cache(maxsize=64)
def entry(name: str) -> dict:
    """The index entry of a task name (type, yaml path), or a UsageError naming close ones.

    lmms-eval's ``TaskManager`` indexes only the folders whose YAML text mentions the name (a
    text scan, well under a second), not all ~340: the same registry code, without reading
    every task's YAML for one name. A name it does not find there is looked up in the full index.
    """
    import re

    pattern = re.compile(rb"^\s*(task|group|tag)\s*:.*" + re.escape(name.encode()), re.M)
    folders = sorted({str(p.parent) for p in tasks_root().rglob("*.yaml") if pattern.search(p.read_bytes())})
    found = None
    if folders:
        found = _task_manager_class()(verbosity="ERROR", include_path=folders, include_defaults=False
                                      ).task_index.get(name)
    if found is None:
        found = task_manager().task_index.get(name)
    if found is None:
        tm = task_manager()
        import difflib

        close = difflib.get_close_matches(name, tm.all_tasks, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"lmms-eval has no task {name!r}{hint} (`cvb list tasks --source lmms-eval` "
                         f"lists them)")
    return dict(found)


def full_config(name: str) -> dict:
    """The task's config as lmms-eval's TaskManager builds it (``_get_config``: the YAML in full
    mode, its ``include`` files merged under it, ``!function`` tags imported from its utils.py)."""
    found = entry(name)
    if found["type"] != "task":
        members = found.get("task")
        listed = f": {', '.join(members[:12])}" if isinstance(members, list) else ""
        kind = {"group": "a group", "tag": "a tag",
                "python_task": "a Python-class task"}.get(found["type"], found["type"])
        why = ("the bridge runs YAML tasks one at a time" if found["type"] != "python_task"
               else "the bridge runs YAML-configured tasks only")
        raise UsageError(f"lmms-eval's {name!r} is {kind}{listed}; {why}")
    from lmms_eval import utils

    _quiet()
    try:  # TaskManager._get_config (tasks/__init__.py:206-213): includes merged, functions imported
        return utils.load_yaml_config(found["yaml_path"], mode="full")
    except ImportError as exc:
        raise UnavailableError(f"lmms-eval task {name!r}: its task code needs a package that is not "
                               f"installed: {exc}") from exc


def config_hash(name: str, config: dict) -> str:
    """A short hash of everything that defines the task: the resolved config (functions by
    their qualified names) and the source of every module those functions come from."""
    sources: dict[str, str] = {}

    def plain(value: Any) -> Any:
        if callable(value):
            module = inspect.getmodule(value)
            path = getattr(module, "__file__", None)
            if path and path not in sources:
                try:
                    sources[Path(path).name + ":" + hashlib.sha256(Path(path).read_bytes()).hexdigest()] = path
                except OSError:
                    pass
            return f"<function {getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}>"
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)

    text = json.dumps({"task": name, "config": plain(config), "sources": sorted(sources)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(name: str, config: dict, model: str | None, local: Path | None):
    """A ``ConfigurableTask`` of lmms-eval for ``config``, its documents from ``local`` (a
    save_to_disk folder or the hub's parquet layout) or, without one, from the hub."""
    from lmms_eval.api.task import ConfigurableTask

    class BridgedTask(ConfigurableTask):
        def download(self, dataset_kwargs=None) -> None:
            if local is None:
                try:  # the original, once (its @retry would wait minutes for a missing network)
                    return ConfigurableTask.download.__wrapped__(self, dataset_kwargs)
                except Exception as exc:  # network, auth, offline cache miss
                    raise UnavailableError(
                        f"lmms-eval:{name}: cannot load {self.DATASET_PATH}"
                        + (f" ({self.DATASET_NAME})" if self.DATASET_NAME else "")
                        + f" from the Hugging Face hub: {type(exc).__name__}: {exc}; "
                        + fetch_hint(name, self.DATASET_PATH, self.DATASET_NAME)) from exc
            import datasets

            split = self.config.test_split or self.config.validation_split
            self.dataset = datasets.DatasetDict({split: local_split(local, self.DATASET_NAME, split, name,
                                                                    self.DATASET_PATH)})
            # what ConfigurableTask.download does after loading (api/task.py:1162-1185)
            if self.config.process_docs is not None:
                for s in self.dataset:
                    if s in [self.config.training_split, self.config.validation_split, self.config.test_split,
                             self.config.fewshot_split]:
                        self.dataset[s] = self.config.process_docs(self.dataset[s])
            if getattr(self.config, "process_results_use_image", False):
                self.dataset_no_image = self.dataset
            else:
                self.dataset_no_image = self.dataset.copy()
                for doc_name in self.dataset_no_image:
                    features = self.dataset_no_image[doc_name].features
                    drop = [f for f in features if _is_media(features[f])]
                    for col in drop:
                        self.dataset_no_image[doc_name] = self.dataset_no_image[doc_name].remove_columns(col)

    _quiet()
    return BridgedTask(config=dict(config), model_name=model)


def _is_media(feature) -> bool:
    from datasets import Audio, Image, Sequence

    return (isinstance(feature, (Image, Audio))
            or (isinstance(feature, Sequence) and isinstance(feature.feature, Image))
            or (type(feature).__name__ == "List" and isinstance(getattr(feature, "feature", None), Image)))


def fetch_hint(name: str, dataset_path: str | None, dataset_name: str | None) -> str:
    from cvb_tasks import DATA_DIR_ENV

    return (f"on a machine with internet run `huggingface-cli download --repo-type dataset {dataset_path} "
            f"--local-dir DIR` (or `datasets.load_dataset({dataset_path!r}"
            + (f", {dataset_name!r}" if dataset_name else "") + ").save_to_disk(DIR)`), copy DIR here and "
            f"pass it as `lmms-eval:{name}:DIR`, or put it at ${DATA_DIR_ENV}/{dataset_path}")


def local_split(root: Path, config: str | None, split: str, name: str, dataset_path: str | None):
    """One split of a local copy as a ``datasets.Dataset`` (images decoded on access, as the
    hub's): a save_to_disk folder (a DatasetDict or one Dataset) or parquet files in the hub's
    layout, under ``root`` or ``root/<dataset_name>``."""
    import datasets

    from cvb_tasks import parquet_files

    if not root.exists():
        raise UsageError(f"lmms-eval:{name}: local copy {str(root)!r} does not exist; "
                         + fetch_hint(name, dataset_path, config))
    for base in ([root / config, root] if config else [root]):
        if not base.exists():
            continue
        if (base / "dataset_dict.json").is_file():
            dd = datasets.load_from_disk(str(base))
            if split in dd:
                return dd[split]
            if len(dd) == 1:
                return next(iter(dd.values()))
            raise UsageError(f"lmms-eval:{name}: {base} has splits {sorted(dd)}, not {split!r}")
        if (base / split / "dataset_info.json").is_file():
            return datasets.load_from_disk(str(base / split))
        if (base / "dataset_info.json").is_file() and (base / "state.json").is_file():
            return datasets.load_from_disk(str(base))
        files = parquet_files(base, split)
        if files:  # memory-mapped through datasets' own parquet builder (no network)
            return datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    where = " or ".join(str(c) for c in ([root / config, root] if config else [root]))
    raise UnavailableError(f"lmms-eval:{name}: no split {split!r} of {dataset_path} under {where} (looked for "
                           f"a save_to_disk folder or parquet files named {split}-*.parquet); "
                           + fetch_hint(name, dataset_path, config))
