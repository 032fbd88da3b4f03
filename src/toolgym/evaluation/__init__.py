"""Evaluation: ground-truth checks, rewards and metrics."""

from toolgym.evaluation._check import TaskCheck, TaskIssue, check_tasks
from toolgym.evaluation._evaluate import (
    Evaluator,
    NLJudge,
    NLJudgment,
    check_actions,
    check_communicate,
    evaluate,
)
from toolgym.evaluation._types import (
    ActionCheck,
    CommunicateCheck,
    DBCheck,
    EnvAssertionCheck,
    NLAssertionCheck,
    RewardBreakdown,
)

__all__ = [
    "ActionCheck",
    "CommunicateCheck",
    "DBCheck",
    "EnvAssertionCheck",
    "Evaluator",
    "NLAssertionCheck",
    "NLJudge",
    "NLJudgment",
    "RewardBreakdown",
    "TaskCheck",
    "TaskIssue",
    "check_actions",
    "check_communicate",
    "check_tasks",
    "evaluate",
]
