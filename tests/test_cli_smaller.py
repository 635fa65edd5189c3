"""The smaller things a user hits (issue 20): Ctrl-C under `2>&1 | tee`, did-you-mean for
misspelt names, --anchor checked before resampling, one default store path, a hub task that
cannot be reached saying so at once, progress rates from finished units over elapsed time.
Fresh `cvb` processes where the behaviour is the command line's."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import FAKES_DIR, count, subprocess_env
from hang_guard import HANG_S


def _cvb(*args, cwd=None, **env):
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *map(str, args)], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=HANG_S, cwd=cwd)


def _run_args(images, store=None, cache=None):
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
            "--metric", "none", *(["--store", store] if store else []),
            *(["--cache-dir", cache] if cache else []), "-q"]


def test_ctrl_c_under_a_pipe_to_tee_is_interrupted_not_an_error(tmp_path):
    """Ctrl-C reaches the whole pipeline (cvb and tee): cvb's stderr becomes a broken pipe while
    it saves its work; it must still record `interrupted` and exit 130 (was: 1 and `error`)."""
    images = make_images(tmp_path / "imgs", 10)
    store, cache = tmp_path / "r.sqlite", tmp_path / "cache"
    args = " ".join(map(str, [sys.executable, "-m", "cvb_fakes.cli", "run", "--task", f"toy:{images}",
                              "--vlm", "scripted", "--codec", "fake", "--levels", "1,4", "--metric",
                              "none", "--store", store, "--cache-dir", cache, "-b", "2"]))
    script = f'{args} 2>&1 | tee {tmp_path / "log.txt"}; echo "${{PIPESTATUS[0]}}" > {tmp_path / "rc"}'

    def shell_like():  # SIGINT delivered as from a terminal (see cvb_fakes.harness)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(["bash", "-c", script], env=subprocess_env(CVB_FAKES_HOLD_AFTER="4"),
                            start_new_session=True, preexec_fn=shell_like,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before Ctrl-C"
        try:
            if count(store, "SELECT COUNT(*) FROM predictions") >= 4:
                break
        except Exception:  # noqa: BLE001 - the store is still being created
            pass
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: every process of the pipeline
    proc.wait(timeout=HANG_S)
    rc = (tmp_path / "rc").read_text().strip() if (tmp_path / "rc").exists() else None
    statuses = [r[0] for r in sqlite3.connect(store).execute("SELECT status FROM runs")]
    assert (rc, statuses) == ("130", ["interrupted"]), (rc, statuses, (tmp_path / "log.txt").read_text()[-2000:])
    assert 4 <= count(store, "SELECT COUNT(*) FROM predictions") < 60


def test_misspelt_names_get_a_suggestion(tmp_path):
    images = make_images(tmp_path / "imgs", 2)
    bad = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fak", "--store",
               tmp_path / "s.sqlite")
    assert bad.returncode == 2 and "unknown codec 'fak' (did you mean 'fake'?)" in bad.stderr
    assert "known codecs:" in bad.stderr  # the list stays
    cmd = _cvb("reprot")
    assert cmd.returncode == 2 and "did you mean 'report'" in cmd.stderr
    opt = _cvb(*_run_args(images, tmp_path / "s.sqlite"), "-o", "fakee.x=1")
    assert opt.returncode == 2 and "did you mean 'fake'" in opt.stderr
    listing = _cvb("list", "codec")
    assert listing.returncode == 2 and "(did you mean 'codecs'?)" in listing.stderr
    nothing_close = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "zzzzqq")
    assert nothing_close.returncode == 2 and "did you mean" not in nothing_close.stderr  # the control


def test_anchor_typo_is_refused_before_resampling(tmp_path, monkeypatch):
    images = make_images(tmp_path / "imgs", 2)
    store = tmp_path / "s.sqlite"
    assert _cvb(*_run_args(images, store, tmp_path / "c")).returncode == 0
    out = _cvb("report", "--store", store, "--anchor", "fakr", "--resamples", "50")
    assert out.returncode == 2 and "anchor codec 'fakr' is not in the results (did you mean 'fake'?)" in out.stderr
    assert "resampling" not in out.stderr  # refused before any resampling began
    adapted = _cvb("report", "--store", store, "--adapted", "scripted=scriptd", "--resamples", "50")
    assert adapted.returncode == 2 and "(did you mean 'scripted'?)" in adapted.stderr
    assert "resampling" not in adapted.stderr
    ok = _cvb("report", "--store", store, "--anchor", "fake", "--resamples", "50")
    assert ok.returncode == 0 and "resampling" in ok.stderr  # the control: the note does appear


def test_the_default_anchor_is_the_codec_the_run_named_first(tmp_path):
    """No codec is the anchor by its name: ``cvb run -c webp,jpeg`` makes webp the baseline of
    ``cvb report`` (the order the run recorded), although jpeg comes first in the store."""
    images = make_images(tmp_path / "imgs", 2)
    store = tmp_path / "s.sqlite"
    ran = _cvb("run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "webp,jpeg", "-l", "webp=20,80",
               "-l", "jpeg=20,80", "--metric", "none", "--store", store, "--cache-dir", tmp_path / "c", "-q",
               CVB_FAKES_WITH_INSTALLED="1")  # the real pillow codecs beside the fake VLM and task
    assert ran.returncode == 0, ran.stderr
    out = _cvb("report", "--store", store, "--json", "--resamples", "0")
    assert out.returncode == 0, out.stderr
    (section,) = json.loads(out.stdout)["sections"]
    assert section["codecs"] == ["jpeg", "webp"] and section["anchor"] == "webp"
    assert [row["anchor"] for row in section["bd"]] == ["webp"]
    named = _cvb("report", "--store", store, "--json", "--resamples", "0", "--anchor", "jpeg")
    assert json.loads(named.stdout)["sections"][0]["anchor"] == "jpeg"  # the control: --anchor still wins


@pytest.mark.slow
def test_report_finds_the_store_run_and_the_demo_write(tmp_path):
    """`cvb run` with no --store writes cvb-out/results.sqlite (scripts/demo.sh's path too), and
    `cvb report`/`cvb export` read it with no flag; $CVB_STORE names another for all of them."""
    images = make_images(tmp_path / "imgs", 2)
    work = tmp_path / "work"
    work.mkdir()
    assert _cvb(*_run_args(images, cache=tmp_path / "c"), cwd=work).returncode == 0
    assert (work / "cvb-out" / "results.sqlite").is_file()
    demo = (Path(__file__).parents[1] / "scripts" / "demo.sh").read_text()
    assert "--store cvb-out/results.sqlite" in demo or "--store" not in demo
    rep = _cvb("report", "--resamples", "0", "--format", "csv", cwd=work)
    assert rep.returncode == 0 and "fake" in rep.stdout, rep.stderr
    env_store = tmp_path / "elsewhere.sqlite"
    assert _cvb(*_run_args(images, cache=tmp_path / "c"), cwd=work, CVB_STORE=str(env_store)).returncode == 0
    assert env_store.is_file()
    exp = _cvb("export", "--what", "runs", "--format", "jsonl", cwd=tmp_path, CVB_STORE=str(env_store))
    assert exp.returncode == 0 and len(exp.stdout.splitlines()) == 1
    none_here = _cvb("report", cwd=tmp_path)
    assert none_here.returncode == 2 and "cvb-out/results.sqlite" in none_here.stderr


def test_an_unreachable_hub_is_said_at_once(tmp_path):
    """A hub task whose data is not cached, with the hub unreachable (a closed local port):
    the error names the unreachable hub, from cvb's probe, not the hub client's retries."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9", OMP_NUM_THREADS="1",
               PYTHONPATH=str(FAKES_DIR))
    out = subprocess.run([sys.executable, "-m", "cvb", "run", "-c", "jpeg", "--vlm", "reference", "-t", "pope",
                          "--limit", "1", "--store", str(tmp_path / "s.sqlite"), "-q"], env=env,
                         capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode != 0
    assert "lmms-lab/POPE is not in the Hugging Face cache and the hub cannot be reached" in out.stderr
    assert "cannot connect to 127.0.0.1:9" in out.stderr and "huggingface-cli download" in out.stderr


def test_rate_and_eta_come_from_finished_units_over_elapsed_time():
    from cvb.run.progress import rate_and_eta

    # 10 of 36 units came back together after 47 s: 0.2 per second, not thousands
    assert rate_and_eta(10, 36, 47.0) == ("4.7s each", "0:02:02")
    assert rate_and_eta(30, 36, 10.0) == ("3.0/s", "0:00:02")
    assert rate_and_eta(0, 36, 47.0) == ("", "-:--:--")  # nothing finished: no rate, no eta
    # a stalled stage: nothing new finished, time goes on, the rate falls and the eta grows
    early, late = rate_and_eta(10, 36, 20.0), rate_and_eta(10, 36, 60.0)
    assert early != late and late == ("6.0s each", "0:02:36")


def test_terminal_bars_redraw_rate_as_time_passes():
    """The rich columns compute at each refresh from the task's elapsed time (no frozen figure)."""
    from types import SimpleNamespace

    from cvb.run.progress import _rate_columns

    rate, eta = _rate_columns()
    task = SimpleNamespace(completed=10, total=36, elapsed=5.0, finished=False)
    first = (str(rate.render(task)).strip(), str(eta.render(task)))
    task.elapsed = 50.0
    assert first == ("2.0/s", "0:00:13")
    assert (str(rate.render(task)).strip(), str(eta.render(task))) == ("5.0s each", "0:02:10")


def _real_cvb(*args, **env):
    full = {**os.environ, **env}
    full.pop("CVB_LOAD_PLUGINS", None)
    return subprocess.run([str(Path(sys.executable).with_name("cvb")), *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=HANG_S)


def test_plugins_and_list_never_break_a_name_on_80_columns():
    data = json.loads(_real_cvb("plugins", "--json").stdout)
    text = _real_cvb("plugins", COLUMNS="80").stdout
    words = {w.strip(",;") for line in text.splitlines() for w in line.split()}
    names = {n for p in data["plugins"] for ns in p["provides"].values() for n in ns}
    assert names and names <= words, names - words  # each name whole on one line
    assert all(len(line) <= 80 for line in text.splitlines())
    rows = json.loads(_real_cvb("list", "codecs", "--json").stdout)["codecs"]
    table = _real_cvb("list", "codecs", COLUMNS="80").stdout
    words = {w.strip(",;()") for line in table.splitlines() for w in line.split()}
    assert {r["name"] for r in rows} <= words and all(len(line) <= 80 for line in table.splitlines())


def test_list_codecs_says_what_a_level_means():
    rows = {r["name"]: r for r in json.loads(_real_cvb("list", "codecs", "--json").stdout)["codecs"]}
    assert rows["jpeg"]["level_meaning"] == "quality 1..100, higher = more bits"
    assert rows["x265"]["level_meaning"] == "QP 0..51, lower = more bits"
    assert rows["jpeg2000"]["level_meaning"].endswith("lower = more bits")  # a compression ratio
    table = " ".join(_real_cvb("list", "codecs", COLUMNS="120").stdout.split())
    assert "1,10,30,75 (quality 1..100, higher = more bits)" in table


def test_codec_settings_read_as_typed_not_as_python_repr():
    from cvb.options import format_params
    from cvb.report.provenance import provenance_lines

    assert format_params({"subsampling": "4:2:0", "optimize": False, "sizes": [1, 2]}) == \
        "optimize=false sizes=1,2 subsampling=4:2:0"
    lines = provenance_lines({"cvb_version": "0", "date": "d", "store": "s", "command": "c",
                              "codecs": {"jpeg": [{"version": "1", "params": {"optimize": False,
                                                                               "subsampling": "4:2:0"}}]}})
    assert "codec jpeg: version 1, optimize=false subsampling=4:2:0" in lines
    assert not any("{'" in line or "False" in line for line in lines)


def _complete(*words, cwd=None):
    env = {"COMP_WORDS": " ".join(["cvb", *words]), "COMP_CWORD": str(len(words)), "_CVB_COMPLETE": "bash_complete"}
    full = {**os.environ, **env}
    full.pop("CVB_LOAD_PLUGINS", None)
    res = subprocess.run([str(Path(sys.executable).with_name("cvb"))], capture_output=True, text=True, env=full,
                         timeout=HANG_S, cwd=cwd)
    assert res.returncode == 0 and not res.stderr, res.stderr
    return [line.split(",", 1)[1] for line in res.stdout.splitlines() if "," in line]


def test_completion_after_check_report_levels_and_options(tmp_path):
    assert _complete("check", "codec", "jp") == ["jpeg", "jpeg2000"]
    assert "psnr" in _complete("check", "metric", "ps") and "jpeg" not in _complete("check", "metric", "")
    assert _complete("check", "codec", "jpeg", "-l", "") == ["1,10,30,75", "1", "10", "30", "75"]
    assert _complete("run", "-c", "jpeg,webp", "-l", "") == ["jpeg=", "webp="]
    assert _complete("run", "-c", "jpeg,webp", "-l", "webp=0,1") == ["webp=0,10"]
    assert _complete("run", "-c", "jpeg", "--vlm", "reference", "-o", "") == \
        ["codec.", "vlm.", "task.", "metric.", "jpeg.", "reference."]
    assert _complete("run", "-c", "jpeg", "-o", "jpeg.") == ["jpeg.optimize=", "jpeg.subsampling="]
    assert _complete("check", "codec", "jpeg", "-o", "") == ["codec.", "jpeg."]
    # report -t / --vlm: the labels in the store (the default one, or --store's)
    images = make_images(tmp_path / "imgs", 2)
    store = tmp_path / "s.sqlite"
    assert _cvb(*_run_args(images, store, tmp_path / "c")).returncode == 0
    assert _complete("report", "--store", str(store), "-t", "") == [f"toy:{images}"]
    assert _complete("report", "--store", str(store), "--vlm", "s") == ["scripted"]
    assert _complete("report", "-t", "", cwd=tmp_path) == []  # no store here: nothing, no traceback


@pytest.mark.slow
def test_one_flag_vocabulary_with_old_spellings_kept(tmp_path):
    """`check` reads -o and -l as `run` does; a usage mistake in `check` is a usage error (exit
    2), not a FAILED rule; old spellings (--output, --dir, -O, --batch) still work, unshown."""
    ok = _real_cvb("check", "codec", "jpeg", "-l", "jpeg=30", "-o", "jpeg.subsampling=4:4:4", "--skip", "large",
                   "--skip", "fresh", "--skip", "rate", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = json.loads(ok.stdout)
    assert report["cvb_json"] == 1 and report["ok"]
    for args, says in ((["-o", "jpeg.qualty=3"], "unknown option(s) qualty"),
                       (["-o", "webp.quality=3"], "names 'webp', not the codec checked"),
                       (["-l", "webp=30"], "names codec 'webp'"), (["-l", "500"], "no level '500'")):
        bad = _real_cvb("check", "codec", "jpeg", *args)
        assert bad.returncode == 2 and says in bad.stderr and "FAILED" not in bad.stdout, (args, bad.stderr)
    helps = {cmd: " ".join(_real_cvb(cmd, "--help").stdout.split())
             for cmd in ("export", "new-plugin", "compress", "check", "adapt")}
    assert "--out FILE" in helps["export"] and "--output" not in helps["export"]
    assert "--out DIRECTORY" in helps["new-plugin"] and "--dir" not in helps["new-plugin"]
    assert "-O" not in helps["compress"] and "-O" not in helps["check"]
    assert "-b, --batch-size" in helps["adapt"] and "--batch " not in helps["adapt"]
    made = _real_cvb("new-plugin", "codec", "zz", "--dir", tmp_path)  # the old spelling still works
    assert made.returncode == 0 and (tmp_path / "cvb-zz" / "pyproject.toml").is_file()
    for cmd in (["plugins", "--json"], ["cache", "info", "--cache-dir", tmp_path / "c", "--json"]):
        assert json.loads(_real_cvb(*cmd).stdout)["cvb_json"] == 1
