"""``check_codec``: the rules every cvb codec must keep (see docs/conformance.md).

The spec ``cvb list`` shows agrees with the object; levels parse and sort lowest rate first;
bpp rises with the level on real photos; decoding gives RGB at the original size, resembling
the input (a fidelity floor); the bitstream decodes alone in a fresh process (at least one);
encoding is deterministic unless the codec declares ``deterministic = False``; odd sizes (1x1,
odd width and height, a 4000-pixel-wide photo) work or are refused with ``CodecRefusal`` (a crash
is a failure); every encode and decode finishes within a timeout; timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import CodecRefusal, UsageError
from .bounded import Bounded, Hung
from .fidelity import fidelity_rule
from .inputs import load_images, odd_size_image, photos
from .results import INFO, Report
from .spec_agreement import spec_agreement
from .subjects import Subject, start

#: (rule name, width, height); "large" may be skipped with a reason (``skip={"large": ...}``)
ODD_SIZES = (("size 1x1", 1, 1), ("size 17x9 (odd width and height)", 17, 9),
             ("size 4000x3000 (large)", 4000, 3000))
SIZE_KEYS = {"1x1": 0, "odd": 1, "large": 2}
#: seconds one encode or decode may take before the check calls it hung (``timeout=``, --timeout)
TIMEOUT_S = 300.0
#: starts ``cvb.conformance.fresh`` with this process's import path, read from the job file rather
#: than given as ``PYTHONPATH`` (which every process it starts would inherit, a research worker too)
FRESH_BOOT = ("import json, sys; sys.path[:0] = json.load(open(sys.argv[1] + '/job.json'))['sys_path']; "
              "from cvb.conformance.fresh import main; sys.exit(main(sys.argv[1]))")


def check_codec(codec: Any, *, levels: Sequence[str] | None = None, images: Sequence[str] | None = None,
                options: Mapping[str, Any] | None = None, skip: Mapping[str, str] | None = None,
                fresh_process: bool = True, timeout: float = TIMEOUT_S, registry=None) -> Report:
    """Run every codec rule on ``codec``: a registered name (``"jpeg"``) or a codec object.

    ``levels``: the levels to test (default: the codec's defaults); ``images``: photo paths
    or PIL images (default: two bundled sample photos); ``options``: codec options, with a name only;
    ``skip``: ``{"rate"|"fidelity"|"1x1"|"odd"|"large"|"fresh": reason}`` rules not run, shown as
    skipped with the reason; ``timeout``: seconds one encode or decode may take (raise it for a
    slow codec; a call past it fails its rule, and the rules after it are not run). Returns a
    ``Report``; ``report.raise_for_failures()`` suits a pytest test.
    """
    skip = dict(skip or {})
    report, subj = start("codec", codec, options, registry)
    if subj is None:
        return report
    c = Bounded(subj.obj, timeout)
    _attributes(report, subj.obj)
    spec_agreement(report, subj)
    chosen = _levels(report, subj.obj, levels)
    if not chosen:
        return report
    pictures = load_images(images) if images else photos()
    if "rate" in skip:
        report.skip("bpp rises with the level", skip["rate"])
    runs = _roundtrips(report, c, chosen, pictures)
    if "rate" not in skip:
        _rate_rises(report, chosen, runs)
    if "fidelity" in skip:
        report.skip("the decoded image resembles the input", skip["fidelity"])
    else:
        fidelity_rule(report, subj.obj, chosen[-1], runs[chosen[-1]], pictures)
    if c.hung:
        return _after_hang(report, c, skip)
    _deterministic(report, c, chosen, pictures)
    if "fresh" in skip:
        report.skip("bitstream decodes in a fresh process", skip["fresh"])
    elif fresh_process and not c.hung:
        _fresh(report, subj, runs, timeout)
    _sizes(report, c, chosen[0], skip)
    _timings(report, chosen, runs)
    return report


def _after_hang(report: Report, c: "Bounded", skip: Mapping[str, str]) -> Report:
    """A call that hung still runs in its thread: later rules would only wait on it."""
    why = f"not run: {c.hung}"
    for rule in ("encoding is deterministic", "bitstream decodes in a fresh process",
                 *(name for name, _, _ in ODD_SIZES)):
        report.skip(rule, why)
    return report


def _attributes(report: Report, c: Any) -> None:
    from ..types import CodecKind

    with report.rule("name, kind and version") as r:
        assert isinstance(c.name, str) and c.name, "name must be a non-empty string"
        try:
            kind = CodecKind(c.kind)
        except ValueError:
            raise AssertionError(f"kind {c.kind!r} is not one of {', '.join(k.value for k in CodecKind)}") from None
        version = getattr(c, "version", None)
        assert isinstance(version, str) and version.strip(), \
            "version must be a non-empty string: it goes into cache keys (bump it when the bitstream changes)"
        r.detail = f"name={c.name} kind={kind.value} version={version}"
    with report.rule("params() is a JSON-able mapping") as r:
        params = c.params()
        assert isinstance(params, Mapping), f"params() returned {type(params).__name__}, not a mapping"
        json.dumps(dict(params), sort_keys=True)
        r.detail = json.dumps(dict(params), sort_keys=True) if params else "{}"


def _levels(report: Report, c: Any, levels: Sequence[str] | None) -> list[str]:
    from ..codecs.base import sort_levels

    chosen: list[str] = []
    with report.rule("default levels parse and run lowest rate first") as r:
        defaults = tuple(c.default_levels)
        assert defaults, "default_levels is empty"
        assert all(isinstance(lv, str) for lv in defaults), "default_levels must be strings"
        canonical = [c.parse_level(lv) for lv in defaults]
        assert canonical == list(defaults), f"parse_level changes default levels: {list(defaults)} -> {canonical}"
        ordered = sort_levels(c, defaults)
        assert ordered == list(defaults), (f"default_levels {list(defaults)} are not lowest rate first "
                                           f"(rate_rank orders them {ordered})")
        r.detail = ", ".join(defaults)
    with report.rule("a bad level is refused with UnknownLevelError") as r:
        try:
            c.parse_level("no-such-level")
        except UsageError as exc:
            r.detail = str(exc)
        else:
            raise AssertionError("parse_level('no-such-level') was accepted; raise cvb.errors.UnknownLevelError")
    if report.failures:
        return []
    chosen = sort_levels(c, levels) if levels else list(c.default_levels)  # a bad one: UsageError
    report.add("levels to test", INFO, ", ".join(chosen))
    return chosen


def _roundtrips(report: Report, c: Any, levels: list[str], pictures) -> dict[str, list[tuple[str, Any]]]:
    """``{level: [(photo, Compressed)]}`` for the runs that worked."""
    from ..codecs.base import compress

    runs: dict[str, list[tuple[str, Any]]] = {lv: [] for lv in levels}
    with report.rule("decode(encode(x)) is RGB at the original size") as r:
        problems = []
        for lv in levels:
            for name, image in pictures.items():
                if c.hung:
                    break
                try:
                    out = compress(c, image, lv)
                except Exception as exc:  # noqa: BLE001 - a crash, a refusal, a hang: all fail here
                    problems.append(f"level {lv} on {name}: {exc}")
                    continue
                try:
                    decoded = c.decode(out.bits)
                except Exception as exc:  # noqa: BLE001 - decoding twice must work too
                    problems.append(f"level {lv} on {name}: a second decode failed: {exc}")
                    continue
                if decoded.mode != "RGB":
                    problems.append(f"level {lv} on {name}: decode returned mode {decoded.mode}, not RGB")
                runs[lv].append((name, out))
        if c.hung:
            problems.insert(0, c.hung)
        assert not problems, "; ".join(problems[:4])
        r.detail = f"{len(levels)} levels x {len(pictures)} photos ({', '.join(pictures)})"
    return runs


def _rate_rises(report: Report, levels: list[str], runs) -> None:
    with report.rule("bpp rises with the level") as r:
        if len(levels) < 2:
            r.status, r.detail = INFO, "one level only: nothing to compare"
            return
        assert all(runs[lv] for lv in levels), "some levels failed to code (see above)"
        means = [sum(o.bpp for _, o in runs[lv]) / len(runs[lv]) for lv in levels]
        shown = ", ".join(f"{lv}: {b:.3f}" for lv, b in zip(levels, means))
        bad = [(a, b) for (a, ma), (b, mb) in zip(zip(levels, means), zip(levels[1:], means[1:])) if mb <= ma]
        assert not bad, (f"mean bpp does not rise from level {bad[0][0]} to {bad[0][1]} ({shown}); "
                         f"levels must run lowest rate first (fix rate_rank or default_levels)")
        r.detail = f"mean bpp {shown}"


def _deterministic(report: Report, c: Any, levels: list[str], pictures) -> None:
    rule = "encoding is deterministic"
    if getattr(c, "deterministic", True) is False:
        report.skip(rule, "the codec declares deterministic = False")
        return
    with report.rule(rule) as r:
        name, image = next(iter(pictures.items()))
        level = levels[len(levels) // 2]
        first, second = c.encode(image, level), c.encode(image, level)
        assert bytes(first) == bytes(second), (
            f"two encodes of {name} at level {level} gave different bitstreams ({len(first)} and "
            f"{len(second)} bytes); seed the codec, or declare deterministic = False")
        r.detail = f"{name} at level {level}: identical {len(first)}-byte bitstreams"


def _fresh(report: Report, subj: Subject, runs, timeout: float) -> None:
    from PIL import Image

    rule = "bitstream decodes in a fresh process"
    if subj.ref is None and subj.pickled is None:
        report.skip(rule, f"the codec object cannot be pickled ({subj.pickle_error}); check it by its "
                          f"registered name to run this rule")
        return
    with report.rule(rule) as r, tempfile.TemporaryDirectory(prefix="cvb-check-") as tmp:
        folder = Path(tmp)
        job = {"ref": subj.ref, "options": dict(subj.options), "sys_path": [p for p in sys.path if p]}
        (folder / "job.json").write_text(json.dumps(job))
        if subj.ref is None and subj.pickled is not None:
            (folder / "codec.pickle").write_bytes(subj.pickled)
        expected: dict[str, Any] = {}
        for lv, outs in runs.items():
            if outs:
                name, out = outs[0]
                key = f"level-{len(expected):02d}"
                (folder / f"{key}.bits").write_bytes(out.bits)
                expected[key] = (lv, out)
        assert expected, ("no bitstream to decode: no level coded a photo (see the rules above); "
                          "0 bitstreams decoded is not a pass")
        limit = 60 + timeout * len(expected)  # start-up and imports, then each decode
        try:
            proc = subprocess.run([sys.executable, "-c", FRESH_BOOT, str(folder)],
                                  capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the fresh process did not finish decoding {len(expected)} bitstreams "
                                 f"within {limit:.0f} s (a hang? raise the limit with --timeout)") from None
        assert proc.returncode == 0, f"the fresh process failed: {proc.stderr.strip()[-500:]}"
        import numpy as np

        for key, (lv, out) in expected.items():
            err = folder / f"{key}.error"
            assert not err.exists(), f"level {lv}: decoding alone failed: {err.read_text()}"
            with Image.open(folder / f"{key}.png") as im:
                alone = np.asarray(im.convert("RGB"))
            assert alone.shape == np.asarray(out.image).shape, (
                f"level {lv}: decoded alone to {alone.shape[1]}x{alone.shape[0]}, expected "
                f"{out.width}x{out.height}")
            assert np.array_equal(alone, np.asarray(out.image)), (
                f"level {lv}: decoding alone gives other pixels than decoding in the encoding process; "
                f"the decoder depends on state the bitstream does not carry")
        r.detail = f"{len(expected)} bitstreams decoded identically by a new Python process"


def _sizes(report: Report, c: "Bounded", level: str, skip: Mapping[str, str]) -> None:
    for key, (rule, w, h) in zip(SIZE_KEYS, ODD_SIZES):
        if key in skip:
            report.skip(rule, skip[key])
            continue
        if c.hung:
            report.skip(rule, f"not run: {c.hung}")
            continue
        with report.rule(rule) as r:
            image = odd_size_image(w, h)
            try:
                bits = c.encode(image, level)
                out = c.decode(bytes(bits))
            except CodecRefusal as exc:  # the one way to decline an input
                assert str(exc).strip(), f"refused with an empty {type(exc).__name__}; say why"
                r.detail = f"refused: {exc}"
                continue
            except Hung as exc:
                raise AssertionError(str(exc)) from None
            except Exception as exc:  # noqa: BLE001 - what the rule is about
                raise AssertionError(
                    f"crashed with {type(exc).__name__}: {exc}; a crash (an exception, a tool's non-zero "
                    f"exit, a segfault) is a failure, not a refusal: refuse sizes the codec cannot code by "
                    f"raising cvb.errors.CodecRefusal with the reason") from None
            assert out.size == (w, h), f"decoded to {out.size[0]}x{out.size[1]}, not {w}x{h}"
            assert out.convert("RGB").mode == "RGB"
            r.detail = f"level {level}: {len(bits) * 8 / (w * h):.3f} bpp"


def _timings(report: Report, levels: list[str], runs) -> None:
    parts = []
    for lv in levels:
        outs = [o for _, o in runs[lv]]
        if outs:
            enc = sum(o.encode_s for o in outs) / len(outs) * 1e3
            dec = sum(o.decode_s for o in outs) / len(outs) * 1e3
            parts.append(f"{lv}: enc {enc:.1f} ms, dec {dec:.1f} ms")
    report.add("timings (mean per photo)", INFO, "; ".join(parts))
