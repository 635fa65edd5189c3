"""The report's sample browser (``samples.html`` beside ``report.html``): for chosen samples, the
image at every codec x level side by side, as the VLM received it, with the question, the gold
answer and each model's answer marked right or wrong.

Which samples: per task, those whose verdict changes between the cells of the matrix first (the
ones a compression level turns from right to wrong), most balanced first, then a few whose
verdict never changes (what the model gets right or wrong whatever the rate). Images come from
``cvb.run.seen_images`` (the same pixels ``cvb cache show`` gives back): a lossless PNG at full
size per image (``samples/KEY.png``), a small JPEG thumbnail linking to it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

#: chosen samples per task: at most FLIPPING whose verdict changes, then STEADY that do not
FLIPPING, STEADY = 6, 2
THUMB_PX = 200


def choose(store, task: str, flipping: int = FLIPPING, steady: int = STEADY) -> list[tuple[str, bool]]:
    """(sample id, verdict changes) of the samples shown for one task (the answers' label)."""
    rows = store._read(
        "SELECT sample_id, MIN(judge), MAX(judge), SUM(judge), COUNT(judge) FROM predictions"
        " WHERE task=? AND judge IS NOT NULL GROUP BY sample_id", (task,))
    flips = sorted(((-min(s, n - s) / n, sid) for sid, lo, hi, s, n in rows if lo != hi))
    still = sorted(sid for sid, lo, hi, _s, _n in rows if lo == hi)
    return [(sid, True) for _, sid in flips[:flipping]] + [(sid, False) for sid in still[:steady]]


def collect(store, cells: Sequence[Mapping], flipping: int = FLIPPING, steady: int = STEADY) -> list[dict]:
    """The browser's content, one entry per task: its columns (codec x level, lowest rate
    first, the uncompressed image first) and chosen samples with every VLM's answer per cell."""
    from ..identity import answers_label

    tasks: dict[str, dict] = {}
    for c in cells:
        label = answers_label(c["task"])
        t = tasks.setdefault(label, {"task": label, "columns": [], "vlms": []})
        col = (c["codec"], str(c["level"]))
        if col not in t["columns"]:
            t["columns"].append(col)
        if c["vlm"] not in t["vlms"]:
            t["vlms"].append(c["vlm"])
    have_samples = bool(store._read("PRAGMA table_info(samples)"))
    out = []
    for label, t in tasks.items():
        chosen = choose(store, label, flipping, steady)
        samples = []
        for sid, changes in chosen:
            asked = store._read("SELECT question, options, gold, category, image FROM samples"
                                " WHERE task=? AND sample_id=?", (label, sid)) if have_samples else []
            question, options, gold, category, image = asked[0] if asked else (None, "[]", "null", None, None)
            answers: dict[tuple[str, str], dict] = {}
            for vlm, codec, level, key, text, judge, error, bpp in store._read(
                    "SELECT p.vlm, p.codec, p.level, p.key, p.text, p.judge, p.error, c.bpp FROM predictions p"
                    " LEFT JOIN compressed c ON c.key = p.key AND p.codec != 'none'"
                    " WHERE p.task=? AND p.sample_id=?", (label, sid)):
                cell = answers.setdefault((codec, str(level)), {"key": key, "bpp": bpp, "answers": {}})
                cell["answers"][vlm] = {"answer": text, "verdict": judge, "error": error}
            samples.append({"sample_id": sid, "changes": changes, "question": question,
                            "options": _json(options, []), "gold": _json(gold, None), "category": category,
                            "image": image, "cells": answers})
        out.append({**t, "samples": samples})
    return out


def _json(text: str | None, default: Any) -> Any:
    import json

    try:
        return json.loads(text) if text is not None else default
    except ValueError:
        return text


def write_images(browser: list[dict], folder: Path, image_of: Callable[[str], Any],
                 warn: Callable[[str], None] | None = None) -> dict[str, str | None]:
    """Each distinct image once: ``folder/KEY.png`` (lossless) and ``KEY.thumb.jpg``; returns
    key -> None when written, else why not (pruned from the cache, original moved)."""
    from PIL import Image

    from ..errors import CvbError
    from ..run.seen_images import save_png

    folder.mkdir(parents=True, exist_ok=True)
    done: dict[str, str | None] = {}
    for t in browser:
        for s in t["samples"]:
            for cell in s["cells"].values():
                key = cell["key"]
                if not key or key in done:
                    continue
                try:
                    image = image_of(key)
                except CvbError as exc:
                    done[key] = str(exc)
                    if warn:
                        warn(f"warning: sample browser: {exc}")
                    continue
                save_png(image, folder / f"{key}.png")
                thumb = image.copy()
                thumb.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
                thumb.save(folder / f"{key}.thumb.jpg", quality=88)
                done[key] = None
    return done


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto;
       max-width: 1400px; padding: 0 1em; color: #222; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
section.sample { margin: 1.2em 0 2em; }
.asked { margin: 0.3em 0 0.6em; } .asked b { font-weight: 600; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ddd; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; white-space: nowrap; }
td.level { min-width: 150px; max-width: 220px; }
td.level img { display: block; width: 200px; max-width: 100%; height: auto; border: 1px solid #eee;
               image-rendering: pixelated; }
.cap { color: #555; font-size: 0.85em; white-space: nowrap; }
.ans { font-size: 0.9em; margin-top: 2px; word-break: break-word; }
.right { color: #16632a; } .wrong { color: #a32020; } .none { color: #666; }
.changes { background: #fff4d6; padding: 0 0.4em; border-radius: 3px; font-size: 0.85em; }
p.note { color: #666; font-size: 0.9em; }
"""


def _mark(answer: Mapping | None) -> str:
    if answer is None:
        return '<span class="none">not asked</span>'
    if answer.get("error"):
        return f'<span class="wrong">failed: {escape(str(answer["error"])[:120])}</span>'
    v = answer.get("verdict")
    text = escape(str(answer.get("answer") or "")[:160]) or "(blank)"
    if v is None:
        return f'<span class="none">{text}</span>'
    cls, sign = ("right", "&#10003;") if v >= 1 else (("wrong", "&#10007;") if v <= 0 else ("none", f"{v:.2f}"))
    return f'<span class="{cls}">{sign} {text}</span>'


def html_page(browser: list[dict], images: Mapping[str, str | None], folder: str = "samples") -> str:
    """``samples.html``: one section per task, one table per sample (rows: codecs; columns: its
    levels, lowest rate first), inside a horizontal scroll container."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>cvb sample browser</title>", f"<style>{CSS}</style></head><body>",
             "<h1>Sample browser</h1>",
             '<p class="note">For chosen samples, the image every codec x level handed the VLM (the '
             "decoded pixels it received; thumbnails link to the full-size lossless PNG), with the "
             "question, the gold answer and each model's answer: &#10003; right, &#10007; wrong. Samples whose "
             "verdict changes across the matrix come first. <a href=\"report.html\">Back to the report</a>.</p>"]
    if not any(t["samples"] for t in browser):
        parts.append("<p>No answers with a verdict to show.</p>")
    for ti, t in enumerate(browser):
        parts.append(f'<h2 id="t{ti}">{escape(t["task"])}</h2>')
        codecs: dict[str, list[str]] = {}
        for codec, level in t["columns"]:
            codecs.setdefault(codec, []).append(level)
        width = max((len(v) for v in codecs.values()), default=1)
        for si, s in enumerate(t["samples"]):
            parts.append(f'<section class="sample" id="t{ti}s{si}">')
            flag = ' <span class="changes">verdict changes</span>' if s["changes"] else ""
            parts.append(f"<h3>{escape(str(s['sample_id']))}{flag}</h3>")
            asked = [f"<b>Question:</b> {escape(s['question'])}" if s["question"] is not None
                     else "<b>Question:</b> not in this store (made before cvb kept questions)"]
            if s["options"]:
                asked.append("<b>Options:</b> " + "; ".join(
                    f"{chr(65 + i)}. {escape(str(o))}" for i, o in enumerate(s["options"])))
            gold = s["gold"]
            asked.append("<b>Gold:</b> " + escape(" | ".join(map(str, gold)) if isinstance(gold, list)
                                                  else "-" if gold is None else str(gold)))
            if s.get("category"):
                asked.append(f"<b>Category:</b> {escape(str(s['category']))}")
            parts.append('<div class="asked">' + "<br>".join(asked) + "</div>")
            head = f'<th colspan="{width}">image at each level, lowest rate first</th>'
            rows = []
            for codec, levels in codecs.items():
                tds = []
                for level in levels:
                    cell = s["cells"].get((codec, level))
                    tds.append(_cell_html(codec, level, cell, t["vlms"], images, folder))
                tds += ["<td></td>"] * (width - len(levels))
                name = "uncompressed" if codec == "none" else codec
                rows.append(f"<tr><th>{escape(name)}</th>{''.join(tds)}</tr>")
            parts.append(f'<div class="scroll"><table><thead><tr><th>codec</th>{head}</tr></thead>'
                         f"<tbody>{''.join(rows)}</tbody></table></div></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cell_html(codec: str, level: str, cell: Mapping | None, vlms: Sequence[str],
               images: Mapping[str, str | None], folder: str) -> str:
    if cell is None:
        return '<td class="level"><span class="none">not run</span></td>'
    key = cell["key"]
    bpp = cell.get("bpp")
    cap = ("original" if codec == "none" else f"{escape(codec)} {escape(level)}") + \
        (f" &middot; {bpp:.3f} bpp" if isinstance(bpp, (int, float)) else "")
    if key and images.get(key, "missing") is None:
        pic = (f'<a href="{folder}/{key}.png"><img src="{folder}/{key}.thumb.jpg" loading="lazy" '
               f'alt="{escape(codec)} {escape(level)}"></a>')
    else:
        why = images.get(key, "no image key") if key else "no image"
        pic = f'<span class="none" title="{escape(str(why))}">image not available</span>'
    answers = "".join(f'<div class="ans">{escape(v) + ": " if len(vlms) > 1 else ""}'
                      f"{_mark(cell['answers'].get(v))}</div>" for v in vlms)
    return f'<td class="level">{pic}<div class="cap">{cap}</div>{answers}</td>'


def write_browser(store, cells: Sequence[Mapping], out: Path, cache, registry=None,
                  flipping: int = FLIPPING, steady: int = STEADY,
                  warn: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``out/samples.html`` and ``out/samples/``; returns the paths written (none when no
    stored answer has a verdict: cells imported without answers, a caption-only study)."""
    from ..run.seen_images import SeenImages

    browser = collect(store, cells, flipping, steady)
    if not any(t["samples"] for t in browser):  # no answer has a verdict: nothing to browse
        return []
    seen = SeenImages(store, cache, registry)
    folder = Path(out) / "samples"
    images = write_images(browser, folder, seen.image, warn)
    page = Path(out) / "samples.html"
    page.write_text(html_page(browser, images), encoding="utf-8")
    written = [page]
    for key, why in images.items():
        if why is None:
            written += [folder / f"{key}.png", folder / f"{key}.thumb.jpg"]
    return written
