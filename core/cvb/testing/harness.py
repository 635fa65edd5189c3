"""The plugin author's harness: a registry with the fakes beside the installed plugins, and the
real ``cvb`` command line run in this process on it (the layer above the CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .fakes import fake_codec_spec, scripted_vlm_spec

if TYPE_CHECKING:
    import click.testing

    from ..plugins import Registry


def registry_with_fakes(*plugin_modules: Any) -> Registry:
    """The installed plugins plus ``fake`` (codec) and ``scripted`` (VLM) and ``plugin_modules``
    (a plugin's own ``plugin`` module, for tests run before it is installed)."""
    import types

    from .. import hookimpl
    from ..plugins import PluginInfo, Registry

    reg = Registry()
    reg.load_entry_points()
    fakes = types.SimpleNamespace(
        register_codecs=hookimpl(lambda register: register(fake_codec_spec())),
        register_vlms=hookimpl(lambda register: register(scripted_vlm_spec())),
    )
    fakes.register_codecs.__name__, fakes.register_vlms.__name__ = "register_codecs", "register_vlms"
    reg.add_plugin(fakes, PluginInfo("cvb-testing-fakes", "cvb", "0", "cvb.testing"))
    for mod in plugin_modules:
        if not reg.pm.is_registered(mod):
            reg.add_plugin(mod, PluginInfo(mod.__name__, "local", "0", mod.__name__))
    return reg


def run_cli(args: Sequence[object], registry: Registry | None = None) -> click.testing.Result:
    """Run the real ``cvb`` command line in this process on ``registry`` (default:
    ``registry_with_fakes()``); returns click's ``Result`` (``exit_code``, ``output``)."""
    from click.testing import CliRunner

    from .. import plugins
    from ..cli import cli

    saved = plugins._REGISTRY
    plugins._REGISTRY = registry or registry_with_fakes()
    try:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        plugins._REGISTRY = saved
