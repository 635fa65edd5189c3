"""cvb (CompressVLMBench): how vision-language models understand compressed images.

The core knows the four protocols (Codec, VLM, Task, Metric) and how to find plugins
that provide them; it never imports a concrete codec or model.
"""

__version__ = "0.1.0"

from . import old_names
from .hookspecs import hookimpl  # the one thing plugin modules need at import

old_names.install()  # import cvb.codec, cvb.research... (modules that moved) still work

__all__ = ["__version__", "hookimpl"]
