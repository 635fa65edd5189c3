"""Scoring protocols: whose rules a benchmark task asks and scores by.

A protocol owns, for each task, the prompt text, the generation budget (``max_new_tokens``),
the stop strings and the scoring rule, each in ONE module:

- ``cvb`` (default): cvb's own rules (lenient parsing, each difference from the peers
  documented in docs/scoring-protocols.md); the rules live in the task modules, the prompts and
  budgets in :mod:`.cvb`.
- ``lmms-eval``: lmms-eval 0.7.3's task files, rule for rule (:mod:`.lmms_eval`).
- ``vlmevalkit``: VLMEvalKit's exact-matching path, with an optional LLM judge where VLMEvalKit
  calls one (:mod:`.vlmevalkit`).

The protocol is a task option (``-o task.protocol=lmms-eval`` for every task, or
``-o pope.protocol=...``). It is part of a cell's identity (the task label); predictions are
stored without it, keyed by what was asked (``prompt_sha``), so switching protocols re-asks the
model only where the protocol's prompt or generation settings differ.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from cvb.errors import UsageError

PROTOCOLS = ("cvb", "lmms-eval", "vlmevalkit")
PROTOCOL_HELP = ("scoring protocol: cvb (default), lmms-eval (lmms-eval 0.7.3's prompts, budgets, "
                 "stop strings and rules) or vlmevalkit (VLMEvalKit's exact matching); see "
                 "docs/scoring-protocols.md")
JUDGE_HELP = ("protocol=vlmevalkit only: a VLM that matches answers VLMEvalKit's exact matching "
              "cannot read, as VLMEvalKit's LLM judge (e.g. openai:gpt-4o-mini); default none")


def check_protocol(task: str, protocol: Any, judge: Any) -> str:
    """The protocol's canonical name; a clear error for an unknown one or a misplaced judge."""
    name = str(protocol or "cvb").strip().lower().replace("_", "-")
    if name in ("lmms", "lmmseval"):
        name = "lmms-eval"
    if name not in PROTOCOLS:
        raise UsageError(f"{task}: unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if judge not in (None, "") and name != "vlmevalkit":
        raise UsageError(f"{task}: judge= is VLMEvalKit's answer matcher; it needs protocol=vlmevalkit "
                         f"(got protocol={name})")
    return name


def _peer_rules(name: str) -> Mapping[str, Callable[..., Any]]:
    """Task name -> rules factory of peer protocol ``name`` (its module imported only now)."""
    if name == "lmms-eval":
        from . import lmms_eval

        return lmms_eval.RULES
    from . import vlmevalkit

    return vlmevalkit.RULES


def rules_for(task: str, protocol: Any = "cvb", judge: Any = None):
    """The peer rules object of ``task`` under ``protocol``, or None for cvb's own rules."""
    name = check_protocol(task, protocol, judge)
    if name == "cvb":
        return None
    rules = _peer_rules(name)
    make = rules.get(task)
    if make is None:
        supported = sorted(rules)
        raise UsageError(f"{task}: protocol {name} is not available for this task; it covers "
                         f"{', '.join(supported)} (protocol=cvb covers every task)")
    return make(judge) if name == "vlmevalkit" else make()
