"""Image-quality metrics (cvb_metrics): values checked against independent formulas and
against the direction each metric claims; LPIPS and DISTS run offline from weights files
these tests place in a temporary torch hub cache (random weights of the real shapes)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cvb.errors import UnavailableError, UsageError
from cvb.plugins import get_registry
from cvb.sample_images import sample_photo_paths
from cvb_metrics import weights
from cvb_metrics.learned import DISTS, LPIPS
from cvb_metrics.psnr import PSNR
from cvb_metrics.ssim import MS_SSIM_WEIGHTS, MSSSIM, SSIM, ms_ssim_scales
from hang_guard import HANG_S

SIGMAS = (4.0, 12.0, 35.0)


# ---- helpers ------------------------------------------------------------------------------

def photo(size: int) -> Image.Image:
    """A real photograph (skimage's astronaut), centre crop resized to size x size."""
    img = Image.open(sample_photo_paths()["astronaut"]).convert("RGB")
    return img.resize((size, size), Image.BICUBIC)


def add_noise(img: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0.0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def scores(metric, ref: Image.Image) -> list[float]:
    return [metric.measure(ref, add_noise(ref, s)) for s in SIGMAS]


def strictly_decreasing(xs):
    return all(a > b for a, b in zip(xs, xs[1:]))


def strictly_increasing(xs):
    return all(a < b for a, b in zip(xs, xs[1:]))


def _fake_state_dict(model_fn) -> dict:
    """A state dict with the exact keys and shapes of ``model_fn()``: Kaiming-random
    convolutions, and zero classifier layers stored as stride-0 views of one element (LPIPS and
    DISTS never use the classifier, and this keeps VGG16's 500 MB of fc weights off the disk)."""
    import torch

    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in model_fn().state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    out = {}
    for key, shape in shapes.items():
        if key.startswith("features.") and key.endswith(".weight"):
            fan_in = math.prod(shape[1:])
            out[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        else:
            out[key] = torch.zeros(1).expand(shape)
    return out


@pytest.fixture(scope="module")
def hub_home(tmp_path_factory):
    """A TORCH_HOME whose hub cache holds AlexNet, VGG16 and DISTS files under the real names."""
    import torch
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    ckpt = home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(_fake_state_dict(torchvision.models.alexnet), ckpt / weights.ALEXNET.filename)
    torch.save(_fake_state_dict(torchvision.models.vgg16), ckpt / weights.VGG16.filename)
    gen = torch.Generator().manual_seed(1)
    ab = torch.rand(2, 1, 3 + 64 + 128 + 256 + 512 + 512, 1, 1, generator=gen) + 0.1
    ab = ab / ab.sum()  # DISTS weights sum to 1, so identical images score exactly 0
    torch.save({"alpha": ab[0], "beta": ab[1]}, ckpt / weights.DISTS_HEADS.filename)
    return home


@pytest.fixture
def with_weights(hub_home, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(hub_home))
    return hub_home


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


# ---- PSNR ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_matches_independent_formula(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    sq = sum(int(d) ** 2 for d in (a.astype(int) - b.astype(int)).ravel())
    expected = 20 * math.log10(255) - 10 * math.log10(sq / a.size)
    got = PSNR().measure(Image.fromarray(a), Image.fromarray(b))
    assert got == pytest.approx(expected, abs=1e-9)


def test_psnr_identical_images_score_the_cap():
    img = photo(48)
    assert PSNR().measure(img, img.copy()) == 100.0
    assert PSNR(cap_db=60).measure(img, img.copy()) == 60.0
    # one 8-bit step in one sample of a small image stays below the cap and is finite
    arr = np.asarray(img).copy()
    arr[0, 0, 0] ^= 1
    one_off = PSNR().measure(img, Image.fromarray(arr))
    assert 60 < one_off < 100


def test_psnr_uses_rgb_of_any_mode():
    rgb = photo(32)
    rgba = rgb.convert("RGBA")
    assert PSNR().measure(rgb, rgba) == 100.0


def test_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal sizes"):
        PSNR().measure(photo(32), photo(33))
    with pytest.raises(ValueError, match="equal sizes"):
        SSIM().measure(photo(32), photo(33))


# ---- SSIM / MS-SSIM -----------------------------------------------------------------------

def test_ssim_and_ms_ssim_identity_is_one():
    img = photo(192)
    assert SSIM().measure(img, img.copy()) == pytest.approx(1.0, abs=1e-6)
    assert MSSSIM().measure(img, img.copy()) == pytest.approx(1.0, abs=1e-6)


def test_signal_metrics_fall_with_noise():
    ref = photo(192)
    for metric in (PSNR(), SSIM(), MSSSIM()):
        vals = scores(metric, ref)
        assert strictly_decreasing(vals), (metric.name, vals)
    assert all(0 < v < 1 for v in scores(SSIM(), ref))


def test_ssim_agrees_with_skimage_on_a_small_image():
    """piq on RGB (no downsampling below 384 px) against scikit-image's Gaussian SSIM."""
    from skimage.metrics import structural_similarity

    ref = photo(96)
    dis = add_noise(ref, 10.0)
    expected = structural_similarity(np.asarray(ref), np.asarray(dis), channel_axis=2,
                                     data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert SSIM().measure(ref, dis) == pytest.approx(expected, abs=2e-3)


def test_ssim_agrees_with_skimage_on_a_large_image():
    """512 px: where Matlab-style pooling (round(512/256) = 2) would give a far higher number,
    the default stays at full resolution like scikit-image; downsample=true pools."""
    from skimage.metrics import structural_similarity

    ref = photo(512)
    dis = add_noise(ref, 10.0)
    expected = structural_similarity(np.asarray(ref), np.asarray(dis), channel_axis=2,
                                     data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert SSIM().measure(ref, dis) == pytest.approx(expected, abs=2e-3)
    pooled = SSIM(downsample="true")
    assert pooled.measure(ref, dis) > expected + 0.02
    assert pooled.version != SSIM().version


@pytest.mark.parametrize("short,expected", [(10, 0), (11, 1), (20, 1), (21, 2), (64, 3),
                                            (160, 4), (161, 5), (4000, 5)])
def test_ms_ssim_scale_rule(short, expected):
    assert ms_ssim_scales(short + 50, short) == expected
    assert ms_ssim_scales(short, short + 50) == expected


@pytest.mark.parametrize("short", [21, 64, 160])
def test_ms_ssim_scale_rule_is_what_piq_accepts(short):
    """The chosen number of scales runs in piq; one more is rejected by piq as too small."""
    import torch
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    import piq

    x = torch.rand(1, 3, short, short + 7)
    n = ms_ssim_scales(short + 7, short)
    piq.multi_scale_ssim(x, x, data_range=1.0, scale_weights=torch.tensor(MS_SSIM_WEIGHTS[:n]))
    with pytest.raises(ValueError):
        piq.multi_scale_ssim(x, x, data_range=1.0,
                             scale_weights=torch.tensor(MS_SSIM_WEIGHTS[: n + 1]))


def test_ms_ssim_on_small_images_uses_fewer_scales():
    ref = photo(64)
    vals = scores(MSSSIM(), ref)
    assert strictly_decreasing(vals), vals
    assert all(0 < v < 1 for v in vals)
    assert MSSSIM().measure(ref, ref.copy()) == pytest.approx(1.0, abs=1e-6)


def test_too_small_for_ssim_is_a_clear_error():
    tiny = photo(8)
    with pytest.raises(ValueError, match="at least 11x11"):
        MSSSIM().measure(tiny, tiny)
    with pytest.raises(ValueError, match="at least 11x11"):
        SSIM().measure(tiny, tiny)


# ---- weights files and status -------------------------------------------------------------

def test_weights_file_names_match_the_installed_libraries():
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    import piq
    from torchvision.models import AlexNet_Weights, VGG16_Weights

    assert weights.ALEXNET.url == AlexNet_Weights.IMAGENET1K_V1.url
    assert weights.VGG16.url == VGG16_Weights.IMAGENET1K_V1.url
    assert weights.DISTS_HEADS.url == piq.DISTS._weights_url
    assert weights.ALEXNET.filename == "alexnet-owt-7be5be79.pth"


@pytest.mark.parametrize("env", [{"TORCH_HOME": "th"}, {"XDG_CACHE_HOME": "xdg"}, {}])
def test_hub_dir_follows_torch_rules(env, tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    assert weights.hub_checkpoints_dir() == \
        weights.Path(torch.hub.get_dir()) / "checkpoints"


def test_missing_weights_make_learned_metrics_unusable(empty_home):
    reg = get_registry()
    lp = reg.spec("metric", "lpips").status()
    assert lp is not None and lp.startswith("weights not in cache: place alexnet-owt-7be5be79.pth")
    assert str(empty_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth") in lp
    assert weights.ALEXNET.url in lp
    ds = reg.spec("metric", "dists").status()
    assert "vgg16-397923af.pth" in ds and "dists_weights.pt" in ds and weights.DISTS_HEADS.url in ds
    for name in ("psnr", "ssim", "ms-ssim"):
        assert reg.spec("metric", name).status() is None
    with pytest.raises(UnavailableError, match="alexnet-owt-7be5be79.pth"):
        reg.create("metric", "lpips")
    with pytest.raises(UnavailableError, match="vgg16-397923af.pth"):
        LPIPS(net="vgg").measure(photo(32), photo(32))
    with pytest.raises(UnavailableError, match="dists_weights.pt"):
        DISTS().measure(photo(32), photo(32))


def test_only_the_missing_file_is_named(empty_home):
    ckpt = empty_home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "vgg16-397923af.pth").write_bytes(b"x")
    ds = weights.dists_status()
    assert "dists_weights.pt" in ds and "vgg16" not in ds


def test_corrupt_weights_file_is_an_unavailable_error(empty_home):
    ckpt = empty_home / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / weights.ALEXNET.filename).write_bytes(b"not a checkpoint")
    with pytest.raises(UnavailableError, match="cannot load its weights"):
        LPIPS().measure(photo(32), photo(32))


def test_listing_metrics_imports_no_torch(empty_home):
    code = ("import sys; from cvb.plugins import get_registry; "
            "st = {s.name: s.status() for s in get_registry().specs('metric')}; "
            "assert {'psnr', 'ssim', 'ms-ssim', 'lpips', 'dists'} <= set(st), st; "
            "heavy = [m for m in ('torch', 'piq', 'lpips', 'torchvision') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


SSIM_WITHOUT_TORCHVISION = """
import sys
import numpy as np
from PIL import Image
from cvb.plugins import get_registry
reg = get_registry()
rng = np.random.default_rng(0)
a = Image.fromarray(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8))
noisy = np.asarray(a, dtype=np.int16) + rng.integers(-20, 21, (200, 240, 3))
b = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
values = [reg.create("metric", "ms-ssim").measure(a, b), reg.create("metric", "ssim").measure(a, b)]
loaded = sorted(m for m in ("torchvision", "torch._dynamo", "piq") if m in sys.modules)
# the real package still imports afterwards (LPIPS, DISTS), with the same functions
import torch
from cvb.compat import ensure_torchvision
ensure_torchvision()
import piq
from cvb_metrics.images import tensor_pair
from cvb_metrics.ssim import MS_SSIM_WEIGHTS
x, y = tensor_pair(a, b)
direct = [float(piq.multi_scale_ssim(y, x, data_range=1.0, kernel_size=11,
                                     scale_weights=torch.tensor(MS_SSIM_WEIGHTS))),
          float(piq.ssim(y, x, data_range=1.0, kernel_size=11, downsample=False))]
print(loaded, values == direct, hasattr(piq, "LPIPS"), values, direct)
"""


def test_ssim_metrics_load_piq_without_torchvision():
    """SSIM and MS-SSIM take piq's functions without piq's package import (torchvision and
    torch._dynamo: over a second in each -j worker); a later ``import piq`` still works and
    gives the same functions and values."""
    out = subprocess.run([sys.executable, "-c", SSIM_WITHOUT_TORCHVISION], capture_output=True,
                         text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[] True True"), out.stdout


def test_spec_directions():
    reg = get_registry()
    direction = {n: reg.spec("metric", n).higher_is_better
                 for n in ("psnr", "ssim", "ms-ssim", "lpips", "dists")}
    assert direction == {"psnr": True, "ssim": True, "ms-ssim": True,
                         "lpips": False, "dists": False}
    for n in direction:
        metric_cls = {"psnr": PSNR, "ssim": SSIM, "ms-ssim": MSSSIM, "lpips": LPIPS,
                      "dists": DISTS}[n]
        assert metric_cls.higher_is_better == direction[n] and metric_cls.name == n


# ---- LPIPS / DISTS from placed files ------------------------------------------------------

def test_lpips_loads_offline_and_grows_with_noise(with_weights):
    metric = get_registry().create("metric", "lpips")
    ref = photo(96)
    assert metric.measure(ref, ref.copy()) == 0.0
    vals = scores(metric, ref)
    assert all(math.isfinite(v) and v > 0 for v in vals)
    assert strictly_increasing(vals), vals


def test_lpips_loads_its_network_once(with_weights, monkeypatch):
    metric = LPIPS()
    builds = []
    real_build = metric._build
    monkeypatch.setattr(metric, "_build", lambda: builds.append(1) or real_build())
    ref = photo(64)
    first = metric.measure(ref, add_noise(ref, 10))
    model = metric._model
    second = metric.measure(ref, add_noise(ref, 10))
    assert builds == [1] and metric._model is model and first == second


def test_lpips_vgg_trunk(with_weights):
    ref = photo(64)
    metric = get_registry().create("metric", "lpips", net="vgg")
    assert metric.net == "vgg" and "vgg" in metric.version
    assert metric.measure(ref, ref.copy()) == 0.0
    assert strictly_increasing(scores(metric, ref))


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError, match="alex, vgg"):
        LPIPS(net="resnet")
    with pytest.raises(UsageError, match="unknown option"):
        get_registry().create("metric", "ssim", check=False, sigma=2)
    with pytest.raises(UsageError, match="cap_db"):
        PSNR(cap_db="0")
    with pytest.raises(UsageError, match="cap_db"):
        PSNR(cap_db="lots")
    with pytest.raises(UsageError, match="downsample"):
        SSIM(downsample="maybe")


def test_dists_loads_offline_and_grows_with_noise(with_weights):
    metric = get_registry().create("metric", "dists")
    ref = photo(96)
    assert metric.measure(ref, ref.copy()) == pytest.approx(0.0, abs=1e-5)
    vals = scores(metric, ref)
    assert all(math.isfinite(v) and 0 < v < 1 for v in vals), vals
    assert strictly_increasing(vals), vals
