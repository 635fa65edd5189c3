"""Every benchmark in benchmarks/ runs as its docstring documents it, at a tiny size, and exits 0
(a benchmark that breaks unnoticed measures nothing: bench_pipeline and bench_store once died
on a missing environment variable). The figures are not checked: speed is the benchmarks' own
output, never a test's assertion; each run is asserted to print its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hang_guard import HANG_S

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

# (script, tiny arguments, a piece of the table it prints)
CASES = [
    ("bench_pipeline.py", ["--vlm-delay", "0.01", "--codecs", "jpeg", "--metrics", "psnr", "--limit", "3"],
     "phased / pipelined"),
    ("bench_store.py", ["--tasks", "1", "--vlms", "1", "--codecs", "1", "--levels", "1", "--samples", "10"],
     "report*o"),
    ("bench_jobs.py", ["--repeat", "1", "--codecs", "jpeg", "--metrics", "psnr", "--limit", "4",
                       "--no-one-thread", "--jobs", "default"], "compress wall -j 1 / default"),
    ("bench_run.py", ["--sizes", "40", "--questions", "2", "--image-size", "16"], "rss MB"),
    ("bench_rerun.py", ["--repeat", "1", "--codecs", "jpeg", "--limit", "2"], "heavy imports:"),
    ("bench_concurrent.py", ["--repeat", "1", "--images", "3", "--questions", "1", "--encode-delay", "0",
                             "--vlm-delay", "0"], "codec calls / answers per run"),
    ("bench_cache.py", ["--codecs", "jpeg", "--repeat", "1"], "cache/codec"),
    ("bench_avif_threads.py", ["--levels", "10", "--repeat", "1"], "pinned / budget"),
    ("bench_compress.py", ["--repeat", "1"], "-j 2 / -j 1"),
    ("bench_report_stats.py", ["--images", "10", "--questions", "2", "--levels", "1", "--resamples", "20"],
     "intervals and p-values identical"),
    ("bench_hf_vlm.py", ["--n", "2", "--repeats", "1", "--max-new-tokens", "2"], "logits      bs=8"),
    ("bench_adapt.py", ["--archs", "qwen2_5_vl", "--train", "full", "--steps", "1", "--warmup-steps", "0",
                        "--batch", "2", "--workers", "0"], "pairs/s"),
    ("bench_adapt_balance.py", ["--arch", "qwen2_5_vl", "--steps", "2"], "balance"),
]


@pytest.mark.slow
@pytest.mark.parametrize("script,args,printed", CASES, ids=[c[0] for c in CASES])
def test_benchmark_runs_as_documented(script, args, printed, tmp_path):
    doc = (BENCH / script).read_text()
    assert f"benchmarks/{script}" in doc  # the documented command line this follows
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=HANG_S)
    assert out.returncode == 0, f"{script} {' '.join(args)} exited {out.returncode}:\n{out.stderr[-3000:]}"
    assert printed in out.stdout, out.stdout[-3000:]


def test_every_benchmark_has_a_smoke_run():
    """A new benchmark gets its tiny run above (or a reason here why it cannot run offline on CPU)."""
    no_smoke = {
        "bench_ray_vlm.py": "a real-size VLM beside a Ray cluster: minutes per command on a CPU",
        "bench_reference.py": "loads the three reference models and runs the whole sample task: "
                              "half a minute of CPU at its smallest",
    }
    scripts = {p.name for p in BENCH.glob("bench_*.py")}
    assert scripts == {c[0] for c in CASES} | set(no_smoke), scripts
