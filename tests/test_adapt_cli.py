"""``cvb adapt`` -> ``cvb run --vlm adapted:PATH`` -> ``cvb report --adapted``, through the real
command line in fresh processes, plus a training run killed with SIGKILL and rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import adapt_helpers
from hang_guard import HANG_S

CVB = [sys.executable, "-m", "cvb"]


def _cvb(*args, cwd: Path, env_extra: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(cwd / "cache"), **(env_extra or {})}
    out = subprocess.run([*CVB, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG_S)
    if check:
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _adapt_args(model: Path, photos: Path, out: str, steps: int = 8) -> list:
    return ["adapt", "--vlm", f"hf:{model}", "-c", "jpeg", "-l", "jpeg=" + ",".join(adapt_helpers.LEVELS),
            "-i", photos, "--resolution", "56", "--batch", "8", "--steps", steps, "--save-every", "3",
            "--workers", "0", "--val-fraction", "0.2", "--lr", "3e-4", "--out", out]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_vlm_dirs):
    root = tmp_path_factory.mktemp("adapt_cli")
    photos = adapt_helpers.smooth_photos(root / "photos", per_side=2)  # 32 images
    return root, photos, tiny_vlm_dirs["qwen2_5_vl"]


@pytest.fixture(scope="module")
def whole(workdir) -> dict:
    """An adapter trained through `cvb adapt` in one go (8 steps) into ``whole``: its ``--json``
    result. Read by the loop test and as the reference of the resumed training."""
    root, photos, model = workdir
    return json.loads(_cvb(*_adapt_args(model, photos, "whole"), "--json", "-q", cwd=root).stdout)


@pytest.mark.slow
def test_adapt_then_run_then_report(workdir, whole):
    """The paper's loop, as a user types it: train, rerun (only reports), run base and adapted
    VLM over a task, report the gap decomposition and the adapter's BD gain."""
    root, photos, model = workdir
    finished = whole
    manifest = finished["adapter"]
    assert finished["steps_run"] == 8 and finished["resumed_from"] == 0
    assert manifest["base"]["source"] == str(model) and manifest["condition"]["mode"] == "full"
    assert manifest["vocabulary"]["levels"] == {"jpeg": list(adapt_helpers.LEVELS)}
    assert manifest["resolution"] == [56, 56] and manifest["train"]["what"] == "full"
    assert set(manifest["losses"]["val_before"]) == {"jpeg/1", "jpeg/5"}
    assert manifest["data"]["train_images"] + manifest["data"]["val_images"] == 32
    again = _cvb(*_adapt_args(model, photos, "whole"), cwd=root)
    assert "this adapter is finished" in again.stdout and "validation loss" in again.stdout
    other = _cvb(*_adapt_args(model, photos, "whole"), "--lr", "1e-3", cwd=root, check=False)
    assert other.returncode == 2 and "lr: 0.0003 -> 0.001" in other.stderr and "--restart" in other.stderr

    base, adapted = f"hf:{model}", f"adapted:{root / 'whole'}"
    run = _cvb("run", "--vlm", base, "--vlm", adapted, "-c", "jpeg", "-l", "1,5", "-t", "sample", "--limit", "6",
               "--mode", "logits", "--device", "cpu", "-m", "none", "--store", "r.sqlite", "--json", "-q", cwd=root)
    result = json.loads(run.stdout)
    assert result["n_failures"] == 0
    assert {c["vlm"] for c in result["cells"]} == {f"{base}[mode=logits]", f"{adapted}[mode=logits]"}
    pair = f"{base}[mode=logits]={adapted}[mode=logits]"
    refused = _cvb("report", "--store", "r.sqlite", "--adapted", pair, "--format", "json", cwd=root, check=False)
    assert refused.returncode == 2 and "resize: (default) (base) vs 56x56 (adapted)" in refused.stderr, refused.stderr
    flagged = _cvb("report", "--store", "r.sqlite", "--adapted", pair, "--allow-unlike",
                   "--format", "json", "--no-plots", "--out", "rep", cwd=root)
    assert "NOT LIKE FOR LIKE" in flagged.stderr
    data = json.loads((root / "rep" / "report.json").read_text())
    section = next(s for s in data["sections"] if s.get("gap"))
    assert any("NOT LIKE FOR LIKE" in w for w in section["warnings"])
    assert {(g["codec"], g["level"]) for g in section["gap"]} == {("jpeg", "1"), ("jpeg", "5")}
    for g in section["gap"]:
        assert g["total"] == pytest.approx(g["information"] + g["generalization"])
    assert section["adapter_bd"][0]["codec"] == "jpeg"


@pytest.mark.slow
def test_identity_adapter_has_no_gain_when_compared_like_for_like(workdir):
    """The control of the gap decomposition: an adapter trained with lr 0 changes nothing, so
    against its base under the same preprocessing (``adapted-base:``, the default base of
    ``--adapted ADAPTED``) every generalization gap and the BD gain are exactly 0, and each
    cell says which condition its answers used (the report and ``cvb export``)."""
    root, photos, model = workdir
    trained = _cvb(*_adapt_args(model, photos, "identity", steps=2), "--lr", "0", "--balance", "cell", cwd=root)
    assert json.loads((root / "identity" / "adapter.json").read_text())["train"]["balance"] == "cell"
    # progress goes to stderr, as plain lines when it is not a terminal; results to stdout
    assert "train: 2/2 (100%)" in trained.stderr and "train: " not in trained.stdout
    umask = os.umask(0)
    os.umask(umask)
    for name in ("adapter.safetensors", "adapter.json", "losses.json"):
        assert (root / "identity" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    adapted, base = f"adapted:{root / 'identity'}", f"adapted-base:{root / 'identity'}"
    _cvb("run", "--vlm", base, "--vlm", adapted, "-c", "jpeg", "-l", "1,5,30", "-t", "sample", "--limit", "6",
         "--mode", "logits", "--device", "cpu", "-m", "none", "--store", "id.sqlite", "-q", cwd=root)
    out = _cvb("report", "--store", "id.sqlite", "--adapted", f"{adapted}[mode=logits]", "--format", "json",
               "--resamples", "0", cwd=root)
    section = next(s for s in json.loads(out.stdout)["sections"] if s.get("gap"))
    assert section["vlm"] == f"{base}[mode=logits]"
    assert [(g["level"], g["generalization"], g["condition"]) for g in section["gap"]] == [
        ("1", 0.0, "jpeg/1"), ("5", 0.0, "jpeg/5"), ("30", 0.0, "jpeg/5 (nearest to 30)")]
    assert all(g["reason"] is None for g in section["gap"])
    assert [g["bd_metric"]["value"] for g in section["adapter_bd"]] == [0.0]
    table = _cvb("report", "--store", "id.sqlite", "--adapted", f"{adapted}[mode=logits]", "--resamples", "0",
                 cwd=root, env_extra={"COLUMNS": "250"}).stdout
    assert "condition" in table and "jpeg/5 (nearest to 30)" in table
    rows = [json.loads(line) for line in _cvb("export", "--store", "id.sqlite", "--what", "predictions",
                                              "--format", "jsonl", cwd=root).stdout.splitlines()]
    said = {(r["vlm"].split(":")[0], r["level"], (r["answer_meta"] or {}).get("condition")) for r in rows}
    assert ("adapted", "30", "jpeg/5 (nearest to 30)") in said and ("adapted", "-", "unconditional") in said
    assert {c for v, _, c in said if v == "adapted-base"} == {None}

    import shutil

    from cvb.errors import UsageError
    from cvb.plugins import get_registry

    shutil.copytree(root / "identity", root / "edited")
    manifest = json.loads((root / "edited" / "adapter.json").read_text())
    del manifest["train"]["what"]
    (root / "edited" / "adapter.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="adapter.json has no train.what"):
        get_registry().create("vlm", f"adapted:{root / 'edited'}")


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_adapter(workdir, whole):
    """A training killed with SIGKILL after step 5 resumes from its step-3 checkpoint to the
    adapter of the same training run in one go (``whole``): the same bytes, the same losses."""
    root, photos, model = workdir
    killed = _cvb(*_adapt_args(model, photos, "killed"), "-q", cwd=root,
                  env_extra={"CVB_ADAPT_TEST_KILL_AFTER_STEP": "5"}, check=False)
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL after step 5, checkpoint at 3
    assert (root / "killed" / "checkpoint" / "state.pt").is_file()
    assert not (root / "killed" / "adapter.json").exists()
    other = _cvb(*_adapt_args(model, photos, "killed"), "--lr", "1e-3", "-q", cwd=root, check=False)
    assert other.returncode == 2 and "settings.lr: 0.0003 -> 0.001" in other.stderr and "--restart" in other.stderr
    stale = root / "killed" / "checkpoint" / ".state.pt.abc123.tmp"  # what a kill during a write leaves
    stale.write_bytes(b"half")
    resumed = json.loads(_cvb(*_adapt_args(model, photos, "killed"), "--json", "-q", cwd=root).stdout)
    assert resumed["resumed_from"] == 3 and resumed["steps_run"] == 5 and not stale.exists()
    assert ((root / "killed" / "adapter.safetensors").read_bytes()
            == (root / "whole" / "adapter.safetensors").read_bytes())
    assert resumed["adapter"]["losses"] == whole["adapter"]["losses"]


@pytest.mark.slow
def test_ctrl_c_exits_130_with_a_resume_hint(workdir):
    root, photos, model = workdir
    out = _cvb(*_adapt_args(model, photos, "interrupted"), "-q", cwd=root, check=False,
               env_extra={"CVB_ADAPT_TEST_INTERRUPT_AFTER_STEP": "4"})
    assert out.returncode == 130, out.stderr[-2000:]
    assert "interrupted: the last checkpoint is in" in out.stderr and "rerun the same command" in out.stderr
    assert "Traceback" not in out.stderr and "Aborted" not in out.stderr


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (a run's workers inherit it)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "environ").read_bytes() and int(d.name) != os.getpid():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow
def test_kill_9_leaves_no_data_loader_worker_behind(workdir):
    """``kill -9`` of `cvb adapt` while its DataLoader workers read images: within 5 s no process
    of the run is left (they used to live on, holding the caller's output pipes)."""
    import time
    import uuid

    root, photos, model = workdir
    marker = f"CVB_TEST_MARKER_{uuid.uuid4().hex}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(root / "cache"), marker: "1",
           "CVB_ADAPT_TEST_KILL_AFTER_STEP": "4"}
    args = [*CVB, *map(str, _adapt_args(model, photos, "workers", steps=8)), "--workers", "2", "-q"]
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=HANG_S)  # returns once every holder of the pipe is gone
    assert proc.returncode == -9, err[-2000:]
    deadline = time.monotonic() + HANG_S
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == []


def test_unfinished_or_missing_adapter_is_a_clear_error(tmp_path):
    from cvb.errors import UsageError
    from cvb.plugins import get_registry

    (tmp_path / "half" / "checkpoint").mkdir(parents=True)
    with pytest.raises(UsageError, match="training has not finished"):
        get_registry().create("vlm", f"adapted:{tmp_path / 'half'}")
    with pytest.raises(UsageError, match="no such folder"):
        get_registry().create("vlm", f"adapted:{tmp_path / 'nothing'}")
    with pytest.raises(UsageError, match="adapter folder"):
        get_registry().create("vlm", "adapted")


@pytest.mark.parametrize("extra, message", [
    (["--train", "most"], "full | last:N | first:N | lora:R | embedding"),
    (["--resolution", "big"], "give N"),
    (["--val-fraction", "1.5"], "between 0 and 1"),
    (["-c", "nosuchcodec"], "nosuchcodec"),
    (["-o", "vlm.dtype=fp16"], "--dtype"),
    (["--train", "first:0"], "first:N needs N >= 1"),
    # what this model cannot do is refused like any other bad request: exit 2, not 1
    (["--vlm", "imagenet-tagger", "--placement", "rotary"], "no 2-D rotary angles"),
    (["--vlm", "imagenet-tagger", "--train", "lora:4"], "no linear layers in its blocks for LoRA"),
    (["--vlm", "reference"], "adapter seam"),
])
def test_adapt_refuses_bad_input_clearly(workdir, extra, message):
    from click.testing import CliRunner

    from cvb.cli.main import cli

    root, photos, model = workdir
    res = CliRunner().invoke(cli, [str(a) for a in _adapt_args(model, photos, str(root / "bad")) + extra])
    assert res.exit_code == 2 and message in res.output, res.output[-1500:]


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "llava"])
@pytest.mark.slow
def test_two_processes_train_as_one_with_their_joint_batch(workdir, tiny_vlm_dirs, arch):
    """The multi-GPU path (DistributedDataParallel through accelerate), run as two CPU processes
    by torchrun: each takes half of every global batch, gradients are averaged, only the first
    writes; the weights equal one process's with the whole batch. LLaVA once stopped at step 2
    (its unused last CLIP layer got no gradient): only what the tokens use trains now."""
    root, photos, _ = workdir
    model = tiny_vlm_dirs[arch]
    args = _adapt_args(model, photos, f"two-{arch}", steps=3)
    two = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "cvb",
           *map(str, args[:args.index("--batch") + 1]), "4", *map(str, args[args.index("--batch") + 2:]), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVB_CACHE_DIR": str(root / "cache")}
    out = subprocess.run(two, cwd=root, env=env, capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-3000:]
    _cvb(*_adapt_args(model, photos, f"one-{arch}", steps=3), "-q", cwd=root)
    from safetensors.torch import load_file

    a = load_file(str(root / f"two-{arch}" / "adapter.safetensors"))
    b = load_file(str(root / f"one-{arch}" / "adapter.safetensors"))
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    assert not (root / f"two-{arch}" / "checkpoint").exists()


@pytest.mark.slow
def test_an_edited_adapter_json_is_a_clear_refusal(workdir):
    """A hand-edited or damaged adapter.json: exit 2 naming the field, from `cvb run` and from
    rerunning `cvb adapt`, never a KeyError or TypeError traceback."""
    import shutil

    root, photos, model = workdir
    _cvb(*_adapt_args(model, photos, "tobeedited", steps=1), "-q", cwd=root)

    def edit(path, keys, value):
        manifest = json.loads(path.read_text())
        node = manifest
        for k in keys[:-1]:
            node = node[k]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
        path.write_text(json.dumps(manifest))

    cases = [(("losses",), KeyError, "has no losses"),
             (("train", "steps"), "eight", 'train.steps = "eight", not a number'),
             (("vocabulary", "levels"), ["1", "5"], "vocabulary.levels = "),
             (("vocabulary", "levels"), {"jpeg": [1, 5]}, "levels as strings"),
             (("resolution",), "big", 'resolution = "big"'),
             (("train", "what"), "most", "train.what = 'most'")]
    for n, (keys, value, message) in enumerate(cases):
        folder = root / f"edited{n}"
        shutil.copytree(root / "tobeedited", folder)
        edit(folder / "adapter.json", keys, value)
        for args in (["run", "--vlm", f"adapted:{folder}", "-c", "jpeg", "-l", "1", "-t", "sample", "--limit", "2",
                      "-m", "none", "--store", f"e{n}.sqlite", "-q"],
                     _adapt_args(model, photos, folder.name, steps=1)):
            out = _cvb(*args, cwd=root, check=False)
            assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (keys, out.stderr)
            if n % 2:  # the rerun of cvb adapt reads the same file the same way: twice is enough
                break
    (root / "notjson").mkdir()
    shutil.copy(root / "tobeedited" / "adapter.safetensors", root / "notjson")
    (root / "notjson" / "adapter.json").write_text("{ not json")
    out = _cvb("run", "--vlm", f"adapted:{root / 'notjson'}", "-c", "jpeg", "-l", "1", "-t", "sample", cwd=root,
               check=False)
    assert out.returncode == 2 and "adapter.json is not JSON" in out.stderr
