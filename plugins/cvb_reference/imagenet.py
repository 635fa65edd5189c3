"""The 1000 ImageNet-1k class names, in the order of the classifier's outputs.

``data/imagenet_classes.txt`` holds the short English names torchvision uses for its ImageNet
weights (one per line, index = line number; e.g. 281 "tabby", 285 "Egyptian cat"). They are
the WordNet synset lemmas of the ILSVRC-2012 classes, deduplicated ("crane" the machine is 517,
"crane bird" is 134). The list was copied from torchvision's ``models/_meta.py``
(BSD-3-Clause) into a text file, so that no torchvision import is needed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("data") / "imagenet_classes.txt"
NUM_CLASSES = 1000


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    names = tuple(line.strip() for line in CLASSES_FILE.read_text(encoding="utf-8").splitlines()
                  if line.strip())
    if len(names) != NUM_CLASSES:
        raise RuntimeError(f"{CLASSES_FILE} lists {len(names)} class names, expected {NUM_CLASSES}")
    return names


@lru_cache(maxsize=1)
def index_of() -> dict[str, int]:
    return {name: i for i, name in enumerate(class_names())}


@lru_cache(maxsize=1)
def index_of_lowercase() -> dict[str, int]:
    return {name.lower(): i for i, name in enumerate(class_names())}
