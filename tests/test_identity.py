"""A component's identity (``cvb.identity``): its canonical reference and the options that can
change its results, declared once by its plugin (``Option(..., affects_results=False)``)."""

from __future__ import annotations

import pickle

import pytest

from cvb.identity import Identity, answers_label, label_of, ref_of, scoring_of
from cvb.plugins import get_registry
from cvb.specs import CodecSpec, Option, VLMSpec


@pytest.fixture(scope="module")
def registry():
    return get_registry()


def test_a_speed_option_names_an_adapted_vlm_as_it_names_its_hf_base(registry):
    """The bug: the adapted VLM's spec did not repeat hf's list of speed options, so
    ``prefetch=on`` filed its answers apart from the same model's without it."""
    for name in ("hf", "adapted", "adapted-base"):
        spec = registry.spec("vlm", name)
        assert label_of(spec, f"{name}:/x", {"prefetch": "on"}) == f"{name}:/x"
        assert label_of(spec, f"{name}:/x", {"prefetch": "on", "mode": "logits"}) == f"{name}:/x[mode=logits]"
        assert not spec.affects_results("prefetch") and spec.affects_results("max_new_tokens")


def test_a_local_model_folder_is_one_identity_however_it_is_written(registry, tmp_path, monkeypatch):
    (tmp_path / "tiny-qwen").mkdir()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    spec = registry.spec("vlm", "hf")
    labels = {label_of(spec, ref, {}) for ref in ("hf:tiny-qwen", "hf:./tiny-qwen", f"hf:{tmp_path}/tiny-qwen",
                                                  "hf:sub/../tiny-qwen")}
    assert labels == {f"hf:{(tmp_path / 'tiny-qwen').resolve()}"}
    # a hub id (no such folder here) and a task's ARG (not declared a path) stay as written
    assert label_of(spec, "hf:Qwen/Qwen2.5-VL-3B-Instruct", {}) == "hf:Qwen/Qwen2.5-VL-3B-Instruct"
    assert label_of(registry.spec("task", "folder"), "folder:tiny-qwen", {}) == "folder:tiny-qwen"


def test_options_are_sorted_and_only_those_that_change_results():
    spec = VLMSpec("m", "x:y", options={"b": "", "a": "", "slow": Option("", affects_results=False)},
                   execution_options=("older",))
    ident = Identity.of(spec, "m:ARG", {"b": 2, "a": True, "slow": 1, "older": 1, "device": "cuda",
                                        "batch_size": 4, "threads": 2, "concurrency": 3})
    assert ident == Identity("m", "ARG", (("a", "True"), ("b", "2")))
    assert ident.label == str(ident) == "m:ARG[a=True,b=2]"
    # a codec keeps threads (some encoders' bitstreams depend on them); only device is speed-only
    codec = CodecSpec("c", "x:y")
    assert codec.affects_results("threads") and not codec.affects_results("device")


@pytest.mark.parametrize("label", ["pope", "hf:Qwen/X", "hf:/abs/path", "hf:Qwen/X[mode=logits]",
                                   "ssim[downsample=True]", "pope[judge=x,protocol=vlmevalkit,split=all]",
                                   "openai:m[base_url=http://a:1/v1,http://b:2/v1,temperature=0.5]",
                                   "folder:/data/img[0-9]*.png", "lmms-eval:mme:/data/mme"])
def test_a_label_parses_back_to_the_identity_that_writes_it(label):
    assert Identity.parse(label).label == label


def test_parsing_a_label_gives_its_parts():
    ident = Identity.parse("openai:m[base_url=http://a:1/v1,http://b:2/v1,temperature=0.5]")
    assert (ident.name, ident.arg) == ("openai", "m")
    assert dict(ident.options) == {"base_url": "http://a:1/v1,http://b:2/v1", "temperature": "0.5"}
    assert Identity.parse("folder:/data/img[0-9]*.png") == Identity("folder", "/data/img[0-9]*.png")
    assert answers_label("pope[judge=x,protocol=vlmevalkit,split=all]") == "pope[split=all]"
    assert answers_label("pope[protocol=vlmevalkit]") == "pope"
    assert scoring_of("pope[judge=x,protocol=vlmevalkit]") == {"protocol": "vlmevalkit", "judge": "x"}
    assert scoring_of("pope") == {"protocol": "cvb", "judge": None}
    assert ref_of("ssim[downsample=True]") == "ssim" and ref_of("hf:Qwen/X[mode=logits]") == "hf:Qwen/X"


def test_a_declared_option_is_its_help_text_and_keeps_its_flag_through_pickle():
    opt = Option("socket timeout", affects_results=False)
    assert opt == "socket timeout" and isinstance(opt, str)
    again = pickle.loads(pickle.dumps(opt))
    assert again == opt and again.affects_results is False
    assert Option("quality").affects_results is True


def test_every_bundled_plugin_declares_its_speed_options_with_the_option(registry):
    """One declaration per option: no bundled spec still uses the older parallel list."""
    for category in ("vlm", "codec", "task", "metric"):
        for spec in registry.specs(category):
            assert not spec.execution_options, (category, spec.name)
    assert not registry.spec("vlm", "openai").affects_results("timeout")
    assert registry.spec("vlm", "openai").affects_results("temperature")
    assert not registry.spec("codec", "x265").affects_results("timeout")
