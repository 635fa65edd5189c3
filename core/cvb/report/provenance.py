"""The provenance block of a report: what made its numbers, so a figure can be traced back.

cvb version and date of the report, the store, this report's command line, every ``cvb run``
that wrote the store (when, which cvb and git commit, its exact command line), and the versions
of the VLMs, tasks and codecs (with their parameters) behind the stored results.
"""

from __future__ import annotations

from ..options import format_params

import shlex
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence


def store_provenance(store, cells: Sequence[Mapping], argv: Sequence[str]) -> dict[str, Any]:
    from .. import __version__

    used_vlms = {c["vlm"] for c in cells}
    used_tasks = {c["task"] for c in cells}
    used_codecs = {c["codec"] for c in cells}
    versions = store.component_versions()
    runs = []
    for r in store.export_rows("runs"):
        runs.append({"id": r["id"], "started_at": r["started_at"], "status": r["status"],
                     "cvb_version": r["cvb_version"], "git_commit": r.get("git_commit"),
                     "command": command_line(["cvb", *(r.get("argv") or [])[1:]]),
                     "study_file": study_file(r.get("options"))})
    return {
        "cvb_version": __version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "store": str(store.path),
        "command": command_line(["cvb", *list(argv)[1:]]),
        "runs": runs,
        "vlms": {k: v for k, v in versions["vlms"].items() if k in used_vlms},
        "tasks": {k: v for k, v in versions["tasks"].items() if k in used_tasks},
        "codecs": {k: v for k, v in versions["codecs"].items() if k in used_codecs},
    }


def study_file(options: Any) -> dict[str, str] | None:
    """The study file (path and SHA-256) a run recorded in its options, or None (a run made
    from flags alone, or by a cvb before study files)."""
    study = options.get("study") if isinstance(options, Mapping) else None
    file = study.get("file") if isinstance(study, Mapping) else None
    return {"path": file["path"], "sha256": file["sha256"]} if isinstance(file, Mapping) else None


def command_line(argv: Sequence[str]) -> str:
    """``argv`` as one line a shell reads back the same way."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def provenance_lines(prov: Mapping[str, Any] | None) -> list[str]:
    """The block as plain lines (terminal, Markdown list items, HTML)."""
    if not prov:
        return []
    lines = [f"cvb {prov['cvb_version']}, report made {prov['date']} from {prov['store']}",
             f"report command: {prov['command']}"]
    for r in prov.get("runs", []):
        commit = f", git {r['git_commit'][:10]}" if r.get("git_commit") else ""
        lines.append(f"run {r['id']} ({r['started_at']}, {r['status']}, cvb {r['cvb_version']}{commit}): "
                     f"{r['command']}")
        if r.get("study_file"):
            lines.append(f"run {r['id']} study file: {r['study_file']['path']} "
                         f"(sha256 {r['study_file']['sha256']})")
    for label, versions in prov.get("vlms", {}).items():
        lines.append(f"vlm {label}: " + ", ".join(str(v) for v in versions if v) if any(versions)
                     else f"vlm {label}: (no version recorded)")
    for label, versions in prov.get("tasks", {}).items():
        lines.append(f"task {label}: version " + ", ".join(str(v) for v in versions))
    for name, entries in prov.get("codecs", {}).items():
        shown = "; ".join(f"version {e['version']}" + (f", {format_params(e['params'])}" if e["params"] else "")
                          for e in entries)
        lines.append(f"codec {name}: {shown}")
    return lines


def provenance_summary(report: Mapping[str, Any], width: int = 80) -> str:
    """The provenance in one line of at most ``width`` characters (the terminal report's last):
    cvb version, runs, the resampling's method, count and seed, and where the full block is."""
    prov = report.get("provenance") or {}
    inf = report.get("inference") or {}
    runs = len(prov.get("runs") or [])
    parts = [f"cvb {prov.get('cvb_version', '?')}", f"{runs} run{'s' if runs != 1 else ''}"]
    studies = sorted({(r["study_file"]["path"], r["study_file"]["sha256"][:8])
                      for r in prov.get("runs") or [] if r.get("study_file")})
    if studies:  # which study file made the numbers, on every terminal report
        parts.append("study " + ", ".join(f"{path} ({sha})" for path, sha in studies))
    if inf.get("resamples"):
        parts.append(f"{inf['method']} {inf['resamples']}x seed {inf['seed']}")
    line = "provenance: " + ", ".join(parts) + "; full: --provenance"
    return line if len(line) <= width else line[:max(1, width - 3)] + "..."
