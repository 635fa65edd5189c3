"""End-to-end answers/s of a real-size VLM: the local executor vs Ray replicas sharing the GPU(s).

Work: ``cvb run -t sample -c jpeg -l 5,10,20,40`` (75 questions x 5 cells = 375 answers,
no image metric) with a random-weight checkpoint of a published architecture built here from
its configuration (``bench_hf_vlm.build_real``: SmolVLM-256M or Qwen2.5-VL-3B; nothing is
downloaded). Each command is the real ``cvb run`` in a fresh process, with a fresh store and
cache, one after the other on the same machine:

  local-off  --executor local, -o vlm.prefetch=off (inputs processed between batches)
  local      --executor local (one model in the run's process; on a GPU the next batch's inputs
             are processed on a CPU thread while the model answers, the default)
  ray xN     --executor ray --replicas N --replica-gpus G/N (N replicas on the G GPUs there are;
             a local Ray cluster started by the run)

Prints, for each, the command's wall time (model loading and Ray's start included) and the
answers per second over that wall time, then the ratios to local-off. Needs a GPU for meaningful
figures (``--device cpu`` works, slowly) and ``pip install 'cvb[ray]'``.

    python benchmarks/bench_ray_vlm.py [--model smolvlm-256m|qwen2.5-vl-3b] [--replicas 2]
                                       [--batch-size 8] [--max-new-tokens 8]
                                       [--settings local-off,local,ray] [--levels 5,10,20,40]
                                       [-o vlm.image_backend=pil ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILTIN = ("cvb_hf", "cvb_local", "cvb_pillow")  # the plugins this command needs


def child(argv: list[str]) -> None:
    """`cvb` with the built-in plugins it needs, registered by hand on a bare machine."""
    sys.path.insert(0, str(HERE))
    from source_tree import register_builtins

    from cvb.cli import main as cvb_main

    register_builtins(BUILTIN)
    sys.argv = ["cvb", *argv]
    cvb_main()


def run(args: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise SystemExit(f"cvb {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    return wall, out.stderr


def answered(store: Path) -> tuple[int, int]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute("SELECT COUNT(*), COUNT(error) FROM predictions").fetchone()
    finally:
        conn.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smolvlm-256m", help="smolvlm-256m or qwen2.5-vl-3b")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--device", default=None, help="default: cuda if available else cpu")
    ap.add_argument("--levels", default="5,10,20,40", help="JPEG levels (cells besides the reference)")
    ap.add_argument("--settings", default="local-off,local,ray", help="which of local-off, local, ray to run")
    ap.add_argument("--option", "-o", action="append", default=[],
                    help="more cvb run options for every setting, e.g. vlm.image_backend=pil (repeatable)")
    args = ap.parse_args()

    sys.path[:0] = [str(ROOT / "core"), str(ROOT / "plugins"), str(HERE), str(ROOT / "tests")]
    import torch

    import bench_hf_vlm

    known = {"local-off": ("local-off", ["-o", "vlm.prefetch=off"]), "local": ("local", []), "ray": None}
    wanted = [w.strip() for w in args.settings.split(",") if w.strip()]
    if not wanted or set(wanted) - set(known):
        raise SystemExit(f"--settings: choose from {', '.join(known)}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    tmp = Path(tempfile.mkdtemp(prefix="cvb-bench-ray-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "core"), str(ROOT / "plugins"),
                                                                     os.environ.get("PYTHONPATH")]))}
    try:
        folder = bench_hf_vlm.build_real(args.model, tmp / args.model, device)
        base = ["run", "-t", "sample", "-c", "jpeg", "-l", args.levels, "-m", "none", "--vlm", f"hf:{folder}",
                "--device", device, "-b", str(args.batch_size), "-o", f"vlm.max_new_tokens={args.max_new_tokens}", "-q",
                *[a for o in args.option for a in ("-o", o)]]
        per = (gpus / args.replicas) if gpus else 0
        known["ray"] = (f"ray x{args.replicas}", ["--executor", "ray", "--replicas", str(args.replicas),
                                                  "--replica-gpus", f"{per:g}"])
        settings = [known[w] for w in wanted]
        print(f"{args.model} (random weights), device {device} ({gpus} GPU(s): "
              f"{torch.cuda.get_device_name(0) if gpus else 'none'}), batch {args.batch_size}, "
              f"{args.max_new_tokens} new tokens; cvb run -t sample -c jpeg -l {args.levels} + none"
              + "".join(f" -o {o}" for o in args.option), flush=True)
        rates = {}
        for name, extra in settings:
            store = tmp / f"{name.replace(' ', '')}.sqlite"
            cache = tmp / f"cache-{len(rates)}"
            wall, err = run([*base, "--store", str(store), "--cache-dir", str(cache), *extra], env)
            n, failed = answered(store)
            if not n:
                raise SystemExit(f"{name}: no answer stored:\n{err[-4000:]}")
            rates[name] = n / wall
            print(f"  {name:8s} {n} answers ({failed} failed) in {wall:6.1f} s = {n / wall:6.2f} answers/s", flush=True)
        base = settings[0][0]
        for name, _ in settings[1:]:
            print(f"  {name} / {base} = {rates[name] / rates[base]:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
