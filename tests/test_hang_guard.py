"""No test waits on a number of seconds a loaded machine can reach (issue 21, item 8): a
subprocess ``timeout=`` and a polling loop's deadline are ``hang_guard.HANG_S``, not literals."""

from __future__ import annotations

import re
from pathlib import Path

from hang_guard import HANG_S

TESTS = Path(__file__).resolve().parent

#: a wait on a child process or a deadline, given in literal seconds
LITERAL_WAIT = re.compile(r"(communicate|\.wait|subprocess\.run|check_output)\(.*(?<![.\w])timeout=\d"
                          r"|^\s+(capture_output|check|text|cwd|env)=.*(?<![.\w])timeout=\d"
                          r"|monotonic\(\) \+ \d")


def literal_waits(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if LITERAL_WAIT.search(line)]


def test_the_suite_waits_only_on_the_hang_guard():
    mine = Path(__file__).resolve()
    found = {p.name: hits for p in sorted(TESTS.rglob("*.py"))
             if p != mine and (hits := literal_waits(p.read_text(encoding="utf-8")))}
    assert found == {}, f"use timeout=HANG_S (tests/hang_guard.py): {found}"


def test_the_check_sees_a_literal_wait():
    assert literal_waits("    out, err = proc.communicate(timeout=30)\n"
                         "    subprocess.run(args, capture_output=True, timeout=120)\n"
                         "                   check=True, capture_output=True, timeout=300)\n"
                         "    deadline = time.monotonic() + 60\n") != []
    assert len(literal_waits("    subprocess.run(args, capture_output=True, timeout=120)\n"
                             "    deadline = time.monotonic() + 60\n")) == 2
    assert literal_waits("    proc.communicate(timeout=HANG_S)\n    deadline = time.monotonic() + HANG_S\n") == []


def test_the_guard_is_far_beyond_a_loaded_run():
    assert HANG_S >= 900
