"""Decode bitstreams in a fresh process: proves they carry everything the decoder needs.

``main(JOB_DIR)``: ``JOB_DIR/job.json`` names the codec (a registry reference with options, or
``codec.pickle`` holding the object as it was before it encoded anything) and ``sys_path``, the
checking process's import path, which the starter (``codec_checks.FRESH_BOOT``) puts in front of
this one's before importing cvb, so plugins found there are found here: passed in the job, never
as ``PYTHONPATH``, which every process this one starts would inherit (a research codec's worker
among them); every ``*.bits`` file there is decoded to ``*.png`` beside it, or its error written
to ``*.error``.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path


def make_codec(job_dir: Path):
    job = json.loads((job_dir / "job.json").read_text())
    if job.get("ref"):
        from ..plugins import get_registry
        from ..run.plan import create

        return create(get_registry(), "codec", job["ref"], job.get("options") or {})
    return pickle.loads((job_dir / "codec.pickle").read_bytes())


def main(job_dir: str) -> int:
    folder = Path(job_dir)
    codec = make_codec(folder)
    for bits_file in sorted(folder.glob("*.bits")):
        try:
            image = codec.decode(bits_file.read_bytes())
            image.convert("RGB").save(bits_file.with_suffix(".png"))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, per bitstream
            bits_file.with_suffix(".error").write_text(f"{type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
