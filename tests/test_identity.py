"""A component's identity (``cvb.identity``): its canonical reference and the options that can
change its results, declared once by its plugin (``Option(..., affects_results=False)``)."""

from __future__ import annotations

import pickle

import pytest

from cvb.identity import Identity, answers_label, label_of, ref_of, scoring_of, stored_label
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
    assert label_of(spec, "hf:Qwen/Qwen2.5-VL-72B-Instruct", {}) == "hf:Qwen/Qwen2.5-VL-72B-Instruct"
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
    prefetching = [s for s in registry.specs("vlm") if "prefetch" in s.options]
    assert len(prefetching) > 3 and not any(s.affects_results("prefetch") for s in prefetching)
    assert not registry.spec("vlm", "openai").affects_results("timeout")
    assert registry.spec("vlm", "openai").affects_results("temperature")
    assert not registry.spec("codec", "x265").affects_results("timeout")


def test_a_label_an_older_cvb_wrote_reads_as_the_identity_it_names_now(registry, tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    monkeypatch.chdir(tmp_path)
    now = f"hf:{tmp_path.resolve() / 'm'}[mode=logits]"
    for old in ("hf:./m[mode=logits]", "hf:m[mode=logits,prefetch=on]", now):
        assert Identity.read(registry.spec("vlm", "hf"), old).label == now
    adapted = Identity.read(registry.spec("vlm", "adapted"), "adapted:m[prefetch=on]")
    assert adapted.label == f"adapted:{tmp_path.resolve() / 'm'}"
    assert Identity.read(registry.spec("vlm", "hf"), "hf:./gone").label == "hf:./gone"  # no such folder: as written


def test_adopting_an_earlier_label_moves_only_that_models_answers(tmp_path):
    from cvb.run.store import Store
    from cvb.run.store_rows import PredictionRow

    def answer(vlm, sample, version, error=None):
        return PredictionRow("t", "1", sample, vlm, version, "none", "-", "k", "p", "yes", None, 1.0, error, 0.1)

    with Store(tmp_path / "r.sqlite") as store:
        run = store.begin_run({"cvb_version": "0", "argv": [], "options": {}, "plugins": [], "prompts": {}})
        store.save_predictions([answer("hf:./m", "a", "v1"), answer("hf:./m", "b", "v0"),
                                answer("hf:./m", "c", None, "no model"), answer("hf:/m", "a", "v1")], run)
        assert store.adopt_vlm_label("hf:/m", ["hf:./m"], "v1") == 1  # c; a is there, b is another model
        rows = store.conn.execute("SELECT vlm, sample_id FROM predictions ORDER BY vlm, sample_id").fetchall()
        assert rows == [("hf:./m", "a"), ("hf:./m", "b"), ("hf:/m", "a"), ("hf:/m", "c")]
        assert store.adopt_vlm_label("hf:/m", ["hf:./m"], None) == 1  # any version: b (a stays: taken)


def test_a_typed_name_finds_the_label_its_folder_is_stored_under(tmp_path, monkeypatch):
    (tmp_path / "adapter").mkdir()
    monkeypatch.chdir(tmp_path)
    stored = [f"adapted:{tmp_path.resolve() / 'adapter'}[mode=logits]", "hf:Qwen/X"]
    assert stored_label("adapted:adapter[mode=logits]", stored) == stored[0]
    assert stored_label("adapted:./adapter[mode=logits]", stored) == stored[0]
    assert stored_label("hf:Qwen/X", stored) == "hf:Qwen/X"
    assert stored_label("adapted:adapter", stored) == "adapted:adapter"  # no such label: as typed, to be refused
