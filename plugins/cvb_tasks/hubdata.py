"""Finding a benchmark's rows: a local copy when one is given, else the Hugging Face hub.

A local copy is either a directory written by ``datasets.save_to_disk`` (a Dataset or a
DatasetDict) or parquet files in the hub's own layout (``data/test-00000-of-00003.parquet``,
``testdev_balanced_images/testdev-00000-of-00001.parquet``...), so a copy made elsewhere with
``huggingface-cli download --repo-type dataset ID --local-dir DIR`` works as it is.
``$CVB_DATA_DIR/<dataset id>`` is looked at when no path is given.

``datasets`` is imported only inside the functions that load; :func:`offline_reason` is cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvb.errors import UnavailableError, UsageError

if TYPE_CHECKING:
    from .tables import DatasetTable, ParquetTable

DATA_DIR_ENV = "CVB_DATA_DIR"


def fetch_hint(dataset_id: str, task: str) -> str:
    return (f"on a machine with internet run `huggingface-cli download --repo-type dataset "
            f"{dataset_id} --local-dir DIR` (or `datasets.load_dataset(...).save_to_disk(DIR)`), "
            f"copy DIR here and pass it as `{task}:DIR` or `path=DIR`, or put it at "
            f"${DATA_DIR_ENV}/{dataset_id}")


def default_path(dataset_id: str) -> Path | None:
    """``$CVB_DATA_DIR/<dataset id>`` if it exists."""
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        p = Path(root).expanduser() / dataset_id
        if p.exists():
            return p
    return None


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface"


def hub_cached(dataset_id: str) -> bool:
    """Whether a Hugging Face cache holds (some version of) the dataset: directory checks only.

    Looks where ``huggingface_hub`` downloads (``datasets--ORG--NAME``) and where ``datasets``
    keeps prepared copies (``ORG___NAME``), with the libraries' environment variables.
    """
    hub = next((Path(os.environ[v]).expanduser() for v in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
                if os.environ.get(v)), _hf_home() / "hub")
    prepared = Path(os.environ.get("HF_DATASETS_CACHE") or _hf_home() / "datasets").expanduser()
    org_name = dataset_id.replace("/", "___")
    return ((hub / ("datasets--" + dataset_id.replace("/", "--"))).is_dir()
            or (prepared / org_name).is_dir() or (prepared / org_name.lower()).is_dir())


PROBE_TIMEOUT_S = 3.0
_PROBED: dict[str, str | None] = {}


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub (``$HF_ENDPOINT``, default huggingface.co) cannot be reached
    from here, found in a few seconds at most (name lookup, then a TCP connect); None when
    it answers. Asked once per process, before a load the hub client would retry for long."""
    import socket
    import threading
    from urllib.parse import urlsplit

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if endpoint in _PROBED:
        return _PROBED[endpoint]
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "huggingface.co", parts.port or (80 if parts.scheme == "http" else 443)
    found: list = []

    def resolve() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT_S)
    reason = None
    if not found:
        reason = f"no answer for {host} within {PROBE_TIMEOUT_S:.0f} s"
    elif isinstance(found[0], OSError):
        reason = f"cannot resolve {host}: {found[0]}"
    else:
        family, kind, proto, _name, address = found[0][0]
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(PROBE_TIMEOUT_S)
                sock.connect(address)
        except OSError as exc:
            reason = f"cannot connect to {host}:{port}: {exc}"
    _PROBED[endpoint] = reason
    return reason


def offline_reason(dataset_id: str, task: str) -> str | None:
    """The status line for `cvb list`: a reason only when we KNOW the data cannot be reached.

    That is: offline mode is set, no ``$CVB_DATA_DIR`` copy and nothing in the hub cache. With
    the hub allowed we cannot tell cheaply whether the network works, so we say nothing.
    """
    if not _offline() or default_path(dataset_id) is not None or hub_cached(dataset_id):
        return None
    return f"needs network or a local copy of {dataset_id} (HF offline mode is set): " + fetch_hint(dataset_id, task)


def load_split(dataset_id: str, config: str | None, split: str, path: str | os.PathLike | None,
               task: str) -> "DatasetTable | ParquetTable":
    """One split of one config, as a table whose images are read only on demand.

    ``path`` (or ``$CVB_DATA_DIR/<id>``) wins over the hub. Any failure to reach the data becomes
    an ``UnavailableError`` naming the dataset and how to fetch it elsewhere.
    """
    local = Path(path).expanduser() if path is not None else default_path(dataset_id)
    if local is not None:
        if not local.exists():
            raise UsageError(f"{task}: local copy {str(local)!r} does not exist; " + fetch_hint(dataset_id, task))
        return load_local(local, config, split, dataset_id, task)
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - a dependency of cvb
        raise UnavailableError(f"{task} needs the `datasets` package: pip install datasets") from exc
    if _offline() and not hub_cached(dataset_id):  # known to fail: say so without trying
        raise UnavailableError(f"{task}: {dataset_id} is not in the Hugging Face cache and HF offline "
                               f"mode is set; " + fetch_hint(dataset_id, task))
    if not _offline() and not hub_cached(dataset_id):
        unreachable = hub_unreachable()
        if unreachable:  # say so now, not after the hub client's retries (about 30 s)
            raise UnavailableError(f"{task}: {dataset_id} is not in the Hugging Face cache and the hub "
                                   f"cannot be reached ({unreachable}); " + fetch_hint(dataset_id, task))
    from .tables import DatasetTable

    try:
        return DatasetTable(datasets.load_dataset(dataset_id, config, split=split))
    except Exception as exc:  # network, auth, missing cache in offline mode...
        mode = " (HF offline mode is set)" if _offline() else ""
        raise UnavailableError(
            f"{task}: cannot load {dataset_id}" + (f" config {config!r}" if config else "")
            + f" split {split!r} from the Hugging Face hub{mode}: {type(exc).__name__}: {exc}; "
            + fetch_hint(dataset_id, task)) from exc


def load_local(root: Path, config: str | None, split: str, dataset_id: str,
               task: str) -> "DatasetTable | ParquetTable":
    """A save_to_disk directory or hub-layout parquet under ``root`` (or ``root/<config>``).

    Parquet is read with pyarrow alone; ``datasets`` is imported for save_to_disk directories.
    """
    from .tables import DatasetTable, ParquetTable

    def from_disk(where: Path) -> Any:
        import datasets

        return datasets.load_from_disk(str(where))

    candidates = [root / config, root] if config else [root]
    for base in candidates:
        if not base.exists():
            continue
        if (base / "dataset_dict.json").is_file():
            dd = from_disk(base)
            if split in dd:
                return DatasetTable(dd[split])
            if len(dd) == 1:
                return DatasetTable(next(iter(dd.values())))
            raise UsageError(f"{task}: {base} has splits {sorted(dd)}, not {split!r}")
        if (base / split / "dataset_info.json").is_file():
            return DatasetTable(from_disk(base / split))
        if (base / "dataset_info.json").is_file() and (base / "state.json").is_file():
            return DatasetTable(from_disk(base))
        files = parquet_files(base, split)
        if files:
            return ParquetTable(files)
    where = " or ".join(str(c) for c in candidates)
    raise UnavailableError(
        f"{task}: no {dataset_id} split {split!r} found under {where} (looked for a save_to_disk "
        f"directory or parquet files named {split}-*.parquet); " + fetch_hint(dataset_id, task))


def parquet_files(base: Path, split: str) -> list[Path]:
    """Parquet files of ``split`` in the hub layouts, or a lone parquet file given directly."""
    if base.is_file():
        return [base] if base.suffix == ".parquet" else []
    patterns = [f"data/{split}-*.parquet", f"{split}-*.parquet", f"{split}/*.parquet",
                f"data/{split}/*.parquet", f"{split}.parquet", f"default/{split}/*.parquet"]
    for pat in patterns:
        found = sorted(base.glob(pat))
        if found:
            return found
    return []
