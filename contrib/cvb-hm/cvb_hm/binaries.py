"""Finding the HM binaries: cheap, imports nothing but cvb.external (used by the status check)."""

from __future__ import annotations

from cvb.external import env_path_problem, find_binary

ENCODER_ENV, DECODER_ENV = "CVB_HM_ENCODER", "CVB_HM_DECODER"
#: names HM's build gives its binaries (CMake: TAppEncoder; the old makefiles: ...Static)
ENCODER_NAMES = ("TAppEncoder", "TAppEncoderStatic")
DECODER_NAMES = ("TAppDecoder", "TAppDecoderStatic")
INSTALL_HINT = ("build HM (https://vcgit.hhi.fraunhofer.de/jvet/HM) and put its bin/ folder on PATH, "
                f"or set {ENCODER_ENV} and {DECODER_ENV}")


def locate(names: tuple[str, ...], env_var: str) -> str | None:
    """``$ENV_VAR`` if set (and executable), else the first of ``names`` on PATH."""
    for name in names:
        path = find_binary(name, env_var)
        if path:
            return path
    return None


def hm_status() -> str | None:
    """For the spec's status check: cheap, only looks for the two binaries."""
    problems = []
    for names, env in ((ENCODER_NAMES, ENCODER_ENV), (DECODER_NAMES, DECODER_ENV)):
        if locate(names, env) is None:  # a set variable that names no binary says so
            problems.append(env_path_problem(env) or f"{names[0]} not found on PATH")
    if not problems:
        return None
    return f"HM binaries not usable: {'; '.join(problems)}; {INSTALL_HINT}"
