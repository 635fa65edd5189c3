"""A component's identity: what its stored results are filed under.

A VLM, task or metric of a run is identified by its reference, in canonical form (a local path
in ARG resolved to an absolute one where the spec says ARG may be a path: ``hf:x`` and
``hf:./x`` are one model; one of several names of a component, such as an alias and the hub id
it names, written as the one its spec's ``canonical`` chooses), and the options that can change
its results, sorted. Options that only change how it runs (``Spec.affects_results``: the
category's ``speed_options``, an ``Option(..., affects_results=False)``) are not part of it, so
changing one never asks a model again. Its text form, the *label* (``hf:Qwen/X[mode=logits]``,
``ssim[downsample=True]``), is what the store's rows carry and what ``cvb report`` prints;
``Identity.parse`` is the one reader of a label (the store's ``components`` table holds its parts as columns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .specs import Spec, resolve, split_ref

#: task options that choose how answers are scored: not part of the identity predictions are
#: stored under, so changing only the scoring rule rescores stored answers without asking the
#: model again (a protocol that also changes the prompt changes ``prompt_sha``, which re-asks)
SCORING_OPTIONS = ("protocol", "judge", "metric")  # metric: a bridged task's headline (lmms-eval:NAME)

#: the scoring protocol of a task whose identity names none (the task plugins' own rules)
DEFAULT_PROTOCOL = "cvb"

#: ``REF[KEY=VALUE,...]``: the options block starts at the first ``[`` followed by ``KEY=``
_LABEL = re.compile(r"^(?P<ref>.*?)\[(?P<options>[A-Za-z_][\w.-]*=.*)\]$", re.S)
#: a comma that starts the next ``KEY=`` (a value may hold commas: ``base_url=a,b``)
_NEXT_OPTION = re.compile(r",(?=[A-Za-z_][\w.-]*=)")


def canonical_arg(arg: str) -> str:
    """A local file or folder as its absolute path (``~`` expanded, links resolved); anything
    that names no existing path (a hub id, an alias) unchanged."""
    path = Path(arg).expanduser()
    try:
        return str(path.resolve()) if path.exists() else arg
    except (OSError, RuntimeError):  # an unreadable parent, a symlink loop: not a path we can name
        return arg


@dataclass(frozen=True)
class Identity:
    """A component's name, ARG and result-affecting options (sorted; values as the label
    writes them). ``str(identity)`` is its label."""

    name: str
    arg: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, spec: Spec, ref: str, options: Mapping[str, Any]) -> "Identity":
        """The identity of ``ref`` created with ``options`` from ``spec`` (its ``Spec``): the
        options that cannot change results left out, a local ARG made absolute."""
        name, arg = split_ref(ref)
        if arg is not None and spec.local_arg:
            arg = canonical_arg(arg)
        if spec.canonical is not None:  # one of several names of one component: the one it is filed under
            name, arg = split_ref(resolve(spec.canonical)(name if arg is None else f"{name}:{arg}"))
        return cls.make(name, arg, {k: v for k, v in options.items() if spec.affects_results(k)})

    @classmethod
    def make(cls, name: str, arg: str | None, options: Mapping[str, Any]) -> "Identity":
        return cls(name, arg, tuple(sorted((str(k), str(v)) for k, v in options.items())))

    @classmethod
    def parse(cls, label: str) -> "Identity":
        """The identity a label names (``pope[protocol=vlmevalkit,split=all]``)."""
        match = _LABEL.match(label)
        ref, options = (match["ref"], _NEXT_OPTION.split(match["options"])) if match else (label, [])
        name, arg = split_ref(ref)
        pairs = [part.partition("=") for part in options]
        return cls(name, arg, tuple(sorted((k, v) for k, _, v in pairs)))

    @classmethod
    def read(cls, spec: Spec, label: str) -> "Identity":
        """The identity a stored ``label`` names today, by the rules of ``spec``: a relative
        path made absolute, options that cannot change results left out. Labels an older cvb
        wrote (``hf:./x``, ``adapted:x[prefetch=on]``) read as the identity they name now."""
        parsed = cls.parse(label)
        return cls.of(spec, parsed.ref, dict(parsed.options))

    @property
    def ref(self) -> str:
        """The registered name with its ARG: ``hf:Qwen/X``."""
        return self.name if self.arg is None else f"{self.name}:{self.arg}"

    @property
    def label(self) -> str:
        if not self.options:
            return self.ref
        return self.ref + "[" + ",".join(f"{k}={v}" for k, v in self.options) + "]"

    def __str__(self) -> str:
        return self.label

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)

    def without(self, keys: Iterable[str]) -> "Identity":
        drop = set(keys)
        return Identity(self.name, self.arg, tuple(kv for kv in self.options if kv[0] not in drop))

    def answers(self) -> "Identity":
        """A task's identity without its SCORING_OPTIONS: what its predictions are stored under."""
        return self.without(SCORING_OPTIONS)

    def scoring(self) -> dict[str, str | None]:
        """``{"protocol", "judge"}`` of a task: what scored its cells (``cvb`` and no judge when
        it names neither)."""
        return {"protocol": self.option("protocol") or DEFAULT_PROTOCOL, "judge": self.option("judge") or None}


def stored_label(typed: str, labels: Iterable[str], read: Callable[[str], str | None] | None = None) -> str:
    """The stored label a name a user types means (``cvb report --vlm``/``--adapted``): itself
    where stored, else the label it names today (``read``: ``Identity.read`` by its spec, so
    ``hf:ORG/NAME`` finds its alias's answers), else the same with a local path ARG made
    absolute, as runs file it (``adapted:adapters/x`` -> ``adapted:/home/me/adapters/x``);
    ``typed`` when none is."""
    known = set(labels)
    if typed in known:
        return typed
    today = read(typed) if read is not None else None
    if today in known:
        return today
    ident = Identity.parse(typed)
    if ident.arg is not None:
        absolute = Identity(ident.name, canonical_arg(ident.arg), ident.options).label
        if absolute in known:
            return absolute
    return typed


# ---- the label helpers the rest of cvb calls (each one line over Identity) -------------------
def label_of(spec: Spec, ref: str, options: Mapping[str, Any]) -> str:
    """How a component created from ``spec`` as ``ref`` with ``options`` is named in the store."""
    return Identity.of(spec, ref, options).label


def answers_label(label: str) -> str:
    """The label a task's predictions are stored under: ``label`` without its SCORING_OPTIONS
    (``pope[judge=x,protocol=vlmevalkit,split=all]`` -> ``pope[split=all]``)."""
    return Identity.parse(label).answers().label


def scoring_of(label: str) -> dict[str, str | None]:
    """``{"protocol", "judge"}`` of a task label, for ``cvb report`` and ``cvb export``."""
    return Identity.parse(label).scoring()


def ref_of(label: str) -> str:
    """The registered name and ARG behind a label: ``ssim[downsample=True]`` -> ``ssim``."""
    return Identity.parse(label).ref
