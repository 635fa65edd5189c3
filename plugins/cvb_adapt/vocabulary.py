"""The condition vocabulary: which (codec, level) an image was compressed with, as a class index.

The paper's condition is a one-hot over codec x level (JPEG, ELIC, ILLM at 4 levels each: 12
classes). ``--condition`` picks what the one-hot distinguishes, for the paper's ablation:

- ``full``: one class per trained (codec, level);
- ``codec``: one class per codec, whatever the level;
- ``level``: one class per level *position* (the i-th lowest-rate trained level of any codec);
- ``none``: no condition at all (the encoder is fine-tuned, nothing tells it the codec).

At inference a query may name a codec or level that was never trained (HM and MLIC++ in the
paper), or be the uncompressed reference. ``resolve`` says what each becomes, in this order:

1. ``condition_map`` entries: ``SRC:DST`` (a codec for a codec, the query's level kept),
   ``SRC:DST/LEVEL`` (every level of SRC as that cell) or ``SRC/LEVEL:DST[/LEVEL]`` (one level);
   ``none`` is the uncompressed reference, e.g. ``none:jpeg/6`` treats clean images as the
   best trained JPEG;
2. a trained (codec, level): its class;
3. a trained codec at an untrained level: ``unseen_level=nearest`` (default) takes the trained
   level of that codec nearest in rate rank (the codec's own ordering; numbers compare by value
   when the codec cannot be asked), ``unconditional`` takes no condition;
4. anything else (an unseen codec, the reference, an unknown one): ``unconditional`` (default;
   the adapted encoder with nothing added to its position encoding) or, with
   ``unseen_codec=error``, a failed answer that names the trained vocabulary.

No torch here: this is read by the command line and by ``cvb list``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from cvb.errors import UsageError

MODES = ("full", "codec", "level", "none")
UNSEEN_LEVEL = ("nearest", "unconditional")
UNSEEN_CODEC = ("unconditional", "error")
REFERENCE = "none"  # the uncompressed reference codec of every cvb matrix
UNCONDITIONAL = -1  # the class index of "no condition": nothing is added


@dataclass(frozen=True)
class Vocabulary:
    """Trained codecs and their levels (each list lowest rate first), and the condition mode."""

    levels: Mapping[str, tuple[str, ...]]
    mode: str = "full"
    #: codec -> level -> rate rank at training time (the codec's ``rate_rank``), for "nearest"
    ranks: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self):
        if self.mode not in MODES:
            raise UsageError(f"condition mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if not self.levels or not all(self.levels.values()):
            raise UsageError("the condition vocabulary needs at least one codec with at least one level")

    @property
    def cells(self) -> list[tuple[str, str]]:
        return [(c, lv) for c, lvs in self.levels.items() for lv in lvs]

    @property
    def size(self) -> int:
        """Width of the one-hot (0: no condition embedding at all)."""
        if self.mode == "full":
            return len(self.cells)
        if self.mode == "codec":
            return len(self.levels)
        if self.mode == "level":
            return max(len(lvs) for lvs in self.levels.values())
        return 0

    def index(self, codec: str, level: str) -> int:
        """Class of a trained (codec, level)."""
        levels = self.levels[codec]
        if self.mode == "full":
            return self.cells.index((codec, level))
        if self.mode == "codec":
            return list(self.levels).index(codec)
        if self.mode == "level":
            return levels.index(level)
        return UNCONDITIONAL

    def describe(self) -> str:
        return ", ".join(f"{c}={','.join(lvs)}" for c, lvs in self.levels.items())

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "levels": {c: list(v) for c, v in self.levels.items()},
                "ranks": {c: dict(r) for c, r in self.ranks.items()}, "size": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Vocabulary":
        return cls({c: tuple(v) for c, v in data["levels"].items()}, data["mode"],
                   {c: dict(r) for c, r in data.get("ranks", {}).items()})


def parse_condition_map(value: Any) -> dict[tuple[str, str | None], tuple[str, str | None]]:
    """``"x265:jpeg,hm/47:jpeg/3"`` -> ``{("x265", None): ("jpeg", None), ("hm", "47"): ("jpeg", "3")}``
    (a level on either side is optional)."""
    if value in (None, ""):
        return {}
    out: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    for entry in str(value).split(","):
        src, sep, dst = entry.strip().partition(":")
        if not sep or not src.strip() or not dst.strip():
            raise UsageError(f"condition_map entry {entry!r}: write SRC:DST or SRC/LEVEL:DST/LEVEL "
                             f"(e.g. condition_map=x265:jpeg,none:jpeg/6)")
        s_codec, _, s_level = src.strip().partition("/")
        d_codec, _, d_level = dst.strip().partition("/")
        out[(s_codec, s_level or None)] = (d_codec, d_level or None)
    return out


@dataclass
class Resolver:
    """Turns a query's (codec, level) into a class index, with the documented fallbacks."""

    vocab: Vocabulary
    condition_map: Mapping[tuple[str, str | None], tuple[str, str | None]] = field(default_factory=dict)
    unseen_level: str = "nearest"
    unseen_codec: str = "unconditional"
    #: (codec, level) -> rate rank, asked of the codec plugin for levels not seen in training
    rank_of: Callable[[str, str], float | None] | None = None

    def __post_init__(self):
        for (src, _), (codec, level) in self.condition_map.items():
            if src == REFERENCE and level is None:
                raise UsageError(f"condition_map {src}:{codec}: the uncompressed reference has no level to keep; "
                                 f"name the trained cell it stands for, e.g. {src}:{codec}/"
                                 f"{self.vocab.levels.get(codec, ('LEVEL',))[-1]}")
            if codec not in self.vocab.levels:
                raise UsageError(f"condition_map maps to {codec!r}, which the adapter was not trained on; "
                                 f"trained: {self.vocab.describe()}")
            if level is not None and level not in self.vocab.levels[codec]:
                raise UsageError(f"condition_map maps to {codec}/{level}, not a trained level; "
                                 f"trained: {self.vocab.describe()}")

    def resolve(self, codec: str | None, level: str | None) -> tuple[int, str]:
        """(class index or UNCONDITIONAL, how it was chosen: e.g. ``jpeg/3``, ``jpeg/3 (nearest)``)."""
        if self.vocab.mode == "none":
            return UNCONDITIONAL, "no condition (mode none)"
        key_level = None if codec == REFERENCE else level
        how = ""
        entry = None
        if codec is not None:
            entry = self.condition_map.get((codec, key_level)) or self.condition_map.get((codec, None))
        if entry is not None:
            codec, level = entry[0], entry[1] or level  # no level on the right: the query's is kept
            how = " (mapped)"
        if codec is None or codec not in self.vocab.levels:
            if self.unseen_codec == "error":
                raise UsageError(f"the adapter was not trained on codec {codec or '(unknown)'!r}; trained: "
                                 f"{self.vocab.describe()} (map it with condition_map=SRC:DST)")
            return UNCONDITIONAL, "unconditional"
        trained = self.vocab.levels[codec]
        if level in trained:
            return self.vocab.index(codec, level), f"{codec}/{level}{how}"
        if level is None or self.unseen_level == "unconditional":
            return UNCONDITIONAL, "unconditional"
        near = self._nearest(codec, level)
        if near is None:
            return UNCONDITIONAL, "unconditional"
        return self.vocab.index(codec, near), f"{codec}/{near} (nearest to {level}){how}"

    def _nearest(self, codec: str, level: str) -> str | None:
        trained = self.vocab.levels[codec]
        ranks: dict[str, float] | None = dict(self.vocab.ranks.get(codec, {}))
        wanted = self.rank_of(codec, level) if self.rank_of else None
        if wanted is None or ranks is None or len(ranks) != len(trained):
            ranks, wanted = _numeric(trained), _number(level)
        if wanted is None or ranks is None:
            return None
        found, target = ranks, wanted
        return min(trained, key=lambda lv: (abs(found[lv] - target), found[lv]))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _numeric(levels: Sequence[str]) -> dict[str, float] | None:
    values = {lv: _number(lv) for lv in levels}
    return None if any(v is None for v in values.values()) else values  # type: ignore[return-value]
