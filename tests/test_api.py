"""cvb.api: a study run from Python gives the cells `cvb run` prints; a report built from Python
is the one `cvb report` prints; the API stays below the command line (no click, no cvb.cli)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes.harness import subprocess_env, use_fakes

#: the bundled `sample` task (installed plugins) asked by the fakes' VLM through the fakes' codec
MATRIX = {"vlms": ("scripted",), "tasks": ("sample",), "codecs": ("fake",), "levels": ("1,8",),
          "metrics": ("mse",), "limit": 6}


def _cvb(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *map(str, args)], capture_output=True,
                          text=True, env=subprocess_env(CVB_FAKES_WITH_INSTALLED="1", **env))


def _cli_args(store: Path, cache: Path) -> list[str]:
    return ["run", "--vlm", "scripted", "--task", "sample", "--codec", "fake", "--levels", "1,8",
            "--metric", "mse", "--limit", "6", "--store", store, "--cache-dir", cache, "-q"]


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("CVB_FAKES_WITH_INSTALLED", "1")
    use_fakes(monkeypatch)


def test_run_study_returns_the_cells_the_cli_prints(tmp_path, fakes):
    from cvb.api import RunResult, Study, run_study
    from cvb.jsonsafe import json_safe

    result = run_study(Study(**MATRIX, store=tmp_path / "api.sqlite", cache_dir=tmp_path / "cache-api"))
    assert isinstance(result, RunResult) and result.ok and result.status == "ok"
    assert result.store == tmp_path / "api.sqlite" and result.metric_names == ["mse"]
    assert {(c["codec"], c["level"]) for c in result.cells} == {("none", "-"), ("fake", "1"), ("fake", "8")}
    assert all(c["n"] == 6 for c in result.cells)
    assert result.work["predictions"] == 18 and result.work["models_loaded"] == ["scripted"]

    cli = _cvb(*_cli_args(tmp_path / "cli.sqlite", tmp_path / "cache-cli"), "--json")
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert json.loads(json.dumps(json_safe(result.cells))) == printed["cells"]
    assert printed["matrix"] == json.loads(json.dumps(result.matrix))

    again = run_study(Study(**MATRIX, store=tmp_path / "api.sqlite", cache_dir=tmp_path / "cache-api"))
    assert again.work["predictions"] == 0 and again.cells == result.cells  # a rerun reads the store


def test_report_store_is_the_report_the_cli_prints(tmp_path, fakes):
    from cvb.api import Report, Study, report_store, run_study

    store = tmp_path / "r.sqlite"
    run_study(Study(**MATRIX, store=store, cache_dir=tmp_path / "cache"))
    report = report_store(store, resamples=20, seed=7)
    assert isinstance(report, Report)
    assert [(s["task"], s["vlm"]) for s in report.sections] == [("sample", "scripted")]

    cli = _cvb("report", "--store", store, "--resamples", "20", "--seed", "7", "--json", "-q")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["sections"] == json.loads(report.json())["sections"]
    assert report.csv().splitlines()[0].startswith("task,")


def test_a_study_that_cannot_run_is_a_usage_error_before_any_work(tmp_path, fakes):
    from cvb.api import Study, run_study
    from cvb.errors import UsageError

    with pytest.raises(UsageError, match="VLM"):
        run_study(Study(tasks=("sample",), store=tmp_path / "r.sqlite"))
    with pytest.raises(UsageError, match="need --executor ray"):
        run_study(Study(**MATRIX, replicas=2, store=tmp_path / "r.sqlite", cache_dir=tmp_path / "c"))
    assert not (tmp_path / "r.sqlite").exists()


def test_the_api_loads_neither_click_nor_the_cli():
    probe = ("import sys, cvb.api, cvb.api.run, cvb.api.report, cvb.api.study\n"
             "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('cvb.cli')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_example_in_docs_api_md_runs(tmp_path):
    """docs/api.md's example, run as written but on the fakes' VLM (``reference`` would load
    torch and two models) and in a temporary folder: the names and fields it uses exist."""
    import re

    text = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    code = re.search(r"## Example.*?```python\n(.*?)```", text, re.S).group(1)
    assert 'vlms=("reference",)' in code
    code = code.replace('vlms=("reference",)', 'vlms=("scripted",)')
    probe = ("import cvb.plugins\nfrom cvb_fakes.components import build_registry\n"
             "cvb.plugins._REGISTRY = build_registry()\n" + code)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env=subprocess_env(CVB_FAKES_WITH_INSTALLED="1", CVB_CACHE_DIR=str(tmp_path / "cache")))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert [line.split()[:3] for line in lines[:3]] == [["scripted", "none", "-"], ["scripted", "jpeg", "10"],
                                                         ["scripted", "jpeg", "50"]], out.stdout
    assert "sample scripted jpeg" in out.stdout
    assert (tmp_path / "cvb-out" / "api-example.sqlite").is_file()


def test_a_study_is_written_in_python_as_in_a_file(tmp_path, fakes):
    """Lists, level tables and option tables in the study file's shapes become the command line's
    forms; a dict of a file's keys runs like the Study it describes; a wrong value is named."""
    from cvb.api import Study, run_study
    from cvb.errors import UsageError

    study = Study(vlms=["scripted"], tasks="sample", levels={"fake": [1, 8]}, options={"fake": {"broken": False}},
                  store=str(tmp_path / "s.sqlite"), report={"seed": 3})
    assert study.vlms == ("scripted",) and study.tasks == ("sample",) and study.levels == ("fake=1,8",)
    assert study.options == ("fake.broken=false",) and study.store == tmp_path / "s.sqlite"
    assert study == Study(vlms=("scripted",), tasks=("sample",), levels=("fake=1,8",),
                          options=("fake.broken=false",), store=tmp_path / "s.sqlite", report={"seed": 3})
    result = run_study({**MATRIX, "store": str(tmp_path / "d.sqlite"), "cache_dir": str(tmp_path / "c")})
    assert result.ok and result.store == tmp_path / "d.sqlite" and len(result.cells) == 3
    with pytest.raises(UsageError, match="limit must be a whole number of at least 1, not 0"):
        run_study({**MATRIX, "limit": 0})
    with pytest.raises(UsageError, match=r"report.seed must be a whole number"):
        Study(report={"seed": "x"})
