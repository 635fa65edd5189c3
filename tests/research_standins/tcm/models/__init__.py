from .tcm import TCM
