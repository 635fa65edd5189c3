import importlib


def instantiate_from_config(config):
    module, name = config["target"].rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**config.get("params", {}))


def load_state_dict(model, state_dict, strict=False):
    state_dict = state_dict.get("state_dict", state_dict)
    model.load_state_dict({k: v for k, v in state_dict.items() if k in model.state_dict() or strict},
                          strict=strict)
