"""What the reference models share: per-query failure handling and a per-image result cache.

Tasks ask several questions about one image (POPE asks six), so each model computes its
per-image result (class probabilities, recognised text) once per image *content* and answers
every question from it. The cache key hashes the decoded pixels, so the same picture compressed
differently is a different entry.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Generic, Hashable, Sequence, TypeVar

from cvb.errors import UnavailableError
from cvb.types import Answer, Query

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")


def image_key(image: "Image.Image") -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}:{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


class ImageCache(Generic[T]):
    """A small LRU map from image content to a model's result on it."""

    def __init__(self, size: int = 64):
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()

    def get(self, key: Hashable) -> T | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: Hashable, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def answer_each(queries: Sequence[Query], fn: Callable[[int, Query], Answer]) -> list[Answer]:
    """``fn(index, query)`` per query; an exception becomes that query's ``Answer(text="", error=...)``.

    ``UnavailableError`` (a missing package or weights file) is not a per-sample failure: it
    propagates, so the run stops with the pip command to fix it instead of failing every sample.
    """
    out = []
    for i, q in enumerate(queries):
        try:
            out.append(fn(i, q))
        except UnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad sample must not sink the batch
            out.append(Answer(text="", error=error_text(exc)))
    return out


def per_image(queries: Sequence[Query], cache: ImageCache[T],
              compute: Callable[[list["Image.Image"]], list[T]]) -> dict[int, T | BaseException]:
    """Each query's per-image result, computing only images not cached, all in one call.

    Returns query index -> result, or the exception raised for that query's image (a corrupt
    image fails its own queries only). ``compute`` takes the missing images in one list.
    """
    keys: dict[int, str] = {}
    results: dict[int, Any] = {}
    for i, q in enumerate(queries):
        try:
            if q.image is None:
                raise ValueError("a text-only query: this model answers questions about an image")
            keys[i] = image_key(q.image)
        except Exception as exc:  # noqa: BLE001 - an unreadable image fails its own sample
            results[i] = exc
    todo: dict[str, "Image.Image"] = {}
    fresh: dict[str, T] = {}
    for i, key in keys.items():
        if key in todo or key in fresh:
            continue
        hit = cache.get(key)
        if hit is not None:
            fresh[key] = hit
        else:
            image = queries[i].image
            assert image is not None  # keyed above: it has one
            todo[key] = image
    computed, errors = _compute_each(todo, compute)
    for key, value in computed.items():
        cache.put(key, value)
    fresh.update(computed)
    for i, key in keys.items():
        if i not in results:
            results[i] = errors[key] if key in errors else fresh[key]
    return results


def _compute_each(todo: dict[str, "Image.Image"], compute: Callable[[list["Image.Image"]], list[T]]
                  ) -> tuple[dict[str, T], dict[str, Exception]]:
    """``compute`` of the images of ``todo`` in one call; when that fails, of each image alone,
    so one bad image fails alone. Returns key -> result and key -> the exception of its image."""
    if not todo:
        return {}, {}
    try:
        return dict(zip(todo, compute(list(todo.values())))), {}
    except UnavailableError:
        raise
    except Exception:  # noqa: BLE001 - retried one by one below
        pass
    done: dict[str, T] = {}
    errors: dict[str, Exception] = {}
    for key, image in todo.items():
        try:
            done[key] = compute([image])[0]
        except UnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - the image that broke the batch fails alone
            errors[key] = exc
    return done, errors
