from utils.utils import Config


def model_config():
    return Config({"N": 192, "M": 320, "slice_num": 10, "context_window": 5})
