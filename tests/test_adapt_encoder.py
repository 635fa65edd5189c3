"""The conditional encoder on tiny random checkpoints of the real architectures: the condition
starts as exactly nothing, reaches the encoder image by image inside one batch, and the
visual-token seam (cvb_hf.vision) gives one tensor per image for every architecture."""

from __future__ import annotations

import pytest

from cvb.plugins import get_registry
from cvb.types import Query

ARCHS = ["qwen2_5_vl", "idefics3", "llava", "internvl"]
PLACEMENT = {"qwen2_5_vl": "patch embedding", "idefics3": "position embedding", "llava": "position embedding",
             "internvl": "position embedding", "llava_onevision": "position embedding"}


def _image(w: int, h: int, seed: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def _loaded(path):
    vlm = get_registry().create("vlm", f"hf:{path}", device="cpu", dtype="fp32")
    vlm.load()
    return vlm


def _tokens(vlm, images):
    import torch

    from cvb_hf.vision import features, image_inputs

    with torch.no_grad():
        return features(vlm.model, image_inputs(vlm.processor, images, "cpu", torch.float32), len(images))


@pytest.mark.parametrize("arch", [*ARCHS, "llava_onevision"])
def test_condition_starts_at_zero_and_then_reaches_each_image(tiny_vlm_dirs, arch):
    """Images of different aspect ratios in one batch, each with its own condition (LLaVA-OneVision
    once refused such a batch: its crops per image do not follow its token counts)."""
    import torch

    from cvb_adapt.student import Student, TrainSpec
    from cvb_hf.vision import crops_per_image, image_inputs

    vlm = _loaded(tiny_vlm_dirs[arch])
    images = [_image(64, 48, 0), _image(100, 120, 1), _image(40, 40, 2)]
    base = _tokens(vlm, images)
    student = Student(vlm.model, 4, TrainSpec("full"))
    cond = student.conditioner
    assert cond.kind == PLACEMENT[arch]
    counts = [t.shape[0] for t in base]
    crops = crops_per_image(image_inputs(vlm.processor, images, "cpu", torch.float32))
    alone_crops = crops_per_image(image_inputs(vlm.processor, images[1:2], "cpu", torch.float32))
    cond.set([0, 3, 1], counts, crops)
    step0 = _tokens(vlm, images)
    assert all(torch.equal(a, b) for a, b in zip(base, step0)), "step 0 must be the base model, bit for bit"

    with torch.no_grad():  # as training would: the zero-initialised layer moves
        torch.manual_seed(0)
        student.tower.cvb_condition.mlp[2].weight.normal_(std=0.5)
    mixed = _tokens(vlm, images)
    assert all((a - b).abs().max() > 1e-3 * a.abs().max() for a, b in zip(base, mixed))
    cond.set([2, 3, 1], counts, crops)  # only the first image's condition changes...
    other = _tokens(vlm, images)
    assert not torch.equal(other[0], mixed[0])
    assert torch.equal(other[1], mixed[1]) and torch.equal(other[2], mixed[2])  # ...only its tokens do
    cond.set([-1, 3, 1], counts, crops)  # unconditional adds nothing
    assert torch.equal(_tokens(vlm, images)[0], base[0])
    alone = [_image(100, 120, 1)]
    cond.set([3], counts[1:2], alone_crops)
    assert torch.allclose(_tokens(vlm, alone)[0], mixed[1], atol=1e-6)  # batch-mates do not matter


@pytest.mark.parametrize("arch", ARCHS)
def test_visual_tokens_are_what_the_llm_reads(tiny_vlm_dirs, arch):
    """One tensor per image, as many rows as the prompt has image tokens (InternVL: all crops)."""
    vlm = get_registry().create("vlm", f"hf:{tiny_vlm_dirs[arch]}", device="cpu", dtype="fp32")
    images = [_image(64, 48, 0), _image(120, 30, 2), _image(40, 40, 3)]
    tokens = vlm.visual_tokens(images)
    assert len(tokens) == 3
    image_id = vlm.model.config.image_token_id
    for image, t in zip(images, tokens):
        enc = vlm.encode([Query(image, "q")], ["q"])
        assert int((enc["input_ids"] == image_id).sum()) == t.shape[0]


def test_lora_and_last_blocks_train_only_their_part(tiny_vlm_dirs):
    from cvb_adapt.student import Student, parse_train

    vlm = _loaded(tiny_vlm_dirs["qwen2_5_vl"])
    names = set(Student(vlm.model, 4, parse_train("lora:4")).trainable())
    assert names and all("lora_" in n or "cvb_condition" in n for n in names)
    assert any("cvb_condition" in n for n in names)
    vlm2 = _loaded(tiny_vlm_dirs["qwen2_5_vl"])
    names = set(Student(vlm2.model, 4, parse_train("last:1")).trainable())
    assert any(".blocks.1." in n for n in names) and not any(".blocks.0." in n for n in names)
    assert any(".merger." in n for n in names)
    assert not any("language_model" in n or "lm_head" in n for n in names)


def test_the_papers_rotary_placement_cancels_out(tiny_vlm_dirs):
    """RoPE attention sees only angle differences; one offset on every patch of an image cancels.
    Even a large offset, with attention made sharp, moves Qwen's tokens only by float rounding,
    while the same condition on the patch embedding moves them for real."""
    import torch

    from cvb_adapt.student import Student, TrainSpec

    images = [_image(64, 48, 0), _image(100, 120, 1)]
    moved = {}
    for placement in ("rotary", "embedding"):
        vlm = _loaded(tiny_vlm_dirs["qwen2_5_vl"])
        with torch.no_grad():
            for block in vlm.model.model.visual.blocks:
                block.attn.qkv.weight.mul_(20)  # sharp attention, as in a trained model
        base = _tokens(vlm, images)
        student = Student(vlm.model, 2, TrainSpec("full"), placement)
        with torch.no_grad():
            student.tower.cvb_condition.mlp[2].bias.fill_(1.0)  # one radian on every angle
        student.conditioner.set([0, 1], [t.shape[0] for t in base])
        moved[placement] = max(((a - b).abs().max() / a.abs().max()).item()
                               for a, b in zip(base, _tokens(vlm, images)))
    assert moved["rotary"] < 1e-4 < 1e-2 < moved["embedding"], moved


def test_mllama_visual_tokens_are_the_states_its_llm_cross_attends_to(tiny_vlm_dirs):
    """Mllama has no image tokens: its LLM reads projected vision states through cross-attention.
    ``visual_tokens`` gives those of each image's real tiles (1, 2 and 4 tiles here)."""
    import torch

    vlm = _loaded(tiny_vlm_dirs["mllama"])
    images = [_image(28, 28, 0), _image(56, 28, 1), _image(64, 48, 2)]
    tokens = vlm.visual_tokens(images)
    inputs = vlm.processor.image_processor(images=[[im] for im in images], return_tensors="pt")
    tiles = inputs["aspect_ratio_mask"].sum(-1).flatten().tolist()
    assert tiles == [1, 2, 4]
    inner = vlm.model.model
    with torch.no_grad():
        states = inner.vision_model(pixel_values=inputs["pixel_values"], aspect_ratio_ids=inputs["aspect_ratio_ids"],
                                    aspect_ratio_mask=inputs["aspect_ratio_mask"]).last_hidden_state
        states = inner.multi_modal_projector(states)  # what the cross-attention layers read
    per_tile = states.shape[-2]
    for i, (t, n) in enumerate(zip(tokens, tiles)):
        assert t.shape == (n * per_tile, vlm.model.config.text_config.hidden_size)
        assert torch.allclose(t, states[i, 0, :n].reshape(-1, states.shape[-1]), atol=1e-6)


def test_idefics3_crops_are_grouped_per_image_when_the_model_returns_one_set_per_crop(tiny_vlm_dirs):
    """transformers 5.17 (seen on a GPU machine) returns Idefics3's features one set per real crop,
    5.24 one per image; images cut into different numbers of tiles must come back per image
    either way, so the teacher/student token grids of SmolVLM match."""
    import torch

    from cvb_hf.vision import features, image_inputs

    vlm = _loaded(tiny_vlm_dirs["idefics3"])
    images = [_image(w, h, seed) for seed, (w, h) in enumerate([(56, 56), (200, 90), (40, 30)])]
    inputs = image_inputs(vlm.processor, images, "cpu", torch.float32)

    class PerCrop:  # the older transformers' shape of the same numbers
        config = vlm.model.config

        def get_image_features(self, pixel_values, pixel_attention_mask=None):
            per_image = vlm.model.get_image_features(pixel_values=pixel_values,
                                                     pixel_attention_mask=pixel_attention_mask)
            per_image = getattr(per_image, "pooler_output", per_image)
            tokens = vlm.processor.image_seq_len
            return torch.cat([t.reshape(-1, tokens, t.shape[-1]) for t in per_image])

    with torch.no_grad():
        expected = features(vlm.model, inputs, len(images))
        grouped = features(PerCrop(), inputs, len(images))
    assert len({t.shape[0] for t in expected}) > 1  # the images really have different tile counts
    assert [t.shape for t in grouped] == [t.shape for t in expected]
    assert all(torch.equal(a, b) for a, b in zip(grouped, expected))
