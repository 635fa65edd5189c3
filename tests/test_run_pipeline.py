"""The pipelined run: inference starts before compression ends, every compressed image still
reaches the model once it is stored, and the results equal those of a run with nothing left
to compress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import cli, spawn, use_fakes
from cvb_fakes.components import log_events
from hang_guard import HANG_S


def _args(images, tmp_path, name, *extra):
    return ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
            "--metric", "mse", "--store", str(tmp_path / f"{name}.sqlite"), "--cache-dir",
            str(tmp_path / f"{name}-cache"), "-b", "2", "-q", "--json", *extra]


def _cells(stdout: str) -> list[tuple]:
    return [(c["codec"], c["level"], c["n"], c["n_failed"], c["score"], c["bpp"], c["metrics"])
            for c in json.loads(stdout)["cells"]]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_inference_starts_while_images_are_still_compressed(tmp_path, monkeypatch, jobs):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 8, poison=[3])
    log, gate = tmp_path / "events.log", tmp_path / "go-on"
    # the codec stops after 4 images (in each process) until the model has loaded: a strictly
    # phased run would never load it, and hang here
    proc = spawn(_args(images, tmp_path, "slow", "-j", jobs), CVB_FAKES_LOG=str(log),
                 CVB_FAKES_ENCODE_HOLD_AFTER="4", CVB_FAKES_GATE=str(gate))
    began = time.monotonic()
    while "load scripted" not in log_events(log):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - began < HANG_S, "the model never loaded while images were compressed"
        time.sleep(0.05)
    gate.touch()
    out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 1, err  # the poisoned image fails at both levels, the rest goes on
    events = [e for e in log_events(log) if e.startswith(("encode", "load"))]
    assert events.count("load scripted") == 1 and len([e for e in events if e.startswith("encode")]) == 16
    assert events.index("load scripted") < max(i for i, e in enumerate(events) if e.startswith("encode"))
    # the same cells as a run where every image was compressed before the model started
    first = cli(_args(images, tmp_path, "phased"))  # no encode delay: all compressed at once
    assert first.exit_code == 1
    assert _cells(out) == _cells(first.stdout)
    summary = json.loads(out)
    assert summary["work"]["predictions"] == 3 * 16 and summary["work"]["compressed"] == 14
    poisoned = [f for f in summary["failures"] if f["stage"] == "predict"]
    assert len(poisoned) == 2 * 2  # its two questions at each of the two levels
    assert all("poison pixel" in f["error"] for f in poisoned)


def test_compressions_are_stored_while_the_model_is_busy_elsewhere(tmp_path, monkeypatch):
    """Finished compression units reach the store within a moment even while no sample waits
    for them (the model still on the reference cell): a kill then loses no codec work."""
    import time

    from cvb_fakes.harness import count

    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 10)
    store = tmp_path / "slow.sqlite"
    args = _args(images, tmp_path, "slow", "-o", "task.questions=200")
    gate = tmp_path / "full-speed"
    # 2000 reference answers, 2 per 0.1 s batch: 100 s, far more than a loaded machine needs for
    # the 20 compressions; once they are seen, the gate lets the model finish at full speed
    proc = spawn(args, CVB_FAKES_DELAY="0.1", CVB_FAKES_GATE=str(gate))
    try:
        deadline = time.monotonic() + HANG_S
        compressed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                compressed = count(store, "SELECT COUNT(*) FROM compressed")
            except Exception:  # noqa: BLE001 - the store is still being created
                compressed = 0
            if compressed == 10 * 2:
                break
            time.sleep(0.05)
        assert compressed == 10 * 2, "compressions were not stored while the model worked"
        assert count(store, "SELECT COUNT(*) FROM predictions WHERE codec != 'none'") == 0
        assert count(store, "SELECT COUNT(*) FROM predictions") < 2000  # still on the reference cell
    finally:
        gate.touch()
        out, err = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 0, err


def test_an_image_stored_while_its_cell_is_under_way_is_asked_not_failed(tmp_path, monkeypatch):
    """A compressed image still waiting when its cell began, and stored before the model
    reached its samples, is asked about like any other (not recorded as never compressed)."""
    import cvb.plugins
    from cvb.run.compress_units import LevelWork
    from cvb.run.image_cache import ImageCache
    from cvb.run.plan import RunRequest, build_plan
    from cvb.run.runner import Runner
    from cvb.run.store import Store

    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 2)
    registry = cvb.plugins.get_registry()
    plan = build_plan(RunRequest(vlms=["scripted"], tasks=[f"toy:{images}"], codecs=["fake"], levels=["1"],
                                 metrics=["none"], options=["task.questions=40"]), registry)
    store = Store(tmp_path / "s.sqlite")
    runner = Runner(plan, store, ImageCache(tmp_path / "cache"), registry, store.begin_run(
        {"cvb_version": "t", "argv": [], "options": {}, "plugins": [], "prompts": {}}))
    t, fake = plan.tasks[0], plan.codecs[1]
    first, second = sorted(t.images)  # 40 samples of the first image come before the second's
    late = fake.key(t.images[second].content_hash, "1")
    store.save_compression_results([(fake.key(t.images[first].content_hash, "1"), t.images[first].content_hash,
                                     "fake", fake.version, "1", fake.params, 10, 0.1, 32, 32, 0.0, 0.0, None)],
                                   [], [], 1)
    runner._jobs.add([(0, second, t.images[second].content_hash, "fake",
                       (LevelWork("1", late, True, ()),))])  # being compressed when the cell begins...
    runner._feed = type("Feed", (), {"finished": False})()

    def drain(block, catch=False):  # ...and stored at the first look at the feed, mid-cell
        if runner._jobs.waiting([late]):
            runner._jobs.done([(late, None)])
            return [late]
        return []

    runner._drain = drain
    pending = runner._pending(t, plan.vlms[0], fake, "1")
    got = list(runner._work_order([(t, fake, "1", pending)]))
    assert len(got) == 80
    assert all(status is None for *_, status in got)  # every image compressed, none "missing"
    store.close()
