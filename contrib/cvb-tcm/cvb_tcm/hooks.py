"""TCM hooks for cvb's research driver (runs in the user's environment, not cvb's).

LIC_TCM's model is CompressAI-shaped, so the driver's own build/decode serve; only the padding
differs. ``eval.py`` pads to a multiple of 128, but TCM's window attention cannot code a padded
side of exactly 128 px: at LIC_TCM 6c6d7a3 a 128x256 input fails inside ``WMSA``
(``EinopsError ... can't divide axis of length 9 in chunks of 8``) while 256x256 and larger
code. So each side is padded to a multiple of 128 and at least 256 (edge-replicated, bottom and
right; eval.py pads centred with zeros, which changes only the padded border's bits).
"""

import research_driver

MIN_SIDE = 256


def encode(net, spec, src, dst):
    import torch
    import torch.nn.functional as F

    x, (w, h) = research_driver.read_rgb(src)
    x = research_driver.pad_to(x, int(spec.get("pad", 128)))
    x = F.pad(x, (0, max(0, MIN_SIDE - x.shape[-1]), 0, max(0, MIN_SIDE - x.shape[-2])), mode="replicate")
    with torch.no_grad():
        out = net.compress(x.to(spec.get("device", "cpu")))
    with open(dst, "wb") as fh:
        fh.write(research_driver.pack(w, h, out["strings"], out["shape"]))
