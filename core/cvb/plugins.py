"""Finding plugins (entry-point group ``cvb``) and collecting what they register.

Entry points are loaded one at a time, so a plugin that fails to import (or whose hook raises)
is reported with its error while every other plugin keeps working. ``CVB_LOAD_PLUGINS`` (a comma
list of distribution names, empty = none) restricts which distributions are loaded.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .errors import BrokenPluginError, PluginConflictError, UnavailableError, UnknownNameError
from .specs import CATEGORIES, Spec, split_ref

GROUP = "cvb"
ENV_FILTER = "CVB_LOAD_PLUGINS"
_CATEGORY_OF_HOOK = {
    "register_codecs": "codec",
    "register_vlms": "vlm",
    "register_tasks": "task",
    "register_metrics": "metric",
}


@dataclass
class PluginInfo:
    """One plugin as `cvb plugins` shows it."""

    name: str  # entry-point name
    distribution: str
    version: str
    value: str  # "module" or "module:attr" the entry point points to
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None  # full traceback of ``error``
    #: a working plugin that slows every cvb command (it imports torch at load time, say)
    warning: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "ok" if self.warning is None else "warning"

    @property
    def problem(self) -> str:
        """The error as a sentence about the plugin: "failed to import: ModuleNotFoundError: ..."."""
        error = self.error or ""
        if error.startswith("import failed: "):
            return "failed to import: " + error[len("import failed: "):]
        return "failed to load: " + error

    def label(self) -> str:
        return f"{self.name} ({self.distribution})" if self.distribution not in ("?", self.name) else self.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "value": self.value,
            "hooks": self.hooks,
            "provides": self.provides,
            "status": self.status,
            "error": self.error,
            "warning": self.warning,
        }


#: packages a plugin module must not import when it loads (every cvb command, `cvb --help`
#: included, would pay seconds for them): import them inside the functions that need them
HEAVY_MODULES = ("torch", "transformers", "tensorflow", "jax", "compressai", "torchvision", "diffusers",
                 "timm", "onnxruntime", "cv2", "scipy", "sklearn", "skimage", "datasets", "piq", "lpips")


def heavy_load_warning(new_modules: set[str], seconds: float) -> str | None:
    """What a plugin's loading (its import and hooks) imported that it must not, or None."""
    heavy = [m for m in HEAVY_MODULES if m in new_modules]
    if not heavy:
        return None
    return (f"imports {', '.join(heavy)} when it loads ({seconds:.1f} s here): every cvb command, `cvb --help` "
            f"included, pays for it; import them inside the functions that need them")


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get(ENV_FILTER)
    if raw is None:
        return None
    return {_norm(d) for d in raw.split(",") if d.strip()}


def _norm(dist: str) -> str:
    return dist.strip().lower().replace("_", "-")


def _bare(name: str) -> str:
    """``cvb-jpegxr``, ``cvb_jpegxr``, ``JPEGXR`` -> ``jpegxr``."""
    return _norm(name).removeprefix("cvb-").removesuffix("-plugin")


class Registry:
    """Everything the loaded plugins registered, by category and name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._specs: dict[str, dict[str, tuple[Spec, str]]] = {c: {} for c in CATEGORIES}
        self._conflicts: dict[tuple[str, str], list[str]] = {}

    # ---- loading -------------------------------------------------------------------------
    def load_entry_points(self, group: str = GROUP) -> None:
        allowed = _allowed_distributions()
        eps = sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)
        for ep in eps:
            dist = ep.dist.metadata["Name"] if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            if allowed is not None and _norm(dist) not in allowed:
                continue
            info = PluginInfo(name=ep.name, distribution=dist, version=version, value=ep.value)
            if ep.name in self.plugins:
                info.error = f"entry-point name {ep.name!r} also used by {self.plugins[ep.name].distribution}"
                self.plugins[f"{ep.name}@{dist}"] = info
                continue
            self.plugins[ep.name] = info
            before, t0 = set(sys.modules), time.perf_counter()
            try:
                obj = ep.load()
            except BaseException as exc:  # ImportError, SyntaxError, SystemExit from a bad plugin
                if isinstance(exc, KeyboardInterrupt):
                    raise
                info.error = f"import failed: {type(exc).__name__}: {exc}"
                info.detail = traceback.format_exc()
                continue
            self.add_plugin(obj, info)
            info.warning = heavy_load_warning(set(sys.modules) - before, time.perf_counter() - t0)

    def add_plugin(self, obj: Any, info: PluginInfo) -> None:
        """Register a plugin object (a module or any object with hookimpls) and collect its specs."""
        self.plugins.setdefault(info.name, info)
        try:
            self.pm.register(obj, name=info.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is listed with its error, the rest load
            info.error = f"invalid plugin: {exc}"
            return
        callers = self.pm.get_hookcallers(obj) or []
        info.hooks = sorted(h.name for h in callers if h.name in hookspecs.HOOKS)
        unknown = sorted(h.name for h in callers if h.name not in hookspecs.HOOKS)
        if unknown:  # a misspelt hook would otherwise make the plugin silently provide nothing
            info.error = (f"unknown hook(s) {', '.join(unknown)}; cvb's hooks: "
                          f"{', '.join(hookspecs.HOOKS)}")
        for hook, category in _CATEGORY_OF_HOOK.items():
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.plugin_name != info.name:
                    continue
                registered: list[str] = []
                try:
                    impl.function(register=self._registrar(category, info, registered))
                except Exception as exc:  # noqa: BLE001 - a failing hook disables its plugin, not cvb
                    info.error = f"{hook} failed: {type(exc).__name__}: {exc}"
                    info.detail = traceback.format_exc()
                    self._withdraw(category, info, registered)  # half a registration is none

    def _registrar(self, category: str, info: PluginInfo,
                   registered: list[str] | None = None) -> Callable[[Spec], None]:
        expected = CATEGORIES[category]

        def register(spec: Spec) -> None:
            if not isinstance(spec, expected):
                raise TypeError(f"register() in {category} hook wants a {expected.__name__}, got {spec!r}")
            table = self._specs[category]
            if spec.name in table and table[spec.name][1] != info.name:
                owners = self._conflicts.setdefault((category, spec.name), [table[spec.name][1]])
                owners.append(info.name)
            else:
                table[spec.name] = (spec, info.name)
            # every claimant lists the name it claims; `cvb plugins` shows the conflict beside
            info.provides.setdefault(category, []).append(spec.name)
            if registered is not None:
                registered.append(spec.name)

        return register

    def _withdraw(self, category: str, info: PluginInfo, names: list[str]) -> None:
        """Take back what a hook registered before it raised: none of it is usable."""
        table = self._specs[category]
        for name in names:
            owners = self._conflicts.get((category, name))
            if table.get(name, (None, None))[1] == info.name:
                if not owners:
                    del table[name]
                # a conflict whose first claimant withdrew stays a conflict: the others' specs
                # were never kept, so the name stays unusable (and `cvb plugins` says why)
            elif owners and info.name in owners:
                owners.remove(info.name)
                if len(owners) <= 1:
                    del self._conflicts[(category, name)]
        provided = info.provides.get(category, [])
        info.provides[category] = [n for n in provided if n not in names]
        if not info.provides[category]:
            del info.provides[category]

    def add_commands(self, cli: Any) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:  # noqa: BLE001 - a plugin's broken command must not break the CLI
                info = self.plugins.get(impl.plugin_name)
                if info is not None:
                    info.error = f"register_commands failed: {type(exc).__name__}: {exc}"

    # ---- lookup --------------------------------------------------------------------------
    def names(self, category: str) -> list[str]:
        return sorted(set(self._specs[category]) | {n for c, n in self._conflicts if c == category})

    def specs(self, category: str) -> list[Spec]:
        """The usable specs: a name two plugins claim is left out (see ``conflicts``)."""
        return [self._specs[category][n][0] for n in sorted(self._specs[category])
                if (category, n) not in self._conflicts]

    def owner(self, category: str, name: str) -> str:
        return self._specs[category][name][1]

    def conflicts(self) -> dict[tuple[str, str], list[str]]:
        return dict(self._conflicts)

    def spec(self, category: str, name: str) -> Spec:
        if (category, name) in self._conflicts:
            raise PluginConflictError(category, name, self._owner_labels(category, name))
        try:
            return self._specs[category][name][0]
        except KeyError:
            pass
        known = self.names(category)
        owner = self.broken_owner(name)
        if owner is not None:
            raise BrokenPluginError(category, name, known, owner.label(), owner.problem)
        raise UnknownNameError(category, name, known,
                               [f"{i.label()} {i.problem}" for i in self.broken_plugins()])

    def broken_plugins(self) -> list[PluginInfo]:
        """Plugins that failed to load: what they would have registered is unknown."""
        return [i for i in self.plugins.values() if i.error is not None]

    def broken_owner(self, name: str) -> PluginInfo | None:
        """The broken plugin ``name`` most likely belongs to: its entry point, distribution or
        package is called so (``jpegxr``, ``cvb-jpegxr``, ``cvb_jpegxr.plugin``)."""
        key = _bare(name)
        for info in self.broken_plugins():
            package = info.value.split(":")[0].split(".")[0]
            if key in {_bare(info.name), _bare(info.distribution), _bare(package)}:
                return info
        return None

    def _owner_labels(self, category: str, name: str) -> list[str]:
        return [f"{p} ({self.plugins[p].distribution})" if p in self.plugins else p
                for p in self._conflicts[(category, name)]]

    def create(self, category: str, ref: str, *, check: bool = True, **options: Any) -> Any:
        """Instantiate ``name`` or ``name:ARG``; refuses up front when the status check fails."""
        name, arg = split_ref(ref)
        spec = self.spec(category, name)
        if check and (spec.check_sees_arg or (arg is None and not options)):
            reason = spec.status()
            if reason:
                raise UnavailableError(f"{category} {name!r} is not usable here: {reason}")
        return spec.create(arg, **options)


_REGISTRY: Registry | None = None


def get_registry(reload: bool = False) -> Registry:
    """The process-wide registry of installed plugins (loaded on first use)."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        reg = Registry()
        reg.load_entry_points()
        _REGISTRY = reg
    return _REGISTRY


def iter_errors(reg: Registry) -> Iterable[str]:
    for info in reg.plugins.values():
        if info.error:
            yield f"plugin {info.name} ({info.distribution}): {info.error}"
    for (category, name), owners in reg.conflicts().items():
        yield str(PluginConflictError(category, name, reg._owner_labels(category, name)))
