"""Tasks: user scenarios plus ground truth (tau2 schema)."""

from toolgym.tasks._load import check_splits, load_splits, load_tasks, parse_splits, parse_tasks
from toolgym.tasks._task import (
    Action,
    Description,
    EnvAssertion,
    EvaluationCriteria,
    InitialState,
    RewardType,
    StructuredInstructions,
    Task,
    UserScenario,
)

__all__ = [
    "Action",
    "Description",
    "EnvAssertion",
    "EvaluationCriteria",
    "InitialState",
    "RewardType",
    "StructuredInstructions",
    "Task",
    "UserScenario",
    "check_splits",
    "load_splits",
    "load_tasks",
    "parse_splits",
    "parse_tasks",
]
