"""cvb_tasks machinery: local copies in both layouts, subsets, arguments, offline errors.

Also the helpers the per-benchmark tests use to write tiny datasets in the hub's exact schema
(an ``image`` column of ``{"bytes", "path"}`` dicts cast to ``datasets.Image()``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cvb.errors import UnavailableError, UsageError


# ---- helpers shared by tests/test_tasks_*.py -----------------------------------------------
def png(color: str | tuple, size: tuple[int, int] = (8, 6)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_cell(color) -> dict:
    """An image as the hub's parquet stores it."""
    return {"bytes": png(color), "path": None}


def write_dataset(columns: dict, features, root: Path, *, split: str, config: str | None = None,
                  layout: str = "parquet") -> Path:
    """Write one split in a hub layout; returns the directory to pass as the task's path.

    layout "parquet": ``root/data/<split>-00000-of-00001.parquet`` (default config) or
    ``root/<config>/<split>-...parquet``; "disk": ``save_to_disk`` of the Dataset at ``root`` (or
    ``root/<config>``); "dict": ``save_to_disk`` of a DatasetDict holding the split.
    """
    import datasets

    ds = datasets.Dataset.from_dict(columns, features=features)
    sub = root / (config or "data") if layout == "parquet" else (root / config if config else root)
    if layout == "parquet":
        sub.mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(sub / f"{split}-00000-of-00001.parquet"))
    elif layout == "disk":
        ds.save_to_disk(str(sub))
    elif layout == "dict":
        datasets.DatasetDict({split: ds}).save_to_disk(str(sub))
    else:
        raise ValueError(layout)
    return root


def make_task(name: str, *args, **options):
    """Create a task through the plugin registry, exactly as the CLI does."""
    from cvb.plugins import get_registry

    ref = name if not args else f"{name}:{args[0]}"
    return get_registry().create("task", ref, **options)


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    """No hub: offline mode on, an empty Hugging Face home, no $CVB_DATA_DIR."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "CVB_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def ocr_like(tmp_path: Path, n: int, layout: str = "parquet") -> Path:
    """A small OCRBench-schema copy with n rows (distinct images)."""
    import datasets

    features = datasets.Features({
        "dataset": datasets.Value("string"), "question": datasets.Value("string"),
        "question_type": datasets.Value("string"), "answer": datasets.List(datasets.Value("string")),
        "image": datasets.Image(),
    })
    cols = {"dataset": ["IIIT5K"] * n, "question": ["what is written in the image?"] * n,
            "question_type": ["Regular Text Recognition"] * n,
            "answer": [[f"word{i}"] for i in range(n)],
            "image": [image_cell((i * 20 % 256, 10, 10)) for i in range(n)]}
    return write_dataset(cols, features, tmp_path / "ocr", split="test", layout=layout)


# ---- tests of the shared machinery ----------------------------------------------------------
def test_spread_is_even_deterministic_and_keeps_groups():
    from cvb_tasks.base import spread

    groups = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]          # 5 pairs, 10 rows
    assert spread(groups, None) == list(range(10))
    assert spread(groups, 99) == list(range(10))
    # limit 4 -> k = 4*5//10 = 2 groups at strides 0 and 5//2=2 -> groups 0 and 2
    assert spread(groups, 4) == [0, 1, 4, 5]
    # limit 5 -> still 2 whole groups (a third would make 6 rows)
    assert spread(groups, 5) == [0, 1, 4, 5]
    assert spread(groups, 1) == [0, 1]                          # at least one group
    assert spread(groups, 4) == spread(groups, 4)
    singles = [[i] for i in range(10)]
    # 3 of 10 -> indices 0, 10//3=3, 20//3=6
    assert spread(singles, 3) == [0, 3, 6]
    with pytest.raises(UsageError):
        spread(singles, 0)


@pytest.mark.parametrize("layout", ["parquet", "disk", "dict"])
def test_local_copy_layouts_load_the_same_rows(tmp_path, layout):
    path = ocr_like(tmp_path, 3, layout=layout)
    task = make_task("ocrbench", str(path))
    samples = list(task.samples())
    assert [s.answer for s in samples] == [["word0"], ["word1"], ["word2"]]
    assert samples[1].image.load().getpixel((0, 0)) == (20, 10, 10)
    # path= option is the same as name:PATH
    again = list(make_task("ocrbench", path=str(path)).samples())
    assert [s.id for s in again] == [s.id for s in samples]


def test_cvb_data_dir_is_the_default_location(tmp_path, monkeypatch):
    root = tmp_path / "store"
    ocr_like(root / "echo840", 2)            # -> root/echo840/ocr/...; rename to the dataset id
    (root / "echo840" / "ocr").rename(root / "echo840" / "OCRBench")
    monkeypatch.setenv("CVB_DATA_DIR", str(root))
    assert len(list(make_task("ocrbench").samples())) == 2


def test_missing_local_copy_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        list(make_task("ocrbench", str(tmp_path / "nowhere")).samples())


def test_wrong_schema_names_the_missing_columns(tmp_path):
    path = ocr_like(tmp_path, 2)
    with pytest.raises(UsageError, match="lacks columns"):
        list(make_task("mme", str(path)).samples())   # an OCRBench copy is no MME copy


def test_empty_directory_says_what_it_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnavailableError, match=r"test-\*\.parquet"):
        list(make_task("ocrbench", str(tmp_path / "empty")).samples())


def test_unreachable_hub_raises_unavailable_with_the_fix(hf_offline):
    task = make_task("ocrbench", check=False)
    with pytest.raises(UnavailableError) as info:
        list(task.samples(limit=2))
    msg = str(info.value)
    assert "echo840/OCRBench" in msg
    assert "huggingface-cli download --repo-type dataset echo840/OCRBench" in msg
    assert "ocrbench:DIR" in msg


def test_status_check_is_honest_and_cheap(hf_offline, monkeypatch):
    from cvb.plugins import get_registry

    spec = get_registry().spec("task", "pope")
    reason = spec.status()
    assert reason and "lmms-lab/POPE" in reason and "huggingface-cli download" in reason
    # a registry refuses the bare name offline, but not an explicit local copy
    with pytest.raises(UnavailableError, match="not usable here"):
        get_registry().create("task", "pope")
    get_registry().create("task", "pope:adversarial", path=str(hf_offline))
    # a copy under $CVB_DATA_DIR, or a hub cache entry, makes it usable
    (hf_offline / "store" / "lmms-lab" / "POPE").mkdir(parents=True)
    monkeypatch.setenv("CVB_DATA_DIR", str(hf_offline / "store"))
    assert spec.status() is None
    monkeypatch.delenv("CVB_DATA_DIR")
    (hf_offline / "hf-home" / "hub" / "datasets--lmms-lab--POPE").mkdir(parents=True)
    assert spec.status() is None
    # with the hub allowed nothing can be known cheaply: no complaint
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.setenv("HF_HOME", str(hf_offline / "other"))
    assert spec.status() is None


def test_every_benchmark_is_registered_with_its_splits():
    from cvb.plugins import get_registry

    reg = get_registry()
    names = set(reg.names("task"))
    assert {"pope", "mme", "seedbench", "mmbench", "ocrbench", "gqa", "coco-caption"} <= names
    assert reg.spec("task", "pope").splits == ("all", "random", "popular", "adversarial")
    assert "circular" in reg.spec("task", "mmbench").options


def test_split_and_path_arguments(tmp_path):
    assert make_task("pope", "adversarial").split == "adversarial"
    assert make_task("pope", split="popular").split == "popular"
    assert make_task("pope").split == "all"
    with pytest.raises(UsageError) as info:
        make_task("pope", "adverserial")
    assert "random, popular, adversarial" in str(info.value)
    with pytest.raises(UsageError, match="valid splits"):
        make_task("pope", split="train")
    with pytest.raises(UsageError, match="split given twice"):
        make_task("pope", "random", split="popular")
    with pytest.raises(UsageError, match="no splits"):
        make_task("mme", split="test")
    with pytest.raises(UsageError, match="true or false"):
        make_task("mmbench", circular="maybe")
    task = make_task("pope", str(tmp_path))
    assert task.path == str(tmp_path) and task.split == "all"


def test_plugin_module_is_light():
    import subprocess
    import sys

    code = ("import sys, cvb_tasks.plugin; "
            "heavy = [m for m in ('datasets', 'pyarrow', 'torch', 'pandas') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_parquet_table_reads_only_requested_cells_across_files_and_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cvb_tasks.tables import ParquetTable

    # two files of 7 and 5 rows, row groups of 3 rows: rows 0-2 | 3-5 | 6 || 7-9 | 10-11
    for part, (lo, hi) in enumerate([(0, 7), (7, 12)]):
        table = pa.table({"n": list(range(lo, hi)),
                          "image": [{"bytes": bytes([i]), "path": None} for i in range(lo, hi)]})
        pq.write_table(table, tmp_path / f"test-0000{part}-of-00002.parquet", row_group_size=3)
    t = ParquetTable(sorted(tmp_path.glob("*.parquet")))
    assert len(t) == 12 and t.column("n") == list(range(12))
    assert [r["n"] for r in t.rows(drop=["image"])] == list(range(12))
    assert "image" not in t.rows(drop=["image"])[0]
    picked = t.cells([11, 0, 6, 7, 4], "image")           # any order, across groups and files
    assert [c["bytes"][0] for c in picked] == [11, 0, 6, 7, 4]
    with pytest.raises(IndexError):
        t.cells([12], "image")
