"""Random weights in a research codec's own checkpoint layout, for scripts/check-upstream.sh.

The released checkpoints sit on Google Drive and similar, out of reach of a machine without
general internet. A randomly initialised model of the upstream's own class, saved as the
upstream loader expects it, runs every line of the real code except the weights' values (so
bpp and quality say nothing about the codec; the rate rule is skipped).

    RESEARCH_PYTHON scripts/upstream_weights.py PACKAGE CHECKOUT OUT_DIR

Runs in the research environment (imports the checkout's code, never cvb). Seeded: the same
command writes the same files.
"""

from __future__ import annotations

import os
import sys


def tcm(out: str) -> None:
    """LIC_TCM: ``{"state_dict": ...}`` of TCM(N=64, ...), as eval.py loads it; levels 1..6."""
    import torch
    from models.tcm import TCM

    for level in range(1, 7):
        torch.manual_seed(level)
        net = TCM(config=[2, 2, 2, 2, 2, 2], head_dim=[8, 16, 32, 32, 16, 8], drop_path_rate=0.0, N=64, M=320)
        torch.save({"state_dict": net.state_dict(), "epoch": 0}, os.path.join(out, f"tcm-{level}.pth.tar"))


def mlicpp(out: str) -> None:
    """MLIC: the README's checkpoint dict. Levels 1-4 and 6 in the "Old Weights (2023-09)" layout
    (the ...Old classes), level 5 in the "Update checkpoint" layout (today's classes), each with
    its entropy tables (test.py loads them, no update())."""
    import torch
    from config.config import model_config
    from models import MLICPlusPlus

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sys.path[:0] = [os.path.join(root, "contrib", "cvb-mlicpp", "cvb_mlicpp"),
                    os.path.join(root, "core", "cvb", "codecs", "research")]
    import driver

    sys.modules["research_driver"] = driver  # what hooks import, as inside the research worker
    import hooks  # the package's own swap to the Old classes (it imports cvb's research_driver)

    for level in range(1, 7):
        torch.manual_seed(level)
        net = MLICPlusPlus(config=model_config())
        if level != 5:
            hooks.use_old_classes(net)
        net.update(force=True)
        torch.save({"epoch": 0, "state_dict": net.state_dict(), "loss": 0.0},
                   os.path.join(out, f"mlicpp-{level}.pth.tar"))


MAKERS = {"tcm": tcm, "mlicpp": mlicpp}


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in MAKERS:
        sys.exit(f"usage: PYTHON {sys.argv[0]} {{{','.join(MAKERS)}}} CHECKOUT OUT_DIR")
    package, checkout, out = sys.argv[1:]
    sys.path.insert(0, os.path.abspath(checkout))
    os.makedirs(out, exist_ok=True)
    MAKERS[package](out)
    print(f"{package}: random weights in {out}: {', '.join(sorted(os.listdir(out)))}")


if __name__ == "__main__":
    main()
