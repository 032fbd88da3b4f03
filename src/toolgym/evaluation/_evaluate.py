"""Ground-truth evaluation of a finished episode.

The reward is the product over the task's ``reward_basis`` of:

* DB: the trajectory's write calls replayed on a fresh database equal the
  gold actions replayed on a fresh database (canonical content; only changed
  records are compared, so this is cheap);
* ACTION: every gold action matched by a call (``compare_args`` semantics);
* COMMUNICATE: every required string appears in an assistant message;
* ENV_ASSERTION: toolkit functions on the final database return the
  expected values;
* NL_ASSERTION: a judge model grades statements. Without a judge the reward
  is ``None`` with status ``judge_needed`` — never a silent 1.0.

Components outside the basis are still computed (cheaply) as diagnostics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolgym.domains._db import DB, canonical_json
from toolgym.domains._domain import Domain
from toolgym.env._environment import calls_from_messages, replay_calls
from toolgym.evaluation._types import (
    ActionCheck,
    CommunicateCheck,
    DBCheck,
    EnvAssertionCheck,
    NLAssertionCheck,
    RewardBreakdown,
)
from toolgym.messages import Message, Usage
from toolgym.tasks import Action, RewardType, Task

__all__ = ["Evaluator", "NLJudge", "NLJudgment", "check_actions", "check_communicate", "evaluate"]

_MAX_DIFF = 20


@dataclass
class NLJudgment:
    """A judge's verdicts, one per assertion in order, and what they cost."""

    checks: list[NLAssertionCheck]
    usage: Usage = field(default_factory=Usage)


class NLJudge(Protocol):
    """Grades natural-language assertions against a conversation."""

    async def grade(
        self, task: Task, messages: Sequence[Message], assertions: Sequence[str]
    ) -> NLJudgment:
        """Return one verdict per assertion, in order, with the judge's usage."""
        ...


def _args_equal(a: Any, b: Any) -> bool:
    # Canonical comparison (int/float-insensitive), but never Python's ==,
    # for which True == 1.
    return a is b or bool(canonical_json(a) == canonical_json(b))


def _match(action: Action, name: str, args: dict[str, Any]) -> tuple[bool, list[str]]:
    if name != action.name:
        return False, []
    keys = list(args) if action.compare_args is None else list(action.compare_args)
    differing = [k for k in keys if not _args_equal(action.arguments.get(k), args.get(k))]
    return not differing, differing


def check_actions(task: Task, messages: Sequence[Message]) -> list[ActionCheck]:
    """Match each gold action against the conversation's tool calls."""
    calls = calls_from_messages(messages)
    checks: list[ActionCheck] = []
    for action in task.gold_actions:
        matched = False
        closest: dict[str, Any] | None = None
        closest_diff: list[str] = []
        for name, args in calls:
            ok, differing = _match(action, name, args)
            if ok:
                matched, closest, closest_diff = True, None, []
                break
            if name == action.name and (closest is None or len(differing) < len(closest_diff)):
                closest, closest_diff = args, differing
        checks.append(ActionCheck(
            action_id=action.action_id, name=action.name, arguments=action.arguments,
            compare_args=action.compare_args, matched=matched, closest=closest,
            differing_args=closest_diff,
        ))
    return checks


def check_communicate(task: Task, messages: Sequence[Message]) -> list[CommunicateCheck]:
    """Each required string, lower-cased, in some assistant text with commas removed."""
    infos = (task.evaluation_criteria.communicate_info or []) if task.evaluation_criteria else []
    texts = [
        (m.content or "").lower().replace(",", "")
        for m in messages
        if m.role == "assistant" and m.content
    ]
    return [CommunicateCheck(info=s, found=any(s.lower() in t for t in texts)) for s in infos]


def _product(values: Sequence[float]) -> float:
    return math.prod(values) if values else 1.0


class Evaluator:
    """Grades episodes of one domain; caches each task's gold database."""

    def __init__(self, domain: Domain[Any]) -> None:
        self.domain = domain
        self._gold: dict[str, tuple[DB, list[str]]] = {}

    def gold_db(self, task: Task) -> tuple[DB, list[str]]:
        """The database after the task's gold actions, and the gold-action errors."""
        cached = self._gold.get(task.id)
        if cached is None:
            calls = [(a.name, a.arguments) for a in task.gold_actions if a.requestor == "assistant"]
            db, results = replay_calls(self.domain, task, calls)
            errors = [f"{name}: {r.content}" for name, r in results if r.error]
            cached = (db, errors)
            self._gold[task.id] = cached
        return cached

    def predicted_db(self, task: Task, messages: Sequence[Message]) -> DB:
        """The database rebuilt by replaying the conversation's write calls."""
        db, _ = replay_calls(self.domain, task, calls_from_messages(messages))
        return db

    def check_db(self, task: Task, predicted: DB) -> DBCheck:
        """Compare a final database with the gold one."""
        gold, errors = self.gold_db(task)
        if predicted.same_state(gold):
            return DBCheck(match=True, gold_errors=errors)
        diff = [
            {"table": d["table"], "key": d["key"], "predicted": d["self"], "expected": d["other"]}
            for d in predicted.diff(gold)[:_MAX_DIFF]
        ]
        return DBCheck(match=False, diff=diff, gold_errors=errors)

    def check_env_assertions(self, task: Task, predicted: DB) -> list[EnvAssertionCheck]:
        """Run the task's environment assertions on the predicted database."""
        ec = task.evaluation_criteria
        checks: list[EnvAssertionCheck] = []
        toolkit = self.domain.toolkit(predicted)
        for a in (ec.env_assertions or []) if ec else []:
            fn = getattr(toolkit, a.func_name, None)
            try:
                actual = fn(**a.arguments) if callable(fn) else f"no function {a.func_name!r}"
            except Exception as exc:  # an assertion that errors is simply not met
                actual = f"Error: {exc}"
            checks.append(EnvAssertionCheck(
                func_name=a.func_name, arguments=a.arguments, expected=a.assert_value,
                actual=actual if isinstance(actual, str | int | float | bool | None)
                else str(actual),
                met=actual == a.assert_value, message=a.message,
            ))
        return checks

    def evaluate(
        self,
        task: Task,
        messages: Sequence[Message],
        *,
        normal_end: bool = True,
        nl_checks: list[NLAssertionCheck] | None = None,
        final_db: DB | None = None,
    ) -> RewardBreakdown:
        """Grade an episode on ground truth.

        Args:
            task: The task.
            messages: The full conversation.
            normal_end: False when the episode ended abnormally (step limit,
                errors...): the reward is then 0, diagnostics still computed.
            nl_checks: Judge verdicts for the NL assertions, if a judge ran.
            final_db: The live episode's database; when omitted (re-grading),
                the conversation's writes are replayed on a fresh database.
        """
        ec = task.evaluation_criteria
        basis = task.reward_basis
        if ec is None:
            if not normal_end:
                return RewardBreakdown(reward=0.0, status="not_scored", reward_basis=[],
                                       notes=["episode ended abnormally: reward 0"])
            return RewardBreakdown(reward=1.0, reward_basis=[],
                                   notes=["task has no evaluation criteria"])
        predicted = final_db if final_db is not None else self.predicted_db(task, messages)
        components: dict[str, float | None] = {}
        out = RewardBreakdown(reward=None, reward_basis=basis)

        if ec.actions is None and ec.env_assertions is None:
            components[RewardType.DB] = 1.0
        else:
            out.db = self.check_db(task, predicted)
            components[RewardType.DB] = 1.0 if out.db.match else 0.0

        out.actions = check_actions(task, messages)
        components[RewardType.ACTION] = float(all(c.matched for c in out.actions))
        out.communicate = check_communicate(task, messages)
        components[RewardType.COMMUNICATE] = float(all(c.found for c in out.communicate))
        out.env_assertions = self.check_env_assertions(task, predicted)
        components[RewardType.ENV_ASSERTION] = _product(
            [1.0 if c.met else 0.0 for c in out.env_assertions])

        assertions = ec.nl_assertions or []
        if not assertions:
            components[RewardType.NL_ASSERTION] = 1.0
        elif nl_checks is not None:
            out.nl_assertions = nl_checks
            components[RewardType.NL_ASSERTION] = float(all(c.met for c in nl_checks))
        else:
            out.nl_assertions = [NLAssertionCheck(assertion=a) for a in assertions]
            components[RewardType.NL_ASSERTION] = None
        out.components = {str(k): v for k, v in components.items()}

        if not normal_end:
            out.reward, out.status = 0.0, "not_scored"
            out.notes.append("episode ended abnormally: reward 0")
            return out
        values = [components[b] for b in basis]
        if any(v is None for v in values):
            out.reward, out.status = None, "judge_needed"
            out.notes.append("NL assertions are in the reward basis: configure a judge model")
            return out
        out.reward = _product([v for v in values if v is not None])
        return out

    def needs_judge(self, task: Task) -> bool:
        """Whether grading this task needs an NL judge."""
        ec = task.evaluation_criteria
        return bool(ec and ec.nl_assertions and RewardType.NL_ASSERTION in ec.reward_basis)

    async def evaluate_async(
        self,
        task: Task,
        messages: Sequence[Message],
        *,
        normal_end: bool = True,
        judge: NLJudge | None = None,
        final_db: DB | None = None,
    ) -> RewardBreakdown:
        """Like :meth:`evaluate`, running the NL judge when one is given and needed."""
        judgment: NLJudgment | None = None
        ec = task.evaluation_criteria
        # Judge calls cost money: only when NL assertions are in the reward basis.
        if judge is not None and ec is not None and normal_end and self.needs_judge(task):
            judgment = await judge.grade(task, messages, ec.nl_assertions or [])
        breakdown = self.evaluate(task, messages, normal_end=normal_end,
                                  nl_checks=judgment.checks if judgment else None,
                                  final_db=final_db)
        if judgment is not None:
            breakdown.judge_usage = judgment.usage
        return breakdown


def evaluate(domain: Domain[Any], task: Task, messages: Sequence[Message],
             normal_end: bool = True) -> RewardBreakdown:
    """Grade one conversation on ground truth (a one-off :class:`Evaluator`)."""
    return Evaluator(domain).evaluate(task, messages, normal_end=normal_end)

