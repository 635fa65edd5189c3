"""A minimal OmegaConf.load for the stand-in (the config file is JSON, which is YAML)."""
import json


class OmegaConf:
    @staticmethod
    def load(path):
        with open(path) as fh:
            return json.load(fh)
