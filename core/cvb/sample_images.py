"""The real photographs that installed packages ship (no download), for offline runs.

Found as files inside the packages without importing them (scikit-image, scikit-learn and
matplotlib are slow to import). Licences: scikit-image's data are public domain or CC0/CC-BY
(see skimage/data/README.txt); scikit-learn's china/flower are CC-BY (sklearn/datasets/images/
README.txt); matplotlib's grace_hopper is public domain (US Navy).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: name -> (package, path inside the package); colour photographs only
SAMPLE_PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def package_file(package: str, relpath: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relpath
    return path if path.is_file() else None


def sample_photo_paths() -> dict[str, Path]:
    """Every bundled sample photo found in this environment, by name."""
    found = {}
    for name, (pkg, rel) in SAMPLE_PHOTOS.items():
        path = package_file(pkg, rel)
        if path is not None:
            found[name] = path
    return found
