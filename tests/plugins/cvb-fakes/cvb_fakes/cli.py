"""``python -m cvb_fakes.cli ARGS``: the real ``cvb`` command line with only the fakes registered
(for tests that need a separate process: SIGKILL, concurrent runs)."""

from __future__ import annotations


def main() -> None:
    import cvb.plugins

    from .components import build_registry

    cvb.plugins._REGISTRY = build_registry()
    from cvb.cli import main as cvb_main

    cvb_main()


if __name__ == "__main__":
    main()
