"""Tiny, randomly initialised checkpoints of real VLM architectures, built offline.

No weights can be downloaded here, yet the ``hf`` plugin must be tested on the code path real
checkpoints take. So each builder writes a complete model folder (config, random weights,
tokenizer, image processor, chat template) with ``save_pretrained``, and the tests load it back
through ``AutoProcessor`` / ``AutoModelForImageTextToText`` exactly as they would load
``Qwen/Qwen2.5-VL-3B-Instruct``.

The tokenizer is a byte-level BPE trained on the spot with the ``tokenizers`` library (a few
hundred tokens plus the architecture's special tokens); the chat templates follow the real
models' (Qwen2.5-VL, SmolVLM, LLaVA-1.5 as published, shortened to the single-image user turn
cvb sends; Janus's is an approximation).

Architectures: Qwen2.5-VL, Idefics3 (SmolVLM), LLaVA-1.5, Janus, PaliGemma, InternVL (crops) and
Mllama (cross-attention); plus a tiny BERT as a checkpoint that is *not* a VLM. Builders take well
under a second each; ``benchmarks/bench_hf_vlm.py``
reuses them (and the tokenizer and templates for its real-size configurations).
"""

from __future__ import annotations

from pathlib import Path

# A little English (and the markers of our prompts) so BPE learns a few merges.
_CORPUS = [
    "Is there a cat in the image? Answer the question using a single word or phrase.",
    "Answer with the option's letter from the given choices directly.",
    "What colour is the car? Yes No yes no A B C D E",
    "A. red\nB. green\nC. blue\nD. yellow",
    "Describe the image. The picture shows a dog on the grass next to a tree.",
    "system user assistant You are a helpful assistant. USER ASSISTANT User Assistant",
    "0 1 2 3 4 5 6 7 8 9 how many people are there in this photo?",
]


def train_tokenizer(special_tokens: list[str], vocab_size: int = 400, bos: str | None = None,
                    eos: str | None = None, pad: str | None = None, unk: str | None = None,
                    corpus: list[str] | None = None):
    """A ``PreTrainedTokenizerFast`` whose BPE was trained on ``corpus`` (default ``_CORPUS``)
    just now."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((corpus or _CORPUS) * 4, trainer=trainer)
    kwargs = {k: v for k, v in dict(bos_token=bos, eos_token=eos, pad_token=pad, unk_token=unk).items() if v}
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def _save(model, processor, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


# ---- Qwen2.5-VL -----------------------------------------------------------------------------

QWEN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"]


def build_qwen2_5_vl(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Qwen2.5-VL: window-attention ViT with 2-D RoPE, 2x2 patch merger, M-RoPE language model."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tok = train_tokenizer(QWEN_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    heads = 2
    head_dim = hidden // heads
    third = head_dim // 2 // 3
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=1, max_position_embeddings=2048,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                             "mrope_section": [head_dim // 2 - 2 * third, third, third]},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=2, hidden_size=hidden, intermediate_size=2 * hidden, num_heads=heads, out_hidden_size=hidden,
            patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
    )
    _seeded(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    # few visual tokens: 4..16 merged tokens per image
    size = {"shortest_edge": 28 * 28 * 4, "longest_edge": 28 * 28 * 16}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(size=size),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(size=size),
        chat_template=QWEN_TEMPLATE,
    )
    return _save(model, processor, Path(folder))


# ---- Idefics3 (the SmolVLM architecture) ----------------------------------------------------

SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
IDEFICS3_SPECIALS = (["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>",
                      "<image>", "<global-img>"]
                     + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)])


def build_idefics3(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Idefics3/SmolVLM: SigLIP ViT (learned position embedding), pixel-shuffle connector, Llama,
    images split into tiles plus a global view."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = train_tokenizer(IDEFICS3_SPECIALS, bos="<|im_start|>", eos="<end_of_utterance>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in IDEFICS3_SPECIALS}
    tile, patch, scale = 32, 8, 2
    image_seq_len = (tile // patch) ** 2 // scale**2
    config = Idefics3Config(
        vision_config=dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                           num_attention_heads=2, image_size=tile, patch_size=patch),
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=hidden,
                         intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=2048,
                         bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<end_of_utterance>"],
                         pad_token_id=ids["<|endoftext|>"]),
        scale_factor=scale,
        image_token_id=ids["<image>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    _seeded(seed)
    model = Idefics3ForConditionalGeneration(config).eval()
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 2 * tile}, max_image_size={"longest_edge": tile}, do_image_splitting=True
    )
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tok,
                                  image_seq_len=image_seq_len, chat_template=SMOLVLM_TEMPLATE)
    return _save(model, processor, Path(folder))


# ---- LLaVA-1.5 ------------------------------------------------------------------------------

LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}"
    "{% endif %}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
LLAVA_SPECIALS = ["<unk>", "<s>", "</s>", "<image>", "<pad>"]


def build_llava(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """LLaVA-1.5: CLIP ViT (learned position embedding, CLS token dropped), MLP projector, Llama."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    tok = train_tokenizer(LLAVA_SPECIALS, bos="<s>", eos="</s>", pad="<pad>", unk="<unk>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in LLAVA_SPECIALS}
    image_size, patch = 28, 7
    config = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=hidden, intermediate_size=2 * hidden,
                           num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
                           patch_size=patch, projection_dim=hidden),
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=hidden,
                         intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=2048,
                         bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]),
        image_token_index=ids["<image>"],
        image_seq_length=(image_size // patch) ** 2,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    _seeded(seed)
    model = LlavaForConditionalGeneration(config).eval()
    image_processor = LlavaImageProcessorPil(size={"shortest_edge": image_size},
                                             crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=patch,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA_TEMPLATE)
    return _save(model, processor, Path(folder))


# ---- Janus-Pro ------------------------------------------------------------------------------

JANUS_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}<|User|>: {% else %}<|Assistant|>: {% endif %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image_placeholder>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}\n\n{% endfor %}"
    "{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
)
JANUS_SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<image_placeholder>", "<begin_of_image>",
                  "<end_of_image>", "<pad>"]


def build_janus(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Janus-Pro: SigLIP ViT + aligner for understanding (its VQ-VAE image generator is unused)."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import JanusConfig, JanusForConditionalGeneration, JanusProcessor, PreTrainedTokenizerFast
    from transformers.models.janus.image_processing_pil_janus import JanusImageProcessorPil

    bos, eos, image, boi, eoi, pad = JANUS_SPECIALS
    trained = train_tokenizer(JANUS_SPECIALS)
    tok = PreTrainedTokenizerFast(tokenizer_object=trained._tokenizer, bos_token=bos, eos_token=eos, pad_token=pad,
                                  extra_special_tokens={"image_token": image, "boi_token": boi, "eoi_token": eoi})
    ids = {t: tok.convert_tokens_to_ids(t) for t in JANUS_SPECIALS}
    image_size, patch = 32, 8
    n_image_tokens = (image_size // patch) ** 2
    config = JanusConfig(
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                         bos_token_id=ids[bos], eos_token_id=ids[eos], pad_token_id=ids[pad]),
        vision_config=dict(hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
                           patch_size=patch, projection_dim=hidden, depth=1, num_image_tokens=n_image_tokens,
                           mlp_ratio=2.0),
        vq_config=dict(embed_dim=8, num_embeddings=64, latent_channels=32, base_channels=32, channel_multiplier=[1, 1],
                       num_res_blocks=1, num_patches=4, projection_dim=hidden, image_token_embed_dim=hidden),
        image_token_id=ids[image],
    )
    _seeded(seed)
    model = JanusForConditionalGeneration(config).eval()
    processor = JanusProcessor(image_processor=JanusImageProcessorPil(size={"height": image_size, "width": image_size}),
                               tokenizer=tok, chat_template=JANUS_TEMPLATE, num_image_tokens=n_image_tokens)
    return _save(model, processor, Path(folder))


# ---- PaliGemma ------------------------------------------------------------------------------

PALIGEMMA_TEMPLATE = (
    "{% for message in messages %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endfor %}"
)
PALIGEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<image>"]


def build_paligemma(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """PaliGemma: SigLIP ViT, linear projector, Gemma; its processor also returns ``labels``
    (the prompt masked out) and ``token_type_ids``, as for fine-tuning."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    pad, eos, bos, image = PALIGEMMA_SPECIALS
    tok = train_tokenizer(PALIGEMMA_SPECIALS, bos=bos, eos=eos, pad=pad)
    ids = {t: tok.convert_tokens_to_ids(t) for t in PALIGEMMA_SPECIALS}
    image_size, patch = 28, 7
    n_image_tokens = (image_size // patch) ** 2
    config = PaliGemmaConfig(
        vision_config=dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                           num_attention_heads=2, image_size=image_size, patch_size=patch,
                           projection_dim=hidden),
        text_config=dict(model_type="gemma", vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                         bos_token_id=ids[bos], eos_token_id=ids[eos], pad_token_id=ids[pad]),
        projection_dim=hidden,
        image_token_id=ids[image],
        pad_token_id=ids[pad],
    )
    _seeded(seed)
    model = PaliGemmaForConditionalGeneration(config).eval()
    image_processor = SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    image_processor.image_seq_length = n_image_tokens
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tok, chat_template=PALIGEMMA_TEMPLATE)
    return _save(model, processor, Path(folder))


# ---- not a VLM ------------------------------------------------------------------------------

def build_bert(folder: str | Path, seed: int = 0) -> Path:
    """A tiny BERT masked-LM folder: a real checkpoint that is *not* image-text-to-text."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import BertConfig, BertForMaskedLM

    tok = train_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], pad="[PAD]", unk="[UNK]")
    _seeded(seed)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=32)).eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


BUILDERS = {"qwen2_5_vl": build_qwen2_5_vl, "idefics3": build_idefics3, "llava": build_llava,
            "janus": build_janus, "paligemma": build_paligemma}


# ---- InternVL (transformers-native, e.g. OpenGVLab/InternVL3-1B-hf) ---------------------------

INTERNVL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INTERNVL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]


def build_internvl(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """InternVL: InternViT (learned absolute position embedding, class token), pixel-shuffle MLP
    projector, Qwen2; an image is cut into up to 4 square crops plus a thumbnail, each crop its
    own row of the vision batch."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import (InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor,
                              PreTrainedTokenizerFast)
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    trained = train_tokenizer(INTERNVL_SPECIALS)
    pad, _bos, eos, start, end, context, video = INTERNVL_SPECIALS[0], *INTERNVL_SPECIALS[1:]
    tok = PreTrainedTokenizerFast(tokenizer_object=trained._tokenizer, eos_token=eos, pad_token=pad,
                                  extra_special_tokens={"start_image_token": start, "end_image_token": end,
                                                        "context_image_token": context, "video_token": video})
    ids = {t: tok.convert_tokens_to_ids(t) for t in INTERNVL_SPECIALS}
    image_size, patch = 28, 7
    seq = (image_size // patch) ** 2 // 4
    config = InternVLConfig(
        vision_config=dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=patch),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, bos_token_id=ids[pad], eos_token_id=ids[eos],
                         pad_token_id=ids[pad]),
        image_token_id=ids[context], image_seq_length=seq, downsample_ratio=0.5,
    )
    _seeded(seed)
    model = InternVLForConditionalGeneration(config).eval()
    image_processor = GotOcr2ImageProcessorPil(size={"height": image_size, "width": image_size}, crop_to_patches=True,
                                               min_patches=1, max_patches=4)
    processor = InternVLProcessor(image_processor=image_processor, tokenizer=tok,
                                  video_processor=InternVLVideoProcessor(
                                      size={"height": image_size, "width": image_size}),
                                  image_seq_length=seq, chat_template=INTERNVL_TEMPLATE)
    return _save(model, processor, Path(folder))


BUILDERS["internvl"] = build_internvl


# ---- Mllama (Llama 3.2 Vision) ------------------------------------------------------------------

MLLAMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<|image|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
MLLAMA_SPECIALS = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|image|>",
                   "<|python_tag|>", "<|finetune_right_pad_id|>"]


def build_mllama(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Mllama (Llama 3.2 Vision): a tiled ViT with gated position embeddings whose states the LLM
    reads through cross-attention layers (no image tokens in the sequence besides one marker)."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaProcessor
    from transformers.models.mllama.image_processing_pil_mllama import MllamaImageProcessorPil

    tok = train_tokenizer(MLLAMA_SPECIALS, bos="<|begin_of_text|>", eos="<|eot_id|>", pad="<|finetune_right_pad_id|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in MLLAMA_SPECIALS}
    image_size, patch = 28, 7
    config = MllamaConfig(
        vision_config=dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_global_layers=1,
                           attention_heads=2, image_size=image_size, patch_size=patch, max_num_tiles=4,
                           vision_output_dim=2 * hidden, intermediate_layers_indices=[0],
                           supported_aspect_ratios=[[1, 1], [1, 2], [2, 1], [2, 2], [1, 3], [3, 1], [1, 4], [4, 1]]),
        text_config=dict(vocab_size=len(tok) + 8, hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers + 1, num_attention_heads=2, num_key_value_heads=1,
                         cross_attention_layers=[1], max_position_embeddings=2048,
                         bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|eot_id|>"],
                         pad_token_id=ids["<|finetune_right_pad_id|>"]),
        image_token_index=ids["<|image|>"],
    )
    _seeded(seed)
    model = MllamaForConditionalGeneration(config).eval()
    image_processor = MllamaImageProcessorPil(size={"height": image_size, "width": image_size}, max_image_tiles=4)
    processor = MllamaProcessor(image_processor=image_processor, tokenizer=tok, chat_template=MLLAMA_TEMPLATE)
    return _save(model, processor, Path(folder))


BUILDERS["mllama"] = build_mllama


# ---- LLaVA-OneVision (anyres crops of several aspect ratios) --------------------------------

ONEVISION_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<image>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ONEVISION_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]


def build_llava_onevision(folder: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """LLaVA-OneVision: SigLIP ViT, anyres (a base view plus crops on a grid picked by aspect
    ratio, the padding removed again from the tokens), Qwen2 language model."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, LlavaOnevisionProcessor
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil)
    from transformers.models.llava_onevision.video_processing_llava_onevision import LlavaOnevisionVideoProcessor

    tok = train_tokenizer(ONEVISION_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in ONEVISION_SPECIALS}
    image_size, patch = 28, 7
    pinpoints = [[28, 28], [28, 56], [56, 28], [56, 56]]
    config = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=hidden, intermediate_size=2 * hidden,
                           num_hidden_layers=2, num_attention_heads=2, image_size=image_size, patch_size=patch),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        image_token_index=ids["<image>"], video_token_index=ids["<video>"], image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1, vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9",
    )
    _seeded(seed)
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    size = {"height": image_size, "width": image_size}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessorPil(size=size, crop_size=size, image_grid_pinpoints=pinpoints),
        tokenizer=tok, video_processor=LlavaOnevisionVideoProcessor(), num_image_tokens=(image_size // patch) ** 2,
        vision_feature_select_strategy="full", chat_template=ONEVISION_TEMPLATE)
    return _save(model, processor, Path(folder))


BUILDERS["llava_onevision"] = build_llava_onevision
