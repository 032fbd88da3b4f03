"""Task-set validation: static checks plus a replay of every task's gold actions."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolKind
from toolgym.env._environment import Environment
from toolgym.tasks import Task

__all__ = ["TaskValidation", "validate_task", "validate_tasks"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


@dataclass
class TaskValidation:
    """The outcome of validating one task."""

    task_id: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    final_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON line written by ``toolgym validate``."""
        return {"task_id": self.task_id, "ok": self.ok, "errors": self.errors,
                "final_digest": self.final_digest}


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "anyOf" in schema:
        return any(_type_ok(value, s) for s in schema["anyOf"])
    t = schema.get("type")
    if t is None:
        return True
    types = _JSON_TYPES.get(t, (object,))
    if t in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, types)


def _static_errors(env: Environment, task: Task) -> Iterator[str]:
    for i, action in enumerate(task.gold_actions):
        label = f"action {action.action_id or i} ({action.name})"
        tool = env.toolkit.tools.get(action.name)
        if tool is None:
            yield f"{label}: unknown tool {action.name!r}"
            continue
        params = tool.parameters.get("properties", {})
        sig = inspect.signature(tool.fn)
        for name in action.arguments:
            if name not in sig.parameters:
                yield f"{label}: unknown argument {name!r}"
        for name, p in sig.parameters.items():
            if p.default is inspect.Parameter.empty and name not in action.arguments:
                yield f"{label}: missing argument {name!r}"
        for name, value in action.arguments.items():
            schema = params.get(name)
            if schema is not None and not _type_ok(value, schema):
                expected = schema.get("type") or schema.get("enum") or "another type"
                yield f"{label}: argument {name!r} has the wrong type (expected {expected}, " \
                      f"got {type(value).__name__} {value!r})"


def validate_task(domain: Domain[Any], task: Task, dump_dir: Path | None = None) -> TaskValidation:
    """Statically check a task, then replay its gold actions on a fresh database.

    Every gold action is executed (reads too, so lookups of unknown users or
    orders are reported); any error makes the task invalid.
    """
    env = Environment(domain, task)
    errors = list(_static_errors(env, task))
    for i, action in enumerate(task.gold_actions):
        if action.requestor != "assistant" or env.toolkit.kind(action.name) is None:
            continue
        result = env.toolkit.call(action.name, action.arguments)
        if result.error:
            errors.append(f"action {action.action_id or i} ({action.name}) failed: "
                          f"{result.content.removeprefix('Error: ')}")
    if dump_dir is not None:
        dump_dir.mkdir(parents=True, exist_ok=True)
        env.db.save(dump_dir / f"{_safe(task.id)}.json")
    return TaskValidation(task.id, not errors, errors, env.db.digest())


def _safe(task_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in task_id)


def validate_tasks(domain: Domain[Any], tasks: list[Task] | None = None,
                   dump_dir: Path | None = None) -> list[TaskValidation]:
    """Validate every task of the domain (or the given tasks)."""
    return [validate_task(domain, t, dump_dir) for t in (tasks or domain.tasks)]


def write_tools(domain: Domain[Any]) -> list[str]:
    """Names of the domain's write tools."""
    tk = domain.toolkit()
    return sorted(n for n in tk.tools if tk.kind(n) == ToolKind.WRITE)
