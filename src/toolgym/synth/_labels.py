"""Difficulty labels and statistics of task sets.

The structural label counts what makes a task hard for an agent: each gold
write, each policy trap (a refusal counts two: the agent must resist the
request and say why; a bag allowance, a split payment, a fare difference
one each) and each intent beyond the first. A score up to 1 is ``easy``, up
to 3 ``medium``, above ``hard``. A solvability run moves the label one step
toward the empirical level (``easy`` at a pass rate of 0.8 or more,
``medium`` from 0.4, ``hard`` below).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from toolgym.tasks import Task

__all__ = ["LEVELS", "refine_difficulty", "structural_difficulty", "task_stats", "task_user"]

LEVELS = ("easy", "medium", "hard")
_TRAP_WEIGHT = {"refusal": 2}


def structural_difficulty(writes: int, traps: Iterable[str], intents: int = 1) -> str:
    """The label from structure alone.

    Args:
        writes: Number of gold write actions.
        traps: Policy traps (``refusal`` weighs 2, any other 1).
        intents: Number of intents in the conversation.
    """
    score = writes + sum(_TRAP_WEIGHT.get(t, 1) for t in traps) + max(0, intents - 1)
    return "easy" if score <= 1 else "medium" if score <= 3 else "hard"


def refine_difficulty(label: str, pass_rate: float | None) -> str:
    """Move ``label`` one step toward the level a measured pass rate shows."""
    if pass_rate is None or label not in LEVELS:
        return label
    empirical = 0 if pass_rate >= 0.8 else 1 if pass_rate >= 0.4 else 2
    current = LEVELS.index(label)
    step = (empirical > current) - (empirical < current)
    return LEVELS[current + step]


def task_user(task: Task) -> str | None:
    """The user a task is about: its ``user_id`` field, else the first identifying argument.

    The identifying argument is the ``user_id`` of a gold action, or the email /
    name and zip of a retail lookup.
    """
    extra = (task.model_extra or {}).get("user_id")
    if isinstance(extra, str) and extra:
        return extra
    for action in task.gold_actions:
        args = action.arguments
        if isinstance(args.get("user_id"), str):
            return str(args["user_id"])
        if action.name == "find_user_id_by_email" and isinstance(args.get("email"), str):
            return "email:" + str(args["email"]).lower()
        if action.name == "find_user_id_by_name_zip":
            return "name:" + "|".join(str(args.get(k, "")).lower()
                                      for k in ("first_name", "last_name", "zip"))
    return None


def task_stats(tasks: Iterable[Task], write_tools: Iterable[str]) -> dict[str, Any]:
    """Counts per scenario type, difficulty, method and write tool (sorted keys).

    Args:
        tasks: The tasks.
        write_tools: The domain's write tools (gold calls to them are counted).
    """
    writes = set(write_tools)
    per_type: Counter[str] = Counter()
    per_level: Counter[str] = Counter()
    per_method: Counter[str] = Counter()
    per_tool: Counter[str] = Counter()
    n = 0
    for task in tasks:
        n += 1
        extra = task.model_extra or {}
        per_type[str(extra.get("scenario_type") or "unknown")] += 1
        per_level[task.difficulty or "unlabelled"] += 1
        per_method[str(extra.get("method") or "unknown")] += 1
        for action in task.gold_actions:
            if action.name in writes:
                per_tool[action.name] += 1
    return {"tasks": n,
            "scenario_type": dict(sorted(per_type.items())),
            "difficulty": dict(sorted(per_level.items())),
            "method": dict(sorted(per_method.items())),
            "write_tool": dict(sorted(per_tool.items()))}
