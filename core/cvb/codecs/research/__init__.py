"""``ResearchCodec``: run a research codec from the user's own checkout and Python environment.

Research codecs (TCM, MLIC++, StableCodec, DiffEIC, RDEIC, ...) live in git repositories with
their own, often conflicting, dependencies; cvb does not import them. Instead it starts one
worker process per codec instance with the *user's* interpreter (``python``) and checkout
(``repo``), running ``cvb/codecs/research/driver.py``, and sends it encode/decode requests (JSON
lines). The worker writes a real bitstream file; cvb reads its bytes, so bpp is measured, never
estimated. A codec whose code only estimates bits (from likelihoods, with no entropy coder)
sets ``estimates_only`` to the reason, and cvb refuses to create it.

A subclass (one per codec package) sets ``name``, the levels, ``env_prefix`` (``CVB_TCM`` ->
``CVB_TCM_REPO``, ``CVB_TCM_PYTHON``, ``CVB_TCM_CHECKPOINTS``), ``module``/``model_class``/
``model_kwargs`` (the repo's model), ``pad_multiple`` and ``checkpoint_name(level)``. A
repository that is not CompressAI-shaped (diffusion codecs, a model built from a config object)
also ships ``hooks``: a standalone Python file the worker loads in the user's environment, whose
``build``/``encode``/``decode`` replace the driver's defaults (see ``driver.py``), and
``settings()``: JSON values the hooks read (sampling steps, extra weight paths).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ... import tool_guard
from ..base import BaseCodec
from ...errors import CodecError, UnavailableError, UsageError
from ..external import kill_group
from ...options import as_float, reject_unknown
from ...types import CodecKind

if TYPE_CHECKING:
    from PIL import Image

DRIVER = Path(__file__).with_name("driver.py")
#: cvb's torchvision step, a standalone file the worker applies before the checkout's imports
COMPAT = Path(__file__).parents[2] / "compat.py"
#: variables of cvb's environment that would put cvb's import path into the user's interpreter
#: (cvb's compressai shadowing the research environment's own, say)
LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH")


def worker_environment() -> dict[str, str]:
    """cvb's environment less what changes the worker's ``sys.path``: the worker imports what the
    research environment has, and the checkout (put first on its path by the driver)."""
    return {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}


class ResearchCodec(BaseCodec):
    kind = CodecKind.LEARNED
    env_prefix = ""
    module = ""
    model_class = ""
    model_kwargs: Mapping[str, Any] = {}
    pad_multiple = 64
    install_hint = ""
    #: a Python file the worker loads in the user's environment (build/encode/decode hooks)
    hooks: str | Path = ""
    #: extra numeric options the hooks read (``{"steps": 50}``): accepted by ``__init__``, parsed
    #: like the default's type, sent in ``settings()`` and part of ``params``
    setting_defaults: Mapping[str, int | float] = {}
    #: non-empty: why this codec's released code cannot give a real bitstream (cvb refuses it)
    estimates_only = ""

    def __init__(self, repo: object = None, python: object = None, checkpoints: object = None,
                 device: object = "cpu", timeout: object = 600, **unknown: object):
        self._settings = {key: self._number(key, unknown.pop(key, default), default)
                          for key, default in self.setting_defaults.items()}
        reject_unknown(self.name, unknown, ("repo", "python", "checkpoints", "device", "timeout",
                                            *self.setting_defaults))
        if self.estimates_only:
            raise UnavailableError(f"{self.name}: refused: {self.estimates_only}; cvb measures bpp from "
                                   f"real bitstreams only")
        self.repo = self._path("repo", repo, "REPO", directory=True)
        self.python = str(python or os.environ.get(f"{self.env_prefix}_PYTHON") or sys.executable)
        self.checkpoints = self._path("checkpoints", checkpoints, "CHECKPOINTS", directory=True)
        from ..learned import parse_device

        self.device = parse_device(self.name, device)
        self.timeout_s = as_float(self.name, "timeout", timeout, lo=0.001)
        self.version = f"{self.name}/{self.repo_revision()}"
        self._proc: subprocess.Popen | None = None

    def _path(self, option: str, value: object, suffix: str, directory: bool) -> Path:
        env = f"{self.env_prefix}_{suffix}"
        raw = value or os.environ.get(env)
        if not raw:
            raise UnavailableError(f"{self.name}: give option {option}=PATH or set {env}; {self.install_hint}")
        path = Path(str(raw)).expanduser()
        if not (path.is_dir() if directory else path.is_file()):
            raise UnavailableError(f"{self.name}: {option} {path} is not a {'folder' if directory else 'file'}")
        return path

    def repo_revision(self) -> str:
        """The checkout's git commit, marked when it has uncommitted changes (part of ``version``,
        so the cache follows the code; see ``cvb.codecs.research.revision``)."""
        from .revision import repo_revision

        return repo_revision(self.repo)

    def checkpoint_name(self, level: str) -> str:
        """The checkpoint file of ``level`` inside ``checkpoints``."""
        return f"{self.name}-{level}.pth.tar"

    def params(self) -> Mapping[str, object]:
        names = {lv: self.checkpoint_name(lv) for lv in self.default_levels}
        return {"device": self.device.split(":")[0], "checkpoints": names, **self.settings()}

    def settings(self) -> dict:
        """JSON values the hooks read (sampling steps, extra weight files); part of ``params``."""
        return dict(self._settings)

    def _number(self, key: str, value: object, default: int | float) -> int | float:
        number = as_float(self.name, key, value)
        if isinstance(default, int):
            if number != int(number):
                raise UsageError(f"{self.name}: option {key} must be a whole number, not {value!r}")
            return int(number)
        return number

    def __getstate__(self) -> dict:  # a worker process does not travel (pickling, fresh processes)
        state = dict(self.__dict__)
        state["_proc"] = None
        return state

    # ---- the worker ------------------------------------------------------------------------
    def spec(self) -> dict:
        files = {}
        for level in range(self.level_min or 0, (self.level_max or 0) + 1):
            path = self.checkpoints / self.checkpoint_name(str(level))
            if path.is_file():
                files[str(level)] = str(path)
        return {"repo": str(self.repo), "module": self.module, "class": self.model_class,
                "kwargs": dict(self.model_kwargs), "checkpoints": files, "pad": self.pad_multiple,
                "device": self.device, "hooks": str(self.hooks) if self.hooks else "",
                "settings": self.settings(), "compat": str(COMPAT)}

    def _worker(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            tool_guard.ensure()  # started before the worker, so watching it is one write
            try:
                self._proc = subprocess.Popen([self.python, str(DRIVER), "serve", json.dumps(self.spec())],
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, cwd=self.repo,
                                              env=worker_environment(),
                                              start_new_session=True)  # killed as a group
            except OSError as exc:
                raise UnavailableError(f"{self.name}: cannot start {self.python}: {exc}") from exc
            tool_guard.watch(self._proc)  # dies with this process, kill -9 included
            self._reply("starting the worker")
        return self._proc

    def _reply(self, what: str) -> dict:
        proc = self._proc
        assert proc is not None and proc.stdout is not None, "the worker is started first"
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                ready = sel.select(self.timeout_s)
        except BaseException:  # Ctrl-C, a run being stopped: the worker goes with it, at once
            self.close()
            raise
        line = proc.stdout.readline() if ready else ""
        if not line:
            kill_group(proc)  # the worker and anything it started
            err = proc.stderr.read()[-800:] if proc.stderr else ""
            proc.wait()
            tool_guard.release(proc)
            self._proc = None
            raise CodecError(f"{self.name}: the worker ({self.python}) died or timed out {what}: {err.strip()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise CodecError(f"{self.name}: {what}: {reply.get('error')}")
        return reply

    def _call(self, op: str, level: str, src: Path, dst: Path) -> None:
        proc = self._worker()
        assert proc.stdin is not None  # started with stdin=PIPE
        proc.stdin.write(json.dumps({"op": op, "level": level, "input": str(src), "output": str(dst)}) + "\n")
        proc.stdin.flush()
        self._reply(f"{op} at level {level}")

    def close(self) -> None:
        if self._proc is not None:
            kill_group(self._proc)
            self._proc.wait()
            tool_guard.release(self._proc)
            self._proc = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ---- coding ----------------------------------------------------------------------------
    def encode(self, image: "Image.Image", level: str) -> bytes:
        import tempfile

        level = self.parse_level(level)
        if not (self.checkpoints / self.checkpoint_name(level)).is_file():
            raise UnavailableError(f"{self.name}: no checkpoint {self.checkpoints / self.checkpoint_name(level)}")
        with tempfile.TemporaryDirectory(prefix=f"cvb-{self.name}-") as tmp:
            src, dst = Path(tmp) / "in.png", Path(tmp) / "out.bin"
            image.convert("RGB").save(src, compress_level=1)
            self._call("encode", level, src, dst)
            if not dst.is_file() or dst.stat().st_size == 0:
                raise CodecError(f"{self.name}: the research code wrote no bitstream (an estimate-only "
                                 f"codec? cvb measures bpp from real bitstreams only)")
            # one byte names the level, so decoding picks the right checkpoint (counted in bpp)
            return bytes([self.level_code(level)]) + dst.read_bytes()

    def decode(self, bits: bytes) -> "Image.Image":
        import tempfile

        from PIL import Image

        level = self.level_of_code(bits[0])
        with tempfile.TemporaryDirectory(prefix=f"cvb-{self.name}-") as tmp:
            src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.png"
            src.write_bytes(bits[1:])
            self._call("decode", level, src, dst)
            with Image.open(dst) as im:
                return im.convert("RGB")
