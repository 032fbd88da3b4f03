"""Task-set validation: static checks plus a replay of every task's gold actions.

A task's problems come in two kinds, told apart by :func:`inspect_task`:

* **malformed**: the task file itself is wrong, whatever the database holds:
  a gold action naming an unknown tool or with arguments that do not fit
  the tool's JSON schema, an unknown environment-assertion or
  initialization function, a malformed ``message_history``. Such a task
  cannot be graded meaningfully (a gold call to a tool that does not exist
  is skipped, so an agent doing nothing can score 1.0).
* **rule failures**: well-formed gold actions that the domain refuses when
  replayed (a lookup of an order that does not exist, an exchange on a
  pending order). tau2's own retail tasks have 15 of them; tau2 skips the
  failing calls when it builds the gold database and grades the task anyway,
  and so does toolgym.

``toolgym validate`` reports both; :func:`~toolgym.evaluation.check_tasks`
uses the same inspection before a run.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolKind, Toolkit
from toolgym.env._environment import Environment
from toolgym.errors import DataError, ToolError
from toolgym.evaluation._schema import schema_problem
from toolgym.tasks import Task

__all__ = ["TaskInspection", "TaskValidation", "inspect_task", "validate_task",
           "validate_tasks"]

_ROLES = ("system", "user", "assistant", "tool")


@dataclass
class TaskValidation:
    """The outcome of validating one task."""

    task_id: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    final_digest: str | None = None
    malformed: list[str] = field(default_factory=list)
    """The errors that make the task malformed (the rest are rule failures)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON line written by ``toolgym validate``."""
        return {"task_id": self.task_id, "ok": self.ok, "errors": self.errors,
                "final_digest": self.final_digest}


@dataclass
class TaskInspection:
    """What is wrong with one task, by kind (empty lists: nothing)."""

    task: Task
    malformed: list[str] = field(default_factory=list)
    """Problems of the task file itself."""
    rule_failures: list[str] = field(default_factory=list)
    """Well-formed gold actions the domain refuses when replayed."""
    env: Environment | None = None
    """The environment after the replay (None when the initial state could not be built)."""


_Params = tuple[tuple[tuple[str, bool], ...], bool]


def _parameters(toolkit_type: type[Toolkit[Any]], name: str) -> _Params | None:
    """((name, required) per keyword parameter, takes **kwargs) of a public toolkit function."""
    return _parameters_of(typing.cast(Hashable, toolkit_type), name)


@functools.lru_cache(maxsize=4096)
def _parameters_of(toolkit_type: Any, name: str) -> _Params | None:
    if not name or name.startswith("_"):
        return None
    raw = inspect.getattr_static(toolkit_type, name, None)
    if isinstance(raw, staticmethod):
        fn, skip = raw.__func__, 0
    elif isinstance(raw, classmethod):
        fn, skip = raw.__func__, 1
    elif inspect.isfunction(raw):
        fn, skip = raw, 1
    else:
        return None  # an attribute, a property or a class: not something to call
    params = list(inspect.signature(fn).parameters.values())[skip:]
    named = tuple((p.name, p.default is inspect.Parameter.empty) for p in params
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return named, any(p.kind is p.VAR_KEYWORD for p in params)


def _arguments_problems(label: str, params: _Params, arguments: dict[str, Any],
                        schema: dict[str, Any] | None) -> Iterator[str]:
    """Unknown, missing and ill-typed arguments of a call."""
    named, takes_any = params
    names = {n for n, _ in named}
    for name in arguments:
        if name not in names and not takes_any:
            yield f"{label}: unknown argument {name!r}"
    for name, required in named:
        if required and name not in arguments:
            yield f"{label}: missing argument {name!r}"
    if schema is None:
        return
    props = schema.get("properties", {})
    defs = schema.get("$defs", {})
    for name, value in arguments.items():
        sub = props.get(name)
        if sub is None:
            continue
        problem = schema_problem(value, sub, defs)
        if problem is not None:
            yield f"{label}: argument {name!r} has the wrong type ({problem})"


def _call_problems(domain: Domain[Any], label: str, name: Any, arguments: Any) -> Iterator[str]:
    """Problems of a tool call by name (gold action or message-history call)."""
    specs = domain.toolkit_type.tool_specs()
    params = _parameters(domain.toolkit_type, name) if isinstance(name, str) else None
    if not isinstance(name, str) or name not in specs or params is None:
        yield f"{label}: unknown tool {name!r}"
        return
    if not isinstance(arguments, dict):
        yield f"{label}: arguments must be an object, got {type(arguments).__name__}"
        return
    yield from _arguments_problems(label, params, arguments, specs[name][2])


def _function_problems(domain: Domain[Any], label: str, name: str,
                       arguments: dict[str, Any]) -> Iterator[str]:
    """Problems of a call to a toolkit function (env assertions, initialization actions)."""
    params = _parameters(domain.toolkit_type, name)
    if params is None:
        yield f"{label}: unknown toolkit function {name!r}"
        return
    yield from _arguments_problems(label, params, arguments, None)


def _history_call(call: Any) -> tuple[Any, Any, str | None]:
    """(name, arguments, problem) of a message-history tool call in tau2 or OpenAI form."""
    if not isinstance(call, dict):
        return None, None, f"a tool call must be an object, got {type(call).__name__}"
    fn_part = call.get("function", call)
    if not isinstance(fn_part, dict):
        return None, None, "'function' must be an object"
    args = fn_part.get("arguments")
    if args is None:
        args = {}
    elif isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError):
            return fn_part.get("name"), None, "arguments are not valid JSON"
    return fn_part.get("name"), args, None


def _history_problems(domain: Domain[Any], history: list[dict[str, Any]]) -> Iterator[str]:
    for i, msg in enumerate(history):
        label = f"message_history[{i}]"
        role = msg.get("role")
        if role not in _ROLES:
            yield f"{label}: role must be one of {', '.join(_ROLES)}, got {role!r}"
            continue
        content = msg.get("content")
        if content is not None and not isinstance(content, str):
            yield f"{label}: content must be text or null, got {type(content).__name__}"
        calls = msg.get("tool_calls")
        if calls is None:
            continue
        if role not in ("assistant", "user"):
            yield f"{label}: a {role} message cannot make tool calls"
            continue
        if not isinstance(calls, list):
            yield f"{label}: tool_calls must be a list, got {type(calls).__name__}"
            continue
        for j, call in enumerate(calls):
            name, args, problem = _history_call(call)
            where = f"{label}.tool_calls[{j}]"
            if problem is not None:
                yield f"{where}: {problem}"
            else:
                yield from _call_problems(domain, f"{where} ({name})", name, args)


def _static_problems(domain: Domain[Any], task: Task) -> tuple[list[str], list[str], set[int]]:
    """(initial-state problems, other problems, indexes of malformed gold actions)."""
    initial: list[str] = []
    state = task.initial_state
    if state is not None:
        for i, init in enumerate(state.initialization_actions or []):
            initial.extend(_function_problems(
                domain, f"initialization action {i} ({init.func_name})", init.func_name,
                init.arguments))
        initial.extend(_history_problems(domain, state.message_history or []))
    other: list[str] = []
    bad_actions: set[int] = set()
    for i, action in enumerate(task.gold_actions):
        label = f"action {action.action_id or i} ({action.name})"
        problems = list(_call_problems(domain, label, action.name, action.arguments))
        if problems:
            bad_actions.add(i)
            other.extend(problems)
    ec = task.evaluation_criteria
    for i, assertion in enumerate((ec.env_assertions or []) if ec else []):
        other.extend(_function_problems(
            domain, f"env assertion {i} ({assertion.func_name})", assertion.func_name,
            assertion.arguments))
    return initial, other, bad_actions


def _environment(domain: Domain[Any], task: Task) -> tuple[Environment | None, str | None]:
    """The task's starting environment, or why it cannot be built."""
    try:
        return Environment(domain, task), None
    except DataError as exc:
        text = str(exc)
        for prefix in (f"task {task.id!r}: ", f"task {task.id!r} "):
            text = text.removeprefix(prefix)
        return None, text if text.startswith("initial") else f"initial state: {text}"
    except ToolError as exc:
        return None, f"initial state: an initialization action failed: {exc}"
    except Exception as exc:  # a custom toolkit's bug, reported rather than raised
        return None, f"initial state: {type(exc).__name__}: {exc}"


def inspect_task(domain: Domain[Any], task: Task) -> TaskInspection:
    """Statically check a task, then replay its well-formed gold actions on a fresh database.

    Every assistant gold action is executed (reads too, so lookups of
    unknown users or orders are reported); actions already found malformed
    are not.
    """
    initial, other, bad_actions = _static_problems(domain, task)
    out = TaskInspection(task, malformed=initial + other)
    if initial:
        return out  # replaying a broken history or setup could raise anywhere
    env, problem = _environment(domain, task)
    if env is None:
        assert problem is not None
        out.malformed.insert(0, problem)
        return out
    out.env = env
    for i, action in enumerate(task.gold_actions):
        if i in bad_actions or action.requestor != "assistant":
            continue
        label = f"action {action.action_id or i} ({action.name})"
        try:
            result = env.toolkit.call(action.name, action.arguments)
        except Exception as exc:  # a bug in a tool: the evaluator skips the call too
            out.rule_failures.append(f"{label} raised {type(exc).__name__}: {exc}")
            continue
        if result.error:
            out.rule_failures.append(
                f"{label} failed: {result.content.removeprefix('Error: ')}")
    return out


def validate_task(domain: Domain[Any], task: Task, dump_dir: Path | None = None) -> TaskValidation:
    """Statically check a task, then replay its gold actions on a fresh database.

    Any error (malformed task or rule failure, see the module docstring)
    makes the task invalid.
    """
    found = inspect_task(domain, task)
    errors = found.malformed + found.rule_failures
    digest = None
    if found.env is not None:
        if dump_dir is not None:
            dump_dir.mkdir(parents=True, exist_ok=True)
            found.env.db.save(dump_dir / f"{_safe(task.id)}.json")
        digest = found.env.db.digest()
    return TaskValidation(task.id, not errors, errors, digest, malformed=list(found.malformed))


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
