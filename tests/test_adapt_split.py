"""The adapter's train/validation split is by decoded pixels: a copy of a validation image saved
again (other bytes, same pixels) lands in validation too and is counted once, so no image the
validation loss is measured on is ever trained on."""

from __future__ import annotations

import adapt_helpers


def test_a_resaved_copy_of_a_validation_image_stays_in_validation(tmp_path):
    from PIL import Image

    photos = adapt_helpers.smooth_photos(tmp_path / "photos", per_side=2)
    data, _ = adapt_helpers.prepared(photos, tmp_path / "cache")
    val_images = {data.images[p.image].source.path for p in data.val}
    assert val_images
    first = sorted(val_images)[0]

    # the same pixels in other bytes: another PNG encoder setting with a text chunk, and a BMP
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "re-saved")
    copies = tmp_path / "photos" / "zz-copies"
    copies.mkdir()
    with Image.open(first) as im:
        im.save(copies / "resaved.png", compress_level=1, pnginfo=info)
        im.save(copies / "resaved.bmp")
    assert len({(copies / n).read_bytes() for n in ("resaved.png", "resaved.bmp")} | {open(first, "rb").read()}) == 3

    again, _ = adapt_helpers.prepared(photos, tmp_path / "cache")
    by_path = {im.source.path: i for i, im in enumerate(again.images)}
    assert first in by_path
    assert str(copies / "resaved.png") not in by_path and str(copies / "resaved.bmp") not in by_path
    assert {again.images[p.image].source.path for p in again.val} == val_images  # the copies moved nothing
    assert len(again.images) == len(data.images)
    assert not again.failed


def test_the_split_key_is_the_pixels_not_the_file():
    import hashlib
    import io

    from PIL import Image

    from cvb.types import ImageSource
    from cvb_adapt.data import TrainImage, pixel_hash, split_images

    def source(i: int, level: int) -> ImageSource:
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (i * 20, 255 - i * 20, 7)).save(buf, "PNG", compress_level=level)
        return ImageSource(key=f"{i}-{level}", data=buf.getvalue())

    def images(level: int) -> list[TrainImage]:
        out = []
        for i in range(10):
            s = source(i, level)
            out.append(TrainImage(s, hashlib.sha256(s.data).hexdigest(), pixel_hash(s.load())))
        return out

    fast, small = images(0), images(9)
    assert all(a.content_hash != b.content_hash and a.pixel_hash == b.pixel_hash for a, b in zip(fast, small))
    assert split_images(fast, 0.3) == split_images(small, 0.3)
    assert pixel_hash(Image.new("RGB", (8, 8), 1)) != pixel_hash(Image.new("RGB", (4, 16), 1))
