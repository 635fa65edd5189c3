"""MLIC++ hooks for cvb's research driver (runs in the user's environment, not cvb's).

Mirrors MLIC++/playground/test.py and utils/testing.py: ``MLICPlusPlus(config=model_config())``,
the checkpoint's ``state_dict``, and ``update_resolutions(16, 16)`` before each compress and
decompress ("avoid resolution leakage"); the rest is the driver's CompressAI path. Two run-time
adjustments, both only where the upstream code cannot run as it is:

- ``compress``/``decompress`` call ``torch.cuda.synchronize()`` unconditionally (models/mlicpp.py
  lines 195, 277, 288, 365: timing only). On a CPU device it is replaced by a no-op in this
  worker process, so the real code runs on CPU; on CUDA nothing changes.
- The README's "Old Weights (2023-09)" (lambda 0.0018 .. 0.0483) were trained with
  ``SynthesisTransformOld`` and ``LatentResidualPredictionOld``; only the "Update checkpoint"
  (lambda 0.025) fits today's classes. The layout is read from the checkpoint itself (old LRP
  blocks have four convolutions, new ones three) and the Old classes swapped in when it is old.
"""

import research_driver

#: a key only the old LatentResidualPrediction (four convolutions) has
OLD_LAYOUT_KEY = "lrp_anchor.0.lrp_transform.6.weight"


def _cpu_synchronize(device):
    import torch

    if not str(device).startswith("cuda"):
        torch.cuda.synchronize = lambda device=None: None  # timing barrier only; CPU work is synchronous


def _checkpoint_state(path):
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    return {k.removeprefix("module."): v for k, v in state.items()}


def use_old_classes(net):
    """The 2023-09 architecture: ``SynthesisTransformOld`` and ``LatentResidualPredictionOld``."""
    import torch.nn as nn
    from modules.transform.quantization import LatentResidualPredictionOld
    from modules.transform.synthesis import SynthesisTransformOld

    net.g_s = SynthesisTransformOld(N=net.N, M=net.M)
    for name in ("lrp_anchor", "lrp_nonanchor"):
        setattr(net, name, nn.ModuleList(
            LatentResidualPredictionOld(in_dim=net.M + (i + 1) * net.slice_ch, out_dim=net.slice_ch)
            for i in range(net.slice_num)))
    return net


def build(spec, level):
    from config.config import model_config
    from models import MLICPlusPlus

    device = spec.get("device", "cpu")
    _cpu_synchronize(device)
    state = _checkpoint_state(spec["checkpoints"][level])
    net = MLICPlusPlus(config=model_config())
    if OLD_LAYOUT_KEY in state:
        use_old_classes(net)
    net.load_state_dict(state)  # strict, as test.py: a checkpoint of another layout fails here
    return net.eval().to(device)  # test.py loads the entropy tables, no update()


def _reset(net):
    if hasattr(net, "update_resolutions"):
        net.update_resolutions(16, 16)


def encode(net, spec, src, dst):
    _reset(net)
    research_driver.compressai_encode(net, spec, src, dst)


def decode(net, spec, src, dst):
    _reset(net)
    research_driver.compressai_decode(net, spec, src, dst)
