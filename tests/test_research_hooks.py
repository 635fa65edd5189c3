"""The research codecs whose repositories are not plain CompressAI models (MLIC++, StableCodec,
DiffEIC, RDEIC): their packages' hooks run in cvb's research worker against stand-in checkouts
laid out like the real repositories (tests/research_standins, a tiny zlib codec inside)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT, VENV_BIN
from hang_guard import HANG_S
from cvb.errors import CodecError, UnavailableError, UsageError
from cvb.sample_images import sample_photo_paths
from cvb.testing import check_codec

STANDINS = Path(__file__).with_name("research_standins")
PACKAGES = ("mlicpp", "stablecodec", "diffeic", "rdeic")
for _name in PACKAGES:
    sys.path.insert(0, str(ROOT / "contrib" / f"cvb-{_name}"))

from cvb_diffeic.codec import DiffEICCodec
from cvb_diffeic.plugin import diffeic_status
from cvb_mlicpp.codec import MLICPPCodec
from cvb_rdeic.codec import RDEICCodec
from cvb_stablecodec.codec import StableCodecCodec

STEP = {1: 0.2, 2: 0.1, 3: 0.05, 4: 0.025, 5: 0.0125}  # quantizer step per level: rate rises


def checkout(root: Path, name: str, repo_sub: str = "", shared: str = "") -> Path:
    repo = root / name
    shutil.copytree(STANDINS / name, repo)
    if shared:  # DiffEIC and RDEIC share their ldm/ControlNet-era utilities
        shutil.copytree(STANDINS / shared, repo, dirs_exist_ok=True)
    shutil.copy(STANDINS / "tiny.py", repo / repo_sub)
    (repo / ".git").mkdir()
    (repo / ".git" / "HEAD").write_text("feedfacecafe0123\n")
    return repo / repo_sub if repo_sub else repo


def mlicpp_checkpoints(repo: Path, folder: Path) -> None:
    """The stand-in MLIC++'s own state_dicts, saved as the README's checkpoint dict: level 2 in
    the "Old Weights (2023-09)" layout (the ...Old classes, via the package's own swap), the
    rest in today's layout (built in a fresh process: the stand-in's ``models`` is a top-level
    package, as upstream's is)."""
    script = f"""
import sys, torch
sys.path[:0] = [{str(repo)!r}, {str(ROOT / "core" / "cvb" / "codecs" / "research")!r},
                {str(ROOT / "contrib" / "cvb-mlicpp" / "cvb_mlicpp")!r}]
import driver
sys.modules["research_driver"] = driver  # what hooks import, as inside the worker
from config.config import model_config
from models import MLICPlusPlus
import hooks
for level, step in {STEP!r}.items():
    net = MLICPlusPlus(config=model_config())
    if level == 2:
        hooks.use_old_classes(net)
    net.step.fill_(step)
    torch.save({{"epoch": 1, "state_dict": {{"module." + k: v for k, v in net.state_dict().items()}}}},
               {str(folder)!r} + f"/mlicpp-{{level}}.pth.tar")
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=HANG_S,
                   env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory):
    """Every stand-in checkout with its checkpoints, laid out as each README says."""
    import torch

    root = tmp_path_factory.mktemp("research")
    ckpt = {name: root / f"{name}-ckpt" for name in PACKAGES}
    for folder in ckpt.values():
        folder.mkdir()
    (ckpt["stablecodec"] / "sd-turbo").mkdir()
    (ckpt["stablecodec"] / "sd-turbo" / "model_index.json").write_text("{}")
    torch.save({}, ckpt["stablecodec"] / "elic_official.pth")
    repos = {"mlicpp": checkout(root, "mlicpp", "MLIC++"), "stablecodec": checkout(root, "stablecodec"),
             "diffeic": checkout(root, "diffeic", shared="ldm_shared"),
             "rdeic": checkout(root, "rdeic", shared="ldm_shared")}
    for name in ("diffeic", "rdeic"):  # SD 2.1 where the READMEs and configs (sync_path) put it
        (repos[name] / "weight").mkdir()
        torch.save({"state_dict": {"sd.weight": torch.zeros(1)}}, repos[name] / "weight" / "v2-1_512-ema-pruned.ckpt")
    for level, step in STEP.items():
        state = {"step": torch.tensor(step)}  # the partial compression/control weights of a level
        torch.save(state, ckpt["stablecodec"] / StableCodecCodec.checkpoint_name(None, str(level)))
        (ckpt["diffeic"] / DiffEICCodec.checkpoint_name(None, str(level))).parent.mkdir()
        torch.save({"state_dict": state}, ckpt["diffeic"] / DiffEICCodec.checkpoint_name(None, str(level)))
        torch.save({"state_dict": state}, ckpt["rdeic"] / f"rdeic-{level}.ckpt")
    mlicpp_checkpoints(repos["mlicpp"], ckpt["mlicpp"])
    env = {}
    for name in PACKAGES:
        prefix = f"CVB_{name.upper()}"
        env.update({f"{prefix}_REPO": str(repos[name]), f"{prefix}_CHECKPOINTS": str(ckpt[name]),
                    f"{prefix}_PYTHON": sys.executable})
    return env


@pytest.fixture
def research_env(checkouts, monkeypatch):
    for key, value in checkouts.items():
        monkeypatch.setenv(key, value)
    return checkouts


@pytest.fixture(scope="module")
def crop():
    return Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((0, 0, 150, 90))


@pytest.mark.slow
def test_diffeic_passes_the_conformance_kit_with_real_rates(research_env):
    """All rules but the 4000 px one (CI time), rates included: the stand-in's levels differ."""
    assert diffeic_status() is None
    codec = DiffEICCodec(steps=3)
    # a hand-made .git that git cannot read: the commit is read from its files, changes unseen
    assert codec.version == "diffeic/feedfacecafe+unchecked" and codec.params()["steps"] == 3
    report = check_codec(codec, images=[sample_photo_paths()["chelsea"]], levels=["1", "3", "5"],
                         skip={"large": "CI time"}).raise_for_failures()
    assert next(r for r in report.results if r.rule.startswith("bpp rises")).status == "pass"
    codec.close()


#: test-only: a worker interpreter on which "cuda" means the CPU (StableCodec's code is
#: CUDA-only, as its stand-in is; CI has no GPU). Set in the wrapper itself, so it survives the
#: clean environment cvb gives its workers.
FAKE_CUDA = """
import torch

def _cpu(arg):
    return "cpu" if isinstance(arg, (str, torch.device)) and str(arg).startswith("cuda") else arg

_module_to, _tensor_to, _tensor = torch.nn.Module.to, torch.Tensor.to, torch.tensor
torch.nn.Module.cuda = lambda self, device=None: self
torch.Tensor.cuda = lambda self, device=None, **kw: self
torch.nn.Module.to = lambda self, *a, **kw: _module_to(self, *map(_cpu, a), **{k: _cpu(v) for k, v in kw.items()})
torch.Tensor.to = lambda self, *a, **kw: _tensor_to(self, *map(_cpu, a), **{k: _cpu(v) for k, v in kw.items()})
torch.tensor = lambda *a, device=None, **kw: _tensor(*a, device=_cpu(device), **kw)
"""


@pytest.fixture(scope="module")
def fake_cuda_python(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake_cuda")
    (folder / "sitecustomize.py").write_text(FAKE_CUDA)
    wrapper = folder / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={folder} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_stablecodec_refuses_cpu_before_any_worker_starts(research_env):
    """Its code is CUDA-only (.cuda() in the constructor): device auto on a CPU machine, or cpu,
    is refused with the reason; the stand-in fails on CPU exactly as the real one would."""
    for device in ("auto", "cpu"):
        with pytest.raises(UnavailableError, match="StableCodec's code moves its models to CUDA unconditionally"):
            StableCodecCodec(device=device)
    forced = StableCodecCodec(device="cuda")  # control: a CPU worker told "cuda" dies in the constructor
    with pytest.raises(CodecError, match="CUDA"):
        forced.encode(Image.new("RGB", (32, 32)), "1")
    forced.close()


@pytest.mark.parametrize("cls", [MLICPPCodec, StableCodecCodec, RDEICCodec], ids=lambda c: c.name)
def test_hooks_code_real_bitstreams(research_env, crop, cls, fake_cuda_python):
    """One worker each (CI time); the DiffEIC check above decodes in a fresh process. The
    stand-ins assert the calls the hooks must make (MLIC++: update_resolutions first, and its
    unconditional torch.cuda.synchronize() made a no-op on CPU; RDEIC: the relay start at
    used_timesteps - 1; StableCodec: [-1, 1] input padded to 256, on "cuda")."""
    codec = cls(device="cuda", python=fake_cuda_python) if cls is StableCodecCodec else cls()
    low, high = codec.encode(crop, "1"), codec.encode(crop, "4")
    assert low[0] == 1 and len(low) < len(high)  # the level byte, then the worker's file
    out = codec.decode(high)
    assert out.size == crop.size and out.mode == "RGB"
    assert codec.encode(crop, "4") == high  # deterministic
    codec.close()


def test_mlicpp_loads_old_and_new_checkpoint_layouts(research_env, crop):
    """Level 2's checkpoint has the README's "Old Weights (2023-09)" layout: the hooks see it in
    the checkpoint and build the ...Old classes; a strict load into today's classes fails."""
    import torch

    codec = MLICPPCodec()
    out = codec.decode(codec.encode(crop, "2"))
    assert out.size == crop.size
    codec.close()
    state = torch.load(Path(research_env["CVB_MLICPP_CHECKPOINTS"]) / "mlicpp-2.pth.tar")["state_dict"]
    assert "module.lrp_anchor.0.lrp_transform.6.weight" in state  # control: it really is the old layout
    state3 = torch.load(Path(research_env["CVB_MLICPP_CHECKPOINTS"]) / "mlicpp-3.pth.tar")["state_dict"]
    assert "module.lrp_anchor.0.lrp_transform.6.weight" not in state3


def test_diffusion_codecs_need_sd_in_the_checkout(research_env, monkeypatch, tmp_path):
    """DiffEIC's and RDEIC's configs load SD 2.1 from <checkout>/weight when the model is built:
    the status and the constructor say so up front, naming the path."""
    from cvb_diffeic.plugin import diffeic_status
    from cvb_rdeic.plugin import rdeic_status

    for name, cls, status in (("diffeic", DiffEICCodec, diffeic_status), ("rdeic", RDEICCodec, rdeic_status)):
        bare = tmp_path / name
        shutil.copytree(research_env[f"CVB_{name.upper()}_REPO"], bare, ignore=shutil.ignore_patterns("weight"))
        monkeypatch.setenv(f"CVB_{name.upper()}_REPO", str(bare))
        expected = f"Stable Diffusion 2.1 is not at {bare / 'weight' / 'v2-1_512-ema-pruned.ckpt'}"
        assert status().startswith(expected)
        with pytest.raises(UnavailableError, match="sync_path"):
            cls()
        monkeypatch.setenv(f"CVB_{name.upper()}_REPO", research_env[f"CVB_{name.upper()}_REPO"])
        assert status() is None  # control: with SD 2.1 in place nothing is missing


def test_settings_are_checked_before_any_worker_starts(research_env):
    with pytest.raises(UsageError, match="steps must be a whole number"):
        DiffEICCodec(steps=2.5)
    with pytest.raises(UsageError, match="unknown option"):
        RDEICCodec(stepz=3)
    assert RDEICCodec(guidance="1.5").params()["guidance"] == 1.5  # part of params: the cache follows it


def test_installed_packages_list_every_research_family(checkouts, tmp_path):
    site = tmp_path / "site"
    dirs = [str(ROOT / "contrib" / f"cvb-{name}") for name in (*PACKAGES, "tcm")]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), *dirs], check=True, capture_output=True, timeout=HANG_S)
    assert (site / "cvb_diffeic" / "hooks.py").is_file()  # the hooks file ships with the package
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1", **checkouts)
    env.pop("CVB_LOAD_PLUGINS", None)
    res = subprocess.run([str(VENV_BIN / "cvb"), "list", "codecs", "--json"], capture_output=True, text=True,
                         env=env, timeout=HANG_S)
    rows = {r["name"]: r for r in json.loads(res.stdout)["codecs"]}
    assert {rows[n]["kind"] for n in ("stablecodec", "diffeic", "rdeic")} == {"generative"}
    assert rows["mlicpp"]["kind"] == "learned" and all(rows[n]["usable"] for n in PACKAGES)
    assert "tcm" in rows  # with cvb-tcm: every research family of the paper


def test_status_names_what_is_missing(checkouts, monkeypatch):
    from cvb_rdeic.plugin import rdeic_status
    from cvb_stablecodec.plugin import stablecodec_status

    monkeypatch.setenv("CVB_RDEIC_REPO", checkouts["CVB_RDEIC_REPO"])
    monkeypatch.delenv("CVB_RDEIC_CHECKPOINTS", raising=False)
    assert "rdeic-1.ckpt" in rdeic_status() and "CVB_RDEIC_CHECKPOINTS=(unset)" in rdeic_status()
    monkeypatch.setenv("CVB_STABLECODEC_REPO", checkouts["CVB_RDEIC_REPO"])
    assert "not name a StableCodec checkout (src/StableCodec.py)" in stablecodec_status()
