"""Written feedback for prompt optimization, built from ground truth (and judges).

GEPA's reflection model learns from what it reads, so the feedback says what
went wrong in terms an agent can act on: which gold actions were missing or
called with which wrong arguments, extra writes, a short database diff, facts
it should have told the user, failed NL assertions, failed environment
assertions, an abnormal ending, and judge feedback when a judge scores the
evaluation. Tools are named as ``tool `<name>``` so the feedback stays
machine-readable. Trajectories are trimmed to a character budget (about four
characters a token) so a long conversation cannot crowd out the feedback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from toolgym.judges._nl import render_transcript
from toolgym.runner._results import RolloutResult

__all__ = ["rollout_feedback", "trimmed_transcript"]

_MAX_DIFF_RECORDS = 3
_VALUE_CHARS = 160


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def rollout_feedback(result: RolloutResult, judge_feedback: str | None = None) -> str:
    """What a reflection model should learn from one rollout (empty lines dropped)."""
    b = result.breakdown
    lines: list[str] = []
    if result.success:
        lines.append("The agent solved this task.")
    if not result.termination.normal:
        lines.append(f"The episode ended abnormally ({result.termination.value}"
                     + (f": {result.error}" if result.error else "") + "), so it scored 0.")
    for a in b.actions:
        if a.matched:
            continue
        if a.closest is None:
            lines.append(f"Missing action: tool `{a.name}` was never called with the needed "
                         f"arguments {_short(a.arguments)}.")
        else:
            diffs = ", ".join(f"{k}: expected {_short(a.arguments.get(k))}, got "
                              f"{_short(a.closest.get(k))}" for k in a.differing_args)
            lines.append(f"Wrong arguments: tool `{a.name}` was called with {diffs}.")
    if b.db is not None and not b.db.match:
        shown = b.db.diff[:_MAX_DIFF_RECORDS]
        lines.append("The final database differs from the expected one in "
                     f"{len(b.db.diff)} record(s): "
                     + "; ".join(f"{d.get('table')} {d.get('key')}" for d in shown)
                     + ("; ..." if len(b.db.diff) > len(shown) else "") + ".")
        gold_names = {a.name for a in b.actions}
        extra = _extra_writes(result, gold_names)
        if extra:
            lines.append("Writes the task did not ask for: "
                         + ", ".join(f"tool `{n}`" for n in extra) + ".")
    for c in b.communicate:
        if not c.found:
            lines.append(f"The agent never told the user: {c.info!r}.")
    for e in b.env_assertions:
        if not e.met:
            lines.append(f"Environment check {e.func_name}({_short(e.arguments)}) expected "
                         f"{_short(e.expected)}, got {_short(e.actual)}.")
    for n in b.nl_assertions:
        if n.met is False:
            lines.append(f"Not met: {n.assertion}"
                         + (f" ({n.justification})" if n.justification else ""))
    if b.status == "judge_needed":
        lines.append("Some criteria need a judge model; they were not graded.")
    if judge_feedback:
        lines.append(f"Judge: {judge_feedback}")
    if not lines:
        lines.append(f"The agent did not solve the task (reward {result.reward}).")
    return "\n".join(lines)


def _extra_writes(result: RolloutResult, gold_names: set[str]) -> list[str]:
    """Successful calls of tools that no gold action uses (reads included: cheap signal)."""
    called = []
    answers = {m.tool_call_id: m for m in result.messages if m.role == "tool"}
    for m in result.messages:
        for c in m.tool_calls or []:
            answer = answers.get(c.id)
            if answer is not None and not answer.error and c.name not in gold_names \
                    and not c.name.startswith(("get_", "find_", "list_", "search_")):
                called.append(c.name)
    return list(dict.fromkeys(called))


def trimmed_transcript(results: Sequence[RolloutResult], max_chars: int) -> str:
    """The first trial's numbered transcript, cut in the middle to fit ``max_chars``."""
    if not results:
        return ""
    text = render_transcript(results[0].messages)
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    return text[:head] + "\n[... trimmed ...]\n" + text[-tail:]
