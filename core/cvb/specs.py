"""Descriptions that plugins register: light to create, loaded on first use.

A plugin's hook hands cvb a *Spec* naming a factory by ``"module:attribute"``; the module (and
torch, transformers, compressai behind it) is imported only when the component is created, so
``cvb --help``, ``cvb plugins`` and ``cvb list`` stay fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from .errors import UsageError

#: A cheap availability check: returns None when usable, else the reason and the fix.
StatusCheck = Callable[[], "str | None"]


class Option(str):
    """One option a plugin declares: its one-line help (the text ``cvb list`` shows; an Option
    is that string) and whether it can change the component's results.

    ``Option("socket timeout in seconds", affects_results=False)`` marks an option that changes
    how a component runs, never what it answers, measures or encodes (timeouts, retries,
    parallelism, prefetching): it is left out of the component's identity (its store label,
    ``cvb.identity``) and of cache keys, so changing it never redoes stored work. A plain
    string declares an option that affects results.
    """

    affects_results: bool

    def __new__(cls, help: str, *, affects_results: bool = True) -> "Option":
        self = super().__new__(cls, help)
        self.affects_results = affects_results
        return self

    def __reduce__(self) -> tuple[Any, tuple[str, bool]]:  # pickled with its flag (specs travel to worker processes)
        return (_option, (str(self), self.affects_results))


def _option(help: str, affects_results: bool) -> Option:
    return Option(help, affects_results=affects_results)


def resolve(factory: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, _, attr = factory.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Spec:
    name: str
    factory: str | Callable[..., Any]
    summary: str = ""
    kind: str = ""
    check: StatusCheck | None = field(default=None, compare=False)
    #: accepts ``name:ARG`` (e.g. ``hf:Qwen/Qwen2.5-VL-3B-Instruct``, ``folder:/my/images``)
    arg: str = ""  # what ARG means, for --help and `cvb list`; empty = no argument
    #: option names the factory accepts as keyword arguments, with one-line help each (an
    #: ``Option`` where the option cannot change results)
    options: dict[str, str] = field(default_factory=dict, compare=False)
    #: False when ``check`` cannot see what an ARG or option names (e.g. a task's local data
    #: path): a component created with an ARG or options is then not refused up front by
    #: ``Registry.create``; its own loading error speaks instead.
    check_sees_arg: bool = field(default=True, compare=False)
    #: True when ARG may name a local file or folder (a checkpoint, an adapter): the component's
    #: identity holds it as an absolute path where it exists, so ``hf:x``, ``hf:./x`` and
    #: ``hf:/abs/x`` (one folder) share stored results
    local_arg: bool = field(default=False, compare=False)
    #: where several references name one component (an alias and the hub id it names): a
    #: ``"module:function"`` (or the function) taking the reference as typed (``name:ARG``, a
    #: local ARG already absolute) and returning the one its results are filed under, so every
    #: spelling shares stored results (``hf:ORG/NAME`` -> ``ALIAS``); None: the reference itself
    canonical: str | Callable[[str], str] | None = field(default=None, compare=False)
    #: the older spelling of ``Option(..., affects_results=False)`` (still honoured): names of
    #: options that change how the component runs, never its results
    execution_options: tuple[str, ...] = field(default=(), compare=False)
    #: a cheap note about a *usable* component that a user should know before running it
    #: (e.g. "not in the local cache: downloads about 7.5 GB on first use"); None: nothing to say
    notice: StatusCheck | None = field(default=None, compare=False)
    #: a component that reaches a peer's catalogue through its ARG (``lmms-eval:NAME``): a
    #: ``"module:function"`` returning one row per member (dicts with name, kind, summary, usable,
    #: status and any other columns), listed by ``cvb list tasks --source NAME``
    catalogue: str | Callable[[], list] | None = field(default=None, compare=False)

    category: ClassVar[str] = "component"
    #: options that cannot change the results of any component of this category, declared or not
    speed_options: ClassVar[tuple[str, ...]] = ("batch_size", "device", "threads", "concurrency")

    def affects_results(self, option: str) -> bool:
        """Whether ``option`` can change what this component answers, measures or encodes:
        False for the category's ``speed_options``, an ``Option(..., affects_results=False)``
        and the older ``execution_options``."""
        if option in self.speed_options or option in self.execution_options:
            return False
        return getattr(self.options.get(option), "affects_results", True)

    def status(self) -> str | None:
        """None if usable here, else why not (never raises)."""
        if self.check is None:
            return None
        try:
            return self.check()
        except Exception as exc:  # noqa: BLE001 - a broken check must not break `cvb list`
            return f"status check failed: {exc}"

    def note(self) -> str | None:
        """The ``notice`` of a usable component, or None (never raises)."""
        if self.notice is None:
            return None
        try:
            return self.notice()
        except Exception:  # noqa: BLE001 - a note is optional: a broken one says nothing
            return None

    def create(self, arg: str | None = None, **options: Any) -> Any:
        if arg is not None and not self.arg:
            raise UsageError(f"{self.category} {self.name!r} takes no ':ARG' (got {arg!r})")
        factory = resolve(self.factory)
        return factory(arg, **options) if arg is not None else factory(**options)


@dataclass(frozen=True)
class CodecSpec(Spec):
    levels: tuple[str, ...] = ()  # default levels, lowest rate first
    category: ClassVar[str] = "codec"
    #: threads stay in a codec's cache key: some encoders' bitstreams depend on them
    speed_options: ClassVar[tuple[str, ...]] = ("device",)


@dataclass(frozen=True)
class VLMSpec(Spec):
    category: ClassVar[str] = "vlm"


@dataclass(frozen=True)
class TaskSpec(Spec):
    splits: tuple[str, ...] = ()
    category: ClassVar[str] = "task"


@dataclass(frozen=True)
class MetricSpec(Spec):
    higher_is_better: bool = True
    category: ClassVar[str] = "metric"


CATEGORIES: dict[str, type[Spec]] = {
    "codec": CodecSpec,
    "vlm": VLMSpec,
    "task": TaskSpec,
    "metric": MetricSpec,
}


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"hf:Qwen/X"`` -> ``("hf", "Qwen/X")``; ``"jpeg"`` -> ``("jpeg", None)``."""
    name, sep, arg = ref.partition(":")
    return name.strip(), (arg if sep else None)
