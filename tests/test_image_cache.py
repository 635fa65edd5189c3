"""The compressed-image cache: what an entry keeps, decoding again from the bitstream, the size
cap with least-recently-used eviction, and `cvb cache info|prune` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import cli, subprocess_env, use_fakes

from cvb.errors import UsageError
from cvb.run.image_cache import ImageCache, keeps_pixels, parse_size
from hang_guard import HANG_S

INFO = {"num_bytes": 3, "bpp": 0.5, "encode_s": 0.001, "decode_s": 0.001}


def _image(color=(10, 20, 30), size=(16, 8)):
    from PIL import Image

    return Image.new("RGB", size, color)


def test_an_entry_without_pixels_needs_the_decoder(tmp_path):
    cache = ImageCache(tmp_path)
    key = "cd" + "1" * 62
    cache.put(key, b"xyz", _image(), INFO, keep_pixels=False)
    size = (tmp_path / "cd" / f"{key}.cvbc").stat().st_size
    assert size < 200  # the bitstream and a header line, no pixels
    assert cache.image(key) is None  # no decoder: the caller redoes it
    calls = []

    def decode(bits):
        calls.append(bits)
        return _image((1, 2, 3)).convert("L")  # any mode comes back RGB

    out = cache.image(key, decode)
    assert calls == [b"xyz"] and out.mode == "RGB" and out.getpixel((0, 0)) == (2, 2, 2)
    assert cache.image(key, lambda bits: 1 / 0) is None  # a decoder failing now: redo


def test_which_codecs_keep_pixels():
    from cvb.codecs.base import BaseCodec
    from cvb.types import CodecKind

    class Traditional(BaseCodec):
        kind = CodecKind.TRADITIONAL

    class Learned(BaseCodec):
        kind = CodecKind.LEARNED

    assert not keeps_pixels(Traditional(), 0.003)  # cheap, deterministic: decode again
    assert keeps_pixels(Traditional(), 0.5)  # a slow decoder: keep its pixels
    assert keeps_pixels(Learned(), 0.001)  # a network's output may not repeat bit for bit


def test_prune_evicts_least_recently_used_first(tmp_path):
    cache = ImageCache(tmp_path)
    keys = [f"{i:02x}" + "0" * 62 for i in range(4)]
    for i, key in enumerate(keys):
        cache.put(key, b"b" * 100, _image(), INFO)
        os.utime(tmp_path / key[:2] / f"{key}.cvbc", (1000 + i, 1000 + i))
    assert cache.image(keys[0]) is not None  # used now: the newest
    (tmp_path / "00" / ".x.cvbc.1.tmp").write_bytes(b"left by a killed writer")
    os.utime(tmp_path / "00" / ".x.cvbc.1.tmp", (1, 1))
    (tmp_path / "00" / ("e" * 64 + ".png")).write_bytes(b"old layout")
    one = (tmp_path / keys[0][:2] / f"{keys[0]}.cvbc").stat().st_size
    info = cache.summary()
    assert (info["entries"], info["legacy_files"], info["temporary_files"]) == (4, 1, 1)
    dry = cache.prune(max_bytes=2 * one, dry_run=True)
    assert dry["removed"] == 2 and cache.summary()["entries"] == 4
    out = cache.prune(max_bytes=2 * one)
    assert (out["removed"], out["kept"]) == (2, 2)
    assert [k for k in keys if cache.has(k)] == [keys[0], keys[3]]
    assert cache.summary()["legacy_files"] == cache.summary()["temporary_files"] == 0
    assert cache.prune(everything=True)["removed"] == 2 and cache.summary()["entries"] == 0


def test_prune_over_the_cap_removes_the_fewest_oldest_entries(tmp_path):
    """Many entries of random sizes, some as old as each other: what stays fits the cap, is
    never older than what went, and one more entry back would not fit."""
    import random

    rng = random.Random(3)
    cache = ImageCache(tmp_path)
    stamps = {}
    for i in range(60):
        key = f"{i:064x}"
        cache.put(key, bytes(rng.randrange(10, 400)), _image(), INFO)
        stamps[key] = 1000 + rng.randrange(20)  # ties: 60 entries on 20 times
        os.utime(tmp_path / key[:2] / f"{key}.cvbc", (stamps[key], stamps[key]))
    size = {k: (tmp_path / k[:2] / f"{k}.cvbc").stat().st_size for k in stamps}
    cap = sum(size.values()) // 3
    out = cache.prune(max_bytes=cap)
    kept = [k for k in stamps if cache.has(k)]
    gone = [k for k in stamps if not cache.has(k)]
    assert out["kept"] == len(kept) and out["removed"] == len(gone) and out["kept_bytes"] == sum(size[k] for k in kept)
    assert sum(size[k] for k in kept) <= cap
    assert max(stamps[k] for k in gone) <= min(stamps[k] for k in kept)
    newest_gone = max(gone, key=lambda k: stamps[k])
    assert sum(size[k] for k in kept) + size[newest_gone] > cap  # no more removed than needed


def test_sizes():
    assert parse_size("20G") == 20 * 2**30 and parse_size("500 MB") == 500 * 2**20
    assert parse_size("1.5KiB") == 1536 and parse_size("4096") == 4096
    assert parse_size("none") is None and parse_size("0") is None
    with pytest.raises(UsageError, match="e.g. 20G"):
        parse_size("lots")


def _cvb(*args, **env):
    return subprocess.run([sys.executable, "-m", "cvb_fakes.cli", *args], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=HANG_S)


def test_cache_info_and_prune_through_the_cli(tmp_path, monkeypatch):
    """A real run fills the cache (bits only for the cheap fake codec); `cvb cache info`
    reports it and `cvb cache prune` empties it; a rerun with a new store redoes the images."""
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 3)
    cache = tmp_path / "cache"
    args = ["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
            "--metric", "mse", "--cache-dir", str(cache), "-q", "--json"]
    assert cli([*args, "--store", str(tmp_path / "a.sqlite")]).exit_code == 0
    info = _cvb("cache", "info", "--cache-dir", str(cache), "--json")
    assert info.returncode == 0, info.stderr
    figures = json.loads(info.stdout)
    assert figures["entries"] == 6 and figures["bytes"] > 0 and figures["root"] == str(cache)
    text = _cvb("cache", "info", "--cache-dir", str(cache), CVB_CACHE_MAX_SIZE="none").stdout
    assert "entries  6" in text and "cap      none" in text
    bad = _cvb("cache", "prune", "--cache-dir", str(cache), "--max-size", "lots")
    assert bad.returncode == 2 and "e.g. 20G" in bad.stderr
    pruned = _cvb("cache", "prune", "--cache-dir", str(cache), "--all")
    assert pruned.returncode == 0 and "removed 6 entries" in pruned.stdout
    assert json.loads(_cvb("cache", "info", "--cache-dir", str(cache), "--json").stdout)["entries"] == 0
    again = cli([*args, "--store", str(tmp_path / "b.sqlite")])
    assert again.exit_code == 0 and json.loads(again.stdout)["work"]["codec_calls"] == 6


def test_a_run_keeps_the_cache_under_its_cap(tmp_path, monkeypatch):
    use_fakes(monkeypatch)
    images = make_images(tmp_path / "imgs", 4)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CVB_CACHE_MAX_SIZE", "300")  # bytes: room for about one entry
    res = cli(["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
               "--metric", "none", "--cache-dir", str(cache), "--store", str(tmp_path / "r.sqlite"), "-q"])
    assert res.exit_code == 0, res.output
    summary = ImageCache(cache).summary()
    assert summary["bytes"] <= 300 and summary["entries"] < 8
    # the store keeps every number: the finished matrix reruns reading only
    rerun = cli(["run", "--task", f"toy:{images}", "--vlm", "scripted", "--codec", "fake", "--levels", "1,4",
                 "--metric", "none", "--cache-dir", str(cache), "--store", str(tmp_path / "r.sqlite"), "-q",
                 "--json"])
    assert json.loads(rerun.stdout)["work"]["codec_calls"] == 0


def test_cache_keys_are_the_sha256_of_their_json():
    """A key is the sha256 of the JSON of (content hash, codec, version, level, params), made
    once per codec x level (``key_maker``): the same keys as ever, so cached entries and stored
    rows stay valid whatever the strings hold."""
    import hashlib
    import json
    import random
    import string

    from cvb.run.image_cache import cache_key

    rng = random.Random(0)
    for _ in range(500):
        args = ["".join(rng.choice(string.printable + 'é\u2603"\\') for _ in range(rng.randrange(12)))
                for _ in range(5)]
        blob = json.dumps(args, separators=(",", ":"))
        assert cache_key(*args) == hashlib.sha256(blob.encode()).hexdigest()
