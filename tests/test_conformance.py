"""The conformance kit: the built-ins pass it, and each rule catches the plugin bug it is for."""

from __future__ import annotations

import json
import os
import random
import subprocess

import pytest
from PIL import Image

from cvb.codecs.base import BaseCodec
from cvb.errors import CodecRefusal
from cvb.sample_images import sample_photo_paths
from cvb.testing import FakeCodec, ScriptedVLM, check_codec, check_metric, check_task, check_vlm
from cvb.types import Answer, AnswerKind, ImageSource, Sample, TaskScore

from conftest import VENV_BIN
from hang_guard import HANG_S

FAST = ("jpeg", "webp", "jpeg2000", "avif")
#: codecs whose 4000x3000 rule costs 3-6 s each here: CI checks them on one photo, without it
SLOW = ("heif", "jxl", "x265", "ffmpeg-av1")
#: one learned codec per entropy-model family (CI time: 7-20 s each here). The rules exercise
#: cvb's shared LearnedCodec/CompressAI path (padding, framing, level byte, fresh-process decode);
#: what differs between zoo models is the entropy model, so CI checks one of each:
#: factorized prior (bmshj2018-factorized; entropy bottleneck only), mean-scale hyperprior
#: (mbt2018-mean: the Gaussian conditional, as bmshj2018-hyperprior), serial autoregressive
#: context (mbt2018: as cheng2020-anchor/-attn, the slowest family) and elic2022 (checkerboard
#: + channel context, cvb's own). `cvb check codec NAME` runs the others on any machine.
LEARNED = ("bmshj2018-factorized", "mbt2018-mean", "mbt2018", "elic2022")


def statuses(report) -> dict[str, str]:
    return {r.rule: r.status for r in report.results}


def rule(report, prefix: str):
    return next(r for r in report.results if r.rule.startswith(prefix))


@pytest.fixture(scope="module")
def chelsea():
    return str(sample_photo_paths()["chelsea"])


# ---- the built-ins pass ---------------------------------------------------------------------
@pytest.mark.parametrize("name", FAST)
def test_builtin_codecs_pass_every_rule(name):
    report = check_codec(name).raise_for_failures()
    assert set(statuses(report).values()) <= {"pass", "info"}
    assert "mean bpp" in rule(report, "bpp rises").detail


@pytest.mark.parametrize("name", SLOW)
def test_slow_builtin_codecs_pass_on_one_photo(name, chelsea):
    reason = "CI time: 3-6 s per codec here; `cvb check codec NAME` runs it"
    report = check_codec(name, images=[chelsea], skip={"large": reason}).raise_for_failures()
    assert rule(report, "size 4000x3000").status == "skip" and rule(report, "size 4000x3000").detail == reason
    assert statuses(report)["bitstream decodes in a fresh process"] == "pass"


@pytest.mark.parametrize("name", LEARNED)
def test_learned_builtin_codecs_pass_with_random_weights(name):
    """Random weights code real bitstreams but neither order rates nor give the picture back, so
    those rules are skipped with their reason (and the floor really fails without the skip);
    the rest runs on a small crop at the lowest level (CI time)."""
    crop = Image.open(sample_photo_paths()["chelsea"]).convert("RGB").crop((100, 50, 164, 114))
    random_weights = {"rate": "random weights (pretrained=false) do not order rates",
                      "fidelity": "random weights (pretrained=false) decode noise",
                      "large": "CI time: minutes per learned codec on CPU"}
    report = check_codec(name, options={"pretrained": False}, images=[crop], levels=["1"],
                         skip=random_weights).raise_for_failures()
    assert statuses(report)["bitstream decodes in a fresh process"] == "pass"
    assert statuses(report)["the registered spec and the object agree"] == "pass"
    assert statuses(report)["encoding is deterministic"] == "pass"


@pytest.mark.parametrize("name", ("psnr", "ssim", "ms-ssim"))
def test_builtin_metrics_pass(name):
    check_metric(name).raise_for_failures()


def test_metrics_without_weights_fail_at_create_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    report = check_metric("lpips")
    assert not report.ok and rule(report, "create").status == "fail"
    assert "not usable here" in rule(report, "create").detail


def test_builtin_sample_task_passes():
    report = check_task("sample").raise_for_failures()
    assert "acc = 100" in rule(report, "score() is a pure").detail


def test_builtin_folder_task_passes(tmp_path):
    for name, path in list(sample_photo_paths().items())[:3]:
        Image.open(path).convert("RGB").resize((64, 48)).save(tmp_path / f"{name}.png")
    check_task(f"folder:{tmp_path}", limit=4).raise_for_failures()


def test_builtin_reference_vlm_passes():
    check_vlm("reference").raise_for_failures()


def test_hf_vlm_on_a_tiny_checkpoint_passes(tiny_vlm_dirs):
    from cvb.conformance.vlm_checks import held_weights, make_queries
    from cvb.plugins import get_registry

    check_vlm(f"hf:{tiny_vlm_dirs['qwen2_5_vl']}").raise_for_failures()
    vlm = get_registry().create("vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}")
    vlm.answer(make_queries()[:1])
    assert held_weights(vlm), "the lazy-loading rule must see a loaded model"
    vlm.close()
    assert not held_weights(vlm)


# ---- each rule catches its bug ----------------------------------------------------------------
class Backwards(FakeCodec):
    default_levels = ("6", "4", "2", "1")  # highest rate first


class Forgetful(FakeCodec):
    """Keeps the image size in the instance instead of the bitstream."""

    def encode(self, image, level):
        self.size = image.size
        return super().encode(image, level)[5:]

    def decode(self, bits):
        import numpy as np
        import zlib

        w, h = self.size
        q = np.frombuffer(zlib.decompress(bits), dtype=np.uint8).reshape(h, w, 3)
        return Image.fromarray(q * 2, "RGB")


class Noisy(FakeCodec):
    def encode(self, image, level):
        return super().encode(image, level) + bytes([random.randrange(256)])

    def decode(self, bits):
        return super().decode(bits[:-1])


class Fragile(FakeCodec):
    """Crashes with a raw exception on odd sizes; refuses 1x1 properly."""

    def encode(self, image, level):
        if image.size == (1, 1):
            raise CodecRefusal("fragile: 1x1 is too small to code")
        if image.width % 2:
            raise ValueError("index out of range")
        return super().encode(image, level)


class Shrinking(FakeCodec):
    def decode(self, bits):
        out = super().decode(bits)
        return out.crop((0, 0, out.width - 1, out.height))


class NoVersion(BaseCodec):
    name, version, default_levels, level_min, level_max = "noversion", "", ("1",), 1, 2


def test_a_correct_codec_object_passes_every_rule():
    report = check_codec(FakeCodec(), skip={"large": "not needed here"})
    assert report.ok, report.text()
    assert statuses(report)["bitstream decodes in a fresh process"] == "pass"


@pytest.mark.parametrize("codec,rule_prefix,reason", [
    (Backwards(), "default levels parse", "not lowest rate first"),
    (Forgetful(), "bitstream decodes in a fresh process", "decoding alone failed"),
    (Noisy(), "encoding is deterministic", "different bitstreams"),
    (Fragile(), "size 17x9", "crashed with ValueError"),
    (Shrinking(), "decode(encode(x))", "decoded size"),
    (NoVersion(), "name, kind and version", "version must be a non-empty string"),
])
def test_each_codec_rule_catches_its_bug(codec, rule_prefix, reason):
    report = check_codec(codec, skip={"large": "not needed here"})
    assert not report.ok
    r = rule(report, rule_prefix)
    assert r.status == "fail" and reason in r.detail, report.text()
    with pytest.raises(AssertionError, match=reason):
        report.raise_for_failures()


def test_refusing_a_size_with_codec_refusal_passes():
    report = check_codec(Fragile(), skip={"large": "-", "odd": "-"})
    assert rule(report, "size 1x1").status == "pass" and "too small" in rule(report, "size 1x1").detail


def test_a_codec_that_says_it_is_not_deterministic_is_not_held_to_it():
    class Declared(Noisy):
        deterministic = False

    report = check_codec(Declared(), skip={"large": "-"})
    assert rule(report, "encoding is deterministic").status == "skip"
    assert rule(report, "bitstream decodes").status == "skip"  # a local class cannot be pickled
    assert "pickle" in rule(report, "bitstream decodes").detail


class EagerVLM(ScriptedVLM):
    def __init__(self, **kw):
        import torch

        super().__init__(**kw)
        self.net = torch.nn.Linear(2, 2)


class BatchSensitiveVLM(ScriptedVLM):
    def answer(self, queries):
        return [Answer(text=f"{a.text}/{len(queries)}") for a in super().answer(queries)]


class ShortVLM(ScriptedVLM):
    def answer(self, queries):
        return super().answer(queries)[:-1] if len(queries) > 1 else super().answer(queries)


def test_scripted_vlm_passes_and_bad_vlms_fail():
    assert check_vlm(ScriptedVLM()).ok
    cases = [(EagerVLM(), "weights load lazily", "EagerVLM.net"),
             (BatchSensitiveVLM(), "a batch answers", "in a batch"),
             (ShortVLM(), "a batch answers", "3 answers to 4 queries")]
    for vlm, prefix, reason in cases:
        report = check_vlm(vlm)
        r = rule(report, prefix)
        assert r.status == "fail" and reason in r.detail, report.text()


class ToyTask:
    name, version = "toy", "1"

    def __init__(self, shuffle=False, mutate=False):
        self.shuffle, self.mutate = shuffle, mutate
        self.image = ImageSource("img", path=str(sample_photo_paths()["chelsea"]))

    def samples(self, limit=None):
        ids = list(range(10))
        if self.shuffle:
            random.shuffle(ids)
        for i in ids[:limit]:
            yield Sample(f"s{i}", self.image, f"q{i}?", AnswerKind.YESNO, "yes" if i % 2 else "no")

    def judge(self, sample, prediction):
        return float(prediction == sample.answer)

    def score(self, samples, predictions, reference=None):
        if self.mutate:
            predictions.pop(next(iter(predictions)))
        right = [self.judge(s, predictions.get(s.id, "")) for s in samples]
        return TaskScore(100 * sum(right) / len(right), "acc")


def test_task_rules():
    assert check_task(ToyTask()).ok
    shuffled = check_task(ToyTask(shuffle=True))
    assert rule(shuffled, "samples come in a fixed order").status == "fail"
    mutating = check_task(ToyTask(mutate=True))
    assert rule(mutating, "score() is a pure").status == "fail"
    assert "changed its inputs" in rule(mutating, "score() is a pure").detail


class StreamedToyTask(ToyTask):
    """ToyTask with a streamed scorer; ``off_by_one`` makes it disagree with score()."""

    def __init__(self, off_by_one=False):
        super().__init__()
        self.off_by_one = off_by_one

    def scorer(self):
        from cvb.scoring.tally import Tally

        def finish(counts):
            n = sum(counts.values()) + self.off_by_one
            return TaskScore(100 * sum(k * ok for ok, k in counts.items()) / n, "acc")
        return Tally(lambda s, pred, ref: self.judge(s, pred or ""), finish)


def test_task_streamed_scorer_is_checked_against_score():
    assert rule(check_task(ToyTask()), "scorer() gives").status == "skip"  # the older shape: no scorer
    assert rule(check_task(StreamedToyTask()), "scorer() gives").status == "pass"
    r = rule(check_task(StreamedToyTask(off_by_one=True)), "scorer() gives")
    assert r.status == "fail" and "streamed acc" in r.detail


class Inverted:
    name, higher_is_better = "inverted", True

    def measure(self, reference, distorted):
        from cvb_metrics.psnr import psnr_db
        import numpy as np

        return -psnr_db(np.asarray(reference), np.asarray(distorted))


def test_metric_direction_is_checked():
    r = rule(check_metric(Inverted()), "better images score better")
    assert r.status == "fail" and "worse than JPEG q75" in r.detail


# ---- the command line -------------------------------------------------------------------------
def cvb(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(VENV_BIN / "cvb"), *args], capture_output=True, text=True, env=env, timeout=HANG_S)


def test_cli_check_passes_prints_a_table_and_json():
    res = cvb("check", "codec", "jpeg", "--skip", "large")
    assert res.returncode == 0, res.stderr
    assert "bpp rises with the level" in res.stdout and "PASSED" in res.stdout
    assert "--skip on the command line" in res.stdout
    res = cvb("check", "metric", "psnr", "--json")
    data = json.loads(res.stdout)
    assert res.returncode == 0 and data["ok"] and data["category"] == "metric"


def test_cli_check_failures_and_usage_errors():
    res = cvb("check", "codec", "nosuch")
    assert res.returncode == 2 and "known codecs:" in res.stderr and "jpeg" in res.stderr
    res = cvb("check", "codec", "jpeg", "-l", "30,500")
    assert res.returncode == 2 and "no level '500'" in res.stderr
    res = cvb("check", "task", "sample", "--skip", "large")
    assert res.returncode == 2 and "only apply to `cvb check codec`" in res.stderr
    res = cvb("check", "metric", "lpips", "--json")
    assert res.returncode == 1 and not json.loads(res.stdout)["ok"]
