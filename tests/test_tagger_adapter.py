"""The reference tagger through the adapter seam, on its real ImageNet weights.

The seam model computes exactly what EfficientNet-Lite0 computes; the condition cvb_adapt adds
after its stem is zero at the start and, once non-zero, moves each image of a mixed batch by its
own condition only; an adapter folder written for the tagger loads back as ``adapted:PATH`` and
answers through the tagger's rules with the condition it used.
"""

from __future__ import annotations

import pytest

pytest.importorskip("efficientnet_lite_pytorch")  # a cvb dependency: present wherever setup.sh ran

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def photos():
    from PIL import Image

    from cvb.sample_images import sample_photo_paths

    paths = sample_photo_paths()
    return [Image.open(paths[k]).convert("RGB") for k in ("chelsea", "coffee", "rocket")]


@pytest.fixture(scope="module")
def base():
    from cvb_reference.tagger_vision import TaggerAdapterBase

    torch.set_num_threads(1)
    b = TaggerAdapterBase()
    b.load()
    return b


def test_seam_model_is_efficientnet_bit_for_bit(base, photos):
    from cvb_reference.classifier import VIEWS, build_network
    from cvb_reference.tagger_vision import pixel_values

    from cvb_hf.vision import features, find_projector, find_vision_tower, image_inputs

    x = pixel_values(photos, VIEWS)
    with torch.no_grad():
        want = build_network("cpu")(x).reshape(len(photos), len(VIEWS), -1)
        got = features(base.model, image_inputs(base.processor, photos, "cpu", base.model.dtype), len(photos))
    assert find_vision_tower(base.model) is base.model.visual and find_projector(base.model) is None
    assert [tuple(t.shape) for t in got] == [(len(VIEWS), 1000)] * len(photos)
    assert all(torch.equal(g, w) for g, w in zip(got, want))


def test_training_mode_keeps_inference_normalisation(base, photos):
    """Batch norm on ImageNet statistics, no dropout or drop-connect: the student in training mode
    computes the base model, and its running statistics never move."""
    from cvb_hf.vision import features, image_inputs

    inputs = image_inputs(base.processor, photos, "cpu", base.model.dtype)
    stats = base.model.visual.net._bn0.running_mean.clone()
    with torch.no_grad():
        before = features(base.model, inputs, len(photos))
        base.model.visual.train(True)
        during = features(base.model, inputs, len(photos))
        base.model.visual.train(False)
    assert base.model.visual.training is False
    assert all(torch.equal(a, b) for a, b in zip(before, during))
    assert torch.equal(stats, base.model.visual.net._bn0.running_mean)


def test_condition_after_the_stem_per_image(photos):
    from cvb_adapt.student import Student, TrainSpec
    from cvb_reference.tagger_vision import TaggerAdapterBase

    from cvb_hf.vision import features, image_inputs

    b = TaggerAdapterBase()
    b.load()
    inputs = image_inputs(b.processor, photos, "cpu", b.model.dtype)
    with torch.no_grad():
        plain = features(b.model, inputs, len(photos))
    student = Student(b.model, 2, TrainSpec("full"))
    assert student.conditioner.kind == "patch embedding"
    assert student.conditioner.embedding.width == 32  # the stem's channels
    views = len(b.model.views)
    with torch.no_grad():
        student.conditioner.set([0, 1, -1], [views] * 3)
        zero = features(b.model, inputs, len(photos))  # the last layer starts at zero
        torch.nn.init.normal_(student.conditioner.embedding.mlp[2].weight, std=0.5)
        moved = features(b.model, inputs, len(photos))
    assert all(torch.equal(a, z) for a, z in zip(plain, zero))
    assert not torch.allclose(moved[0], plain[0]) and not torch.allclose(moved[1], plain[1])
    assert not torch.allclose(moved[0], moved[1])
    assert torch.equal(moved[2], plain[2])  # unconditional: nothing added, whatever the batch
    trained = student.trainable()
    assert "visual.cvb_condition.mlp.2.weight" in trained and "visual.net._conv_stem.weight" in trained
