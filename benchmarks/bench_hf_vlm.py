"""Throughput of the ``hf`` VLM plugin: batch size 1 vs 8, and ``logits`` vs ``generate`` answers.

Work: yes/no questions about the sample photos (cvb.sample_images), answered through
``registry.create("vlm", "hf:FOLDER")`` exactly as ``cvb run`` would. Prints samples/s for:

  generate   bs=1 / bs=8  greedy text answers, --max-new-tokens tokens (random weights never stop
                          early, so every answer runs to the cap)
  generate-2 bs=1 / bs=8  generation capped at 2 tokens: what a real model costs when it stops
                          right after "Yes" + end-of-turn
  logits     bs=1 / bs=8  one forward pass, "Yes"/"No" read from the next-token logits

The model loads once; the settings then take turns, ``--repeats`` rounds, and each setting's
best pass counts (interleaving keeps a shared machine's drifting load from favouring one).

Default: the tiny random Qwen2.5-VL of tests/tiny_vlms.py on CPU (measures the plugin's own
overhead: batching, templating, padding). ``--real-size`` (GPU): random-weight SmolVLM-256M and
Qwen2.5-VL-3B built from their published configurations (written here, nothing downloaded),
with peak GPU memory per setting.

    .venv/bin/python benchmarks/bench_hf_vlm.py [--n 32]
    python benchmarks/bench_hf_vlm.py --real-size [--models smolvlm-256m,qwen2.5-vl-3b]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny_vlms

QUESTIONS = ["Is there a person in the image?", "Is there an animal in the image?",
             "Is this photo taken outdoors?", "Is there any text in the image?"]


def registry():
    """The plugin registry, with the hf plugin registered by hand on a bare machine."""
    from source_tree import register_builtins

    return register_builtins(("cvb_hf",))


def yes_no_queries(n: int):
    from cvb.sample_images import sample_photo_paths
    from cvb.imageio import load_image
    from cvb.types import AnswerKind, Query

    photos = [load_image(str(p)) for _, p in sorted(sample_photo_paths().items())]
    if not photos:
        raise SystemExit("no sample photos found (scikit-image, scikit-learn or matplotlib needed)")
    return [Query(photos[i % len(photos)], QUESTIONS[i % len(QUESTIONS)], AnswerKind.YESNO,
                  max_new_tokens=16, sample_id=str(i)) for i in range(n)]


def timed_pass(vlm, queries, cuda: bool) -> tuple[float, float | None]:
    """Seconds to answer ``queries``, and the peak GPU memory (GiB) during the pass."""
    import torch

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    answers = vlm.answer(queries)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    errors = [a.error for a in answers if a.error]
    if errors:
        raise SystemExit(f"{len(errors)} queries failed, first: {errors[0]}")
    return seconds, (torch.cuda.max_memory_allocated() / 2**30 if cuda else None)


SETTINGS = [  # (label, mode, batch_size, max_new_tokens override)
    ("generate", "generate", 1, None),
    ("generate", "generate", 8, None),
    ("generate-2", "generate", 1, 2),
    ("generate-2", "generate", 8, 2),
    ("logits", "logits", 1, None),
    ("logits", "logits", 8, None),
]


def bench_folder(folder: Path, label: str, n: int, max_new_tokens: int, options: dict,
                 repeats: int, only: set[str] | None = None) -> list[dict]:
    """Load once through ``hf:FOLDER``; then, ``repeats`` times, one pass per setting in turn
    (interleaved, so drifting load on a shared machine hits every setting alike); best pass counts."""
    import torch

    reg = registry()
    queries = yes_no_queries(n)
    cuda = options.get("device", "cpu").startswith("cuda")
    settings = [s for s in SETTINGS if not only or f"{s[0]}:{s[2]}" in only]
    vlm = reg.create("vlm", f"hf:{folder}", **options)
    t0 = time.perf_counter()
    vlm.load()
    load_s = time.perf_counter() - t0
    weights_gib = torch.cuda.memory_allocated() / 2**30 if cuda else None
    sample = queries[:8]
    tokens_per_image = sum(t.shape[0] for t in _visual(vlm, sample)) / len(sample)

    def configure(mode: str, bs: int, cap: int | None) -> None:
        vlm.mode, vlm.batch_size, vlm.max_new_tokens = mode, bs, cap or max_new_tokens

    for _, mode, bs, cap in settings:  # warm-up: kernels, allocator, autotuning
        configure(mode, bs, cap)
        vlm.answer(queries[:bs])
    best: dict[tuple, float] = {}
    peak: dict[tuple, float] = {}
    for _ in range(repeats):
        for setting, mode, bs, cap in settings:
            configure(mode, bs, cap)
            seconds, gib = timed_pass(vlm, queries, cuda)
            key = (setting, bs)
            best[key] = min(best.get(key, float("inf")), seconds)
            if gib is not None:
                peak[key] = max(peak.get(key, 0.0), gib)
    rows = []
    for setting, _, bs, _ in settings:
        key = (setting, bs)
        row = {"model": label, "setting": setting, "batch_size": bs, "samples_per_s": n / best[key],
               "seconds": best[key], "load_s": load_s, "visual_tokens_per_image": tokens_per_image}
        if cuda:
            row["peak_gib"], row["weights_gib"] = peak[key], weights_gib
        rows.append(row)
        print(_fmt(row), flush=True)
    vlm.close()
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return rows


def _visual(vlm, queries):
    import torch

    with torch.no_grad():
        return vlm.visual_tokens([q.image for q in queries])


def _fmt(row: dict) -> str:
    extra = f"  peak {row['peak_gib']:.2f} GiB" if "peak_gib" in row else ""
    return (f"{row['model']:<16} {row['setting']:<11} bs={row['batch_size']:<2} "
            f"{row['samples_per_s']:8.2f} samples/s  ({row['visual_tokens_per_image']:.0f} visual tokens/image){extra}")


# ---- real-size random-weight checkpoints ------------------------------------------------------

def build_real(name: str, folder: Path, device: str) -> Path:
    """A random-weight checkpoint with the published architecture of ``name``, in bf16."""
    import torch

    from cvb.compat import ensure_torchvision

    ensure_torchvision()
    if name == "smolvlm-256m":
        config, cls, processor = _smolvlm_256m()
    elif name == "qwen2.5-vl-3b":
        config, cls, processor = _qwen2_5_vl_3b()
    else:
        raise SystemExit(f"unknown --models entry {name!r}; known: smolvlm-256m, qwen2.5-vl-3b")
    torch.manual_seed(0)
    with torch.device(device):
        model = cls._from_config(config, dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    del model
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    print(f"{name}: {params / 1e6:.0f}M parameters (random), written to {folder}", flush=True)
    return folder


def _smolvlm_256m():
    """HuggingFaceTB/SmolVLM-256M-Instruct: SigLIP-B/16 at 512 px, pixel shuffle x4, SmolLM2-135M."""
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    import tiny_vlms

    tok = tiny_vlms.train_tokenizer(tiny_vlms.IDEFICS3_SPECIALS, bos="<|im_start|>", eos="<end_of_utterance>",
                                    pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in tiny_vlms.IDEFICS3_SPECIALS}
    config = Idefics3Config(
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                           image_size=512, patch_size=16),
        text_config=dict(model_type="llama", vocab_size=49280, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                         rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=ids["<|im_start|>"],
                         eos_token_id=ids["<end_of_utterance>"], pad_token_id=ids["<|endoftext|>"]),
        scale_factor=4, image_token_id=ids["<image>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    processor = Idefics3Processor(
        image_processor=Idefics3ImageProcessorPil(size={"longest_edge": 4 * 512}, max_image_size={"longest_edge": 512},
                                                  do_image_splitting=True),
        tokenizer=tok, image_seq_len=64, chat_template=tiny_vlms.SMOLVLM_TEMPLATE)
    return config, Idefics3ForConditionalGeneration, processor


def _qwen2_5_vl_3b():
    """Qwen/Qwen2.5-VL-3B-Instruct: 32-block window-attention ViT (1280 wide), Qwen2.5-3B LLM."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    import tiny_vlms

    tok = tiny_vlms.train_tokenizer(tiny_vlms.QWEN_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {t: tok.convert_tokens_to_ids(t) for t in tiny_vlms.QWEN_SPECIALS}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                         num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=128000,
                         rms_norm_eps=1e-6, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                          "mrope_section": [16, 24, 24]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31], hidden_act="silu", tokens_per_second=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    size = {"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280}  # min_pixels, max_pixels
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessorPil(size=size), tokenizer=tok,
                                    video_processor=Qwen2VLVideoProcessor(size=size),
                                    chat_template=tiny_vlms.QWEN_TEMPLATE)
    return config, Qwen2_5_VLForConditionalGeneration, processor


# ---- main ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32, help="questions per setting")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per setting; the best counts")
    parser.add_argument("--real-size", action="store_true", help="random-weight SmolVLM-256M and Qwen2.5-VL-3B (GPU)")
    parser.add_argument("--models", default="smolvlm-256m,qwen2.5-vl-3b")
    parser.add_argument("--device", default=None, help="default: cuda if available else cpu")
    parser.add_argument("--settings", default="",
                        help="comma list of SETTING:BATCH to run, e.g. generate:1,logits:1 (default: all)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    header = {"date": date.today().isoformat(), "device": device,
              "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "load_avg_1min": round(os.getloadavg()[0], 2)}
    import transformers

    header["transformers"] = transformers.__version__
    print(json.dumps(header), flush=True)
    only = {x.strip() for x in args.settings.split(",") if x.strip()} or None
    rows = []
    with tempfile.TemporaryDirectory(prefix="cvb-bench-hf-") as tmp:
        if args.real_size:
            if not device.startswith("cuda"):
                print("warning: --real-size on CPU is very slow", file=sys.stderr)
            for name in args.models.split(","):
                folder = build_real(name.strip(), Path(tmp) / name.strip(), device)
                rows += bench_folder(folder, name.strip(), args.n, args.max_new_tokens,
                                     {"device": device, "dtype": "bf16"}, args.repeats, only)
        else:
            import tiny_vlms

            folder = tiny_vlms.build_qwen2_5_vl(Path(tmp) / "tiny-qwen2.5-vl")
            rows += bench_folder(folder, "tiny-qwen2.5-vl", args.n, args.max_new_tokens,
                                 {"device": device, "dtype": "fp32"}, args.repeats, only)
    if args.json:
        args.json.write_text(json.dumps({"header": header, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
