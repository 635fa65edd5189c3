"""``cvb run --executor ray`` on a local 2-CPU Ray cluster that this module starts: answers
identical to the local executor (fakes and a tiny real-architecture model), a replica killed
mid-run changes nothing, and resume and "compress once" hold."""

from __future__ import annotations

import json
from collections import Counter
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.components import log_events
from cvb_fakes.harness import subprocess_env
from hang_guard import HANG_S

ray = pytest.importorskip("ray", reason="the ray extra (scripts/setup.sh installs it)")
pytestmark = pytest.mark.slow  # a Ray cluster and real-process runs: a minute of CPU

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with 2 CPUs, as `ray start` makes one, in its own process group; ended
    afterwards by signalling that group only (never `ray stop`, which ends every Ray process on
    the machine). Its workers see the fakes' switches set here (a real cluster's nodes have their
    own environment): the first replica asked about image 4 dies once, and codec calls are
    logged."""
    tmp = tmp_path_factory.mktemp("ray")
    port = _free_port()
    # no token: Ray keeps one in ~/.ray/auth_token, which a second cluster started at the same
    # time (another test worker) would replace under the first one's clients
    os.environ["RAY_AUTH_MODE"] = "disabled"  # for the cvb processes the tests start
    env = subprocess_env(RAY_TMPDIR=str(tmp), CVB_FAKES_DIE_ONCE=str(tmp / "died"), CVB_FAKES_DIE_ON="img0004",
                         CVB_FAKES_LOG=str(tmp / "events.log"))
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--num-cpus=2", "--num-gpus=0",
                             f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp}",
                             "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + HANG_S
        while True:  # the head's GCS port answers once the cluster is up
            assert head.poll() is None, "ray start --head ended"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Ray head did not start"
                time.sleep(0.5)
        yield {"address": f"127.0.0.1:{port}", "died": tmp / "died", "log": tmp / "events.log"}
    finally:
        _end_group(head)
        os.environ.pop("RAY_AUTH_MODE", None)
        shutil.rmtree(tmp, ignore_errors=True)


def _end_group(head: subprocess.Popen) -> None:
    """SIGKILL to the head's whole group at once. On SIGTERM (what `ray stop` sends) the raylet
    drains for about 10 s, the GCS server does not exit, and `ray start --block` keeps watching
    them (their exit on SIGTERM counts as expected): the teardown used to wait its full 10 s.
    Nothing of a test cluster needs a graceful end (its temporary folder is removed next)."""
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    head.wait()


def cvb(args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *args], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=HANG_S)


def _args(images, tmp_path, name, *extra):
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
            "--metric", "mse", "--store", str(tmp_path / f"{name}.sqlite"), "--cache-dir",
            str(tmp_path / f"{name}-cache"), "-b", "3", "-q", "--json", *extra]


def _answers(store: Path) -> list[tuple]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute("SELECT task, vlm, codec, level, sample_id, text, error FROM predictions "
                            "ORDER BY task, vlm, codec, level, sample_id").fetchall()
    finally:
        conn.close()


def _cells(stdout: str) -> list[tuple]:
    return [(c["codec"], c["level"], c["n"], c["n_failed"], c["score"], c["bpp"], c["metrics"])
            for c in json.loads(stdout)["cells"]]


def test_ray_answers_equal_local_and_a_killed_replica_changes_nothing(cluster, tmp_path):
    images = make_images(tmp_path / "imgs", 6, poison=[2])
    local = cvb(_args(images, tmp_path, "local"))
    assert local.returncode == 1, local.stderr  # the poisoned image fails, the rest goes on
    # the replica asked about image 4 dies once, in the middle of the run (a lost node)
    remote = cvb(_args(images, tmp_path, "ray", "--executor", "ray", "--address", cluster["address"],
                       "--replicas", "2"))
    assert remote.returncode == 1, remote.stderr
    assert cluster["died"].exists()  # a replica really died
    assert _cells(remote.stdout) == _cells(local.stdout)
    assert _answers(tmp_path / "ray.sqlite") == _answers(tmp_path / "local.sqlite")
    summary = json.loads(remote.stdout)
    assert summary["work"]["predictions"] == 3 * 12 and summary["work"]["models_loaded"] == ["scripted"]
    assert len(log_events(cluster["log"], "encode")) == 6 * 2  # once per image and level, in Ray tasks
    made = Counter(e.split()[-1] for e in log_events(cluster["log"], "create fake"))
    assert made and set(made.values()) == {1}, made  # a Ray worker makes the codec once, for all its tasks
    # resume: a rerun only reads; a new store on the same cache calls no codec
    again = cvb(_args(images, tmp_path, "ray", "--executor", "ray", "--address", cluster["address"], "-j", "2"))
    assert "-j 2 has no effect with --executor ray" in again.stderr  # a -j that cannot help says so
    assert json.loads(again.stdout)["work"]["predictions"] == 0
    assert json.loads(again.stdout)["work"]["codec_calls"] == 0


def test_ray_with_a_tiny_real_model_answers_like_local(cluster, tmp_path, tiny_vlm_dirs):
    """The real plugins (hf on a tiny Qwen2.5-VL checkpoint, Pillow's JPEG, the folder task),
    through the installed `cvb` command: two replicas answer exactly as one local model."""
    images = make_images(tmp_path / "imgs", 3, size=48)
    base = ["run", "--task", f"folder:{images}", "--vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}", "--codec", "jpeg",
            "--levels", "10", "--metric", "psnr", "-o", "vlm.max_new_tokens=4", "-q", "--json"]
    runs = {}
    on_ray = ["--executor", "ray", "--address", cluster["address"], "--replicas", "2"]
    for name, extra in (("local", []), ("ray", on_ray)):
        runs[name] = subprocess.run([str(Path(sys.executable).with_name("cvb")), *base, "--store",
                                     str(tmp_path / f"{name}.sqlite"), "--cache-dir", str(tmp_path / f"{name}-cache"),
                                     *extra], env=subprocess_env(), capture_output=True, text=True, timeout=HANG_S)
    assert runs["local"].returncode == 0, runs["local"].stderr
    assert runs["ray"].returncode == 0, runs["ray"].stderr
    answers = _answers(tmp_path / "ray.sqlite")
    assert len(answers) == 3 * 2 and all(error is None for *_, error in answers)
    assert answers == _answers(tmp_path / "local.sqlite")
    assert _cells(runs["ray"].stdout) == _cells(runs["local"].stdout)


def test_ray_options_need_the_ray_executor(tmp_path):
    images = make_images(tmp_path / "imgs", 1)
    out = cvb(_args(images, tmp_path, "x", "--replicas", "2"))
    assert out.returncode == 2 and "need --executor ray" in out.stderr


def test_two_ray_runs_at_once_share_the_work(cluster, tmp_path):
    """Two runs on one store and one cluster: each image x level compressed once and each
    question answered once in all, by Ray tasks and replicas (the claims are the drivers')."""
    images = make_images(tmp_path / "imgs", 8)
    log = cluster["log"]
    before = len(log_events(log, "encode ")), len(log_events(log, "answer "))
    args = [sys.executable, "-m", "cvb_fakes.cli", *_args(images, tmp_path, "shared", "--executor", "ray",
                                                          "--address", cluster["address"])]
    procs = [subprocess.Popen(args, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=HANG_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outs]
    after = len(log_events(log, "encode ")), len(log_events(log, "answer "))
    assert (after[0] - before[0], after[1] - before[1]) == (8 * 2, 8 * 2 * 3)
    assert [_cells(out) for out, _ in outs][0] == _cells(outs[1][0])
    with sqlite3.connect(tmp_path / "shared.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 8 * 2 * 3
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0
