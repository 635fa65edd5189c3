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
    from cvb.api import Cell, RunResult, Study, run_study
    from cvb.jsonsafe import json_safe

    result = run_study(Study(**MATRIX, store=tmp_path / "api.sqlite", cache_dir=tmp_path / "cache-api"))
    assert isinstance(result, RunResult) and result.ok and result.status == "ok"
    assert result.store == tmp_path / "api.sqlite" and result.metric_names == ["mse"]
    assert all(isinstance(c, Cell) for c in result.cells)
    assert [(c.codec, c.level) for c in result.cells] == [("none", "-"), ("fake", "1"), ("fake", "8")]
    assert all(c.n == 6 and c.task == "sample" and c.vlm == "scripted" for c in result.cells)
    none = result.cells[0]
    assert none.delta == 0 and none.bpp == 24 and none.protocol == "cvb"
    assert all(c.delta == c.score - none.score and set(c.metrics) == {"mse"} for c in result.cells[1:])
    assert result.work["predictions"] == 18 and result.work["models_loaded"] == ["scripted"]

    cli = _cvb(*_cli_args(tmp_path / "cli.sqlite", tmp_path / "cache-cli"), "--json")
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert json.loads(json.dumps(json_safe([c.as_dict() for c in result.cells]))) == printed["cells"]
    assert json.loads(json.dumps(json_safe(result.as_json()["cells"]))) == printed["cells"]
    assert printed["matrix"] == json.loads(json.dumps(result.matrix))

    again = run_study(Study(**MATRIX, store=tmp_path / "api.sqlite", cache_dir=tmp_path / "cache-api"))
    assert again.work["predictions"] == 0 and again.cells == result.cells  # a rerun reads the store


def test_report_store_is_the_report_the_cli_prints(tmp_path, fakes):
    from cvb.api import Report, Study, report_store, run_study

    store = tmp_path / "r.sqlite"
    run = run_study(Study(**MATRIX, store=store, cache_dir=tmp_path / "cache"))
    report = report_store(store, resamples=20, seed=7)
    assert isinstance(report, Report)
    assert report.cells == run.cells  # typed Cells, with the same delta, as the run returned
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


def test_a_cell_has_a_field_for_every_key_of_the_stores_cells(tmp_path, fakes):
    """Cell is built from the store's cell dicts: a key the store adds must get a field (and a
    row in docs/api.md's table), never be dropped on the way to a Python caller."""
    import dataclasses
    import re

    from cvb.api import Cell, Study, run_study
    from cvb.run.store import Store

    run_study(Study(**MATRIX, store=tmp_path / "s.sqlite", cache_dir=tmp_path / "c"))
    with Store(tmp_path / "s.sqlite", create=False) as store:
        row = store.cells()[0]
    names = {f.name for f in dataclasses.fields(Cell)}
    assert names == set(row) | {"delta"}
    documented = re.findall(r"^\| (`.*?`) \| `", (Path(__file__).parents[1] / "docs" / "api.md").read_text(), re.M)
    assert {n.strip("`") for line in documented for n in line.split(", ")} >= names
    assert Cell.of(row).as_dict() == {**row, "delta": None}
    with pytest.raises(TypeError, match="no field for the store's cell key.*fingerprint"):
        Cell.of({**row, "fingerprint": "x"})


def test_a_killed_api_run_resumes_where_it_stopped(tmp_path, fakes):
    """A ``run_study`` process that dies mid-run (``os._exit``: no cleanup, as ``kill -9``)
    loses nothing it had committed; the same call again asks only for what is missing, marks
    the dead run ``killed``, and ends with the cells of an uninterrupted run."""
    import sqlite3

    from cvb.api import Study, load_study, run_study

    study = tmp_path / "study.toml"
    study.write_text('vlms = ["scripted"]\ntasks = ["sample"]\ncodecs = ["fake"]\nlevels = [1, 8]\n'
                     'metrics = ["mse"]\nlimit = 6\nbatch_size = 2\njobs = 1\n'
                     'store = "r.sqlite"\ncache_dir = "cache"\n')
    probe = ("import cvb.plugins\nfrom cvb_fakes.components import build_registry\n"
             "cvb.plugins._REGISTRY = build_registry()\n"
             f"from cvb.api import load_study, run_study\nrun_study(load_study({str(study)!r}))\n")
    died = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=subprocess_env(CVB_FAKES_WITH_INSTALLED="1", CVB_FAKES_DIE_ONCE=str(tmp_path / "died"),
                                             CVB_FAKES_DIE_ON="coffee"))
    assert died.returncode == 9 and (tmp_path / "died").exists(), died.stderr[-2000:]
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        at_kill = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert 0 < at_kill < 18  # it really died mid-run, with answers committed

    resumed = run_study(load_study(study))
    assert resumed.ok and resumed.work["predictions"] == 18 - at_kill  # nothing asked twice
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert [s for (s,) in db.execute("SELECT status FROM runs ORDER BY id")] == ["killed", "ok"]
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 18
    fresh = run_study(Study(**MATRIX, store=tmp_path / "fresh.sqlite", cache_dir=tmp_path / "c2"))
    assert [c.as_dict() for c in resumed.cells] == [c.as_dict() for c in fresh.cells]


def test_failures_are_typed_and_are_what_the_cli_lists(tmp_path, fakes):
    """A unit that fails (the fake codec refuses a poisoned image) is a ``Failure`` in the
    result, and the one ``cvb run --json`` lists; the status says so."""
    from cvb.api import Failure, Study, run_study
    from cvb_fakes import make_images

    images = make_images(tmp_path / "imgs", 4, poison=(1,))
    matrix = {"vlms": ("scripted",), "tasks": (f"toy:{images}",), "codecs": ("fake",), "levels": ("1",),
              "metrics": ("mse",)}
    result = run_study(Study(**matrix, store=tmp_path / "api.sqlite", cache_dir=tmp_path / "c1"))
    assert not result.ok and result.status == "failures" and result.failures
    assert all(isinstance(f, Failure) for f in result.failures)
    compress = [f for f in result.failures if f.stage == "compress"]
    assert len(compress) == 1 and (compress[0].codec, compress[0].level) == ("fake", "1") and compress[0].error
    assert result.failure_counts == {s: sum(f.stage == s for f in result.failures) for s in result.failure_counts}

    cli = _cvb("run", "--vlm", "scripted", "--task", f"toy:{images}", "--codec", "fake", "-l", "1", "--metric",
               "mse", "--store", tmp_path / "cli.sqlite", "--cache-dir", tmp_path / "c2", "-q", "--json")
    assert cli.returncode == 1, cli.stderr
    assert json.loads(cli.stdout)["failures"] == [f.as_dict() for f in result.failures]
    with pytest.raises(TypeError, match="no field for the failure key.*retries"):
        Failure.of({**result.failures[0].as_dict(), "retries": 2})


def test_docs_api_md_names_every_field_of_a_runs_work():
    """``RunResult.work`` is the runner's ``Work``: each of its counters is explained in docs/api.md."""
    import dataclasses

    from cvb.run.runner import Work

    text = " ".join((Path(__file__).parents[1] / "docs" / "api.md").read_text().split())
    section = text.split("`RunResult.work`:", 1)[1].split("`RunResult.matrix`", 1)[0]
    assert [f.name for f in dataclasses.fields(Work) if f"`{f.name}`" not in section] == []
