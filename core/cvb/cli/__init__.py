"""The ``cvb`` command line. Only click, rich and the registry load here: no torch."""

from .main import cli, main

__all__ = ["cli", "main"]
