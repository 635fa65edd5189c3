"""Does AVIF get its threads back when nothing else runs?

Work: the sample photos through cvb's ``avif`` codec (encode + decode, ``cvb.codecs.base.compress``)
at each ``--levels``, in this process, as ``cvb compress -j 1`` runs it, against the former pin
of libaom to one encoder thread (the baseline, same run, rounds interleaved):

  pinned   ``max_threads=1`` (what cvb did before: the same file on any machine, one core)
  budget   cvb's setting now: the process's thread budget (``cvb.threads.thread_budget()``: the
           CPUs free now, or a ``-j`` worker's share), at least two threads (every count from two
           up writes one bitstream)

Prints wall and CPU seconds per pass (medians), the ratio pinned / budget, the budget, and the
load average (on a busy machine the threads find no free core: the wall gain shrinks, the CPU
stays about the same).

    .venv/bin/python benchmarks/bench_avif_threads.py [--levels 10,30,50,70] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="10,30,50,70")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved passes of each variant (median taken)")
    args = ap.parse_args()
    from PIL import Image

    import cvb.plugins
    from cvb.codecs.base import compress
    from cvb.sample_images import sample_photo_paths
    from cvb.threads import available_cpus, thread_budget

    codec = cvb.plugins.get_registry().create("codec", "avif")
    images = [Image.open(p).convert("RGB") for p in sample_photo_paths().values()]
    levels = args.levels.split(",")
    budget = codec.encoder_threads()
    variants = {"pinned": 1, "budget": budget}
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    sizes: dict[str, int] = {}
    load0 = os.getloadavg()[0]
    for _ in range(args.repeat):
        for name, threads in variants.items():
            codec.encoder_threads = lambda threads=threads: threads  # this pass's setting
            w, c = time.perf_counter(), time.process_time()
            sizes[name] = sum(compress(codec, im, lv).num_bytes for im in images for lv in levels)
            times[name].append((time.perf_counter() - w, time.process_time() - c))
    med = {v: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)) for v, ts in times.items()}
    print(f"avif at levels {args.levels}, {len(images)} sample photos, {available_cpus()} CPU(s), "
          f"thread budget {thread_budget()} -> {budget} encoder threads; load average {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}; medians of {args.repeat} interleaved passes")
    for name, (wall, cpu) in med.items():
        print(f"  {name:7s} {variants[name]:3d} thread(s)   wall {wall:6.2f} s   CPU {cpu:6.2f} s   "
              f"{sizes[name]:,} bytes")
    print(f"  pinned / budget = {med['pinned'][0] / med['budget'][0]:.2f}x wall, "
          f"{med['pinned'][1] / med['budget'][1]:.2f}x CPU")


if __name__ == "__main__":
    main()
