"""What a plugin returns is checked at the protocol boundary (``cvb.plugin_returns``): a codec
whose ``decode`` returns None, a VLM whose ``answer`` returns plain strings, a metric returning
None fail their own units with an error naming the plugin; the run goes on and stores the rest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from cvb import plugin_returns
from cvb.errors import CodecError, PluginReturnError
from cvb.types import Answer, AnswerKind, ImageSource, Sample

sys.path.insert(0, str(Path(__file__).parent / "plugins" / "cvb-fakes"))

from cvb_fakes import make_images
from cvb_fakes.harness import counts, spawn
from hang_guard import HANG_S


def _run(tmp_path, *extra):
    folder = make_images(tmp_path / "imgs", 4)
    store = tmp_path / "r.sqlite"
    proc = spawn(["run", "--task", f"toy:{folder}", "--store", str(store), "--cache-dir", str(tmp_path / "c"),
                  "--json", "-q", *extra])
    out, err = proc.communicate(timeout=HANG_S)
    assert "Traceback" not in err, err[-3000:]
    return proc.returncode, out, err, store


@pytest.mark.parametrize("lie,message", [
    ("decode-none", "codec 'liar' level 4: decode returned None, not a PIL image"),
    ("encode-str", "codec 'liar' level 4: encode returned a str, not bytes"),
    ("decode-size", "codec 'liar' level 4: decoded size (33, 32) != original (32, 32)"),
])
def test_a_codec_breaking_its_protocol_fails_its_units_and_the_run_goes_on(tmp_path, lie, message):
    code, out, err, store = _run(tmp_path, "--vlm", "scripted", "--codec", "liar,fake", "--levels", "liar=4",
                                 "--levels", "fake=4", "--metric", "mse", "-o", f"liar.lie={lie}")
    assert code == 1, err[-2000:]  # failures: exit 1, everything else done
    result = json.loads(out)
    compress = [f for f in result["failures"] if f["stage"] == "compress"]
    assert len(compress) == 4 and all(message in f["error"] for f in compress)
    cells = {(c["codec"], c["level"]): c for c in result["cells"]}
    assert cells[("fake", "4")]["score"] is not None and cells[("none", "-")]["score"] is not None
    assert cells[("liar", "4")]["n_failed"] == 8
    assert counts(store)["compressed"] == 8  # 4 fake + 4 failed liar rows, all stored


def test_a_vlm_answering_plain_strings_fails_those_samples_naming_it(tmp_path):
    code, out, err, store = _run(tmp_path, "--vlm", "scripted", "--codec", "fake", "--levels", "4",
                                 "--metric", "none", "-o", "scripted.str_on=img0001")
    assert code == 1, err[-2000:]
    result = json.loads(out)
    failed = [f for f in result["failures"] if f["stage"] == "predict"]
    assert {f["item"] for f in failed} == {"img0001_textured-q0", "img0001_textured-q1"}
    assert all("vlm 'scripted[str_on=img0001]': answer() returned a str at position 0, not a "
               "cvb.types.Answer" in f["error"] for f in failed)
    assert counts(store)["predictions"] == 2 * 8  # every sample of both cells stored


def test_a_vlm_answering_only_plain_strings_stops_with_a_clear_error(tmp_path):
    """Every query of its first batch broken: a broken model, as when answer() raises."""
    code, out, err, store = _run(tmp_path, "--vlm", "scripted", "--codec", "fake", "--levels", "4",
                                 "--metric", "none", "-o", "scripted.str_on=img")
    assert code == 1
    assert "failed on every query of its first batch: vlm 'scripted[str_on=img]': answer() returned a str" in err
    # compression runs beside inference: what it finished before the model failed is kept, and
    # a rerun with a working model compresses only the rest
    kept = counts(store)["compressed"]
    assert kept <= 4
    code, out, err, store = _run(tmp_path, "--vlm", "scripted", "--codec", "fake", "--levels", "4",
                                 "--metric", "none")
    assert code == 0, err[-2000:]
    assert json.loads(out)["work"]["compressed"] == 4 - kept and counts(store)["compressed"] == 4


def test_a_metric_returning_none_fails_its_values_naming_it(tmp_path):
    code, out, err, store = _run(tmp_path, "--vlm", "scripted", "--codec", "fake", "--levels", "4",
                                 "--metric", "mse", "-o", "mse.broken=true")
    assert code == 1, err[-2000:]
    result = json.loads(out)
    metric = [f for f in result["failures"] if f["stage"] == "metric"]
    assert len(metric) == 4
    assert all("metric 'mse[broken=True]': measure returned None, not a number" in f["error"] for f in metric)
    assert all(c["score"] is not None for c in result["cells"])


# ---- the checks themselves --------------------------------------------------------------------

def test_answers_check():
    good = [Answer("Yes"), Answer("", error="x")]
    assert plugin_returns.answers("v", iter(good), 2) == good  # any iterable of Answers
    for bad, msg in [(None, "returned None, not a list"), ("Yes", "returned a str, not a list"),
                     ([Answer("a")], "returned 1 answers to 2 queries"),
                     ([Answer("a"), {"text": "b"}], "a dict at position 1"),
                     ([Answer("a"), Answer(None)], "answer 1 has text None")]:
        with pytest.raises(PluginReturnError, match=f"vlm 'v': .*{msg}"):
            plugin_returns.answers("v", bad, 2)


def test_codec_checks():
    assert plugin_returns.bitstream("c", "1", memoryview(b"ab")) == b"ab"
    with pytest.raises(CodecError, match="encode returned no bitstream"):
        plugin_returns.bitstream("c", "1", b"")
    im = Image.new("L", (4, 3))
    assert plugin_returns.decoded_image("c", "1", im, (4, 3)).mode == "RGB"
    with pytest.raises(CodecError, match="decode returned a numpy.ndarray, not a PIL image"):
        import numpy as np

        plugin_returns.decoded_image("c", "1", np.zeros((3, 4, 3)), (4, 3))


def test_metric_and_task_checks():
    import numpy as np

    assert plugin_returns.metric_value("m", np.float32(2.5)) == 2.5
    assert plugin_returns.metric_value("m", float("inf")) == float("inf")
    for bad in (None, "3.5", True, [1.0]):
        with pytest.raises(PluginReturnError, match="metric 'm': measure returned"):
            plugin_returns.metric_value("m", bad)
    s = Sample("a", ImageSource("k", data=b""), "q?", AnswerKind.YESNO)
    assert plugin_returns.samples("t", [s]) == [s]
    with pytest.raises(PluginReturnError, match="task 't': samples\\(\\) yielded a dict at position 1"):
        plugin_returns.samples("t", [s, {"id": "b"}])
