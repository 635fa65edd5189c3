"""MLIC++ hooks for cvb's research driver (runs in the user's environment, not cvb's).

The model takes a config object, not keyword arguments, and its test script resets the
attention resolutions before each compress and decompress ("avoid resolution leakage"); the
rest is the driver's CompressAI path. Mirrors MLIC++/playground/test.py and utils/testing.py.
"""

import research_driver


def build(spec, level):
    from config.config import model_config
    from models import MLICPlusPlus

    net = research_driver.load_weights(MLICPlusPlus(config=model_config()), spec["checkpoints"][level])
    return net.eval().to(spec.get("device", "cpu"))  # test.py loads the entropy tables, no update()


def _reset(net):
    if hasattr(net, "update_resolutions"):
        net.update_resolutions(16, 16)


def encode(net, spec, src, dst):
    _reset(net)
    research_driver.compressai_encode(net, spec, src, dst)


def decode(net, spec, src, dst):
    _reset(net)
    research_driver.compressai_decode(net, spec, src, dst)
