"""The information / generalization gap decomposition of the paper (section "Gap Decomposition").

With L the task score, X the clean image, X^ its compressed version, th the original model and
th* the model adapted to compressed images:

    total          = L(X, th)   - L(X^, th)
    information    = L(X, th)   - L(X^, th*)   (lost by the codec; only a better codec helps)
    generalization = L(X^, th*) - L(X^, th)    (the model's unfamiliarity with artifacts;
                                                adaptation wins it back)

and total = information + generalization exactly. Each number is "score lost", so for a
score where lower is better the differences are negated: a positive gap is always a loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..errors import UsageError
from .bd import bd_metric
from .curves import codec_curves, group_cells, higher_is_better, num, reference_cell


@dataclass(frozen=True)
class Gap:
    clean: float
    compressed: float
    adapted: float
    higher_is_better: bool = True

    @property
    def _sign(self) -> float:
        return 1.0 if self.higher_is_better else -1.0

    @property
    def total(self) -> float:
        return self._sign * (self.clean - self.compressed)

    @property
    def information(self) -> float:
        return self._sign * (self.clean - self.adapted)

    @property
    def generalization(self) -> float:
        return self._sign * (self.adapted - self.compressed)

    @property
    def generalization_share(self) -> float:
        """Fraction of the total gap adaptation recovered (the paper: 81 % for JPEG on POPE)."""
        return self.generalization / self.total if self.total else math.nan


def decompose(clean: float, compressed: float, adapted: float, higher_is_better: bool = True) -> Gap:
    return Gap(float(clean), float(compressed), float(adapted), higher_is_better)


def split_pair(pair: str) -> tuple[str, str, str]:
    """``str.partition("=")`` at the first ``=`` outside brackets: VLM labels carry their
    options in brackets (``hf:Qwen/X[mode=logits]``)."""
    depth = 0
    for i, ch in enumerate(pair):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        elif ch == "=" and depth == 0:
            return pair[:i], "=", pair[i + 1:]
    return pair, "", ""


def parse_adapted(pairs: Iterable[str]) -> dict[str, str]:
    """``["V=V2", ...]`` -> ``{"V": "V2"}``: V2 is V adapted to compressed images."""
    out: dict[str, str] = {}
    for pair in pairs:
        base, sep, adapted = split_pair(pair)
        base, adapted = base.strip(), adapted.strip()
        if not sep or not base or not adapted:
            raise UsageError(f"--adapted takes VLM=ADAPTED_VLM, got {pair!r}")
        if base == adapted:
            raise UsageError(f"--adapted {pair!r}: a VLM cannot be its own adapted version")
        if base in out and out[base] != adapted:
            raise UsageError(f"--adapted gives two adapted VLMs for {base!r}: {out[base]!r}, {adapted!r}")
        out[base] = adapted
    return out


# ---- like for like: the base VLM must see images as the adapted one does -------------------
#: a VLM version part that starts the adapter's own settings: everything before it is the base
#: model and its preprocessing (``adapter=off``: that base alone, e.g. ``adapted-base:PATH``)
ADAPTER_PART = "adapter="
NO_ADAPTER = "adapter=off"


def base_setup(version: str | None) -> str | None:
    """The part of a VLM version that names the base model and how images reach it: everything
    before its first ``adapter=`` part (the whole version of a VLM without one)."""
    if version is None:
        return None
    parts = version.split(";")
    cut = next((i for i, p in enumerate(parts) if p.startswith(ADAPTER_PART)), len(parts))
    return ";".join(parts[:cut])


def has_adapter(version: str | None) -> bool:
    return version is not None and any(p.startswith(ADAPTER_PART) and p != NO_ADAPTER for p in version.split(";"))


def _setup_parts(setup: str) -> dict[str, str]:
    parts = setup.split(";")
    out = {"model": parts[0]}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        out[k] = v
    return out


def setup_differences(base_versions: Sequence[str | None], adapted_versions: Sequence[str | None]) -> list[str]:
    """Why a base VLM's answers were not given under the adapted VLM's base model and
    preprocessing (``[]``: like for like). The versions are those stored with the answers."""
    sets = []
    for who, versions in (("base", base_versions), ("adapted", adapted_versions)):
        setups = {base_setup(v) for v in versions}
        found = {s for s in setups if s is not None}
        if not found or len(found) < len(setups):
            return [f"the {who} VLM has answers stored without a version: its preprocessing is unknown"]
        if len(found) > 1:
            return [f"the {who} VLM's answers come from {len(found)} different setups: {' | '.join(sorted(found))}"]
        sets.append(found.pop())
    if sets[0] == sets[1]:
        return []
    a, b = _setup_parts(sets[0]), _setup_parts(sets[1])
    keys = list(dict.fromkeys([*a, *b]))
    return [f"{k}: {a.get(k, '(default)')} (base) vs {b.get(k, '(default)')} (adapted)"
            for k in keys if a.get(k) != b.get(k)]


def like_for_like_base(adapted: str, versions: Mapping[str, Sequence[str | None]]) -> str:
    """The VLM of the store that is ``adapted``'s base model under its exact preprocessing
    without the adapter (same setup, no adapter): the default base of ``--adapted ADAPTED``."""
    if adapted not in versions:
        raise UsageError(f"--adapted {adapted!r}: no answers of that VLM in the store; VLMs present: "
                         f"{', '.join(sorted(versions)) or '(none)'}")
    setups = {base_setup(v) for v in versions[adapted]}
    if len(setups) != 1 or None in setups:
        raise UsageError(f"--adapted {adapted!r}: its answers do not name one base model and preprocessing "
                         f"(versions {sorted(map(str, versions[adapted]))}); name the base: --adapted BASE={adapted}")
    setup = setups.pop()
    found = [label for label, vs in sorted(versions.items()) if label != adapted and vs
             and all(base_setup(v) == setup and not has_adapter(v) for v in vs)]
    if not found:
        raise UsageError(
            f"--adapted {adapted!r}: no VLM in the store answered under its base model and preprocessing "
            f"({setup}) without the adapter. Run that baseline first (for cvb's adapter: "
            f"`cvb run --vlm adapted-base:PATH ...` with the same options), or name a base with "
            f"--adapted BASE={adapted}")
    off = [label for label in found if all((v or "").endswith(NO_ADAPTER) for v in versions[label])]
    return (off or found)[0]


def resolve_adapted(entries: Iterable[str], versions: Mapping[str, Sequence[str | None]],
                    allow_unlike: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """``--adapted`` entries -> ``({base: adapted}, {base: warning})``. ``ADAPTED`` alone takes its
    like-for-like base (``like_for_like_base``); ``BASE=ADAPTED`` is checked where ADAPTED
    declares its base (an ``adapter=`` part in its version): a base whose
    model or preprocessing differs from the adapted VLM's is refused (its gaps would measure the
    preprocessing, not the adaptation), or with ``allow_unlike`` kept with a warning."""
    entries = list(entries)
    explicit = parse_adapted([e for e in entries if split_pair(e)[1]])
    pairs = dict(explicit)
    for entry in entries:
        if not split_pair(entry)[1]:
            adapted = entry.strip()
            pairs.update(parse_adapted([f"{like_for_like_base(adapted, versions)}={adapted}"]))
    warnings: dict[str, str] = {}
    for base, adapted in explicit.items():
        if base not in versions or adapted not in versions:
            continue  # no answers: build_report names the missing VLM
        if not any(ADAPTER_PART in (v or "") for v in versions[adapted]):
            continue  # a VLM that does not declare a base (another checkpoint): nothing to compare
        diff = setup_differences(versions[base], versions[adapted])
        if not diff:
            continue
        text = (f"{base} and {adapted} do not see images the same way ({'; '.join(diff)}): the gaps would "
                f"measure that difference, not the adaptation")
        if not allow_unlike:
            raise UsageError(f"--adapted {base}={adapted}: {text}. Run the like-for-like base (for cvb's "
                             f"adapter: --vlm adapted-base:PATH) and pass --adapted {adapted} alone, or "
                             f"pass --allow-unlike to report it anyway, flagged")
        warnings[base] = f"NOT LIKE FOR LIKE: {text}"
    return pairs, warnings


def condition_label(counts: Mapping[str | None, int]) -> str | None:
    """How a cell's answers were conditioned, from ``{condition: answers}``: ``jpeg/1``, or
    ``jpeg/1 (5), unconditional (1)`` when they differ; None when no answer says."""
    said = {k: n for k, n in counts.items() if k is not None}
    if not said:
        return None
    if len(said) == 1 and None not in counts:
        return next(iter(said))
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{k if k is not None else '(not said)'} ({n})" for k, n in items)


def gap_rows(cells: Sequence[Mapping], adapted: Mapping[str, str],
             conditions: Mapping[tuple, Mapping[str | None, int]] | None = None) -> list[dict]:
    """One row per compressed cell of each base VLM that has an adapted counterpart.

    The clean score is the base VLM's uncompressed cell of the same task; the adapted score
    is the adapted VLM's cell at the same (task, codec, level). A missing one leaves the
    gaps NaN with a ``reason``. ``conditions``: ``{(task, adapted_vlm, codec, level):
    {condition: answers}}`` (what each adapted answer was conditioned on), shown as ``condition``.
    """
    conditions = conditions or {}
    groups = group_cells(cells)
    rows: list[dict] = []
    for (task, vlm), group in groups.items():
        if vlm not in adapted:
            continue
        adapted_vlm = adapted[vlm]
        ref = reference_cell(group)
        by_key = {
            (c["codec"], str(c["level"])): c for c in groups.get((task, adapted_vlm), [])
        }
        for curve in codec_curves(group).values():
            for c in curve.cells:
                other = by_key.get((c["codec"], str(c["level"])))
                hib = higher_is_better(c)
                clean = num(ref.get("score")) if ref else math.nan
                comp, adap = num(c.get("score")), num(other.get("score")) if other else math.nan
                reason = None
                if ref is None:
                    reason = f"no uncompressed cell for {vlm} on {task}"
                elif other is None:
                    reason = f"no cell for adapted VLM {adapted_vlm} at {c['codec']} {c['level']}"
                elif any(math.isnan(v) for v in (clean, comp, adap)):
                    reason = "a score is missing (all units failed?)"
                g = Gap(clean, comp, adap, hib)
                rows.append({
                    "task": task, "vlm": vlm, "adapted_vlm": adapted_vlm,
                    "codec": c["codec"], "level": str(c["level"]), "bpp": num(c.get("bpp")),
                    "clean": clean, "compressed": comp, "adapted": adap,
                    "total": g.total, "information": g.information,
                    "generalization": g.generalization,
                    "generalization_share": g.generalization_share,
                    "condition": condition_label(conditions.get((task, adapted_vlm, c["codec"], str(c["level"])), {})),
                    "reason": reason,
                })
    return rows


def adapter_gains(cells: Sequence[Mapping], adapted: Mapping[str, str], method: str = "pchip") -> list[dict]:
    """BD-metric of the adapted VLM's curve over the base VLM's, per task and codec.

    This is the paper's headline adapter number ("+12.62 BD-POPE on JPEG"). For a
    lower-is-better score the sign is flipped so a positive gain always means better.
    """
    groups = group_cells(cells)
    rows: list[dict] = []
    for (task, vlm), group in groups.items():
        if vlm not in adapted or (task, adapted[vlm]) not in groups:
            continue
        base_curves = codec_curves(group)
        ad_curves = codec_curves(groups[(task, adapted[vlm])])
        for codec, base in base_curves.items():
            if codec not in ad_curves:
                continue
            res = bd_metric(base.bpp, base.scores, ad_curves[codec].bpp, ad_curves[codec].scores,
                            method, labels=(vlm, adapted[vlm]))
            hib = all(higher_is_better(c) for c in base.cells)
            d = res.as_dict()
            if d["value"] is not None and not hib:
                d["value"] = -d["value"]
            rows.append({"task": task, "vlm": vlm, "adapted_vlm": adapted[vlm], "codec": codec,
                         "bd_metric": d})
    return rows


def gap_summary(gaps: Sequence[Mapping], gains: Sequence[Mapping] = ()) -> list[dict]:
    """Per task, VLM and codec: the gaps averaged over the codec's levels (those with all three
    scores), the generalization share of the summed gaps (the paper's "81 % of the JPEG loss on
    POPE is generalization"), and the adapter's BD gain from ``adapter_gains`` for that codec."""
    groups: dict[tuple, list[Mapping]] = {}
    for g in gaps:
        groups.setdefault((g["task"], g["vlm"], g["adapted_vlm"], g["codec"]), []).append(g)
    bd = {(r["task"], r["vlm"], r["codec"]): r["bd_metric"] for r in gains}
    rows = []
    for (task, vlm, adapted_vlm, codec), members in groups.items():
        ok = [g for g in members if g["reason"] is None]
        mean = (lambda key: sum(g[key] for g in ok) / len(ok)) if ok else (lambda key: math.nan)
        total = sum(g["total"] for g in ok)
        gain = bd.get((task, vlm, codec))
        rows.append({
            "task": task, "vlm": vlm, "adapted_vlm": adapted_vlm, "codec": codec,
            "levels": len(members), "levels_used": len(ok),
            "total": mean("total"), "information": mean("information"), "generalization": mean("generalization"),
            "generalization_share": (sum(g["generalization"] for g in ok) / total) if ok and total else math.nan,
            "bd_gain": None if gain is None else gain.get("value"),
            "bd_reason": None if gain is None else gain.get("reason"),
        })
    return rows


def clean_drift(cells: Sequence[Mapping], adapted: Mapping[str, str]) -> list[dict]:
    """Per task and base VLM with an adapted counterpart: both models on the uncompressed images.

    An adapter is trained for compressed images; on clean ones it should change nothing, and
    fine-tuning drifts there (``cvb adapt --clean-mix`` holds it back). ``drift`` = adapted -
    base, signed so that negative is worse. On a task whose answers are the base model's own
    clean predictions (the tagger demonstration's), the adapted score *is* its agreement with
    the base model on clean images.
    """
    groups = group_cells(cells)
    rows = []
    for (task, vlm), group in groups.items():
        if vlm not in adapted or (task, adapted[vlm]) not in groups:
            continue
        base_ref, ad_ref = reference_cell(group), reference_cell(groups[(task, adapted[vlm])])
        base, adap = (num(r.get("score")) if r else math.nan for r in (base_ref, ad_ref))
        sign = 1.0 if higher_is_better(base_ref or ad_ref or {}) else -1.0
        reason = None if base_ref and ad_ref else (
            f"no uncompressed cell for {vlm if base_ref is None else adapted[vlm]} on {task}")
        rows.append({"task": task, "vlm": vlm, "adapted_vlm": adapted[vlm], "base": base, "adapted": adap,
                     "drift": sign * (adap - base), "higher_is_better": sign > 0, "reason": reason})
    return rows


def adapted_vlms_missing(cells: Sequence[Mapping], adapted: Mapping[str, str]) -> list[str]:
    """Names given to ``--adapted`` that have no cell at all (a typo, most likely)."""
    present = {c["vlm"] for c in cells}
    return [v for pair in adapted.items() for v in pair if v not in present]


__all__ = ["Gap", "decompose", "parse_adapted", "resolve_adapted", "like_for_like_base", "setup_differences",
           "base_setup", "condition_label", "gap_rows", "adapter_gains", "gap_summary", "clean_drift",
           "adapted_vlms_missing"]
