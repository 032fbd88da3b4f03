"""Evaluation: ground-truth checks, rewards and metrics."""

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
    "check_actions",
    "check_communicate",
    "evaluate",
]
