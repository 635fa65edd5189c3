"""The pluggy hooks a plugin implements. Each hands cvb what its name says.

A plugin module is the object registered with pluggy; mark its functions with
``cvb.hookimpl``::

    from cvb import hookimpl
    from cvb.specs import CodecSpec

    @hookimpl
    def register_codecs(register):
        register(CodecSpec(name="mycodec", factory="my_pkg.codec:MyCodec", levels=("1", "2")))
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "cvb"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_codecs(register: Callable[[Any], None]) -> None:
    """Call ``register(CodecSpec(...))`` once per codec this plugin provides."""


@hookspec
def register_vlms(register: Callable[[Any], None]) -> None:
    """Call ``register(VLMSpec(...))`` once per VLM (or VLM family taking ``name:ARG``)."""


@hookspec
def register_tasks(register: Callable[[Any], None]) -> None:
    """Call ``register(TaskSpec(...))`` once per task."""


@hookspec
def register_metrics(register: Callable[[Any], None]) -> None:
    """Call ``register(MetricSpec(...))`` once per image-quality metric."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``cvb`` group: ``cli.add_command(my_command)``.

    Keep the command module light: import heavy libraries inside the command function.
    """


HOOKS = ("register_codecs", "register_vlms", "register_tasks", "register_metrics", "register_commands")
