"""The rollout engine: run configs, rollouts, run directories and resume."""

from toolgym.runner._api import resume, run, run_async
from toolgym.runner._config import (
    AgentConfig,
    DomainRef,
    RunConfig,
    UserConfig,
    parse_task_ranges,
    select_tasks,
)
from toolgym.runner._results import RolloutResult, Termination, Timings
from toolgym.runner._rollout import Limits, RolloutSpec, run_rollout
from toolgym.runner._store import RunData, load_run, read_results

__all__ = [
    "AgentConfig",
    "DomainRef",
    "Limits",
    "RolloutResult",
    "RolloutSpec",
    "RunConfig",
    "RunData",
    "Termination",
    "Timings",
    "UserConfig",
    "load_run",
    "parse_task_ranges",
    "read_results",
    "resume",
    "run",
    "run_async",
    "run_rollout",
    "select_tasks",
]
