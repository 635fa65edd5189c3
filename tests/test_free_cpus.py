"""`-j` on a busy machine: the CPUs free now (affinity, cgroup quota, load average) decide
`-j auto` and the note that says when more workers cannot pay."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cvb import threads
from hang_guard import HANG_S


def test_free_cpus_are_the_usable_ones_less_the_load():
    assert threads.free_cpus(cpus=2, load=0.2) == 2  # a quiet machine: both
    assert threads.free_cpus(cpus=2, load=0.9) == 1
    assert threads.free_cpus(cpus=2, load=5.0) == 1  # never none: the run still runs
    assert threads.free_cpus(cpus=16, load=4.0) == 12
    assert threads.free_cpus(cpus=4, load=0.0) == 4  # control: no load, every CPU


def test_cgroup_quota_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_quota(str(v2)) == 1.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_quota(str(v2)) is None  # control: no quota set
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("250000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_quota(str(tmp_path / "v1")) == 2.5
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_quota(str(tmp_path / "v1")) is None
    assert threads.cgroup_quota(str(tmp_path / "none")) is None


def test_jobs_note_names_the_free_cpus():
    busy = threads.jobs_note(2, cpus=2, free=1)
    assert busy and "only 1 of 2 CPU(s) free now" in busy and "cannot pay" in busy and "-j 1" in busy
    assert threads.jobs_note(2, cpus=2, free=2) is None  # control: two free CPUs, two workers
    assert threads.jobs_note(1, cpus=2, free=1) is None  # one worker always runs
    assert "at most 2 workers" in threads.jobs_note(3, cpus=2, free=2)


def test_jobs_auto_through_the_real_cli(tmp_path):
    """`cvb compress -j auto` in a process allowed one CPU runs one worker and says so; a bad
    -j value is refused with the accepted forms."""
    from cvb.sample_images import sample_photo_paths

    image = str(sample_photo_paths()["coffee"])
    one_cpu = {min(os.sched_getaffinity(0))}
    base = [sys.executable, "-m", "cvb", "compress", "-c", "jpeg", "-l", "30", "-m", "none", "-q", "-i", image]
    out = subprocess.run([*base, "-j", "auto", "--json"], capture_output=True, text=True, timeout=HANG_S,
                         preexec_fn=lambda: os.sched_setaffinity(0, one_cpu))
    assert out.returncode == 0, out.stderr
    assert "-j auto: 1 worker process(es), the CPUs free now (1 usable)" in out.stderr
    assert '"jpeg"' in out.stdout
    bad = subprocess.run([*base, "-j", "many"], capture_output=True, text=True, timeout=HANG_S)
    assert bad.returncode == 2 and "neither a number of processes nor 'auto'" in bad.stderr


# ---- the default -j: the CPUs free now, cut to the work -------------------------------------------
def test_default_jobs_are_the_free_cpus_with_a_note_when_load_holds_them_down(monkeypatch):
    monkeypatch.delenv(threads.JOBS_ENV, raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    monkeypatch.setattr(threads, "free_cpus", lambda cpus=None, load=None: 1)
    n, note = threads.jobs_and_note(None)
    assert n == 1 and isinstance(n, threads.AutoWorkers)
    assert note and "1 of 2 CPU(s) free now" in note and "compression runs in this process" in note
    assert "cannot pay" in note
    monkeypatch.setattr(threads, "free_cpus", lambda cpus=None, load=None: 2)
    assert threads.jobs_and_note(None) == (2, None)  # control: every CPU free, nothing to say
    assert isinstance(threads.jobs_and_note(None)[0], threads.AutoWorkers)
    n, note = threads.jobs_and_note(2)  # a count typed is kept as typed
    assert n == 2 and not isinstance(n, threads.AutoWorkers) and note is None


def test_cvb_jobs_sets_the_default(monkeypatch):
    from cvb.errors import UsageError

    monkeypatch.setattr(threads, "free_cpus", lambda cpus=None, load=None: 3)
    monkeypatch.setenv(threads.JOBS_ENV, "1")
    assert threads.jobs_and_note(None) == (1, None)
    assert not isinstance(threads.jobs_and_note(None)[0], threads.AutoWorkers)
    monkeypatch.setenv(threads.JOBS_ENV, "auto")
    assert isinstance(threads.jobs_and_note(None)[0], threads.AutoWorkers)
    monkeypatch.setenv(threads.JOBS_ENV, "0")
    with pytest.raises(UsageError, match="CVB_JOBS='0'"):
        threads.jobs_and_note(None)


def test_a_pool_cvb_sized_starts_only_the_workers_the_work_pays_for():
    per = threads.LEVELS_PER_WORKER
    auto = threads.AutoWorkers(4)
    assert threads.workers_for(auto, per - 1) == 1  # too little for a second process
    assert threads.workers_for(auto, 2 * per) == 2
    assert threads.workers_for(auto, 100 * per) == 4  # never more than the free CPUs
    assert threads.workers_for(4, 1) == 4  # control: a count the user typed is kept


def test_run_jobs_runs_small_work_in_process_and_large_work_in_a_pool(monkeypatch):
    """``run_jobs`` with a count cvb chose: a few levels run in this process (no worker's
    start-up to pay), enough levels go to a pool of that size with every unit, in order."""
    from cvb.run import compress_units as cu

    def jobs(n_units, levels=4):
        return [cu.ImageJob(f"h{i}", None, "fake", tuple(f"L{j}" for j in range(levels))) for i in range(n_units)]

    class Workshop:
        cache = None

        def run(self, job):
            return ("here", job.content_hash)

    pools = []

    def fake_pool(source, cache, n_workers, registry, options, stop=None):
        units = list(source)
        pools.append(n_workers)
        return iter([("pool", j.content_hash) for j in units])

    monkeypatch.setattr(cu, "_pool", fake_pool)
    small = jobs(3)  # 12 levels: not enough for a second worker
    assert list(cu.run_jobs(iter(small), Workshop(), threads.AutoWorkers(2), None, {})) == \
        [("here", j.content_hash) for j in small]
    assert pools == []
    large = jobs(20)  # 80 levels: two workers' worth
    got = list(cu.run_jobs(iter(large), Workshop(), threads.AutoWorkers(2), None, {}))
    assert pools == [2] and got == [("pool", j.content_hash) for j in large]
    assert list(cu.run_jobs(iter(small), Workshop(), 2, None, {})) == [("pool", j.content_hash) for j in small]
    assert pools == [2, 2]  # control: -j 2 typed starts its pool for any work


def test_default_jobs_through_the_real_cli(tmp_path):
    """`cvb compress` without -j in a process allowed one CPU compresses in its own process
    without a note (nothing held it down); `CVB_JOBS` sets the default and is checked."""
    from cvb.sample_images import sample_photo_paths

    image = str(sample_photo_paths()["coffee"])
    one_cpu = {min(os.sched_getaffinity(0))}
    env = {k: v for k, v in os.environ.items() if k != threads.JOBS_ENV}
    base = [sys.executable, "-m", "cvb", "compress", "-c", "jpeg", "-l", "30", "-m", "none", "-q", "-i", image]
    out = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=HANG_S, env=env,
                         preexec_fn=lambda: os.sched_setaffinity(0, one_cpu))
    assert out.returncode == 0, out.stderr
    assert '"jpeg"' in out.stdout and "-j" not in out.stderr, out.stderr
    bad = subprocess.run(base, capture_output=True, text=True, timeout=HANG_S, env={**env, threads.JOBS_ENV: "many"})
    assert bad.returncode == 2 and "CVB_JOBS" in bad.stderr and "neither a number" in bad.stderr, bad.stderr
