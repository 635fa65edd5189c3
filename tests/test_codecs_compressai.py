"""CompressAI codecs: real entropy-coded bitstreams, and pretrained weights found offline.

Random weights (``pretrained=False``, seeded) keep these fast and need no download; the
weights-loading path is exercised with state_dicts the tests save under the zoo's file names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error

import numpy as np
import pytest
from PIL import Image

from cvb.codecs.base import compress
from cvb.errors import CodecError, UnavailableError, UsageError
from cvb.plugins import PluginInfo, Registry
from cvb.sample_images import sample_photo_paths
from hang_guard import HANG_S

ZOO = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018",
       "cheng2020-anchor", "cheng2020-attn")
ALL = ZOO + ("elic2022",)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """CI runs two pytest workers on two cores: more torch threads only fight for them."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def registry() -> Registry:
    import cvb_compressai.plugin

    reg = Registry()
    reg.add_plugin(cvb_compressai.plugin, PluginInfo("compressai", "cvb", "0", "cvb_compressai.plugin"))
    return reg


@pytest.fixture(scope="module")
def crop() -> Image.Image:
    """128x96: not a multiple of 64 in height, so padding and cropping are exercised."""
    with Image.open(sample_photo_paths()["astronaut"]) as im:
        return im.convert("RGB").crop((200, 100, 328, 196))


@pytest.fixture(scope="module")
def tiny() -> Image.Image:
    """64x40 (padded to one 64x64 block): keeps the slow autoregressive models quick."""
    with Image.open(sample_photo_paths()["astronaut"]) as im:
        return im.convert("RGB").crop((220, 120, 284, 160))


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def random_codec(registry, name, **options):
    return registry.create("codec", name, check=False, pretrained=False, **options)


@pytest.fixture(scope="module")
def shared(registry):
    """One random-weights codec per model for the whole module: models build once."""
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = random_codec(registry, name)
        return cache[name]

    return get


@pytest.mark.parametrize("name", ALL)
def test_round_trip_is_deterministic_and_decodes_in_a_fresh_instance(registry, shared, tiny, name):
    codec = shared(name)
    assert codec.kind.value == "learned" and "random-seed0" in codec.version
    result = compress(codec, tiny, "1")
    assert result.image.size == tiny.size and result.image.mode == "RGB"
    assert result.bits[0] == 0xC5 and result.bpp > 0
    fresh = random_codec(registry, name)
    assert fresh.encode(tiny, "1") == result.bits  # same seed, same weights, same bits
    assert np.array_equal(np.asarray(fresh.decode(result.bits)), np.asarray(result.image))


def test_each_quality_is_its_own_model_and_loads_once(registry, crop):
    codec = random_codec(registry, "bmshj2018-hyperprior")
    a, b = codec.encode(crop, "1"), codec.encode(crop, "2")
    assert a != b and a[1] == 1 and b[1] == 2
    model = codec.model(1)
    codec.encode(crop, "1")
    assert codec.model(1) is model and set(codec._models) == {"1", "2"}


def test_seed_changes_random_weights_and_version(registry, crop):
    a, b = random_codec(registry, "bmshj2018-factorized"), random_codec(registry, "bmshj2018-factorized", seed=1)
    assert a.version != b.version and a.params() != b.params()
    assert a.encode(crop, "1") != b.encode(crop, "1")


def test_levels_options_and_spec_agree(registry):
    for name in ALL:
        spec = registry.spec("codec", name)
        codec = random_codec(registry, name)
        assert tuple(spec.levels) == codec.default_levels == ("1", "2", "3", "4")
    assert random_codec(registry, "cheng2020-attn").level_max == 6
    with pytest.raises(UsageError, match="1..6"):
        random_codec(registry, "cheng2020-anchor").parse_level("7")
    with pytest.raises(UsageError, match="choose one of"):
        random_codec(registry, "mbt2018", metric="psnr")
    with pytest.raises(UsageError, match="unknown option"):
        random_codec(registry, "elic2022", metric="mse")
    assert random_codec(registry, "elic2022", variant="official").params()["variant"] == "official"


def test_device_option(registry, crop):
    import torch

    assert random_codec(registry, "mbt2018", device="auto").device == ("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = random_codec(registry, "mbt2018", device="cuda:1")
    assert on_gpu.params()["device"] == "cuda"
    with pytest.raises(UsageError, match="cuda:N"):
        random_codec(registry, "mbt2018", device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(UnavailableError, match="no CUDA GPU"):
            on_gpu.prepare(["1"])


def test_bitstream_tree_round_trips_and_rejects_damage():
    from cvb.codecs.bitstream import Packet, pack, unpack

    shape = {"y": [(16, 8, 8), (192, 8, 8)], "hyper": (2, 2)}
    strings = [[b"\x00" * 300], [b"abc"], [b""]]
    data = pack(Packet(3, 741, 500, strings, shape))
    back = unpack(data)
    assert (back.quality, back.width, back.height) == (3, 741, 500)
    assert back.strings == strings and back.shape == shape
    with pytest.raises(CodecError, match="truncated"):
        unpack(data[:-2])
    with pytest.raises(CodecError, match="magic"):
        unpack(b"\x00" + data[1:])


def test_zoo_url_table_matches_installed_compressai():
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from compressai.zoo.image import model_urls

    from cvb_compressai.zoo_urls import MODEL_FILES, url_of

    for model, by_metric in model_urls.items():
        assert set(by_metric) == set(MODEL_FILES[model])
        for metric, by_quality in by_metric.items():
            for quality, url in by_quality.items():
                assert url_of(model, metric, quality) == url


@pytest.mark.parametrize("env", [
    {"TORCH_HOME": "/x/th"},
    {"XDG_CACHE_HOME": "/x/xdg"},
    {},
])
def test_hub_dir_matches_torch_without_importing_it(monkeypatch, env):
    import torch.hub

    from cvb_compressai.weights import torch_hub_dir

    for var in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert str(torch_hub_dir()) == torch.hub.get_dir()


def test_status_names_missing_files_their_place_and_url(registry, torch_home):
    reason = registry.spec("codec", "bmshj2018-hyperprior").status()
    checkpoints = torch_home / "hub" / "checkpoints"
    assert "bmshj2018-hyperprior-1-7eb97409.pth.tar" in reason
    assert str(checkpoints) in reason
    assert "https://compressai.s3.amazonaws.com/models/v1/" in reason
    assert "pretrained=false" in reason
    elic = registry.spec("codec", "elic2022").status()
    assert "elic2022-chandelier-1.pth.tar" in elic and "no public download" in elic
    with pytest.raises(UnavailableError, match="not usable here"):
        registry.create("codec", "bmshj2018-hyperprior")
    # the check is about pretrained weights: random weights are not refused by it
    assert registry.create("codec", "bmshj2018-hyperprior", pretrained="false").pretrained is False


def test_status_is_ok_once_files_are_placed(registry, torch_home):
    from cvb_compressai.zoo_urls import MODEL_FILES

    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for quality in (1, 2, 3):
        (checkpoints / MODEL_FILES["mbt2018"]["mse"][quality]).write_bytes(b"x")
    reason = registry.spec("codec", "mbt2018").status()
    assert MODEL_FILES["mbt2018"]["mse"][4] in reason
    assert MODEL_FILES["mbt2018"]["mse"][1] not in reason
    (checkpoints / MODEL_FILES["mbt2018"]["mse"][4]).write_bytes(b"x")
    assert registry.spec("codec", "mbt2018").status() is None


def _no_download(monkeypatch):
    # Import torchvision (and with it compressai's zoo) first: modules that do
    # `from torch.hub import load_state_dict_from_url` at import time would otherwise keep
    # the refusing stand-in for the rest of the process and break later tests (lpips).
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    import compressai.zoo  # noqa: F401 - imported before torch.hub is patched (above)
    import torch.hub

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


def test_missing_weights_and_no_network_is_unavailable(registry, crop, torch_home, monkeypatch):
    _no_download(monkeypatch)
    codec = registry.create("codec", "bmshj2018-factorized", check=False)
    assert "pretrained" in codec.version
    with pytest.raises(UnavailableError) as err:
        codec.prepare(["2"])
    message = str(err.value)
    assert "bmshj2018-factorized-prior-2-87279a02.pth.tar" in message
    assert str(torch_home / "hub" / "checkpoints") in message
    assert "download failed" in message and "name resolution" in message
    with pytest.raises(CodecError, match="UnavailableError"):  # inside a run: one failed unit
        compress(codec, crop, "2")


def test_placed_weights_load_offline_and_code_like_the_model_saved(registry, shared, crop, torch_home,
                                                                   monkeypatch):
    import torch

    from cvb_compressai.zoo_urls import MODEL_FILES

    _no_download(monkeypatch)
    source = shared("bmshj2018-hyperprior")
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(source.model(1).state_dict(), checkpoints / MODEL_FILES["bmshj2018-hyperprior"]["mse"][1])

    codec = registry.create("codec", "bmshj2018-hyperprior", check=False)
    bits = codec.encode(crop, "1")
    assert bits == source.encode(crop, "1")
    assert np.array_equal(np.asarray(codec.decode(bits)), np.asarray(source.decode(bits)))
    reason = registry.spec("codec", "bmshj2018-hyperprior").status()
    assert MODEL_FILES["bmshj2018-hyperprior"]["mse"][1] not in reason


def test_placed_elic_training_checkpoint_loads(registry, shared, tiny, torch_home):
    import torch

    source = shared("elic2022")
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    # the shape compressai's examples/train.py saves: weights under "state_dict"
    torch.save({"epoch": 3, "state_dict": source.model(1).state_dict()},
               checkpoints / "elic2022-chandelier-1.pth.tar")
    codec = registry.create("codec", "elic2022", check=False)
    bits = codec.encode(tiny, "1")
    assert bits == source.encode(tiny, "1")
    with pytest.raises(UnavailableError, match="no public download"):
        codec.prepare(["3"])


def test_corrupt_weights_file_is_reported(registry, torch_home):
    from cvb_compressai.zoo_urls import MODEL_FILES

    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    bad = checkpoints / MODEL_FILES["mbt2018-mean"]["mse"][1]
    bad.write_bytes(b"not a checkpoint")
    codec = registry.create("codec", "mbt2018-mean", check=False)
    with pytest.raises(UnavailableError, match="cannot load weights file"):
        codec.prepare(["1"])


def test_plugin_and_status_checks_import_nothing_heavy():
    probe = (
        "import sys, cvb_compressai.plugin as p\n"
        "from cvb.plugins import PluginInfo, Registry\n"
        "r = Registry(); r.add_plugin(p, PluginInfo('c', 'cvb', '0', 'x'))\n"
        "[s.status() for s in r.specs('codec')]\n"
        "print(','.join(m for m in ('torch', 'compressai', 'torchvision') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "TORCH_HOME": "/nonexistent"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_bits_decode_in_a_fresh_process_from_the_bytes_alone(shared, crop, tmp_path):
    """The bitstream is self-contained: another interpreter, given only the file and the codec's
    name and options, reproduces the decoded image exactly (autoregressive model included)."""
    codec = shared("mbt2018")
    bits = codec.encode(crop, "2")
    (tmp_path / "img.bin").write_bytes(bits)
    np.save(tmp_path / "expected.npy", np.asarray(codec.decode(bits)))
    probe = (
        "import sys, numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        "from cvb.plugins import get_registry\n"
        "c = get_registry().create('codec', 'mbt2018', check=False, pretrained=False)\n"
        "out = np.asarray(c.decode(open(sys.argv[1] + '/img.bin', 'rb').read()))\n"
        "print(out.shape, bool(np.array_equal(out, np.load(sys.argv[1] + '/expected.npy'))))\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True,
                         timeout=HANG_S)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "True" and f"({crop.height}, {crop.width}, 3)" in res.stdout
