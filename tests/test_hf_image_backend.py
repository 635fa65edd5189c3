"""``-o vlm.image_backend=pil|torchvision``: which implementation of the model's image processor
prepares images. transformers picks one by what imports on the machine, and the two do not resize
identically, so a user pins it to compare answers across machines; it is part of the VLM's version."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from conftest import VENV_BIN
from cvb.errors import UnavailableError, UsageError
from cvb.plugins import get_registry
from hang_guard import HANG_S


def _vlm(path, **options):
    return get_registry().create("vlm", f"hf:{path}", device="cpu", dtype="fp32", **options)


@pytest.mark.parametrize("arch", ["idefics3", "qwen2_5_vl"])  # Qwen's processor has a video half too
@pytest.mark.parametrize("backend", ["pil", "torchvision"])
def test_the_image_processor_is_the_one_asked_for(tiny_vlm_dirs, arch, backend):
    from cvb_hf.loading import image_backend

    vlm = _vlm(tiny_vlm_dirs[arch], image_backend=backend)
    vlm.load()
    assert image_backend(vlm.processor.image_processor) == backend
    assert vlm.version.endswith(f";image_backend={backend}")


def test_auto_keeps_transformers_choice_and_the_version(tiny_vlm_dirs):
    from cvb_hf.loading import image_backend, load_config, load_processor

    path = tiny_vlm_dirs["idefics3"]
    auto = _vlm(path)
    auto.load()
    chosen = load_processor(str(path), load_config(str(path), True, None), True, None)
    assert type(auto.processor.image_processor) is type(chosen.image_processor)
    assert "image_backend" not in auto.version
    other = "pil" if image_backend(chosen.image_processor) == "torchvision" else "torchvision"
    assert _vlm(path, image_backend=other).version != auto.version


def test_pixels_reach_the_model_from_the_backend_asked_for(tiny_vlm_dirs):
    """Not only the class: the pixel values the model gets come from that implementation."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8), "RGB")
    pixels = {}
    for backend in ("pil", "torchvision"):
        vlm = _vlm(tiny_vlm_dirs["idefics3"], image_backend=backend)
        vlm.load()
        pixels[backend] = vlm.processor.image_processor(images=[image], return_tensors="pt")["pixel_values"]
        direct = vlm.processor(text=["<image>hi"], images=[[image]], return_tensors="pt")["pixel_values"]
        assert np.array_equal(direct.numpy(), pixels[backend].numpy())
    assert pixels["pil"].shape == pixels["torchvision"].shape


def test_a_backend_transformers_cannot_give_is_an_error_not_a_silent_fallback(tiny_vlm_dirs, monkeypatch):
    """transformers falls back to the other backend with only a warning (no torchvision, or a model
    with one implementation): cvb refuses, since the answers would not be the ones asked for."""
    import transformers

    from cvb_hf.loading import image_backend, load_config, load_processor

    path = str(tiny_vlm_dirs["qwen2_5_vl"])
    have = image_backend(load_processor(path, load_config(path, True, None), True, None).image_processor)
    other = "pil" if have == "torchvision" else "torchvision"
    real = transformers.AutoImageProcessor.from_pretrained

    def fallback(source, **kwargs):
        kwargs.pop("backend", None)
        kwargs.pop("use_fast", None)
        return real(source, backend=have, **kwargs)

    monkeypatch.setattr(transformers.AutoImageProcessor, "from_pretrained", fallback)
    with pytest.raises(UnavailableError, match=f"no {other} image processor"):
        _vlm(path, image_backend=other).load()


def test_a_bad_backend_is_a_usage_error():
    with pytest.raises(UsageError, match="image_backend"):
        get_registry().create("vlm", "hf:qwen2.5-vl-3b", image_backend="opencv")


@pytest.mark.slow
def test_cvb_run_with_a_pinned_backend_in_a_fresh_process(tiny_vlm_dirs, tmp_path):
    """Every architecture the docs name, through the real `cvb run` in a new interpreter, pinned
    to PIL (transformers' own choice here is torchvision: the rebuilt image processor is used)."""
    from test_hf_fresh_process import ARCHS

    store = tmp_path / "r.sqlite"
    vlms = ",".join(f"hf:{tiny_vlm_dirs[arch]}" for arch in ARCHS)
    out = subprocess.run(
        [str(VENV_BIN / "cvb"), "run", "--vlm", vlms, "-o", "vlm.image_backend=pil",
         "--task", "sample", "--limit", "2", "--codec", "none", "--metric", "none", "--store", str(store),
         "--cache-dir", str(tmp_path / "cache"), "--json", "-q"],
        capture_output=True, text=True, timeout=HANG_S, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout)["failures"] == []
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT vlm, vlm_version, error FROM predictions").fetchall()
    assert len({vlm for vlm, _, _ in rows}) == len(ARCHS) and len(rows) == 2 * len(ARCHS)
    assert all(error is None and version.endswith(";image_backend=pil") for _, version, error in rows)
