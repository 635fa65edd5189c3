"""`-j` on a busy machine: the CPUs free now (affinity, cgroup quota, load average) decide
`-j auto` and the note that says when more workers cannot pay."""

from __future__ import annotations

import os
import subprocess
import sys

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
