"""The in-context judge (``--judge in-context``): the agent's writes beside the gold ones.

One prompt holds the user's task, the gold actions and the agent's
successful write calls, side by side; the model answers with a rationale and
``[[success]]`` or ``[[failure]]`` (as Meta ARE's baseline judge does). The
verdict is the last bracketed marker of the reply; a reply without one is
asked again once, then recorded as a judge error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from toolgym.domains._toolkit import ToolKind
from toolgym.errors import ConfigError
from toolgym.judges._base import Judge, JudgeContext, JudgeOutputError, Score, register_judge
from toolgym.judges._common import ask_until_parsed, tool_events, tool_kinds, user_goal
from toolgym.messages import Message

__all__ = ["InContextJudge"]

_SYSTEM = """You check whether an AI customer-service agent did what a task required.
You get the user's task, the reference actions (what a correct agent does) and the agent's
own successful write actions, in order. Decide whether the agent's actions achieve the same
result as the reference: the same changes with equivalent arguments. Read-only lookups are
not listed and do not matter; the order matters only where one action needs another's result.
Explain briefly, then end with exactly one verdict: [[success]] or [[failure]]."""

_VERDICT = re.compile(r"\[\[\s*(success|failure)\s*\]\]", re.IGNORECASE)


def _parse(text: str) -> tuple[bool, str]:
    found = _VERDICT.findall(text)
    if not found:
        raise JudgeOutputError("no [[success]] or [[failure]] verdict")
    rationale = _VERDICT.sub("", text).strip()
    return found[-1].lower() == "success", rationale


def _line(name: str, args: dict[str, Any]) -> str:
    return f"{name}({json.dumps(args, ensure_ascii=False, sort_keys=True)})"


@register_judge("in-context")
class InContextJudge(Judge):
    """Reference and agent writes in one prompt; a bracketed verdict (see module docs).

    Args (``--judge-arg``): ``attempts`` (default 2), ``temperature``.
    """

    needs_model = True
    allowed_args = frozenset({"attempts", "temperature"})

    def __init__(self, ctx: JudgeContext) -> None:
        super().__init__(ctx)
        attempts = ctx.args.get("attempts", 2)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ConfigError(f"judge 'in-context': attempts must be an integer >= 1, got "
                              f"{attempts!r}")
        self.attempts = attempts
        self.params = ({"temperature": ctx.args["temperature"]}
                       if "temperature" in ctx.args else {})

    async def score(self, task: Any, result: Any) -> Score:
        """Ask for the verdict."""
        kinds = tool_kinds(self.ctx.domain)
        # Reads are free on both sides: only what changes the world is compared.
        gold = [a for a in task.gold_actions if a.requestor == "assistant"
                and kinds.get(a.name) is not ToolKind.READ]
        writes = [e for e in tool_events(result.messages, self.ctx.domain)
                  if not e.failed and e.kind is not ToolKind.READ]
        reference = "\n".join(f"{i}. {_line(a.name, a.arguments)}"
                              for i, a in enumerate(gold, start=1)) or "(no write is needed)"
        agent = "\n".join(f"{i}. {_line(e.call.name, e.call.arguments)}"
                          for i, e in enumerate(writes, start=1)) or "(no write)"
        prompt = [Message.system(_SYSTEM), Message.user(
            f"# The user's task\n{user_goal(task)}\n\n# Reference actions\n{reference}\n\n"
            f"# The agent's successful write actions\n{agent}")]
        (success, rationale), usage, _ = await ask_until_parsed(
            self.model, prompt, _parse, self.attempts, what="in-context judge", **self.params)
        failures = [] if success else [{"type": "verdict", "rationale": rationale}]
        return Score(task_id=result.task_id, trial=result.trial, judge=self.ctx.name,
                     success=success, score=1.0 if success else 0.0, feedback=rationale,
                     failures=failures, usage=usage,
                     details={"reference": [_line(a.name, a.arguments) for a in gold],
                              "agent": [_line(e.call.name, e.call.arguments) for e in writes]})
