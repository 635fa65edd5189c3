"""The pipelined run: inference starts before compression ends, every compressed image still
reaches the model once it is stored, and the results equal those of a run with nothing left
to compress."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images  # noqa: E402
from cvb_fakes.harness import cli, spawn, use_fakes  # noqa: E402
from cvb_fakes.components import log_events  # noqa: E402


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
    log = tmp_path / "events.log"
    # each encode is slow: a strictly phased run would load the model after the last encode
    proc = spawn(_args(images, tmp_path, "slow", "-j", jobs), CVB_FAKES_LOG=str(log),
                 CVB_FAKES_ENCODE_DELAY="0.15")
    out, err = proc.communicate(timeout=120)
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
    args = _args(images, tmp_path, "slow", "-o", "task.questions=8")
    proc = spawn(args, CVB_FAKES_DELAY="0.1")  # 80 reference answers, 2 per 0.1 s batch: 4 s
    try:
        deadline = time.monotonic() + 60
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
        assert count(store, "SELECT COUNT(*) FROM predictions") < 80  # still on the reference cell
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
