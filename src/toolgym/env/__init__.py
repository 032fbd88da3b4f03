"""The episode environment: fresh state per task, tool execution, replay."""

from toolgym.env._environment import (
    Environment,
    ToolExecution,
    calls_from_messages,
    deep_merge,
    replay_calls,
    task_snapshot,
)

__all__ = [
    "Environment",
    "ToolExecution",
    "calls_from_messages",
    "deep_merge",
    "replay_calls",
    "task_snapshot",
]
