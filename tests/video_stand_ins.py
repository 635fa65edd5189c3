"""Stand-ins for reference video codecs' encoder and decoder apps (HM, VTM): scripts that take
the real tools' command lines and code with ffmpeg's libx265, so tests exercise the argv, the
YUV files and the decoding path on real HEVC streams without the reference software.

Like the real encoders they read ``-c FILE`` (``Key : value`` lines, the command line winning)
and apply the real tools' parameter checks that a missing .cfg trips: HM 16.7's built-in
``QuadtreeTULog2MaxSize`` default 6 fails its own "must be 5 or smaller" check, and VTM 23's
default ``DecodingRefreshType`` 0 gives "Invalid GOP structure given" for an intra GOP of 1.
So a stand-in fails where the real tool fails (seen with HM r4616 and VTM 23.13)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

ENCODER = r'''
import os, subprocess, sys
args = sys.argv[1:]
if os.environ.get("FAKE_CODEC_LOG"):
    with open(os.environ["FAKE_CODEC_LOG"], "a") as log:
        log.write(repr(args) + "\n")
if "--help" in args:
    print(BANNER)
    sys.exit(1)
opts, configs, it = {}, [], iter(args)
for a in it:
    if a.startswith("--"):
        key, _, value = a[2:].partition("=")
        opts[key] = value
    elif a == "-c":  # repeatable; a later file overrides an earlier one
        configs.append(next(it))
    else:
        opts[a[1:]] = next(it)
cfg = {}
for config in configs:
    for line in open(config):
        key, sep, value = line.split("#")[0].partition(":")
        if sep and key.strip():
            cfg[key.strip()] = value.split()[0] if value.split() else ""
for key, (default, ok, message) in CHECKS.items():
    if opts.get(key, cfg.get(key, default)) not in ok:
        print("Error: " + message, file=sys.stderr)
        sys.exit(1)
assert opts["IntraPeriod"] == "1" and opts["f"] == "1" and opts["InternalBitDepth"] == "8", opts
fmt = {"420": "yuv420p", "444": "yuv444p"}[opts["InputChromaFormat"]]
qp = min(int(opts["q"]), 51)  # x265 stops at QP 51 (VVC's 52-63 clamp)
subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo",
                "-pix_fmt", fmt, "-s", opts["wdt"] + "x" + opts["hgt"], "-i", opts["i"],
                "-c:v", "libx265", "-x265-params", f"qp={qp}:info=0:log-level=error",
                "-f", "hevc", opts["b"]], check=True)
'''

DECODER = r'''
import subprocess, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "hevc",
                "-i", args["-b"], "-f", "rawvideo", args["-o"]], check=True)
'''


def executable(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


#: the parameter checks a missing .cfg trips: {key: (built-in default, accepted values, error)}
HM_CHECKS = {"QuadtreeTULog2MaxSize": ("6", ("2", "3", "4", "5"), "QuadtreeTULog2MaxSize must be 5 or smaller.")}
VTM_CHECKS = {"DecodingRefreshType": ("0", ("1", "2", "3"), "Invalid GOP structure given")}


def encoder(path: Path, banner: str, checks: dict | None = None) -> Path:
    """An encoder stand-in printing ``banner`` on ``--help`` (where the codec reads its version);
    ``checks``: the real tool's parameter checks (``HM_CHECKS``, ``VTM_CHECKS``). With
    ``$FAKE_CODEC_LOG`` set, each call's argv is appended to that file."""
    return executable(path, f"BANNER = {banner!r}\nCHECKS = {checks or {}!r}\n{ENCODER}")


def decoder(path: Path) -> Path:
    return executable(path, DECODER)
