"""The natural-language assertion judge: an LLM grades statements.

The judge model sees the conversation (as a plain transcript, with tool
calls and results) and the list of assertions, and must answer with JSON:
``{"results": [{"assertion": ..., "met": true|false, "justification": ...,
"turn": <message index or null>}]}``. Replies that are not valid JSON are
retried by asking again once; if they still fail, the judge raises
:class:`~toolgym.models.TerminalModelError` and the rollout records that the
judge failed (never a silent pass).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from toolgym._io import loads_json
from toolgym.errors import ConfigError
from toolgym.evaluation._evaluate import Evaluator, NLJudgment
from toolgym.evaluation._types import NLAssertionCheck
from toolgym.judges._base import Judge, JudgeContext, Score, register_judge
from toolgym.messages import Message, Usage
from toolgym.models._base import Model, TerminalModelError
from toolgym.tasks import Task

__all__ = ["NLAssertionJudge", "NLScoringJudge", "render_transcript"]

_SYSTEM = """You grade a customer-service conversation between an AI agent and a customer.
For each numbered assertion, decide whether the conversation satisfies it.
Judge only from the transcript. Answer with JSON only, in this shape:
{"results": [{"index": 1, "met": true, "justification": "...", "turn": 5}, ...]}
"turn" is the [number] of the message that best supports your verdict, or null."""


def render_transcript(messages: Sequence[Message]) -> str:
    """The conversation as numbered plain text (system prompt omitted)."""
    lines: list[str] = []
    for i, m in enumerate(messages):
        if m.role == "system":
            continue
        if m.role == "tool":
            lines.append(f"[{i}] tool {m.name} -> {m.content}")
            continue
        if m.content:
            lines.append(f"[{i}] {m.role}: {m.content}")
        for c in m.tool_calls or []:
            lines.append(f"[{i}] {m.role} calls {c.name}({c.arguments_json()})")
    return "\n".join(lines)


def _extract_json(text: str) -> Any:
    text = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        text = fence.group(1)
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    return loads_json(text[start : end + 1])


class NLAssertionJudge:
    """Grades a task's NL assertions with a model."""

    def __init__(self, model: Model, attempts: int = 2) -> None:
        self.model = model
        self.attempts = attempts

    async def grade(
        self, task: Task, messages: Sequence[Message], assertions: Sequence[str]
    ) -> NLJudgment:
        """One verdict per assertion, in order, with the usage of the judge's calls."""
        numbered = "\n".join(f"{i}. {a}" for i, a in enumerate(assertions, start=1))
        prompt = [
            Message.system(_SYSTEM),
            Message.user(f"Transcript:\n{render_transcript(messages)}\n\nAssertions:\n{numbered}"),
        ]
        last_error = ""
        usage = Usage()
        for _ in range(self.attempts):
            response = await self.model.generate(prompt)
            usage = usage + response.usage
            try:
                data = _extract_json(response.message.content or "")
                return NLJudgment(self._checks(data, assertions), usage)
            except (ValueError, KeyError, TypeError) as exc:
                last_error = str(exc)
                prompt = [*prompt, response.message,
                          Message.user(f"That was not valid JSON ({exc}). Answer with JSON only.")]
        error = TerminalModelError(f"NL judge gave no usable verdict: {last_error}")
        error.usage = usage  # what the failed attempts cost
        raise error

    @staticmethod
    def _checks(data: Any, assertions: Sequence[str]) -> list[NLAssertionCheck]:
        by_index: dict[int, dict[str, Any]] = {}
        for item in data["results"]:
            by_index[int(item.get("index", len(by_index) + 1))] = item
        out = []
        for i, a in enumerate(assertions, start=1):
            item = by_index.get(i)
            if item is None or not isinstance(item.get("met"), bool):
                raise ValueError(f"no boolean verdict for assertion {i}")
            turn = item.get("turn")
            out.append(NLAssertionCheck(assertion=a, met=item["met"],
                                        justification=item.get("justification"),
                                        turn=turn if isinstance(turn, int) else None))
        return out


@register_judge("nl")
class NLScoringJudge(Judge):
    """Grades the NL assertions of rollouts that waited for a judge, then their reward.

    Applies to rollouts whose breakdown is ``judge_needed`` (run without a
    judge model) or ``judge_failed``. The reward is recomputed by the task's
    ``reward_basis`` with the verdicts; the score is that reward, and the full
    new breakdown is kept in ``details["breakdown"]`` (``toolgym.load_run``
    applies it to the run in memory).

    Args (``--judge-arg``): ``attempts`` (model replies tried per rollout, default 2).
    """

    needs_model = True
    allowed_args = frozenset({"attempts"})

    def __init__(self, ctx: JudgeContext) -> None:
        super().__init__(ctx)
        attempts = ctx.args.get("attempts", 2)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ConfigError(f"judge 'nl': attempts must be an integer >= 1, got {attempts!r}")
        self.grader = NLAssertionJudge(self.model, attempts=attempts)
        self.evaluator = Evaluator(ctx.domain)

    def applies(self, result: Any) -> bool:
        """Only rollouts whose reward waits for NL verdicts."""
        return bool(result.breakdown.status in ("judge_needed", "judge_failed")
                    and result.termination.normal)

    async def score(self, task: Task, result: Any) -> Score:
        """Grade the assertions and recompute the reward."""
        assertions = (task.evaluation_criteria.nl_assertions or []
                      if task.evaluation_criteria else [])
        judgment = await self.grader.grade(task, result.messages, assertions)
        breakdown = self.evaluator.evaluate(task, result.messages, normal_end=True,
                                            nl_checks=judgment.checks)
        breakdown.judge_usage = judgment.usage
        breakdown.notes.append("NL assertions graded after the run (toolgym judge --judge nl)")
        unmet = [c for c in judgment.checks if c.met is False]
        feedback = "; ".join(f"not met: {c.assertion}" + (f" ({c.justification})"
                                                           if c.justification else "")
                             for c in unmet) or "every NL assertion met"
        return Score(
            task_id=result.task_id, trial=result.trial, judge=self.ctx.name,
            success=breakdown.reward is not None and breakdown.reward >= 1.0 - 1e-6,
            score=breakdown.reward, feedback=feedback,
            failures=[{"type": "nl_assertion", "assertion": c.assertion,
                       "justification": c.justification, "turn": c.turn} for c in unmet],
            usage=judgment.usage,
            details={"breakdown": breakdown.model_dump(mode="json")},
        )
