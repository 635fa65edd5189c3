"""A codec whose every encode and decode must finish within a time limit, for ``check_codec``.

Python cannot stop a call that hangs, so each call runs in a daemon thread the check waits on.
A call past the limit fails its rule with ``Hung``; that thread keeps running (it ends with the
process), so every later call fails at once with the same message instead of waiting again.
"""

from __future__ import annotations

import threading
from typing import Any


class Hung(AssertionError):
    """An encode or decode that did not finish within the check's time limit."""


class Bounded:
    """``codec`` with ``encode``/``decode`` bounded by ``timeout`` seconds; everything else (name,
    levels, params...) is the codec's own."""

    def __init__(self, codec: Any, timeout: float):
        self._codec, self._timeout = codec, float(timeout)
        self.hung = ""  # what hung, once something has

    def __getattr__(self, name: str) -> Any:
        return getattr(self._codec, name)

    def encode(self, image, level: str):
        return self._call("encode", f"encode at level {level} ({image.width}x{image.height})", image, level)

    def decode(self, bits):
        return self._call("decode", f"decode of a {len(bits)}-byte bitstream", bits)

    def _call(self, method: str, what: str, *args):
        if self.hung:
            raise Hung(self.hung)
        box: dict = {}

        def run() -> None:
            try:
                box["value"] = getattr(self._codec, method)(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the checking thread
                box["error"] = exc

        worker = threading.Thread(target=run, name=f"cvb-check-{method}", daemon=True)
        worker.start()
        worker.join(self._timeout)
        if worker.is_alive():
            self.hung = (f"{what} did not finish within {self._timeout:g} s (it hangs, or the codec is "
                         f"slower than that: raise the limit with --timeout SECONDS, or "
                         f"check_codec(..., timeout=SECONDS))")
            raise Hung(self.hung)
        if "error" in box:
            raise box["error"]
        return box["value"]
