"""The one image decoder (``cvb.imageio``): what it decides about odd inputs, and that a run
survives each of them (a failed image like any other unreadable one, never an abort or a hang).
See docs/images.md."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvb.errors import ImageLoadError, UsageError
from cvb.imageio import IMAGE_SUFFIXES, decode_image, load_image, max_image_pixels

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import spawn
from conftest import VENV_BIN
from hang_guard import HANG_S


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header announcing ``width`` x ``height`` greyscale pixels, in 100 bytes:
    what a decompression bomb looks like to a decoder before it allocates."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    return buf.getvalue()


# ---- size limit --------------------------------------------------------------------------------

def test_a_decompression_bomb_is_a_failed_image_naming_its_size(monkeypatch):
    monkeypatch.delenv("CVB_MAX_IMAGE_PIXELS", raising=False)
    with pytest.raises(ImageLoadError, match=r"bomb\.png: 30000x30000 is 900,000,000 pixels, over the limit "
                                             r"of 178,956,970.*CVB_MAX_IMAGE_PIXELS"):
        decode_image(bomb_png(), name="bomb.png")


def test_the_pixel_limit_is_settable(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored afterwards
    data = _png(Image.new("RGB", (100, 50)))
    monkeypatch.setenv("CVB_MAX_IMAGE_PIXELS", "4999")
    with pytest.raises(ImageLoadError, match="100x50 is 5,000 pixels, over the limit of 4,999"):
        decode_image(data)
    monkeypatch.setenv("CVB_MAX_IMAGE_PIXELS", "5000")
    assert decode_image(data).size == (100, 50)
    monkeypatch.setenv("CVB_MAX_IMAGE_PIXELS", "0")  # no limit: Pillow's own check is off too
    assert max_image_pixels() is None
    assert decode_image(data).size == (100, 50) and Image.MAX_IMAGE_PIXELS is None
    monkeypatch.setenv("CVB_MAX_IMAGE_PIXELS", "1_000_000")  # codecs decoding with Pillow follow it
    decode_image(data)
    assert Image.MAX_IMAGE_PIXELS == 1_000_000
    monkeypatch.setenv("CVB_MAX_IMAGE_PIXELS", "many")
    with pytest.raises(UsageError, match="CVB_MAX_IMAGE_PIXELS='many'"):
        decode_image(data)


# ---- pixel formats and orientation -------------------------------------------------------------

def test_16_bit_greyscale_is_scaled_not_clipped():
    ramp16 = np.linspace(0, 65535, 64 * 32).reshape(32, 64).astype(np.uint16)
    im = decode_image(_png(Image.fromarray(ramp16)))
    assert im.mode == "RGB"
    got = np.asarray(im)[..., 0].astype(int)
    assert np.abs(got - np.round(ramp16 / 257)).max() <= 1  # not clipped at 255 from value 255 on
    assert got.mean() == pytest.approx(127.5, abs=1)


@pytest.mark.parametrize("orientation,size", [(1, (40, 20)), (3, (40, 20)), (6, (20, 40)), (8, (20, 40))])
def test_exif_orientation_is_applied(orientation, size):
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 10, 10))  # red top-left corner as stored
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="PNG", exif=exif.tobytes())
    out = decode_image(buf.getvalue())
    assert out.size == size
    corner = {1: (0, 0), 3: (39, 19), 6: (19, 0), 8: (0, 39)}[orientation]  # where the red corner goes
    assert out.getpixel(corner) == (255, 0, 0)


def test_gif_is_an_image_and_its_first_frame_is_read(tmp_path):
    assert ".gif" in IMAGE_SUFFIXES
    frames = [Image.new("RGB", (30, 20), c) for c in ((200, 10, 10), (10, 200, 10))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    out = load_image(str(tmp_path / "anim.gif"))
    assert out.mode == "RGB" and out.size == (30, 20)
    r, g, _ = out.getpixel((5, 5))
    assert r > 150 and g < 60


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_like_an_image_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read():
        try:
            load_image(str(fifo))
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked in open(): a writer end lets it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO named x.png blocked")
    assert isinstance(outcome[0], ImageLoadError)
    assert "x.png: it is a FIFO, not an image file" in str(outcome[0])
    with pytest.raises(ImageLoadError, match="it is a directory"):
        load_image(str(tmp_path))


# ---- the way a user meets them ------------------------------------------------------------------

def _hostile_folder(folder: Path) -> None:
    """Good toy images, a bomb and a FIFO under names the toy task lists."""
    make_images(folder, 2)
    (folder / "img7_smooth.png").write_bytes(bomb_png())
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "img8_smooth.png")


def test_cvb_run_survives_a_bomb_and_a_fifo(tmp_path):
    folder = tmp_path / "imgs"
    _hostile_folder(folder)
    store = tmp_path / "r.sqlite"
    args = ["run", "--task", f"toy:{folder}", "--vlm", "scripted", "--codec", "fake", "--levels", "4",
            "--metric", "none", "--store", str(store), "--cache-dir", str(tmp_path / "c"), "--json", "-q"]
    for attempt in range(2):  # the rerun meets the stored failures: still no abort
        proc = spawn(args)
        try:
            out, err = proc.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("cvb run hung (a FIFO read blocks)")
        assert proc.returncode in (0, 1), err[-2000:]
        result = json.loads(out)
        errors = {f["item"]: f["error"] for f in result["failures"] if f["stage"] == "image"}
        assert "30000x30000 is 900,000,000 pixels" in errors["img7_smooth.png"]
        if hasattr(os, "mkfifo"):
            assert "it is a FIFO" in errors["img8_smooth.png"]
        good = [c for c in result["cells"] if c["codec"] == "fake"]
        assert good and all(c["score"] is not None for c in good)


def test_cvb_compress_reads_gifs_and_survives_a_bomb(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (48, 32), (20, 120, 200)).save(folder / "good.png")
    Image.new("RGB", (48, 32), (200, 120, 20)).save(folder / "anim.gif")
    (folder / "bomb.png").write_bytes(bomb_png())
    fifo = hasattr(os, "mkfifo")
    if fifo:
        os.mkfifo(folder / "pipe.png")  # listed, then failed with its reason: never silently skipped
    out = subprocess.run([str(VENV_BIN / "cvb"), "compress", "-i", str(folder), "-c", "jpeg", "-l", "50",
                          "-m", "psnr", "--json"], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 1, out.stderr[-2000:]  # a failed image: exit status 1, the rest done
    result = json.loads(out.stdout)
    assert result["images"] == 3 + fifo
    errors = {f["image"]: f["error"] for f in result["failures"]}
    assert sorted(errors) == ["bomb.png"] + (["pipe.png"] if fifo else [])
    assert "30000x30000" in errors["bomb.png"]
    assert not fifo or "it is a FIFO" in errors["pipe.png"]
    assert result["summary"][0]["n"] == 2  # good.png and anim.gif


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_folder_task_lists_a_fifo_in_every_mode_so_it_fails_visibly(tmp_path):
    from cvb_local.image_listing import list_images

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    for spec in (str(tmp_path), str(tmp_path / "*.png"), str(tmp_path / "b.png")):
        names = [name for name, _ in list_images(spec)[1]]
        assert "b.png" in names, spec
