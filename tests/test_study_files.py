"""`cvb run --config study.toml`: a study file is the command line in a file (the same store
rows), flags override it, mistakes in it are named, the store keeps it whole and `cvb report`
names it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import cli, subprocess_env, use_fakes

ROOT = Path(__file__).parents[1]
#: columns that differ between two runs of the same study (when, how long, which run; a cell's
#: fingerprint is of its rows' write stamps)
VOLATILE = ("id", "run_id", "latency_s", "encode_s", "decode_s", "fingerprint")


def _cvb(*args, cwd=None, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=subprocess_env(**env))


def _rows(store: Path) -> dict[str, list[tuple]]:
    """Every row of the result tables, less the columns that say when or in which run."""
    conn = sqlite3.connect(store)
    try:
        out = {}
        for table in ("images", "samples", "compressed", "metrics", "predictions", "cells"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                    if r[1] not in VOLATILE and not r[1].endswith(("_ns", "_at"))]
            out[table] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(), key=repr)
        return out
    finally:
        conn.close()


def _study(tmp_path: Path, images: Path, text: str = "") -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text + f'''vlms = ["scripted"]
tasks = ["toy:{images}"]
codecs = "fake"
metrics = ["mse"]
limit = 6
jobs = 1

[levels]
fake = [1, 4]

[options.task]
questions = 3
''')
    return path


def test_a_study_file_gives_the_store_rows_of_its_command_line(tmp_path):
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images)
    by_file = _cvb("run", "--config", study, "--store", tmp_path / "file.sqlite", "--cache-dir", tmp_path / "c1",
                   "-q", "--json")
    assert by_file.returncode == 0, by_file.stderr
    by_flags = _cvb("run", "--vlm", "scripted", "--task", f"toy:{images}", "--codec", "fake", "-l", "fake=1,4",
                    "--metric", "mse", "--limit", "6", "-j", "1", "-o", "task.questions=3",
                    "--store", tmp_path / "flags.sqlite", "--cache-dir", tmp_path / "c2", "-q", "--json")
    assert by_flags.returncode == 0, by_flags.stderr
    printed = [json.loads(r.stdout) for r in (by_file, by_flags)]
    assert printed[0]["cells"] == printed[1]["cells"] and printed[0]["matrix"] == printed[1]["matrix"]
    file_rows, flag_rows = _rows(tmp_path / "file.sqlite"), _rows(tmp_path / "flags.sqlite")
    assert len(file_rows["predictions"]) == 18 and len(file_rows["compressed"]) > 0
    assert file_rows == flag_rows


def test_flags_override_the_file_and_the_store_keeps_the_file_whole(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images, f'store = "{tmp_path / "from-file.sqlite"}"\n')
    monkeypatch.setenv("CVB_STORE", str(tmp_path / "from-env.sqlite"))  # the file wins over the env
    res = cli(["run", "--config", str(study), "--limit", "4", "-l", "fake=8", "-o", "task.questions=2",
               "--cache-dir", str(tmp_path / "cache"), "-q", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["store"] == str(tmp_path / "from-file.sqlite") and not (tmp_path / "from-env.sqlite").exists()
    assert {(c["codec"], c["level"]) for c in out["cells"]} == {("none", "-"), ("fake", "8")}
    assert {c["n"] for c in out["cells"]} == {4}  # --limit 4 over the file's 6
    conn = sqlite3.connect(tmp_path / "from-file.sqlite")
    options = json.loads(conn.execute("SELECT options FROM runs").fetchone()[0])
    conn.close()
    recorded = options["study"]
    assert recorded["file"]["text"] == study.read_text()
    assert recorded["file"]["sha256"] == hashlib.sha256(study.read_bytes()).hexdigest()
    assert recorded["values"]["limit"] == 4 and recorded["values"]["levels"] == ["fake=8"]
    assert recorded["values"]["options"] == ["task.questions=2"]  # the flag's, in place of the file's

    res = cli(["run", "--config", str(study), "--store", str(tmp_path / "flag.sqlite"),
               "--cache-dir", str(tmp_path / "cache"), "-q", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["store"] == str(tmp_path / "flag.sqlite")  # a typed flag wins


@pytest.mark.parametrize("text, message", [
    ('codec = ["jpeg"]\n', "unknown key 'codec' (did you mean 'codecs'"),
    ('codec = ["jpeg"]\n', "known keys: vlms, tasks, codecs, "
                           "levels, metrics, options, limit, store, cache_dir, jobs, executor"),
    ("limit = 0\n", "limit must be a whole number of at least 1, not 0"),
    ('jobs = "many"\n', 'jobs must be a number of processes (1 or more) or "auto", not "many"'),
    ('executor = "slurm"\n', "executor must be one of local, ray"),
    ("[options]\nvlm = 3\n", "options.vlm must be a table of KEY = VALUE"),
    ("vlms = [\n", "not a TOML file"),
])
def test_a_mistake_in_the_file_is_a_usage_error_naming_it(tmp_path, monkeypatch, text, message):
    use_fakes(monkeypatch)
    study = tmp_path / "bad.toml"
    study.write_text('tasks = ["toy:x"]\n' + text)
    res = cli(["run", "--config", str(study), "--vlm", "scripted", "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 2, res.output
    assert str(study) in res.output and message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "s.sqlite").exists()


def test_vlm_and_task_are_still_required_somewhere(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    res = cli(["run", "--task", "toy:x", "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 2 and "Missing option '--vlm'" in res.output, res.output
    study = tmp_path / "s.toml"
    study.write_text('vlms = ["scripted"]\n')
    res = cli(["run", "--config", str(study), "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 2 and "Missing option '--task' / '-t'" in res.output, res.output


def test_cvb_report_names_the_study_file(tmp_path):
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images)
    store = tmp_path / "r.sqlite"
    run = _cvb("run", "--config", "study.toml", "--store", store, "--cache-dir", tmp_path / "c", "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    sha = hashlib.sha256(study.read_bytes()).hexdigest()
    brief = _cvb("report", "--store", store, "--resamples", "0", "-q", COLUMNS="200")
    assert brief.returncode == 0, brief.stderr
    assert f"study study.toml ({sha[:8]})" in brief.stdout.splitlines()[-1]
    full = _cvb("report", "--store", store, "--resamples", "0", "-q", "--provenance", COLUMNS="200")
    assert f"run 1 study file: study.toml (sha256 {sha})" in full.stdout
    as_json = json.loads(_cvb("report", "--store", store, "--resamples", "0", "-q", "--json").stdout)
    assert as_json["provenance"]["runs"][0]["study_file"] == {"path": "study.toml", "sha256": sha}


def test_the_example_study_file_runs(tmp_path):
    """docs/examples/sample-study.toml with the real JPEG and WebP codecs, PSNR and the bundled
    `sample` task; only the VLM is the fakes' (a flag over the file: the reference models load
    torch) and the sample count is cut."""
    (tmp_path / "paper").mkdir()  # the example's store is beside it: a copy keeps docs/ clean
    example = tmp_path / "paper" / "study.toml"
    example.write_bytes((ROOT / "docs" / "examples" / "sample-study.toml").read_bytes())
    run = _cvb("run", "--config", "paper/study.toml", "--vlm", "scripted", "--limit", "3", "--cache-dir",
               tmp_path / "c", "--json", "-q", cwd=tmp_path, CVB_FAKES_WITH_INSTALLED="1")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["store"] == "paper/cvb-out/sample-study.sqlite" and (tmp_path / out["store"]).is_file()
    assert [(c["codec"], c["level"]) for c in out["cells"]] == [
        ("none", "-"), ("jpeg", "5"), ("jpeg", "30"), ("webp", "10"), ("webp", "50")]
    assert all(c["n"] == 3 and c["metrics"]["psnr"] for c in out["cells"] if c["codec"] != "none")


def test_the_paper_study_file_is_the_one_paper_workflow_shows():
    import re
    import tomllib

    from cvb.api import load_study

    study = load_study(ROOT / "docs" / "examples" / "paper.toml")
    assert study.vlms == ("qwen2.5-vl-3b", "internvl3-2b") and len(study.tasks) == 6
    assert study.levels == ("jpeg=1,3,5,6", "elic2022=1,2,3,4")
    shown = re.search(r"```toml\n(.*?)```", (ROOT / "docs" / "paper-workflow.md").read_text(), re.S).group(1)
    assert tomllib.loads(shown) == tomllib.loads(study.source.text)


def test_merging_is_per_option_and_per_codec():
    from cvb.api import Study

    base = Study(vlms=("a",), levels=("jpeg=1,2", "webp=5"), options=("vlm.x=1", "vlm.y=2"), limit=5)
    over = base.merged(Study(levels=("jpeg=9",), options=("vlm.x=3",)))
    assert over.levels == ("webp=5", "jpeg=9") and over.options == ("vlm.y=2", "vlm.x=3")
    assert over.vlms == ("a",) and over.limit == 5
    assert base.merged(Study(levels=("7,8",))).levels == ("7,8",)  # a bare list: the single codec's
    assert base.merged(Study(vlms=("b", "c"))).vlms == ("b", "c")  # a list given replaces the list


def test_cvb_report_config_takes_the_studys_store_and_report_table(tmp_path, monkeypatch):
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images, f'store = "{tmp_path / "r.sqlite"}"\n')
    study.write_text(study.read_text() + '\n[report]\nresamples = 30\nseed = 5\nanchor = "fake"\n'
                     f'out = "{tmp_path / "rep"}"\n')
    run = _cvb("run", "--config", study, "--cache-dir", tmp_path / "c", "-q")
    assert run.returncode == 0, run.stderr
    by_file = _cvb("report", "--config", study, "--json", "-q", "--no-plots", "--samples", "0")
    assert by_file.returncode == 0, by_file.stderr
    report = json.loads(by_file.stdout)
    assert report["inference"]["resamples"] == 30 and report["inference"]["seed"] == 5
    assert report["sections"][0]["anchor"] == "fake" and (tmp_path / "rep" / "report.json").is_file()
    typed = _cvb("report", "--config", study, "--json", "-q", "--seed", "6", "--resamples", "0")
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout)["inference"]["seed"] == 6  # a typed flag wins over [report]

    from cvb.api import load_study, report_study

    use_fakes(monkeypatch)  # the toy task's scoring rule, as in the command's process
    from_python = report_study(load_study(study))
    assert from_python.data["inference"]["seed"] == 5
    assert json.loads(from_python.json())["sections"] == report["sections"]


def test_an_unknown_report_key_names_the_known_ones(tmp_path):
    from cvb.api import load_study
    from cvb.errors import UsageError

    study = tmp_path / "s.toml"
    study.write_text('[report]\nseeds = 3\n')
    with pytest.raises(UsageError, match=r"unknown key 'report.seeds' \(did you mean 'seed'\?\); known keys of "
                                         r"\[report\]: anchor, interp, resamples, seed"):
        load_study(study)


def test_relative_paths_in_a_study_file_are_read_from_its_folder(tmp_path):
    """A paper's study file names its store from the paper's folder, wherever the command is
    typed; a path typed as a flag is still the current directory's."""
    images = make_images(tmp_path / "imgs", 4)
    paper, elsewhere = tmp_path / "paper", tmp_path / "elsewhere"
    paper.mkdir()
    elsewhere.mkdir()
    study = _study(paper, images, 'store = "results.sqlite"\ncache_dir = "cache"\n')
    study.write_text(study.read_text() + '\n[report]\nout = "rep"\n')
    run = _cvb("run", "--config", "../paper/study.toml", "-q", "--json", cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert Path(json.loads(run.stdout)["store"]) == Path("../paper/results.sqlite")
    assert (paper / "results.sqlite").is_file() and (paper / "cache").is_dir()
    assert sorted(p.name for p in elsewhere.iterdir()) == []
    report = _cvb("report", "--config", "../paper/study.toml", "--json", "-q", "--no-plots", "--samples", "0",
                  "--resamples", "0", cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["sections"] and (paper / "rep" / "report.json").is_file()
    flag = _cvb("run", "--config", "../paper/study.toml", "--store", "flag.sqlite", "-q", cwd=elsewhere)
    assert flag.returncode == 0, flag.stderr
    assert (elsewhere / "flag.sqlite").is_file()

    from cvb.api import load_study

    loaded = load_study(study)
    assert (loaded.store, loaded.cache_dir, loaded.report["out"]) == (
        paper / "results.sqlite", paper / "cache", paper / "rep")
    absolute = tmp_path / "abs.sqlite"
    study.write_text(study.read_text().replace('"results.sqlite"', json.dumps(str(absolute))))
    assert load_study(study).store == absolute


def _retry_recorded(store: Path) -> list[bool]:
    conn = sqlite3.connect(store)
    try:
        return [json.loads(o)["retry_failed"] for (o,) in conn.execute("SELECT options FROM runs ORDER BY id")]
    finally:
        conn.close()


def test_no_retry_failed_switches_off_the_files_retry_failed(tmp_path):
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images, 'retry_failed = true\nstore = "r.sqlite"\n')
    for flags in ((), ("--no-retry-failed",), ("--retry-failed",)):
        run = _cvb("run", "--config", study, "--cache-dir", tmp_path / "c", "-q", *flags)
        assert run.returncode == 0, run.stderr
    assert _retry_recorded(tmp_path / "r.sqlite") == [True, False, True]
    help_text = " ".join(_cvb("run", "--help", COLUMNS="200").stdout.split())
    assert "--retry-failed / --no-retry-failed" in help_text and "--config FILE" in help_text


def test_a_level_may_be_one_number():
    from cvb.api import study_from_dict
    from cvb.errors import UsageError

    assert study_from_dict({"levels": {"jpeg": 5, "webp": [10, 50]}}).levels == ("jpeg=5", "webp=10,50")
    assert study_from_dict({"levels": 7}).levels == ("7",)
    with pytest.raises(UsageError, match="levels.jpeg must be a list of levels, one level or a comma-separated"):
        study_from_dict({"levels": {"jpeg": {"q": 5}}})


def test_cvb_run_points_at_the_report_of_its_study(tmp_path):
    images = make_images(tmp_path / "imgs", 4)
    study = _study(tmp_path, images, 'store = "r.sqlite"\n')
    run = _cvb("run", "--config", "study.toml", "--cache-dir", "c", "-q", cwd=tmp_path, COLUMNS="200")
    assert run.returncode == 0, run.stderr
    assert "BD-metrics: cvb report --config study.toml\n" in run.stderr  # its [report] settings come along
    flag = _cvb("run", "--config", study, "--store", "other.sqlite", "--cache-dir", "c", "-q", cwd=tmp_path,
                COLUMNS="200")
    assert flag.returncode == 0, flag.stderr
    assert "BD-metrics: cvb report --store other.sqlite\n" in flag.stderr  # not the file's store


def test_cvb_report_config_before_any_run_says_how_to_make_the_store(tmp_path):
    images = make_images(tmp_path / "imgs", 4)
    _study(tmp_path, images, 'store = "r.sqlite"\n')
    report = _cvb("report", "--config", "study.toml", cwd=tmp_path, COLUMNS="200")
    assert report.returncode == 2, report.stderr
    assert "no results store at r.sqlite (the store of study file study.toml); `cvb run --config study.toml` " \
           "makes one" in report.stderr
