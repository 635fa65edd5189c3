"""Distillation training of the conditional encoder, resumable after a kill.

Teacher: a frozen copy of the base model's vision side, fed the clean image. Student: the same
vision side plus the condition embedding, fed the compressed image and its condition. Loss: the
mean squared error between their visual tokens (what the LLM would read). AdamW, gradient norm
clipped, linear warm-up then cosine decay (``transformers.get_cosine_schedule_with_warmup``).

Precision: ``bf16`` (the GPU default) is mixed precision, never bf16 weights: the trained vision
side is held in fp32 (master weights, optimizer state in fp32) and its forward passes, the
teacher's included, run under ``torch.autocast(bfloat16)``. Pure-bf16 AdamW, the paper's
setting, loses updates smaller than a bf16 step of the weight (measured: at lr 1e-4, 29 % of the
weights and every norm weight never moved in 30 steps). The frozen LLM stays in bf16.

Devices and processes go through ``accelerate``: one process on the CPU or one GPU by default,
one process per GPU under ``accelerate launch -m cvb adapt ...`` (DistributedDataParallel; each
process takes its slice of every global batch, so the result does not depend on how many
processes share the work only through the batch size you choose per process).

Data order is a pure function of the seed: epoch e visits the training pairs in the permutation
``numpy.random.default_rng([seed, e])``; step s is batch ``s mod steps_per_epoch`` of epoch
``s // steps_per_epoch``. A checkpoint (``checkpoint/state.pt``: trained tensors, optimiser,
scheduler, step, RNG states, the loss history) is written atomically every ``save_every``
steps; rerunning the same command resumes from it and ends with the same weights as a run that
was never stopped.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cvb.errors import UsageError
from cvb.run.compress_units import die_with_parent

from . import artifact
from .data import Data, PairDataset
from .student import Student, TrainSpec
from .vocabulary import REFERENCE, UNCONDITIONAL, Vocabulary

if TYPE_CHECKING:
    import torch

#: test hooks: SIGKILL (as `kill -9` would) or SIGINT (as Ctrl-C would) this process right after
#: finishing that (1-based) step
KILL_ENV = "CVB_ADAPT_TEST_KILL_AFTER_STEP"
INTERRUPT_ENV = "CVB_ADAPT_TEST_INTERRUPT_AFTER_STEP"


@dataclass
class Settings:
    """Everything that decides the trained weights (a checkpoint resumes only under the same)."""

    steps: int | None = None  # None: epochs x steps per epoch
    epochs: int = 1
    batch: int = 20  # per process
    lr: float = 1e-4
    warmup: float = 0.05  # < 1: fraction of the steps; >= 1: a number of steps
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 42
    dtype: str = "auto"  # auto: bf16 on GPU, fp32 on CPU; bf16 = fp32 master weights + bf16 autocast
    train: str = "full"
    placement: str = "embedding"
    save_every: int = 100
    workers: int = 0  # DataLoader worker processes reading images
    balance: str = "none"  # none: one MSE over all tokens; cell: each cell weighted by 1 / its loss before
    resolution: Any = None  # (W, H): squash every image to it; None: the processor's own pipeline
    clean_mix: float = 0.0  # share of uncompressed training pairs (data.add_clean)

    def fingerprint_fields(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("save_every")
        d.pop("workers")
        return d


@dataclass
class Outcome:
    manifest: dict[str, Any]
    resumed_from: int = 0
    steps_run: int = 0
    seconds: float = 0.0
    images_per_s: float = 0.0
    peak_memory_mb: float | None = None
    val_before: dict[str, float] = field(default_factory=dict)
    val_after: dict[str, float] = field(default_factory=dict)
    step_seconds: list[float] = field(default_factory=list)  # wall time of each step run here


# ---- the teacher ------------------------------------------------------------------------------
class Teacher:
    """Frozen copies of the vision side, swapped into the model only for the teacher's pass (so
    the LLM is held once)."""

    def __init__(self, model, named: list[tuple[str, "torch.nn.Module"]]):
        import copy

        self.model = model
        self.names = [n for n, _ in named]
        self.live = [m for _, m in named]
        self.places = [_place_of(model, m) for m in self.live]
        self.copies = [copy.deepcopy(m).eval().requires_grad_(False) for m in self.live]

    def named(self) -> list[tuple[str, "torch.nn.Module"]]:
        return list(zip(self.names, self.copies))

    @contextmanager
    def swapped(self):
        for (holder, attr), copy in zip(self.places, self.copies):
            holder._modules[attr] = copy
        try:
            yield
        finally:
            for (holder, attr), live in zip(self.places, self.live):
                holder._modules[attr] = live

    def tokens(self, inputs: dict, n: int) -> list["torch.Tensor"]:
        import torch

        from cvb_hf import features

        with torch.no_grad(), self.swapped():
            return features(self.model, inputs, n)


def _place_of(model, module) -> tuple[Any, str]:
    for holder in model.modules():
        for attr, child in holder._modules.items():
            if child is module:
                return holder, attr
    raise RuntimeError(f"{type(module).__name__} is not a submodule of {type(model).__name__}")


# ---- the loop ---------------------------------------------------------------------------------
def steps_per_epoch(n_pairs: int, global_batch: int) -> int:
    if n_pairs < global_batch:
        raise UsageError(f"{n_pairs} training pairs are fewer than one global batch of {global_batch}; "
                         f"lower --batch or add images")
    return n_pairs // global_batch


def warmup_steps(warmup: float, total: int) -> int:
    return int(round(warmup * total)) if warmup < 1 else int(warmup)


def run(make_vlm: Callable[[str, str], Any], vlm_ref: str, data: Data, cache, vocab: Vocabulary,
        train_spec: TrainSpec, settings: Settings, out: Path, *, console=None, quiet: bool = False,
        describe: dict[str, Any] | None = None, accelerator=None) -> Outcome:
    """Train (or resume) and write the adapter folder ``out``. ``make_vlm(device, dtype)`` builds the
    base ``HFVLM``."""
    from cvb.compat import ensure_torchvision

    ensure_torchvision()  # before transformers' lazy imports reach torchvision
    import torch
    from accelerate import Accelerator
    from transformers import get_cosine_schedule_with_warmup

    from cvb_hf import crops_per_image, image_inputs

    acc = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    main = acc.is_main_process
    dtype = settings.dtype if settings.dtype != "auto" else ("bf16" if acc.device.type == "cuda" else "fp32")
    vlm = make_vlm(str(acc.device), dtype)
    vlm.load()
    model = vlm.model
    model.eval()
    for _, module in artifact.base_modules(model):
        module.float()  # fp32 master weights (a no-op in fp32); the LLM keeps its dtype
    master = torch.float32

    amp = functools.partial(_autocast, acc.device.type, dtype == "bf16")

    world, rank = acc.num_processes, acc.process_index
    global_batch = settings.batch * world
    spe = steps_per_epoch(len(data.train), global_batch)
    total = settings.steps or spe * settings.epochs
    resolution = list(settings.resolution) if settings.resolution else "native"

    teacher = Teacher(model, artifact.base_modules(model))
    base_print = artifact.vision_fingerprint(teacher.named())
    dataset = PairDataset(data, data.train, cache, settings.resolution)
    val_set = PairDataset(data, data.val, cache, settings.resolution)

    # one training image, as the student would get it: what ``Student`` derives the trainable
    # set from (the parameters its visual tokens depend on)
    probe = lambda: (image_inputs(vlm.processor, [dataset[0][2]], acc.device, master), 1)

    torch.manual_seed(settings.seed)
    with amp():
        student = Student(model, vocab.size, train_spec, settings.placement, probe=probe)
    params = student.trainable()
    n_trained = sum(p.numel() for p in params.values())
    optimizer = torch.optim.AdamW(list(params.values()), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps(settings.warmup, total), total)
    forward = acc.prepare(_forward_module(student))
    optimizer = acc.prepare(optimizer)

    run_id = {"base": vlm.source, "base_fingerprint": base_print, "vocabulary": vocab.as_json(),
              "train": train_spec.label, "settings": settings.fingerprint_fields(), "world": world,
              "total_steps": total, "data": data.fingerprint(resolution)}
    ckpt_path = out / artifact.CHECKPOINT / "state.pt"
    if main:
        artifact.remove_stale_temporaries(out)  # a write killed half-way
    start, val_before = 0, None
    curve: list[float] = []
    if ckpt_path.is_file():
        start, curve, val_before = _resume(ckpt_path, run_id, params, optimizer, scheduler, out)
        if main and console is not None:
            console.print(f"resuming {out} at step {start}/{total}")

    def tokens_pair(items):
        """(pairs, the student's inputs, the teacher's tokens) of a batch; conditions set."""
        pairs = [p for p, _, _ in items]
        clean = image_inputs(vlm.processor, [c for _, c, _ in items], acc.device, master)
        comp = image_inputs(vlm.processor, [x for _, _, x in items], acc.device, master)
        with amp():
            t = teacher.tokens(clean, len(items))
        if student.conditioner is not None:
            student.conditioner.set([UNCONDITIONAL if p.codec == REFERENCE else vocab.index(p.codec, p.level)
                                     for p in pairs], [x.shape[0] for x in t], crops_per_image(comp))
        return pairs, comp, t

    # the bare module: DDP's forward would wait for the other ranks
    validate = functools.partial(_validate, val_set, settings.batch, tokens_pair, acc.unwrap_model(forward),
                                 student, amp)

    if val_before is None:  # every process needs it to balance the cells (the same on all)
        val_before = validate() if main or settings.balance == "cell" else {}
    weight = cell_weights(val_before, settings.balance)
    student.train(True)


    bar = _bar(console, total, start, quiet or not main)
    t0, images_seen, running = time.perf_counter(), 0, None
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    step = start
    step_seconds: list[float] = []
    last = time.perf_counter()
    try:
        while step < total:
            for items in _epoch_loader(dataset, settings, step, total, spe, world, rank):
                pairs, comp, t = tokens_pair(items)
                with amp():
                    s = forward(comp, len(items))
                loss = _loss(pairs, s, t, weight)
                acc.backward(loss)
                if settings.grad_clip > 0:
                    acc.clip_grad_norm_(list(params.values()), settings.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                now = time.perf_counter()
                step_seconds.append(now - last)
                last = now
                images_seen += len(items) * world
                value = float(loss.detach())
                running = value if running is None else 0.9 * running + 0.1 * value
                curve.append(round(value, 8))
                bar(step, running, scheduler.get_last_lr()[0])
                if step % settings.save_every == 0 and step < total:
                    _save_checkpoint(acc, ckpt_path, {"run_id": run_id, "step": step, "curve": curve,
                                                      "val_before": val_before}, params, optimizer, scheduler)
                _test_signal(step)
    finally:
        bar(None, None, None)
    seconds = time.perf_counter() - t0
    val_after = validate() if main else {}
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None

    manifest: dict[str, Any] = {}
    if main:
        out.mkdir(parents=True, exist_ok=True)
        weights_sha = artifact.save_weights(out, dict(params), {"cvb": artifact.FORMAT})
        losses = {"val_before": val_before, "val_after": val_after, "train_curve": curve,
                  "val_pairs": len(data.val), "train_pairs": len(data.train)}
        manifest = _manifest(vlm_ref, vlm, model, base_print, vocab, settings, student, resolution, train_spec,
                             n_trained, len(params), total, world, dtype, data, describe, losses, weights_sha)
        artifact.write_atomic(out / artifact.LOSSES, (json.dumps(losses, indent=1) + "\n").encode())
        artifact.save_manifest(out, manifest)
        shutil.rmtree(out / artifact.CHECKPOINT, ignore_errors=True)
    acc.wait_for_everyone()
    vlm.close()
    done = step - start
    return Outcome(manifest, start, done, seconds, images_seen / seconds if seconds > 0 and done else 0.0,
                   peak, val_before, val_after, step_seconds)


def _manifest(vlm_ref: str, vlm: Any, model: Any, base_print: str, vocab: Vocabulary, settings: Settings,
              student: Any, resolution: Any, train_spec: TrainSpec, n_trained: int, n_tensors: int, total: int,
              world: int, dtype: str, data: Data, describe: dict[str, Any] | None, losses: dict[str, Any],
              weights_sha: str) -> dict[str, Any]:
    """The adapter's ``adapter.json``: the base model, the processor, the vocabulary, how it was
    trained and on what, its losses and its weights' digest."""
    from cvb import __version__ as cvb_version
    from cvb_hf import image_backend

    from .seam import family_of, revision_of

    val_before, val_after, curve = losses["val_before"], losses["val_after"], losses["train_curve"]
    return {
            "format": artifact.FORMAT,
            "cvb_version": cvb_version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "base": {"model": vlm_ref, "source": vlm.source, "revision": vlm.revision,
                     "revision_label": revision_of(vlm), "family": family_of(vlm),
                     "architecture": (getattr(model.config, "architectures", None) or [type(model).__name__])[0],
                     "model_type": getattr(model.config, "model_type", ""),
                     "vision_fingerprint": base_print},
            "processor": {**{k: getattr(vlm, k) for k in ("min_pixels", "max_pixels") if getattr(vlm, k)},
                          "image_backend": image_backend(vlm.processor.image_processor)},
            "vocabulary": vocab.as_json(),
            "condition": {"mode": vocab.mode, "placement": settings.placement,
                          "added_to": student.conditioner.kind if student.conditioner else None},
            "resolution": resolution,
            "train": {"what": train_spec.label, "parameters": n_trained, "tensors": n_tensors,
                      "steps": total, "batch_per_process": settings.batch, "processes": world,
                      "lr": settings.lr, "warmup_steps": warmup_steps(settings.warmup, total),
                      "weight_decay": settings.weight_decay, "grad_clip": settings.grad_clip,
                      "seed": settings.seed, "dtype": dtype,
                      "precision": ("fp32 master weights, bf16 autocast" if dtype == "bf16" else "fp32"),
                      "balance": settings.balance, "clean_mix": settings.clean_mix,
                      "schedule": "linear warm-up + cosine"},
            "data": {**data.summary(), "fingerprint": data.fingerprint(resolution), **(describe or {})},
            "losses": {"val_before": val_before, "val_after": val_after,
                       "val_before_mean": _mean(val_before), "val_after_mean": _mean(val_after),
                       "train_first": curve[0] if curve else None, "train_last": curve[-1] if curve else None},
            "weights": {"file": artifact.WEIGHTS, "sha256": weights_sha},
        }


def _autocast(device_type: str, bf16: bool) -> Any:
    """bf16 autocast around every vision forward (teacher, student, validation, probe)."""
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16)


def _save_checkpoint(acc: Any, path: Path, progress: dict[str, Any], params: dict, optimizer: Any,
                     scheduler: Any) -> None:
    """The main process writes the checkpoint (``progress``: run id, step, loss curve, first
    validation; the weights, optimizer, schedule and random state); every process waits for it."""
    import torch

    if acc.is_main_process:
        state = {**progress, "weights": {n: p.detach().cpu() for n, p in params.items()},
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        import io

        buf = io.BytesIO()
        torch.save(state, buf)
        artifact.write_atomic(path, buf.getvalue())
    acc.wait_for_everyone()


def _validate(val_set: Any, batch: int, tokens_pair: Callable, forward: Callable, student: Any,
              amp: Callable) -> dict[str, float]:
    """Mean per-image MSE over the validation pairs, per codec/level."""
    import torch
    import torch.nn.functional as F

    student.train(False)
    sums: dict[str, list[float]] = {}
    try:
        for lo in range(0, len(val_set), batch):
            items = [val_set[i] for i in range(lo, min(lo + batch, len(val_set)))]
            pairs, comp, t = tokens_pair(items)
            with torch.no_grad(), amp():
                s = forward(comp, len(items))
            for p, a, b in zip(pairs, s, t):
                sums.setdefault(f"{p.codec}/{p.level}", []).append(F.mse_loss(a.float(), b.float()).item())
    finally:
        student.train(True)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _epoch_loader(dataset: Any, settings: Settings, step: int, total: int, spe: int, world: int,
                  rank: int) -> Any:
    """This process's batches from ``step`` to the end of its epoch (or of training): the
    epoch's seeded permutation, cut into global batches, this rank's share of each."""
    import numpy as np
    import torch

    epoch, pos = divmod(step, spe)
    global_batch = settings.batch * world
    order = np.random.default_rng([settings.seed, epoch]).permutation(len(dataset))
    batches = [order[b * global_batch + rank * settings.batch:
                     b * global_batch + (rank + 1) * settings.batch].tolist()
               for b in range(pos, min(spe, pos + total - step))]
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=settings.workers, collate_fn=list,
        worker_init_fn=functools.partial(_worker_init, os.getpid()) if settings.workers else None)


def _resume(ckpt_path: Path, run_id: dict, params: dict, optimizer: Any, scheduler: Any,
            out: Path) -> tuple[int, list, dict | None]:
    """The checkpoint's step, loss curve and first validation, its weights, optimizer, schedule
    and random state put back; a checkpoint of other settings is refused."""
    import torch

    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    if state["run_id"] != run_id:
        raise UsageError(f"{out} holds a checkpoint of a run with other settings "
                         f"({'; '.join(differences(state['run_id'], run_id))}); rerun with the same "
                         f"options, or pass --restart to start over")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(state["weights"][name].to(p.device, p.dtype))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    if torch.cuda.is_available() and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["step"], state["curve"], state["val_before"]


def _loss(pairs: list, student_tokens: list, teacher_tokens: list,
          weight: dict[str, float] | None) -> Any:
    """The batch's MSE between student and teacher tokens; with cell weights, each pair's MSE
    scaled so every cell starts at the same loss (clean pairs: 1)."""
    import torch

    if weight is None:
        return torch.nn.functional.mse_loss(torch.cat(student_tokens).float(), torch.cat(teacher_tokens).float())
    return torch.stack([weight.get(f"{p.codec}/{p.level}", 1.0) * torch.nn.functional.mse_loss(a.float(), b.float())
                        for p, a, b in zip(pairs, student_tokens, teacher_tokens)]).mean()


def _test_signal(step: int) -> None:
    """Kill (``KILL_ENV``) or interrupt (``INTERRUPT_ENV``) this process after the step those
    variables name: how the tests stop a training run half-way."""
    for env, sig in ((KILL_ENV, signal.SIGKILL), (INTERRUPT_ENV, signal.SIGINT)):
        at = int(os.environ.get(env, "0") or 0)
        if at and step == at:
            os.kill(os.getpid(), sig)


def _worker_init(parent: int, worker_id: int) -> None:
    """A DataLoader worker dies with the training process, ``kill -9`` included, as `cvb run`'s
    workers do (otherwise it lives on, holding the caller's output pipes)."""
    die_with_parent(parent)


BALANCES = ("none", "cell")


def cell_weights(val_before: dict[str, float], balance: str) -> dict[str, float] | None:
    """``--balance cell``: cell -> mean validation loss before training / that cell's, so the
    most compressed cells (largest losses) stop dominating one plain MSE; None for ``none``."""
    if balance == "none":
        return None
    if balance != "cell":
        raise UsageError(f"--balance {balance!r}: choose one of {', '.join(BALANCES)}")
    mean = _mean(val_before) or 0.0
    return {cell: (mean / v if v > 0 else 1.0) for cell, v in val_before.items()}


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``["settings.lr: 0.0001 -> 0.001", ...]``: each setting that differs, nested keys spelled
    out, so a refusal names what changed."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif key in ("data", "base_fingerprint"):
            out.append(f"{prefix}{key}: changed" if key == "data" else f"{prefix}{key}: another model")
        else:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


def _mean(values: dict[str, float]) -> float | None:
    return sum(values.values()) / len(values) if values else None


def _forward_module(student: Student):
    """The trained modules as one ``nn.Module`` (what DDP wraps); its forward is the model's own
    visual-token computation, which runs through those very modules."""
    import torch

    from cvb_hf import features

    class StudentForward(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = torch.nn.ModuleList(student.vision_modules())
            object.__setattr__(self, "_model", student.model)  # not a submodule: the LLM stays out

        def forward(self, inputs: dict, n: int):
            return features(self._model, inputs, n)

    return StudentForward()


def _bar(console, total: int, start: int, quiet: bool):
    """``update(step, running_loss, lr)``; ``update(None, ...)`` closes the bar. Always on stderr
    (results go to stdout): a bar on a terminal, else a plain line every 10 s, as `cvb run`."""
    if quiet:
        return lambda *a: None
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from cvb.run.progress import PLAIN_INTERVAL_S, stderr_console

    console = stderr_console()
    if not console.is_terminal:
        return _plain_lines(console.file, total, start, PLAIN_INTERVAL_S)
    prog = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                    TextColumn("lr {task.fields[lr]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console)
    task = prog.add_task("train", total=total, completed=start, loss="-", lr="-")
    prog.start()

    def update(step, loss, lr):
        if step is None:
            prog.stop()
            return
        prog.update(task, completed=step, loss=f"{loss:.5g}", lr=f"{lr:.2e}")

    return update


def _plain_lines(stream, total: int, start: int, interval: float):
    """``train: 12/40 (30%), loss 0.0012, lr 1.0e-04, 0.8 steps/s, eta 0:00:35``, every ``interval``
    seconds and at the end."""
    from datetime import timedelta

    t0 = last = time.monotonic()

    def update(step, loss, lr):
        nonlocal last
        now = time.monotonic()
        if step is None or (step < total and now - last < interval):
            return
        last = now
        rate = (step - start) / max(now - t0, 1e-9)
        eta = f", eta {timedelta(seconds=round((total - step) / rate))}" if rate > 0 and step < total else ""
        try:
            stream.write(f"train: {step}/{total} ({100 * step / total:.0f}%), loss {loss:.5g}, lr {lr:.2e}, "
                         f"{rate:.2f} steps/s{eta}\n")
            stream.flush()
        except OSError:
            pass

    return update


def loss_table(before: dict[str, float], after: dict[str, float]):
    """A rich table: validation MSE per codec/level before and after training."""
    from rich.table import Table

    table = Table(title="validation loss (MSE between student and teacher visual tokens)")
    for col in ("codec/level", "before", "after", "change"):
        table.add_column(col, justify="left" if col == "codec/level" else "right")
    for key in sorted(before, key=_cell_order):
        b, a = before[key], after.get(key, math.nan)
        change = f"{100 * (a - b) / b:+.1f}%" if b else "-"
        table.add_row(key, f"{b:.5g}", f"{a:.5g}", change)
    if before and after:
        mb, ma = _mean(before) or 0.0, _mean(after) or 0.0  # both non-empty here
        table.add_row("mean", f"{mb:.5g}", f"{ma:.5g}", f"{100 * (ma - mb) / mb:+.1f}%" if mb else "-")
    return table


def _cell_order(key: str):
    codec, _, level = key.partition("/")
    try:
        return codec, 0, float(level), level
    except ValueError:
        return codec, 1, 0.0, level
