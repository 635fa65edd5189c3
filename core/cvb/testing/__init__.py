"""For plugin authors' tests (and ours): ``fakes`` (``FakeCodec``, ``ScriptedVLM``: no weights, no
binaries, deterministic), ``harness`` (``registry_with_fakes``, ``run_cli``: the real command line
in this process) and the conformance kit (``check_codec("mycodec").raise_for_failures()``, also
``check_vlm``, ``check_task``, ``check_metric``; see docs/conformance.md), all importable from here.
"""

from ..conformance import CheckFailed, Report, check_codec, check_metric, check_task, check_vlm
from .fakes import FakeCodec, ScriptedVLM, default_script, fake_codec_spec, scripted_vlm_spec
from .harness import registry_with_fakes, run_cli

__all__ = ["FakeCodec", "ScriptedVLM", "default_script", "fake_codec_spec", "scripted_vlm_spec",
           "registry_with_fakes", "run_cli", "check_codec", "check_vlm", "check_task", "check_metric", "Report",
           "CheckFailed"]
