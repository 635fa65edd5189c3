"""Base class for codecs that run an external binary (x265, ffmpeg, HM, VTM, BPG, ...).

Commands are argv lists (never a shell string), run in a private temporary directory with a
timeout; a failure raises ``ExternalToolError`` carrying the binary's stderr.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .base import BaseCodec
from ..errors import ExternalToolError, UnavailableError

if TYPE_CHECKING:
    from PIL import Image


def find_binary(name: str, env_var: str | None = None) -> str | None:
    """Path of a binary: ``$ENV_VAR`` if set, else the first on PATH."""
    if env_var and os.environ.get(env_var):
        path = os.environ[env_var]
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(name)


def find_first_binary(names: Sequence[str], env_var: str | None = None) -> str | None:
    """``$ENV_VAR`` if set (and executable), else the first of ``names`` on PATH (for tools
    whose builds name their binaries differently, e.g. HM's TAppEncoder/TAppEncoderStatic)."""
    for name in names:
        path = find_binary(name, env_var)
        if path:
            return path
    return None


def env_path_problem(env_var: str) -> str | None:
    """Why ``$ENV_VAR`` does not name a usable binary (None when it does, or is unset)."""
    path = os.environ.get(env_var)
    if not path:
        return None
    if not os.path.exists(path):
        return f"{env_var}={path} does not exist"
    if not os.path.isfile(path):
        return f"{env_var}={path} is not a file"
    if not os.access(path, os.X_OK):
        return f"{env_var}={path} is not executable (chmod +x {path})"
    return None


def binary_status(name: str, env_var: str | None = None, install_hint: str = "") -> str | None:
    """For ``Spec.check``: None when the binary is found, else what is wrong and how to fix it.

    When ``$ENV_VAR`` is set it alone counts, so the message says what is wrong with it
    (missing, not a file, not executable) rather than that PATH lacks the binary.
    """
    hint = f"; {install_hint}" if install_hint else ""
    if env_var and os.environ.get(env_var):
        problem = env_path_problem(env_var)
        return f"{problem}{hint}" if problem else None
    if find_binary(name, env_var):
        return None
    where = f" (or set {env_var}=/path/to/{name})" if env_var else ""
    return f"binary {name} not found on PATH{where}{hint}"


def tools_status(tools: Sequence[tuple[Sequence[str], str | None]], what: str, install_hint: str) -> str | None:
    """For ``Spec.check`` of a codec needing several binaries, each ``(names, env_var)``:
    None when all are found, else one line naming each problem, e.g. ``VTM binaries not
    usable: CVB_VTM_ENCODER=/x does not exist; DecoderApp not found on PATH; <hint>``."""
    problems = []
    for names, env in tools:
        if find_first_binary(names, env) is None:
            problems.append((env_path_problem(env) if env else None) or f"{names[0]} not found on PATH")
    if not problems:
        return None
    return f"{what} not usable: {'; '.join(problems)}; {install_hint}"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group ``proc`` leads (started with ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


class ExternalCodec(BaseCodec):
    """Subclasses set ``binaries`` and implement ``encode_files``/``decode_files``."""

    binaries: dict[str, str | None] = {}  # binary name -> env var that may override its path
    install_hint: str = ""
    timeout_s: float = 300.0

    def binary(self, name: str) -> str:
        path = find_binary(name, self.binaries.get(name))
        if path is None:
            raise UnavailableError(binary_status(name, self.binaries.get(name), self.install_hint))
        return path

    def run_tool(self, argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
        """Run one command to completion. It runs in a process group of its own, so that on a
        timeout (or Ctrl-C) the whole group is killed: a wrapper script's children included; and
        ``cvb.tool_guard`` kills that group if this process dies first (``kill -9`` included)."""
        from .. import tool_guard

        argv = [str(a) for a in argv]
        tool_guard.ensure()  # started before the tool, so watching it is one write
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise ExternalToolError(argv, None, str(exc)) from None
        tool_guard.watch(proc)  # killed with its group if this process dies first (kill -9 included)
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            try:
                _, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a grandchild left the group and holds the pipe
                err = b""
            raise ExternalToolError(argv, None, (err or b"").decode("utf-8", "replace"), timeout=True) from None
        except BaseException:  # Ctrl-C, a worker being stopped: leave nothing running
            kill_group(proc)
            proc.wait()
            raise
        finally:
            tool_guard.release(proc)
        if proc.returncode != 0:
            kill_group(proc)  # a child it left behind must not outlive the failed unit
            raise ExternalToolError(argv, proc.returncode, err.decode("utf-8", "replace"))
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    def encode(self, image: "Image.Image", level: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix=f"cvb-{self.name}-") as tmp:
            return self.encode_files(image, level, Path(tmp))

    def decode(self, bits: bytes) -> "Image.Image":
        with tempfile.TemporaryDirectory(prefix=f"cvb-{self.name}-") as tmp:
            return self.decode_files(bits, Path(tmp))

    def encode_files(self, image: "Image.Image", level: str, tmp: Path) -> bytes:
        raise NotImplementedError

    def decode_files(self, bits: bytes, tmp: Path) -> "Image.Image":
        raise NotImplementedError
