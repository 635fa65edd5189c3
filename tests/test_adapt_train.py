"""Distillation training on tiny random checkpoints of every supported architecture, in-process:
held-out loss falls clearly, the adapter folder reloads to the very same tokens, the condition
matters after training, and an adapter refuses a base model it was not trained on."""

from __future__ import annotations

import json

import pytest

import adapt_helpers

ARCHS = ["qwen2_5_vl", "idefics3", "llava", "internvl"]


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt_data")
    return adapt_helpers.prepared(adapt_helpers.smooth_photos(root / "photos"), root / "cache")


def test_data_split_is_by_image_and_every_cell_is_compressed(training_data):
    data, cache = training_data
    train_images = {p.image for p in data.train}
    val_images = {p.image for p in data.val}
    assert train_images and val_images and not train_images & val_images
    assert len(data.train) == 2 * len(train_images) and len(data.val) == 2 * len(val_images)
    assert all(cache.info(p.key)["bpp"] == p.bpp > 0 for p in data.train + data.val)
    assert not data.failed


@pytest.mark.parametrize("arch", ARCHS)
def test_short_training_lowers_held_out_loss(tiny_vlm_dirs, training_data, tmp_path, arch):
    data, cache = training_data
    outcome = adapt_helpers.train(tiny_vlm_dirs[arch], tmp_path / "adapter", data, cache)
    before, after = outcome.val_before, outcome.val_after
    assert set(before) == set(after) == {"jpeg/1", "jpeg/5"}
    for cell in before:  # every cell, clearly (seen: 17-37 % lower after 40 steps)
        assert after[cell] < 0.9 * before[cell], (cell, before[cell], after[cell])
    manifest = json.loads((tmp_path / "adapter" / "adapter.json").read_text())
    assert manifest["losses"]["val_before"] == pytest.approx(before)
    assert manifest["train"]["parameters"] > 0 and manifest["train"]["what"] == "full"
    assert not (tmp_path / "adapter" / "checkpoint").exists()


@pytest.fixture(scope="module")
def qwen_adapter(tiny_vlm_dirs, training_data, tmp_path_factory):
    data, cache = training_data
    out = tmp_path_factory.mktemp("qwen_adapter") / "adapter"
    adapt_helpers.train(tiny_vlm_dirs["qwen2_5_vl"], out, data, cache, steps=30, lr=1e-3)
    return out


def _images():
    from cvb.sample_images import sample_photo_paths
    from PIL import Image

    paths = sorted(sample_photo_paths().values())[:3]
    return [Image.open(p).convert("RGB").resize((90, 70)) for p in paths]


def test_adapter_reloads_to_identical_tokens_and_conditions_matter(qwen_adapter):
    import torch

    from cvb.plugins import get_registry

    images = _images()
    conditions = [("jpeg", "1"), ("jpeg", "5"), ("none", None)]
    first = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32")
    a = first.visual_tokens(images, conditions)
    again = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32")
    b = again.visual_tokens(images, conditions)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    swapped = again.visual_tokens(images, [("jpeg", "5"), ("jpeg", "1"), ("none", None)])
    assert not torch.equal(a[0], swapped[0]) and not torch.equal(a[1], swapped[1])
    assert torch.equal(a[2], swapped[2])


def test_adapter_changes_the_encoder_not_the_llm(qwen_adapter, tiny_vlm_dirs):
    from safetensors import safe_open

    with safe_open(str(qwen_adapter / "adapter.safetensors"), "pt") as f:
        names = list(f.keys())
    assert names and all(n.startswith("model.visual.") for n in names)
    assert any(".cvb_condition." in n for n in names)


def test_another_base_model_is_refused(qwen_adapter, tmp_path):
    import tiny_vlms

    from cvb.errors import UnavailableError
    from cvb.plugins import get_registry

    other = tiny_vlms.build_qwen2_5_vl(tmp_path / "other", seed=1)
    vlm = get_registry().create("vlm", f"adapted:{qwen_adapter}", base=str(other), device="cpu", dtype="fp32")
    with pytest.raises(UnavailableError, match="trained on .*another model"):
        vlm.load()
    assert vlm.model is None


def test_version_carries_the_adapter_and_its_fallbacks(qwen_adapter, tiny_vlm_dirs):
    from cvb.plugins import get_registry

    reg = get_registry()
    base = reg.create("vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}")
    adapted = reg.create("vlm", f"adapted:{qwen_adapter}")
    sha = json.loads((qwen_adapter / "adapter.json").read_text())["weights"]["sha256"]
    assert adapted.version.startswith(base.version.split(";")[0]) and f"adapter={sha[:16]}" in adapted.version
    mapped = reg.create("vlm", f"adapted:{qwen_adapter}", condition_map="x265:jpeg")
    assert mapped.version != adapted.version


def test_each_answer_gets_its_own_condition_in_a_mixed_batch(qwen_adapter):
    from cvb.plugins import get_registry
    from cvb.types import AnswerKind, Query

    img = _images()
    cells = [("jpeg", "1"), ("jpeg", "3"), ("webp", "50"), ("none", None), ("x265", "30")]
    queries = [Query(img[i % 3], "Is there a cat in the image?", AnswerKind.YESNO, codec=c, level=lv)
               for i, (c, lv) in enumerate(cells)]
    vlm = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32", mode="logits",
                                condition_map="webp:jpeg", batch_size=5)
    batch = vlm.answer(queries)
    assert [a.meta["condition"] for a in batch] == [
        "jpeg/1", "jpeg/1 (nearest to 3)", "jpeg/5 (nearest to 50) (mapped)", "unconditional", "unconditional"]
    alone = [vlm.answer([q])[0] for q in queries]
    for b, a in zip(batch, alone):  # a batch mixing conditions answers as each query alone does
        assert b.meta["logprobs"] == pytest.approx(a.meta["logprobs"], abs=1e-3)


def test_lora_adapter_saves_and_loads(tiny_vlm_dirs, training_data, tmp_path):
    import torch
    from safetensors import safe_open

    from cvb.plugins import get_registry

    data, cache = training_data
    out = tmp_path / "lora"
    adapt_helpers.train(tiny_vlm_dirs["llava"], out, data, cache, steps=4, lr=1e-3, what="lora:4")
    with safe_open(str(out / "adapter.safetensors"), "pt") as f:
        names = list(f.keys())
    assert names and all("lora_" in n or "cvb_condition" in n for n in names)
    images, cond = _images(), [("jpeg", "1")] * 3
    a = get_registry().create("vlm", f"adapted:{out}", device="cpu", dtype="fp32").visual_tokens(images, cond)
    b = get_registry().create("vlm", f"adapted:{out}", device="cpu", dtype="fp32").visual_tokens(images, cond)
    base = get_registry().create("vlm", f"hf:{tiny_vlm_dirs['llava']}", device="cpu", dtype="fp32")
    plain = base.visual_tokens([im.resize(adapt_helpers.SIZE) for im in images])
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.allclose(x, y) for x, y in zip(a, plain))


def test_images_from_a_local_dataset_copy(tmp_path):
    import datasets

    from cvb_adapt.data import list_sources

    photos = adapt_helpers.smooth_photos(tmp_path / "photos", per_side=1)
    files = sorted(str(p) for p in photos.iterdir())
    ds = datasets.Dataset.from_dict({"picture": files, "label": list(range(len(files)))})
    ds = ds.cast_column("picture", datasets.Image())
    ds.save_to_disk(str(tmp_path / "ds"))
    sources, what = list_sources([], str(tmp_path / "ds"), "train", None, 5)
    assert len(sources) == 5 and "dataset" in what
    assert sources[0].content_hash() == __import__("hashlib").sha256(open(files[0], "rb").read()).hexdigest()
    with pytest.raises(Exception, match="no column 'image'"):
        list_sources([], str(tmp_path / "ds"), "train", "image", None)


def test_prefetch_keeps_each_batch_on_its_own_condition(qwen_adapter):
    """``prefetch`` processes later batches ahead on a thread; the condition (codec, level) of
    the batch being answered must still be the one its tokens are made with."""
    from cvb.plugins import get_registry
    from cvb.types import AnswerKind, Query

    images = _images()
    conditions = [("jpeg", "1"), ("jpeg", "5"), ("none", None), ("jpeg", "1")]
    queries = [Query(images[0], "Is there a dog?", AnswerKind.YESNO, codec=c, level=lv) for c, lv in conditions]
    answers = {}
    for prefetch in ("off", "on"):
        vlm = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32",
                                    mode="logits", batch_size=1, prefetch=prefetch)
        vlm.prepare(queries)  # every batch processed before the first is answered
        answers[prefetch] = [a.meta["logprobs"] for a in vlm.answer(queries)]
    assert answers["on"] == answers["off"]
    off = answers["off"]  # the same image: only the condition differs, and it shows
    assert off[0] == off[3] and off[0] != off[1] and off[1] != off[2], off


def test_adapter_records_and_reapplies_its_image_processor_implementation(qwen_adapter):
    """Trained on one implementation's pixels (PIL or torchvision), evaluated with the same one
    wherever it runs, unless the user pins the other explicitly."""
    from cvb.plugins import get_registry
    from cvb_hf.loading import image_backend

    recorded = json.loads((qwen_adapter / "adapter.json").read_text())["processor"]["image_backend"]
    assert recorded in ("pil", "torchvision")
    vlm = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32")
    vlm.load()
    assert image_backend(vlm.processor.image_processor) == recorded
    assert f"image_backend={recorded}" in vlm.version
    other = "pil" if recorded == "torchvision" else "torchvision"
    pinned = get_registry().create("vlm", f"adapted:{qwen_adapter}", device="cpu", dtype="fp32", image_backend=other)
    pinned.load()
    assert image_backend(pinned.processor.image_processor) == other
    assert f"image_backend={other}" in pinned.version


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "llava"])
def test_bf16_autocast_moves_every_trainable_tensor(tiny_vlm_dirs, training_data, tmp_path, arch):
    """bf16 is mixed precision: fp32 master weights, bf16 autocast. Pure-bf16 AdamW at lr 1e-4
    left 29 % of the weights and every norm weight unchanged; here every trained tensor moves,
    nearly every element of it (no weight decay, so only gradient updates count), and none of
    them is a parameter the visual tokens never use (LLaVA's last CLIP layer used to be one)."""
    import torch
    from safetensors.torch import load_file

    from cvb.plugins import get_registry
    from cvb_adapt.condition import condition_embedding

    data, cache = training_data
    out = tmp_path / "bf16"
    outcome = adapt_helpers.train(tiny_vlm_dirs[arch], out, data, cache, steps=3, lr=1e-4, dtype="bf16",
                                  weight_decay=0.0)
    assert outcome.manifest["train"]["precision"] == "fp32 master weights, bf16 autocast"
    trained = load_file(str(out / "adapter.safetensors"))
    base = get_registry().create("vlm", f"hf:{tiny_vlm_dirs[arch]}", device="cpu", dtype="fp32")
    base.load()
    start = dict(base.model.named_parameters())
    torch.manual_seed(42)  # the condition embedding's initial state, as training drew it
    weight = next(k for k in trained if k.endswith("cvb_condition.mlp.0.weight"))
    first = condition_embedding(2, trained[weight].shape[0])
    for name, p in first.named_parameters():
        start[next(k for k in trained if k.endswith(f"cvb_condition.{name}"))] = p
    assert set(trained) <= set(start)
    for name, value in trained.items():
        assert value.dtype == torch.float32, name
        moved = float((value != start[name].detach().float()).float().mean())
        assert moved > 0.9, (name, moved)
    base.close()


def test_only_what_the_visual_tokens_use_trains(tiny_vlm_dirs):
    """LLaVA reads CLIP's second-to-last layer: its last layer and post_layernorm never train,
    and last:1 is the last layer that is used; Qwen uses every block and its merger."""
    from PIL import Image

    from cvb.plugins import get_registry
    from cvb_adapt.student import Student, parse_train
    from cvb_hf.vision import image_inputs

    for arch, dead in (("llava", ("encoder.layers.1.", "post_layernorm")), ("qwen2_5_vl", ())):
        vlm = get_registry().create("vlm", f"hf:{tiny_vlm_dirs[arch]}", device="cpu", dtype="fp32")
        vlm.load()
        image = Image.new("RGB", (40, 30), (120, 60, 30))

        def probe():
            return image_inputs(vlm.processor, [image], "cpu", vlm.model.dtype), 1

        names = set(Student(vlm.model, 2, parse_train("full"), probe=probe).trainable())
        vision = {n for n, _ in vlm.model.named_parameters() if ".visual." in f".{n}" or "vision_tower" in n
                  or "multi_modal_projector" in n}
        assert {n for n in vision if not any(d in n for d in dead)} - names <= {n for n in names if "cvb_" in n}
        assert not {n for n in names if any(d in n for d in dead)}
        assert len(names) > 10
        if arch == "llava":
            last = set(Student(vlm.model, 2, parse_train("last:1"), probe=probe).trainable())
            assert any("encoder.layers.0." in n for n in last) and not any("encoder.layers.1." in n for n in last)
        vlm.close()


def test_llava_onevision_native_adapter_answers_a_batch_of_mixed_aspect_ratios(tiny_vlm_dirs, training_data,
                                                                              tmp_path):
    """Trained at native resolution, evaluated on a batch mixing wide, tall and square images,
    each with its own condition: each answer is what that query alone gets."""
    from cvb.plugins import get_registry
    from cvb.types import AnswerKind, Query

    data, cache = training_data
    out = tmp_path / "ov"
    adapt_helpers.train(tiny_vlm_dirs["llava_onevision"], out, data, cache, steps=3, lr=1e-3, resolution=None)
    imgs = [im.resize(size) for im, size in zip(_images(), [(90, 40), (40, 90), (60, 60)])]
    queries = [Query(im, "Is there a cat in the image?", AnswerKind.YESNO, codec="jpeg", level=lv)
               for im, lv in zip(imgs, ["1", "5", "1"])]
    vlm = get_registry().create("vlm", f"adapted:{out}", device="cpu", dtype="fp32", mode="logits", batch_size=3)
    batch = vlm.answer(queries)
    assert [a.error for a in batch] == [None] * 3
    assert [a.meta["condition"] for a in batch] == ["jpeg/1", "jpeg/5", "jpeg/1"]
    for b, q in zip(batch, queries):
        assert b.meta["logprobs"] == pytest.approx(vlm.answer([q])[0].meta["logprobs"], abs=1e-3)


def test_cell_balance_weights_each_cell_by_its_starting_loss():
    from cvb.errors import UsageError
    from cvb_adapt.train import cell_weights

    assert cell_weights({"jpeg/1": 4.0, "jpeg/5": 1.0}, "none") is None
    w = cell_weights({"jpeg/1": 4.0, "jpeg/5": 1.0}, "cell")
    assert w == pytest.approx({"jpeg/1": 0.625, "jpeg/5": 2.5})
    assert w["jpeg/1"] * 4.0 == pytest.approx(w["jpeg/5"] * 1.0)  # every cell starts at the same loss
    with pytest.raises(UsageError, match="none, cell"):
        cell_weights({"jpeg/1": 1.0}, "tokens")


def test_first_blocks_train_with_what_feeds_them(tiny_vlm_dirs):
    """first:N = the condition, what computes the first block's input (found by autograd: Qwen's
    patch embedding, the tagger's CNN stem) and the first N blocks; nothing after them."""
    from PIL import Image

    from cvb.plugins import get_registry
    from cvb_adapt.student import Student, parse_train
    from cvb_hf.vision import image_inputs
    from cvb_reference.tagger_vision import TaggerAdapterBase

    image = Image.new("RGB", (40, 30), (120, 60, 30))
    vlm = get_registry().create("vlm", f"hf:{tiny_vlm_dirs['qwen2_5_vl']}", device="cpu", dtype="fp32")
    vlm.load()
    names = set(Student(vlm.model, 2, parse_train("first:1"),
                        probe=lambda: (image_inputs(vlm.processor, [image], "cpu", vlm.model.dtype), 1)).trainable())
    assert "model.visual.patch_embed.proj.weight" in names and any(".blocks.0." in n for n in names)
    assert not any(".blocks.1." in n or "merger" in n for n in names)
    assert any("cvb_condition" in n for n in names)
    vlm.close()

    tagger = TaggerAdapterBase()
    tagger.load()
    names = set(Student(tagger.model, 2, parse_train("first:2"),
                        probe=lambda: (tagger.processor.image_processor(images=[[image]]), 1)).trainable())
    assert {"visual.net._conv_stem.weight", "visual.net._bn0.weight"} <= names
    assert any("._blocks.1." in n for n in names) and not any("._blocks.2." in n or "_fc" in n or "_conv_head" in n
                                                             for n in names)
    assert parse_train("first:3").label == "first:3"
