"""The fake components. Compression really changes the answers: the VLM judges texture from
pixel spread, and the fake codec's coarse levels turn smooth images near a quantisation
boundary into two-tone ones, so low levels score worse than high ones."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping, Sequence

from cvb.testing import FakeCodec, ScriptedVLM
from cvb.types import AnswerKind, ImageSource, Query, Sample, TaskScore

CALLS = {"encode": 0, "create": 0, "load": 0}
POISON = (255, 0, 255)  # a top-left pixel of this colour makes the fake codec fail
CRASH = (0, 255, 255)  # ... and this one kills the worker process running it (like a segfault)
SMOOTH_STD = 12.0


def _log(event: str) -> None:
    path = os.environ.get("CVB_FAKES_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:  # O_APPEND: whole lines across processes
            fh.write(event + "\n")


def log_events(path: str | os.PathLike, prefix: str = "") -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [ln for ln in lines if ln.startswith(prefix)]


def _env_delay(name: str) -> float:
    return float(os.environ.get(name, "0") or 0)


class CountingCodec(FakeCodec):
    """cvb.testing.FakeCodec that counts encodes, fails on a poison pixel, and sleeps
    ``$CVB_FAKES_ENCODE_DELAY`` seconds per encode (to kill a run mid-compression). Each instance
    made is logged with its process (``create fake PID``): a learned codec builds its models per
    instance, so a worker must make one for its lifetime, not one per unit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _log(f"create fake {os.getpid()}")

    def encode(self, image, level):
        _hold("CVB_FAKES_ENCODE_HOLD_AFTER", CALLS["encode"])
        CALLS["encode"] += 1
        _log(f"encode {level}")
        delay = _env_delay("CVB_FAKES_ENCODE_DELAY")
        if delay:
            time.sleep(delay)
        if image.getpixel((0, 0)) == POISON:
            raise ValueError("poison pixel: this codec cannot encode magenta")
        if image.getpixel((0, 0)) == CRASH:
            import multiprocessing

            if multiprocessing.parent_process() is not None:  # never the test process itself
                os._exit(3)
            raise ValueError("crash pixel: would have crashed a worker")
        return super().encode(image, level)


def texture_answer(query: Query) -> str:
    import numpy as np

    std = float(np.asarray(query.image, dtype=np.float32).std())
    smooth = std < SMOOTH_STD
    asks_smooth = "smooth" in query.prompt
    return "Yes" if smooth == asks_smooth else "No"


def _die_once(queries) -> None:
    """``$CVB_FAKES_DIE_ONCE=PATH``: the first process asked about a sample whose id holds
    ``$CVB_FAKES_DIE_ON`` (default: any) finds PATH missing, creates it and dies at once (a
    replica lost mid-run); every later answer goes through."""
    path = os.environ.get("CVB_FAKES_DIE_ONCE")
    if path and any(os.environ.get("CVB_FAKES_DIE_ON", "") in q.sample_id for q in queries):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(9)


_ANSWERED = [0]  # queries this process's VLMs answered


def _hold(switch: str, done: int) -> None:
    """``$CVB_FAKES_HOLD_AFTER=N`` (answers) or ``$CVB_FAKES_ENCODE_HOLD_AFTER=N`` (codec calls):
    once this process has made N, it makes no other until the gate opens (``_gate_open``) or
    the run is interrupted or killed, so a test that stops a run in the middle finds it there
    however slow the machine is, with no timing to win."""
    limit = os.environ.get(switch)
    while limit and done >= int(limit) and not _gate_open():
        time.sleep(0.05)


def _gate_open() -> bool:
    """``$CVB_FAKES_GATE=PATH``: the model's delay and the holds below last only until PATH
    exists (a test keeps a run slow, or stopped, while it looks, then lets it finish)."""
    gate = os.environ.get("CVB_FAKES_GATE")
    return bool(gate) and os.path.exists(gate)


def _record(queries) -> None:
    """``$CVB_FAKES_RECORD=DIR``: keep the exact pixels each query handed the VLM, as
    ``DIR/SAMPLE~CODEC~LEVEL.raw`` (``Image.tobytes()``) beside a ``.json`` of mode and size."""
    import json

    folder = os.environ.get("CVB_FAKES_RECORD")
    if not folder:
        return
    for q in queries:
        stem = Path(folder) / f"{q.sample_id}~{q.codec}~{q.level}"
        stem.with_suffix(".raw").write_bytes(q.image.tobytes())
        stem.with_suffix(".json").write_text(json.dumps({"mode": q.image.mode, "size": list(q.image.size)}))


class LyingCodec(CountingCodec):
    """The fake codec breaking its protocol on purpose: ``lie`` = ``decode-none`` (decode returns
    None), ``encode-str`` (encode returns text) or ``decode-size`` (a decoded image of another size)."""

    name = "liar"

    def __init__(self, lie: str = "decode-none"):
        self.lie = lie

    def encode(self, image, level):
        bits = super().encode(image, level)
        return bits.hex() if self.lie == "encode-str" else bits

    def decode(self, bits):
        image = super().decode(bits)
        if self.lie == "decode-none":
            return None
        return image.resize((image.width + 1, image.height)) if self.lie == "decode-size" else image


class TextureVLM(ScriptedVLM):
    """ScriptedVLM answering from pixels; can be slow (``delay``, or ``$CVB_FAKES_DELAY`` so the
    label stays the same), fail one sample, or raise on a batch. ``$CVB_FAKES_VLM_VERSION``
    stands for new weights under the same name (a retrained local checkpoint);
    ``$CVB_FAKES_NOTE`` adds a note to each answer (``{"condition": "CODEC/LEVEL"}``, as the
    adapter's VLM says what it was conditioned on)."""

    def __init__(self, batch_size: int = 4, delay: float = 0.0, fail_on: str = "", raise_on: str = "",
                 mode: str = "generate", device: str = "cpu", str_on: str = ""):
        fail = (lambda q: fail_on in q.sample_id) if fail_on else None
        super().__init__(script=texture_answer, name="scripted", batch_size=int(batch_size), fail_on=fail)
        self.version = f"{os.environ.get('CVB_FAKES_VLM_VERSION', '1')}/{mode}"
        self.delay, self.raise_on = float(delay) or _env_delay("CVB_FAKES_DELAY"), raise_on
        self.str_on = str_on  # sample-id substring answered with a plain str (a protocol bug)
        CALLS["create"] += 1
        _log("create scripted")

    def answer(self, queries: Sequence[Query]):
        if not self._loaded:
            CALLS["load"] += 1
            _log("load scripted")
        _die_once(queries)
        _hold("CVB_FAKES_HOLD_AFTER", _ANSWERED[0])
        _record(queries)
        if self.delay and not _gate_open():
            time.sleep(self.delay)
        if self.raise_on and any(self.raise_on in q.sample_id for q in queries):
            self._loaded = True
            raise RuntimeError(f"model crashed on a batch holding {self.raise_on}")
        answers = super().answer(queries)
        _ANSWERED[0] += len(queries)
        for q in queries:  # one line per question the model answered (concurrent runs share them)
            _log(f"answer {q.codec} {q.level} {q.sample_id}")
        if os.environ.get("CVB_FAKES_NOTE"):  # a note per answer, as an adapted VLM gives its condition
            from cvb.types import Answer

            answers = [Answer(a.text, a.error, {"condition": f"{q.codec}/{q.level}"}) for q, a in zip(queries, answers)]
        if self.str_on:
            return [a.text if self.str_on in q.sample_id else a for q, a in zip(queries, answers)]
        return answers


class ToyTask:
    """``toy:DIR``: for each ``img*_smooth.png`` / ``img*_textured.png``, ``questions`` yes/no
    questions alternating 'Is the image smooth?' and 'Is the image textured?' (sample ids
    ``STEM-qJ``, all first questions, then all second ones...). Score: accuracy in percent.
    ``inline=true``: each image comes as its encoded bytes (as hub datasets give them), not
    a path."""

    name = "toy"
    version = "1"

    def __init__(self, folder: str, questions: int = 2, broken_score: bool = False, streamed: bool = False,
                 inline: bool = False):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            from cvb.errors import UsageError

            raise UsageError(f"toy task: no folder {folder}")
        self.questions = int(questions)
        self.broken_score = broken_score in (True, "true", "1")
        self.streamed = streamed in (True, "true", "1")
        self.inline = inline in (True, "true", "1")
        if self.streamed:  # the same rule as score(), fed one sample at a time
            self.scorer = self._scorer

    def samples(self, limit: int | None = None) -> list[Sample]:
        """A list (the older shape); with ``streamed=true`` a generator, one sample at a time."""
        return self._samples(limit) if self.streamed else list(self._samples(limit))

    def _samples(self, limit: int | None):
        sources = [ImageSource(key=p.name, path=str(p)) for p in sorted(self.folder.glob("img*.png"))]
        n = 0
        for j in range(self.questions):
            word = ("smooth", "textured")[j % 2]
            for source in sources:
                if self.inline:
                    source = ImageSource(key=source.key, data=Path(source.path).read_bytes())
                stem = source.key[:-4]
                truth = stem.rsplit("_", 1)[-1]
                yield Sample(id=f"{stem}-q{j}", image=source, question=f"Is the image {word}?",
                             kind=AnswerKind.YESNO, answer="yes" if truth == word else "no", category=word)
                n += 1
                if limit and n == limit:
                    return

    def judge(self, sample: Sample, prediction: str) -> float:
        return float(prediction.strip().lower().startswith(sample.answer))

    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str],
              reference: Mapping[str, str] | None = None) -> TaskScore:
        if self.broken_score:
            raise ZeroDivisionError("the scoring rule has a bug")
        ok = [self.judge(s, predictions[s.id]) if s.id in predictions else 0.0 for s in samples]
        details = {"acc": 100.0 * sum(ok) / max(len(ok), 1), "missing": float(len(samples) - len(predictions))}
        if reference:
            same = [predictions.get(s.id) == reference[s.id] for s in samples if s.id in reference]
            details["agreement"] = 100.0 * sum(same) / max(len(same), 1)
        return TaskScore(value=details["acc"], metric="acc", details=details, accuracy_scale=100.0)


    def _scorer(self):
        from cvb.scoring.tally import Tally

        def record(s, pred, ref):
            return (0.0 if pred is None else self.judge(s, pred)), pred is None, ref is not None, pred == ref

        def finish(counts):
            if self.broken_score:
                raise ZeroDivisionError("the scoring rule has a bug")
            n = sum(counts.values())
            details = {"acc": 100.0 * sum(k * ok for (ok, *_), k in counts.items()) / max(n, 1),
                       "missing": float(sum(k for (_, miss, *_), k in counts.items() if miss))}
            with_ref = sum(k for (_, _, has, _), k in counts.items() if has)
            if with_ref:
                same = sum(k for (_, _, has, eq), k in counts.items() if has and eq)
                details["agreement"] = 100.0 * same / max(with_ref, 1)
            return TaskScore(value=details["acc"], metric="acc", details=details, accuracy_scale=100.0)
        return Tally(record, finish)


class MSE:
    name = "mse"
    higher_is_better = False

    def __init__(self, scale: float = 1.0, broken: bool = False):  # scale changes the values
        self.scale = float(scale)
        self.broken = broken in (True, "true", "1")  # measure returns None (a protocol bug)

    def measure(self, reference, distorted) -> float:
        import numpy as np

        a = np.asarray(reference, dtype=np.float64)
        b = np.asarray(distorted, dtype=np.float64)
        return None if self.broken else self.scale * float(((a - b) ** 2).mean())


def make_images(folder: str | os.PathLike, n: int, size: int = 32, seed: int = 0,
                poison: Sequence[int] = (), corrupt: Sequence[int] = (), crash: Sequence[int] = ()) -> Path:
    """``n`` PNGs: even ones smooth (noise +-4 around a grey level), odd ones textured.

    Grey levels near 128 make smooth images two-tone at coarse fake-codec levels (wrong answers).
    ``poison``: indices whose top-left pixel is magenta (the fake codec fails on them);
    ``corrupt``: indices written as bytes that are no image at all; ``crash``: indices whose
    top-left pixel is cyan (the fake codec kills the worker process encoding them).
    """
    import numpy as np
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        smooth = i % 2 == 0
        base = 116 + (i * 7) % 24 if smooth else 60 + (i * 13) % 120
        spread = 4 if smooth else 60
        arr = np.clip(base + rng.integers(-spread, spread + 1, size=(size, size, 3)), 0, 255).astype(np.uint8)
        if i in poison:
            arr[0, 0] = POISON
        if i in crash:
            arr[0, 0] = CRASH
        path = folder / f"img{i:04d}_{'smooth' if smooth else 'textured'}.png"
        if i in corrupt:
            path.write_bytes(b"this is not a png" * 8)
        else:
            Image.fromarray(arr, "RGB").save(path)
    return folder


def build_registry():
    """A registry holding only this plugin (tests install it as ``cvb.plugins._REGISTRY``);
    with ``$CVB_FAKES_WITH_INSTALLED`` set, the installed plugins too (real codecs beside the
    fake VLM and task)."""
    from cvb.plugins import PluginInfo, Registry

    from . import plugin

    reg = Registry()
    if os.environ.get("CVB_FAKES_WITH_INSTALLED"):
        reg.load_entry_points()
    reg.add_plugin(plugin, PluginInfo(name="fakes", distribution="cvb-fakes", version="0.1.0",
                                      value="cvb_fakes.plugin"))
    return reg
