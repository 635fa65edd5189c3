"""The ``hf`` VLM plugin on tiny random checkpoints of real architectures (Qwen2.5-VL, Idefics3 =
SmolVLM, LLaVA), loaded through ``registry.create("vlm", "hf:PATH")`` exactly as a user's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cvb.errors import UnavailableError, UsageError
from cvb.plugins import get_registry
from cvb.types import AnswerKind, Query
from hang_guard import HANG_S

ARCHS = ["qwen2_5_vl", "idefics3", "llava"]


def _image(w: int, h: int, seed: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def _queries():
    """Mixed kinds, image sizes (and, for Idefics3, tile counts) and token limits."""
    return [
        Query(_image(64, 48, 0), "Is there a cat in the image?", AnswerKind.YESNO, max_new_tokens=4),
        Query(_image(100, 120, 1), "What colour is the car?", AnswerKind.CHOICE,
              options=("red", "green", "blue", "yellow"), max_new_tokens=3),
        Query(_image(120, 30, 2), "Describe the image.", AnswerKind.CAPTION, max_new_tokens=7),
        Query(_image(40, 40, 3), "How many people are there?", AnswerKind.OPEN, max_new_tokens=5),
        Query(_image(90, 60, 4), "Is this a dog?", AnswerKind.YESNO, max_new_tokens=2),
    ]


def _vlm(path, **options):
    options.setdefault("device", "cpu")
    options.setdefault("dtype", "fp32")
    return get_registry().create("vlm", f"hf:{path}", **options)


def _texts(answers):
    assert all(a.error is None for a in answers), [a.error for a in answers]
    return [a.text for a in answers]


# ---- registration, names, options (no model loaded) ------------------------------------------

def test_plugin_registers_hf_and_aliases_without_importing_torch():
    probe = (
        "import sys\n"
        "from cvb.plugins import get_registry\n"
        "r = get_registry()\n"
        "assert r.plugins['hf'].error is None, r.plugins['hf'].error\n"
        "names = r.names('vlm')\n"
        "assert {'hf', 'qwen2.5-vl-3b', 'smolvlm-256m', 'llava-1.5-7b', 'internvl3-1b'} <= set(names), names\n"
        "assert [r.spec('vlm', n).status() for n in ('hf', 'qwen2.5-vl-3b')] == [None, None]\n"
        "v = r.create('vlm', 'hf:qwen2.5-vl-7b', mode='logits')\n"
        "print(v.version)\n"
        "print(','.join(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_S, env=env)
    assert out.returncode == 0, out.stderr
    version, heavy = out.stdout.splitlines()
    assert version.startswith("Qwen/Qwen2.5-VL-7B-Instruct@") and version.endswith("mode=logits")
    assert heavy == "", f"creating an hf VLM imported {heavy}"


def test_aliases_resolve_to_native_checkpoints():
    from cvb_hf.aliases import ALIASES, resolve_model

    assert resolve_model("qwen2.5-vl-3b") == ("Qwen/Qwen2.5-VL-3B-Instruct", False)
    assert resolve_model("SmolVLM-256M") == ("HuggingFaceTB/SmolVLM-256M-Instruct", False)
    assert resolve_model("OpenGVLab/InternVL3-1B-hf") == ("OpenGVLab/InternVL3-1B-hf", False)
    assert ALIASES["internvl3-1b"][0].endswith("-hf")
    vlm = get_registry().create("vlm", "llava-onevision-0.5b")
    assert vlm.name == "llava-onevision-0.5b"
    assert vlm.source == "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"


@pytest.mark.parametrize("ref", ["hf:qwen-vl-9000", "hf:", "hf"])
def test_unknown_alias_is_a_usage_error_listing_aliases(ref):
    with pytest.raises(UsageError) as err:
        get_registry().create("vlm", ref)
    assert "qwen2.5-vl-3b" in str(err.value) and "smolvlm-256m" in str(err.value)


def test_paths_that_do_not_exist_or_are_files(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(UsageError, match="no such folder"):
        get_registry().create("vlm", f"hf:{tmp_path / 'missing'}")
    with pytest.raises(UsageError, match="folder"):
        get_registry().create("vlm", f"hf:{tmp_path / 'weights.bin'}")


@pytest.mark.parametrize("options, message", [
    ({"mode": "beam"}, "mode"),
    ({"batch_size": "0"}, "batch_size"),
    ({"dtype": "int3"}, "dtype"),
    ({"min_pixels": 100, "max_pixels": 10}, "min_pixels"),
    ({"temperature": 0.7}, "unknown option"),
])
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        get_registry().create("vlm", "hf:qwen2.5-vl-3b", **options)


def test_string_options_from_the_command_line_are_coerced():
    vlm = get_registry().create("vlm", "hf:qwen2.5-vl-3b", batch_size="4", max_new_tokens="16",
                                max_pixels="200704", mode="logits")
    assert (vlm.batch_size, vlm.max_new_tokens, vlm.max_pixels, vlm.mode) == (4, 16, 200704, "logits")
    assert "max_pixels=200704" in vlm.version


def test_spec_options_match_the_constructor():
    import inspect

    from cvb_hf.vlm import HFVLM

    params = set(inspect.signature(HFVLM.__init__).parameters) - {"self", "model", "name", "unknown"}
    assert set(get_registry().spec("vlm", "hf").options) == params


# ---- offline and wrong checkpoints -----------------------------------------------------------

@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_alias_status_reports_missing_weights_offline(empty_hub):
    reason = get_registry().spec("vlm", "smolvlm-256m").status()
    assert reason and "huggingface-cli download HuggingFaceTB/SmolVLM-256M-Instruct" in reason
    # the same model placed in the cache (as huggingface-cli download leaves it) is usable
    repo = empty_hub / "models--HuggingFaceTB--SmolVLM-256M-Instruct"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    snap = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert get_registry().spec("vlm", "smolvlm-256m").status() is None
    vlm = get_registry().create("vlm", "smolvlm-256m")
    assert "@0123456789ab;" in vlm.version


def test_missing_model_offline_is_a_clear_error(empty_hub, monkeypatch):
    """Refused when the VLM is built (a file-system look-up), so `cvb run` refuses while planning."""
    import socket

    tried: list = []

    def no_network(*args, **kwargs):  # offline means not even one try (no retries to wait out)
        tried.append(args)
        raise OSError("the test forbids network access")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(UnavailableError) as err:
        get_registry().create("vlm", "hf:nobody-here/NoSuchVLM-1B")
    msg = str(err.value)
    assert "nobody-here/NoSuchVLM-1B" in msg and "HF_HUB_OFFLINE" in msg
    assert "huggingface-cli download nobody-here/NoSuchVLM-1B" in msg and "hf:/path" in msg
    assert tried == []


def test_alias_refused_up_front_when_offline_and_missing(empty_hub):
    with pytest.raises(UnavailableError, match="huggingface-cli download Qwen/Qwen2.5-VL-3B-Instruct"):
        get_registry().create("vlm", "qwen2.5-vl-3b")


def test_a_text_model_folder_is_refused_naming_its_architecture(tmp_path):
    import tiny_vlms

    folder = tiny_vlms.build_bert(tmp_path / "bert")
    vlm = _vlm(folder)
    with pytest.raises(UsageError) as err:
        vlm.answer([Query(_image(32, 32, 0), "Is it red?", AnswerKind.YESNO)])
    assert "not an image-text-to-text model" in str(err.value) and "BertForMaskedLM" in str(err.value)


def test_a_folder_without_config_is_refused(tmp_path):
    vlm = _vlm(tmp_path)
    with pytest.raises(UsageError, match="no config.json"):
        vlm.load()


def test_a_checkpoint_without_chat_template_is_refused(tiny_vlm_dirs, tmp_path):
    import shutil

    folder = tmp_path / "no_template"
    shutil.copytree(tiny_vlm_dirs["llava"], folder)
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(UnavailableError, match="chat template"):
        _vlm(folder).load()


# ---- answering on real architectures ---------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_batched_answers_equal_one_by_one(tiny_vlm_dirs, arch):
    """Left padding, mixed image sizes and per-query token limits change nothing (greedy, fp32)."""
    vlm = _vlm(tiny_vlm_dirs[arch], batch_size=4)  # 5 queries: a full batch and a partial one
    queries = _queries()
    batched = _texts(vlm.answer(queries))
    single = [_texts(vlm.answer([q]))[0] for q in queries]
    assert batched == single
    assert any(batched), "the tiny model generated nothing at all"
    # one-by-one, each query generates up to its own limit; equality means the batch (which runs
    # to the largest limit) cut every answer at its own
    assert len({q.max_new_tokens for q in queries}) > 1
    assert ";mode=generate" in vlm.version and "@local-" in vlm.version


@pytest.mark.parametrize("arch", ARCHS)
def test_logits_mode_returns_an_allowed_answer(tiny_vlm_dirs, arch):
    vlm = _vlm(tiny_vlm_dirs[arch], mode="logits", batch_size=8)
    queries = _queries()
    answers = vlm.answer(queries)
    assert _texts(answers)[0] in ("Yes", "No") and answers[4].text in ("Yes", "No")
    assert answers[1].text in ("A", "B", "C", "D")
    for i in (0, 1, 4):
        scores = answers[i].meta["logprobs"]
        assert answers[i].meta["mode"] == "logits" and answers[i].text == max(scores, key=scores.get)
    # captions and open questions fall back to generation
    assert [answers[i].meta["mode"] for i in (2, 3)] == ["generate", "generate"]
    gen = _vlm(tiny_vlm_dirs[arch], mode="generate").answer([queries[2], queries[3]])
    assert [answers[2].text, answers[3].text] == _texts(gen)
    # batched logits equal one-by-one logits
    assert _texts(answers) == [_texts(vlm.answer([q]))[0] for q in queries]


def test_janus_answers_in_both_modes(tiny_vlm_dirs):
    """Janus-Pro (the janus-pro-* aliases) goes through the same path."""
    queries = _queries()[:3]
    gen = _vlm(tiny_vlm_dirs["janus"], batch_size=3)
    assert _texts(gen.answer(queries)) == [_texts(gen.answer([q]))[0] for q in queries]
    logits = _vlm(tiny_vlm_dirs["janus"], mode="logits").answer(queries)
    assert logits[0].text in ("Yes", "No") and logits[1].text in ("A", "B", "C", "D")
    assert len(gen.visual_tokens([q.image for q in queries])) == 3


@pytest.mark.parametrize("arch", ARCHS)
def test_logits_pass_sees_what_generation_sees(tiny_vlm_dirs, arch):
    """The one-forward logits are the first step of generation: same argmax token."""
    import torch

    from cvb.prompts import build_prompt

    vlm = _vlm(tiny_vlm_dirs[arch], mode="logits")
    queries = _queries()
    vlm.load()
    first = vlm.next_token_logprobs(queries).argmax(-1)
    enc = vlm.encode(queries, [build_prompt(q) for q in queries])
    with torch.inference_mode():
        out = vlm.model.generate(**enc, generation_config=vlm._generation_config(1))
    assert first.tolist() == out[:, -1].tolist()


def test_logits_candidates_cover_space_and_case_variants(tiny_vlm_dirs):
    from cvb_hf.choices import CandidateTokens

    vlm = _vlm(tiny_vlm_dirs["llava"])
    vlm.load()
    tok = vlm.processor.tokenizer
    cands = CandidateTokens(tok).for_query(Query(None, "q", AnswerKind.YESNO))
    for word in ("Yes", " Yes", "yes", " no", "No"):
        first = tok.encode(word, add_special_tokens=False)[0]
        owner = "Yes" if word.strip().lower() == "yes" else "No"
        assert first in cands[owner]
    assert not set(cands["Yes"]) & set(cands["No"])
    letters = CandidateTokens(tok).for_query(Query(None, "q", AnswerKind.CHOICE, options=("x", "y", "z")))
    assert list(letters) == ["A", "B", "C"]
    assert CandidateTokens(tok).for_query(Query(None, "q", AnswerKind.OPEN)) is None


def test_one_bad_image_fails_alone(tiny_vlm_dirs):
    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], batch_size=8)
    queries = _queries()
    bad = Query(_image(600, 2, 9), "Is it red?", AnswerKind.YESNO)  # aspect ratio > 200: rejected
    answers = vlm.answer(queries[:2] + [bad] + queries[2:])
    assert answers[2].error and answers[2].text == ""
    good = answers[:2] + answers[3:]
    assert _texts(good) == _texts(vlm.answer(queries))


# ---- what reaches the model -------------------------------------------------------------------

def _spy_forward(model, monkeypatch):
    calls = []
    original = model.forward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    return calls


def test_chat_template_and_mm_token_type_ids_reach_qwen(tiny_vlm_dirs, monkeypatch):
    import torch

    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], mode="logits")
    vlm.load()
    calls = _spy_forward(vlm.model, monkeypatch)
    queries = [_queries()[0], _queries()[1]]  # different image sizes -> different token counts
    vlm.answer(queries)
    assert len(calls) == 1  # one forward pass for both closed questions
    kw = calls[0]
    ids, mask, types, grid = kw["input_ids"], kw["attention_mask"], kw["mm_token_type_ids"], kw["image_grid_thw"]
    image_id = vlm.model.config.image_token_id
    tok = vlm.processor.tokenizer
    for row in range(2):
        real = ids[row][mask[row].bool()]
        text = tok.decode(real)
        assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
        assert "<|vision_start|><|image_pad|>" in text and "Answer" in text
        # the image token expanded to the merged patch count of *this* image
        assert int((real == image_id).sum()) == int(grid[row].prod()) // 4
        # left padding: padding only before the real tokens
        assert mask[row].tolist() == sorted(mask[row].tolist())
    assert grid[0].tolist() != grid[1].tolist()
    assert torch.equal(types, (ids == image_id).to(types.dtype))


def test_mm_token_type_ids_matter_and_are_rebuilt_if_missing(tiny_vlm_dirs, monkeypatch):
    """Without mm_token_type_ids Qwen2.5-VL silently uses 1-D positions: the logits change.
    A processor that omits them gets them rebuilt, and the answers stay the same."""
    import torch

    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"], mode="logits")
    queries = _queries()[:2]
    vlm.load()
    reference = vlm.next_token_logprobs(queries)

    enc = vlm.encode(queries, ["Is there a cat in the image?"] * 2)
    with torch.inference_mode():
        with_types = vlm.model(**enc, use_cache=False).logits[:, -1]
        enc.pop("mm_token_type_ids")
        without = vlm.model(**enc, use_cache=False).logits[:, -1]
    assert not torch.allclose(with_types, without, atol=1e-4)  # so a missing one is detectable

    processor = vlm.processor
    original_call = type(processor).__call__

    def dropping_call(self, *args, **kwargs):
        out = original_call(self, *args, **kwargs)
        out.pop("mm_token_type_ids", None)
        return out

    monkeypatch.setattr(type(processor), "__call__", dropping_call)
    calls = _spy_forward(vlm.model, monkeypatch)
    assert torch.allclose(vlm.next_token_logprobs(queries), reference, atol=1e-6)
    assert "mm_token_type_ids" in calls[0]


def test_llava_and_idefics3_prompts_use_their_templates(tiny_vlm_dirs, monkeypatch):
    expected = {"llava": ("USER: <image>", "ASSISTANT:"), "idefics3": ("<|im_start|>User:", "Assistant:")}
    for arch, (start, end) in expected.items():
        vlm = _vlm(tiny_vlm_dirs[arch], mode="logits")
        vlm.load()
        calls = _spy_forward(vlm.model, monkeypatch)
        vlm.answer([_queries()[0]])
        text = vlm.processor.tokenizer.decode(calls[0]["input_ids"][0])
        assert start in text and text.endswith(end), text
        assert "pixel_values" in calls[0]


def test_processor_rebuilt_without_video_processor(tiny_vlm_dirs, monkeypatch):
    """Where the video processor cannot be built (no torchvision), the image path still works."""
    import transformers

    queries = _queries()[:3]
    expected = _texts(_vlm(tiny_vlm_dirs["qwen2_5_vl"]).answer(queries))

    def broken(*args, **kwargs):
        raise ImportError("Qwen2VLVideoProcessor requires the Torchvision library but it was not found")

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", broken)
    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"])
    assert _texts(vlm.answer(queries)) == expected
    assert vlm.processor.video_processor is None


def test_processor_failure_for_another_reason_is_reported(tiny_vlm_dirs, monkeypatch):
    import transformers

    def broken(*args, **kwargs):
        raise OSError("tokenizer.json is corrupt")

    monkeypatch.setattr(transformers.AutoProcessor, "from_pretrained", broken)
    with pytest.raises(UnavailableError, match="processor.*tokenizer.json is corrupt"):
        _vlm(tiny_vlm_dirs["qwen2_5_vl"]).load()


def test_pixel_budget_options(tiny_vlm_dirs):
    big = [_image(200, 200, 5)]
    small = _vlm(tiny_vlm_dirs["qwen2_5_vl"], max_pixels=28 * 28 * 4)
    default = _vlm(tiny_vlm_dirs["qwen2_5_vl"])
    assert small.visual_tokens(big)[0].shape[0] == 4 < default.visual_tokens(big)[0].shape[0]
    with pytest.raises(UsageError, match="Qwen-style"):
        _vlm(tiny_vlm_dirs["llava"], max_pixels=10_000).load()


# ---- the adapter seam and lifecycle ---------------------------------------------------------------

def test_visual_tokens_are_the_merger_output(tiny_vlm_dirs):
    import torch

    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"])
    images = [_image(64, 48, 0), _image(100, 120, 1)]
    tower = vlm.vision_encoder()
    assert tower is vlm.model.model.visual
    tokens = vlm.visual_tokens(images)
    inputs = vlm.processor.image_processor(images=images, return_tensors="pt")
    grid = inputs["image_grid_thw"]
    with torch.no_grad():
        merged = tower(inputs["pixel_values"], grid_thw=grid).pooler_output
    assert [t.shape[0] for t in tokens] == (grid.prod(-1) // 4).tolist()
    assert torch.allclose(torch.cat(tokens), merged, atol=1e-5)
    assert tokens[0].shape[1] == vlm.model.config.text_config.hidden_size
    assert tokens[0].requires_grad  # adapter training backpropagates through it


@pytest.mark.parametrize("arch, tower_attr", [("idefics3", "vision_model"), ("llava", "vision_tower")])
def test_visual_tokens_other_architectures(tiny_vlm_dirs, arch, tower_attr):
    vlm = _vlm(tiny_vlm_dirs[arch])
    assert vlm.vision_encoder() is getattr(vlm.model.model, tower_attr)
    tokens = vlm.visual_tokens([_image(64, 48, 0), _image(120, 30, 2)])
    hidden = vlm.model.config.text_config.hidden_size
    assert len(tokens) == 2 and all(t.dim() == 2 and t.shape[1] == hidden for t in tokens)
    # the LLM gets exactly one token per visual feature
    image_id = vlm.model.config.image_token_id
    enc = vlm.encode([Query(_image(64, 48, 0), "q")], ["q"])
    assert int((enc["input_ids"] == image_id).sum()) == tokens[0].shape[0]


def test_close_frees_and_answer_reloads(tiny_vlm_dirs):
    import weakref

    vlm = _vlm(tiny_vlm_dirs["llava"], mode="logits")
    first = _texts(vlm.answer(_queries()[:1]))
    ref = weakref.ref(vlm.model)
    vlm.close()
    assert vlm.model is None and ref() is None
    assert _texts(vlm.answer(_queries()[:1])) == first


def test_version_tracks_the_local_weights(tiny_vlm_dirs, tmp_path):
    import shutil

    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_vlm_dirs["llava"], folder)
    before = _vlm(folder).version
    assert before.startswith(f"{folder}@local-") and ";mode=generate" in before
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert _vlm(folder).version != before
    assert ";mode=logits" in _vlm(folder, mode="logits").version


def test_stop_strings_end_generation_and_are_cut(tiny_vlm_dirs):
    """A protocol's stop strings (lmms-eval's ``until``): the answer ends before the first one,
    in a batch that shares them (stopping criteria) and in one that does not (post-cut only)."""
    vlm = _vlm(tiny_vlm_dirs["qwen2_5_vl"])
    image = _image(64, 48, 5)
    free = Query(image, "Describe the image.", AnswerKind.CAPTION, max_new_tokens=24)
    [full] = _texts(vlm.answer([free]))
    assert len(full) >= 6, full  # the tiny model says something to cut
    stop = full[len(full) // 2: len(full) // 2 + 2]
    want = full.split(stop)[0].strip()
    stopped = Query(image, "Describe the image.", AnswerKind.CAPTION, max_new_tokens=24, stop=(stop, "\n\n"))
    assert _texts(vlm.answer([stopped])) == [want]
    assert _texts(vlm.answer([stopped, free])) == [want, full]
    verbatim = Query(image, "Exactly this text.", AnswerKind.CHOICE, options=("a", "b"), verbatim=True)
    from cvb.prompts import build_prompt

    assert build_prompt(verbatim) == "Exactly this text."
