"""Typed errors, so the CLI can turn each into a clear message and the right exit status."""

from __future__ import annotations


class CvbError(Exception):
    """Base of every error cvb raises on purpose."""


class UsageError(CvbError):
    """The user asked for something that does not exist (exit status 2)."""


class UnknownNameError(UsageError):
    """A codec/VLM/task/metric name nobody registered; lists the known names, and the plugins
    that failed to load (the name may have been theirs)."""

    def __init__(self, kind: str, name: str, known: list[str], broken: list[str] | tuple[str, ...] = ()):
        self.kind, self.name, self.known, self.broken = kind, name, sorted(known), list(broken)
        guess = did_you_mean(name, self.known)
        note = f"; plugins that failed to load (`cvb plugins`): {'; '.join(self.broken)}" if self.broken else ""
        super().__init__(
            f"unknown {kind} {name!r}{guess}; known {kind}s: {', '.join(self.known) or '(none)'}{note}"
        )


class BrokenPluginError(UnknownNameError):
    """A name that belongs to a plugin which failed to load: said so, not "unknown"."""

    def __init__(self, kind: str, name: str, known: list[str], plugin: str, problem: str):
        self.plugin, self.problem = plugin, problem
        UsageError.__init__(self, f"{name}: its plugin {plugin} {problem}; fix or uninstall it "
                                  f"(`cvb plugins --traceback` shows where it failed)")
        self.kind, self.name, self.known, self.broken = kind, name, sorted(known), [f"{plugin} {problem}"]


def did_you_mean(name: str, known: "list[str] | tuple[str, ...]") -> str:
    """``" (did you mean 'webp'?)"`` for the closest known names (difflib), else ``""``."""
    import difflib

    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?)"


class UnknownLevelError(UsageError):
    def __init__(self, codec: str, level: str, hint: str):
        self.codec, self.level = codec, level
        super().__init__(f"codec {codec!r} has no level {level!r}; {hint}")


class PluginConflictError(CvbError):
    """Two plugins claimed the same name: neither wins silently."""

    def __init__(self, kind: str, name: str, owners: list[str]):
        self.kind, self.name, self.owners = kind, name, owners
        super().__init__(
            f"{kind} {name!r} is registered by more than one plugin: {' and '.join(owners)}; "
            f"uninstall one of them or restrict loading with CVB_LOAD_PLUGINS"
        )


class UnavailableError(CvbError):
    """A registered component that cannot run here (missing binary, weights, package)."""


class CodecError(CvbError):
    """A codec failed on one image; the run records it and goes on."""


class CodecRefusal(CodecError):
    """A codec declining, on purpose, an input its format cannot code (a 1x1 image, a side over
    the format's limit), with the reason. The conformance kit counts only this as a refusal:
    any other error on such an input (a crash, a tool's non-zero exit, a segfault) is a failure."""


class ExternalToolError(CodecError):
    """An external binary exited non-zero or timed out; carries its stderr."""

    def __init__(self, argv: list[str], returncode: int | None, stderr: str, timeout: bool = False):
        self.argv, self.returncode, self.stderr, self.timeout = argv, returncode, stderr, timeout
        what = "timed out" if timeout else f"exited with status {returncode}"
        tail = stderr.strip().splitlines()[-5:]
        super().__init__(f"{argv[0]} {what}" + (": " + " | ".join(tail) if tail else ""))


class PluginReturnError(CvbError):
    """A plugin returned what its protocol does not allow (``cvb.plugin_returns``): the unit fails
    with an error naming the plugin, the run goes on."""


class ImageLoadError(CvbError):
    """An image that cannot be read or decoded."""
