"""The conformance rules a broken plugin used to pass (issue 19): one broken plugin per rule,
each failing with a message that names its problem; the correct twin of each passes."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from PIL import Image, ImageFilter

from conftest import VENV_BIN, make_plugin
from cvb.errors import CodecError, CodecRefusal, ExternalToolError
from cvb.specs import CodecSpec, MetricSpec
from cvb.testing import FakeCodec, ScriptedVLM, check_codec, check_metric, check_vlm
from cvb.types import CodecKind
from hang_guard import HANG_S

NOT_LARGE = {"large": "not needed here"}


def rule(report, prefix: str):
    return next(r for r in report.results if r.rule.startswith(prefix))


# ---- fidelity floor ---------------------------------------------------------------------------
class BlackCodec(FakeCodec):
    """Real bitstreams, right size, RGB, deterministic: only the picture is gone."""

    def decode(self, bits):
        return Image.new("RGB", super().decode(bits).size)


class ConstantCodec(FakeCodec):
    def decode(self, bits):
        return Image.new("RGB", super().decode(bits).size, (117, 100, 90))


class InventiveCodec(FakeCodec):
    """A stand-in for a diffusion decoder: the layout kept, the texture invented (PSNR far below
    a pixel codec's, structure intact)."""

    kind = CodecKind.GENERATIVE

    def decode(self, bits):
        import numpy as np

        out = super().decode(bits).filter(ImageFilter.GaussianBlur(6))
        noise = np.random.default_rng(0).normal(0, 40, (out.height, out.width, 3))
        return Image.fromarray(np.clip(np.asarray(out) + noise, 0, 255).astype("uint8"), "RGB")


class InventiveConstant(InventiveCodec):
    def decode(self, bits):
        return Image.new("RGB", FakeCodec.decode(self, bits).size, (117, 100, 90))


@pytest.mark.parametrize("codec", [BlackCodec(), ConstantCodec()])
def test_a_decoder_that_loses_the_picture_fails_the_fidelity_floor(codec):
    report = check_codec(codec, skip=NOT_LARGE)
    r = rule(report, "the decoded image resembles the input")
    assert r.status == "fail" and "dB < 20 dB" in r.detail, report.text()
    assert all(x.status != "fail" for x in report.results if x is not r), report.text()  # only this rule


def test_a_generative_codec_gets_a_perceptual_bound():
    good = check_codec(InventiveCodec(), skip=NOT_LARGE, fresh_process=False)
    r = rule(good, "the decoded image resembles the input")
    assert r.status == "pass" and "generative" in r.detail, good.text()
    from cvb.conformance.fidelity import psnr_db
    from cvb.conformance.inputs import photos

    photo = next(iter(photos(1).values()))
    codec = InventiveCodec()
    assert psnr_db(photo, codec.decode(codec.encode(photo, "6"))) < 20  # the PSNR floor would fail it
    bad = check_codec(InventiveConstant(), skip=NOT_LARGE, fresh_process=False)
    r = rule(bad, "the decoded image resembles the input")
    assert r.status == "fail" and "luminance correlation" in r.detail, bad.text()


def test_random_weights_skip_the_floor_with_a_reason():
    report = check_codec(BlackCodec(), skip={**NOT_LARGE, "fidelity": "random weights"})
    assert report.ok and rule(report, "the decoded image resembles").detail == "random weights"


# ---- a hang is a failure, after a limit the author can raise ----------------------------------
class HangingDecoder(FakeCodec):
    delay = 3600.0

    def decode(self, bits):
        time.sleep(self.delay)
        return super().decode(bits)


def test_a_hanging_decode_fails_after_the_timeout_and_stops_the_check():
    report = check_codec(HangingDecoder(), skip=NOT_LARGE, timeout=0.5)
    r = rule(report, "decode(encode(x))")
    assert r.status == "fail" and "did not finish within 0.5 s" in r.detail and "--timeout" in r.detail
    assert rule(report, "size 1x1").status == "skip" and "not run" in rule(report, "size 1x1").detail
    assert not report.ok


def test_a_slow_codec_passes_once_the_author_raises_the_timeout():
    class Slow(HangingDecoder):
        delay = 0.3

    assert not check_codec(Slow(), skip=NOT_LARGE, timeout=0.1, fresh_process=False).ok
    assert check_codec(Slow(), levels=["6"], skip={**NOT_LARGE, "odd": "-", "1x1": "-"}, timeout=HANG_S,
                       fresh_process=False).ok


# ---- a crash is a failure; only an explicit refusal is a refusal ------------------------------
class CrashesOnTiny(FakeCodec):
    error: Exception = CodecError("index out of range")

    def encode(self, image, level):
        if min(image.size) < 16:
            raise self.error
        return super().encode(image, level)


class SegfaultsOnTiny(CrashesOnTiny):
    error = ExternalToolError(["bpgenc", "in.png"], -11, "")  # what a segfaulting tool raises


class RefusesTiny(CrashesOnTiny):
    error = CodecRefusal("tiny: its format codes no picture under 16 pixels a side")


@pytest.mark.parametrize("codec,shown", [(CrashesOnTiny(), "CodecError: index out of range"),
                                         (SegfaultsOnTiny(), "bpgenc exited with status -11")])
def test_a_crash_on_an_odd_size_is_a_failure_not_a_refusal(codec, shown):
    report = check_codec(codec, skip=NOT_LARGE)
    for size in ("size 1x1", "size 17x9"):
        r = rule(report, size)
        assert r.status == "fail" and shown in r.detail and "CodecRefusal" in r.detail, report.text()


def test_an_explicit_refusal_passes():
    report = check_codec(RefusesTiny(), skip=NOT_LARGE)
    assert report.ok, report.text()
    assert "refused: tiny: its format" in rule(report, "size 1x1").detail


# ---- "0 bitstreams decoded" is not a pass -----------------------------------------------------
class CodesNothing(FakeCodec):
    def encode(self, image, level):
        raise CodecError("no encoder here")


def test_no_bitstream_to_decode_fails_the_fresh_process_rule():
    report = check_codec(CodesNothing(), skip={"rate": "-", "fidelity": "-", **NOT_LARGE})
    r = rule(report, "bitstream decodes in a fresh process")
    assert r.status == "fail" and "0 bitstreams decoded is not a pass" in r.detail, report.text()


# ---- a VLM that always says nothing fails -----------------------------------------------------
def test_a_vlm_answering_empty_text_fails():
    r = rule(check_vlm(ScriptedVLM(script=lambda q: "")), "answers are not all empty")
    assert r.status == "fail" and "every answer" in r.detail and "empty text" in r.detail
    ok = rule(check_vlm(ScriptedVLM(script=lambda q: "yes" if q.kind.value == "yesno" else "")),
              "answers are not all empty")
    assert ok.status == "pass" and "1 of 4" in ok.detail


# ---- the spec cvb list shows and the object cvb run uses agree --------------------------------
class Inverted:
    name, higher_is_better = "inv", False  # the spec below says True

    def measure(self, reference, distorted):
        import numpy as np

        return float(np.abs(np.asarray(reference, float) - np.asarray(distorted, float)).mean())


def test_a_spec_disagreeing_with_its_class_fails(registry_of):
    def codecs(register):
        register(CodecSpec(name="fake", factory="cvb.testing:FakeCodec", kind="learned", levels=("1", "8")))
        register(CodecSpec(name="twin", factory="cvb.testing:FakeCodec", kind="traditional",
                           levels=FakeCodec.default_levels))

    def metrics(register):
        register(MetricSpec(name="inv", factory=Inverted, higher_is_better=True))

    reg = registry_of(make_plugin("disagreeing", register_codecs=codecs, register_metrics=metrics))
    report = check_codec("fake", registry=reg, skip=NOT_LARGE, fresh_process=False)
    r = rule(report, "the registered spec and the object agree")
    assert r.status == "fail", report.text()
    assert "default levels: spec says ('1', '8'), the object ('1', '2', '4', '6')" in r.detail
    assert "kind: spec says 'learned', the object 'traditional'" in r.detail
    r = rule(check_codec("twin", registry=reg, skip=NOT_LARGE, fresh_process=False), "the registered spec")
    assert r.status == "fail" and "name: spec says 'twin', the object 'fake'" in r.detail
    r = rule(check_metric("inv", registry=reg), "the registered spec")
    assert r.status == "fail" and "higher_is_better: spec says True, the object False" in r.detail


# ---- installed plugins: heavy at load, failed to load -----------------------------------------
def fake_distribution(site, dist: str, module: str, source: str) -> None:
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cvb]\n{module.removeprefix('cvb_')} = {module}\n")


def cvb(site, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=env, timeout=HANG_S)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    fake_distribution(site, "cvb-jpegxr", "cvb_jpegxr", "import imagecodecs_not_installed_here\n")
    fake_distribution(site, "cvb-heavy", "cvb_heavy", (
        "import torch  # at load time: what the rule is about\n"
        "from cvb import hookimpl\nfrom cvb.specs import CodecSpec\n"
        "@hookimpl\ndef register_codecs(register):\n"
        "    register(CodecSpec(name='heavy', factory='cvb.testing:FakeCodec', kind='traditional',\n"
        "                       levels=('1', '2', '4', '6')))\n"))
    return site


def test_a_plugin_that_failed_to_import_is_named_by_list_check_and_run(site, tmp_path):
    said = "jpegxr: its plugin jpegxr (cvb-jpegxr) failed to import: ModuleNotFoundError"
    rows = {r["name"]: r for r in json.loads(cvb(site, "list", "codecs", "--json").stdout)["codecs"]}
    assert said.split(": ", 1)[1] in rows["jpegxr"]["status"] and not rows["jpegxr"]["usable"]
    assert "imagecodecs_not_installed_here" in rows["jpegxr"]["status"]
    res = cvb(site, "check", "codec", "jpegxr")
    assert res.returncode == 2 and said in res.stderr and "unknown" not in res.stderr, res.stderr
    res = cvb(site, "run", "-c", "jpegxr", "--vlm", "nosuchvlm", "-t", "sample", "--store", str(tmp_path / "s.db"))
    assert res.returncode == 2 and said in res.stderr, res.stderr
    res = cvb(site, "check", "codec", "jpeg-xl-typo")  # not its name: unknown, with the broken plugin beside
    assert res.returncode == 2 and "unknown codec 'jpeg-xl-typo'" in res.stderr
    assert "plugins that failed to load" in res.stderr and "jpegxr (cvb-jpegxr)" in res.stderr


def test_a_plugin_importing_torch_at_load_is_flagged(site):
    plugins = {p["name"]: p for p in json.loads(cvb(site, "plugins", "--json").stdout)["plugins"]}
    assert plugins["heavy"]["status"] == "warning" and "imports torch when it loads" in plugins["heavy"]["warning"]
    assert plugins["pillow"]["status"] == "ok"  # the built-ins load light
    res = cvb(site, "check", "codec", "heavy", "--skip", "large", "--json")
    report = json.loads(res.stdout)
    r = next(r for r in report["results"] if r["rule"].startswith("its plugin loads light"))
    assert res.returncode == 1 and r["status"] == "fail" and "imports torch" in r["detail"], res.stdout
    res = cvb(site, "check", "codec", "jpeg", "--skip", "large", "-l", "50", "--json")
    r = next(r for r in json.loads(res.stdout)["results"] if r["rule"].startswith("its plugin loads light"))
    assert res.returncode == 0 and r["status"] == "pass", res.stdout
