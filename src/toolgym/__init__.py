"""toolgym: simulate, evaluate and improve tool-using conversational agents.

The root package exports the verbs (``run``, ``resume``, ``evaluate``,
``load_domain``, ``load_run``...) and the core types. They are imported
lazily so that ``import toolgym`` (and the CLI) start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "DB": "toolgym.domains",
    "Domain": "toolgym.domains",
    "ToolError": "toolgym.domains",
    "ToolKind": "toolgym.domains",
    "Toolkit": "toolgym.domains",
    "load_domain": "toolgym.domains",
    "register_domain": "toolgym.domains",
    "tool": "toolgym.domains",
    "Environment": "toolgym.env",
    "Evaluator": "toolgym.evaluation",
    "RewardBreakdown": "toolgym.evaluation",
    "evaluate": "toolgym.evaluation",
    "Message": "toolgym.messages",
    "ToolCall": "toolgym.messages",
    "Usage": "toolgym.messages",
    "RolloutResult": "toolgym.runner",
    "RunConfig": "toolgym.runner",
    "RunData": "toolgym.runner",
    "load_run": "toolgym.runner",
    "resume": "toolgym.runner",
    "run": "toolgym.runner",
    "optimize": "toolgym.optimize",
    "Task": "toolgym.tasks",
    "load_tasks": "toolgym.tasks",
}

__all__ = [
    "DB",
    "Domain",
    "Environment",
    "Evaluator",
    "Message",
    "RewardBreakdown",
    "RolloutResult",
    "RunConfig",
    "RunData",
    "Task",
    "ToolCall",
    "ToolError",
    "ToolKind",
    "Toolkit",
    "Usage",
    "__version__",
    "evaluate",
    "load_domain",
    "load_run",
    "load_tasks",
    "optimize",
    "register_domain",
    "resume",
    "run",
    "tool",
]

if TYPE_CHECKING:
    from toolgym.domains import (
        DB,
        Domain,
        ToolError,
        ToolKind,
        Toolkit,
        load_domain,
        register_domain,
        tool,
    )
    from toolgym.env import Environment
    from toolgym.evaluation import Evaluator, RewardBreakdown, evaluate
    from toolgym.messages import Message, ToolCall, Usage
    from toolgym.runner import RolloutResult, RunConfig, RunData, load_run, resume, run
    from toolgym.tasks import Task, load_tasks


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolgym' has no attribute {name!r}")
    if module == f"toolgym.{name}":  # a callable subpackage (toolgym.optimize)
        return importlib.import_module(module)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
