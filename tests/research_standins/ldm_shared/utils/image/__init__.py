import numpy as np


def pad(img, scale):
    h, w = img.shape[:2]
    return np.pad(img, ((0, (-h) % scale), (0, (-w) % scale), (0, 0)), mode="edge")
