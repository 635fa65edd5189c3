"""The linters run in CI and keep their promises: scripts/test.sh (CI's command) lints before
pytest, the configuration flags what the house rules forbid, and every `# noqa` says why."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize

from conftest import ROOT, VENV_BIN

NOQA = re.compile(r"#\s*noqa\b(?P<rest>.*)$", re.IGNORECASE)
# after "noqa": a colon, the codes it silences, " - ", and why they do not apply here
JUSTIFIED = re.compile(r"^:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*\s+-\s+\S")


def _commands(script: str) -> list[str]:
    lines = (ROOT / script).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_the_linters_before_pytest_and_stops_on_a_finding():
    assert _commands(".ci/run")[-1] == "exec scripts/test.sh -q"
    steps = _commands("scripts/test.sh")
    assert "set -euo pipefail" in steps  # a linter's non-zero exit ends the run: no pytest, CI red
    order = [next(i for i, s in enumerate(steps) if s.startswith(cmd))
             for cmd in ("scripts/setup.sh", "scripts/lint.sh", "exec .venv/bin/python -m pytest")]
    assert order == sorted(order), steps
    lint = _commands("scripts/lint.sh")
    assert "set -euo pipefail" in lint and ".venv/bin/ruff check --quiet ." in lint and ".venv/bin/mypy" in lint


def test_the_linters_are_installed_by_setup_at_their_pinned_versions():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(p.split("==") for p in project["optional-dependencies"]["lint"])
    assert set(pins) == {"ruff", "mypy"}
    assert ",lint]" in (ROOT / "scripts/setup.sh").read_text()
    out = subprocess.run([str(VENV_BIN / "ruff"), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ruff", pins["ruff"]]
    out = subprocess.run([str(VENV_BIN / "mypy"), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[:2] == ["mypy", pins["mypy"]]


def _mypy_config() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def _module_exists(name: str) -> bool:
    for top in ("core", "plugins"):
        path = ROOT / top / name.replace(".", "/")
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return True
    return False


def test_mypy_checks_the_core_and_plugins_and_holds_the_public_api_to_full_annotations():
    config = _mypy_config()
    assert config["files"] == ["core/cvb", "plugins"]
    strict = [o for o in config["overrides"] if o.get("disallow_untyped_defs")]
    assert len(strict) == 1 and strict[0].get("disallow_incomplete_defs")
    named = strict[0]["module"]
    assert {"cvb.protocols", "cvb.types", "cvb.hookspecs", "cvb.specs", "cvb.plugins", "cvb_hf"} <= set(named)
    # a module moved or renamed (``git mv``) must take its strictness along: mypy ignores a
    # pattern that matches nothing, so a stale name here would silently switch the check off
    stale = [m for m in named if not _module_exists(m.removesuffix(".*"))]
    assert not stale, f"[tool.mypy] overrides name modules that do not exist: {stale}"
    relaxed = [m for o in config["overrides"] if o.get("ignore_errors") for m in o["module"]]
    assert all(_module_exists(m) for m in relaxed), relaxed


def test_ruff_flags_what_the_house_rules_forbid(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import json\n\n\n"
                   "def f(x):\n"
                   "    try:\n"
                   "        return int(x)\n"
                   "    except Exception:\n"
                   "        return None\n\n\n"
                   "def g(x):\n"
                   "    return x  # noqa: E501 - nothing long here\n\n\n"
                   "def h(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(16)))
    res = subprocess.run([str(VENV_BIN / "ruff"), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                          "--output-format", "concise", str(bad)], capture_output=True, text=True)
    assert res.returncode == 1, res.stdout + res.stderr
    found = {m.group(1) for m in re.finditer(r"bad\.py:\d+:\d+: ([A-Z]+[0-9]+)", res.stdout)}
    assert found == {"F401", "BLE001", "RUF100", "C901"}, res.stdout
    assert "`h` is too complex (17 > 15)" in res.stdout


def test_mypy_flags_a_type_error_with_the_repository_config(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def half(n: int) -> int:\n    return n / 2\n\n\ndef untyped(x):\n    return half(x)\n")
    res = subprocess.run([str(VENV_BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
                          "--cache-dir", str(tmp_path / "cache"), str(bad)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert 'Incompatible return value type (got "float", expected "int")' in res.stdout


def test_every_noqa_names_its_codes_and_says_why():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    bare = []
    for name in files:
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        for tok in tokens:
            m = NOQA.search(tok.string) if tok.type == tokenize.COMMENT else None
            if m and not JUSTIFIED.match(m.group("rest")):
                bare.append(f"{name}:{tok.start[0]}: {tok.line.strip()}")
    assert not bare, "a `# noqa` needs its codes and a reason (`# noqa: BLE001 - why`):\n" + "\n".join(bare)
