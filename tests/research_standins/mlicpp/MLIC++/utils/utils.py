class Config(dict):
    __getattr__ = dict.__getitem__
