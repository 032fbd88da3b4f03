"""The environment: a fresh database per episode, tool execution and replay.

``reset`` forks the domain's parsed snapshot (no JSON is re-parsed; forking
copies only the table dicts), then applies the task's initial state. Tool
calls run in order; their results are what the agent sees. Because every
change goes through a toolkit, a trajectory's write calls can be replayed
onto a fresh fork to rebuild its final database without the live episode.

Simulated tools (:mod:`toolgym.simtools`) are answered by a model or by the
user simulator, so their execution is awaited: a domain with such tools gets
a :class:`ToolSimulator` on its environment, and the rollout awaits
:meth:`Environment.execute_simulated` for the calls it handles. Code tools
always run synchronously through :meth:`Environment.execute`.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from toolgym._io import loads_json
from toolgym.domains._db import DB, Snapshot
from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolKind, Toolkit, ToolResult
from toolgym.errors import DataError, ToolError
from toolgym.messages import Message, SimInfo, ToolCall, Usage
from toolgym.tasks import Task

__all__ = ["Environment", "ToolExecution", "ToolSimulator", "deep_merge", "replay_calls",
           "task_snapshot"]


@dataclass(frozen=True)
class ToolExecution:
    """A tool call with its result and timing.

    Attributes:
        call: The call.
        result: What the agent sees.
        seconds: Wall time of the execution.
        bug: The tool raised something other than ``ToolError``.
        sim: For simulated tools: the injected failure and the cache outcome.
        usage: Model usage the execution cost, per role (``tool-sim``, ``user``).
        ends: The call ends the episode (a successful ``final_answer``).
    """

    call: ToolCall
    result: ToolResult
    seconds: float
    bug: bool = False
    sim: SimInfo | None = None
    usage: Mapping[str, Usage] | None = None
    ends: bool = False


class ToolSimulator(Protocol):
    """Answers the simulated tools of one episode (see :mod:`toolgym.simtools`)."""

    def handles(self, name: str) -> bool:
        """Whether calls to ``name`` are simulated (awaited) rather than code tools."""
        ...

    def ends_episode(self, name: str) -> bool:
        """Whether a successful call to ``name`` ends the episode (``final_answer``)."""
        ...

    def role(self, name: str) -> str:
        """The model role answering ``name`` (``tool-sim`` or ``user``), for error texts."""
        ...

    async def execute(self, call: ToolCall, messages: Sequence[Message],
                      env: Environment) -> ToolExecution:
        """Answer one call, given the conversation so far."""
        ...


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base``: objects key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return override


def task_snapshot(domain: Domain[Any], task: Task) -> Snapshot[Any]:
    """The snapshot an episode of ``task`` starts from.

    Tasks without an initial state share the domain snapshot. A task whose
    ``initialization_data`` overrides DB content gets its own snapshot (built
    once and cached on the domain object).
    """
    state = task.initial_state
    data = state.initialization_data if state else None
    if data is None or not data.agent_data:
        return domain.snapshot
    cache: dict[str, Snapshot[Any]] = domain.__dict__.setdefault("_task_snapshots", {})
    snap = cache.get(task.id)
    if snap is None:
        merged = deep_merge(domain.snapshot.to_dict(), data.agent_data)
        db = domain.snapshot.db_type.from_dict(merged, source=f"task {task.id!r} initial_state")
        snap = Snapshot(db)
        cache[task.id] = snap
    return snap


def _history_call(call: Any, where: str) -> tuple[str | None, dict[str, Any]]:
    """(name, arguments) of a message-history tool call (tau2 or OpenAI form)."""
    fn_part = call.get("function", call) if isinstance(call, dict) else None
    if not isinstance(fn_part, dict):
        raise DataError(f"{where}: a tool call must be an object with a name and arguments")
    name = fn_part.get("name")
    args = fn_part.get("arguments") or {}
    if isinstance(args, str):
        try:
            args = loads_json(args)
        except ValueError as exc:
            raise DataError(f"{where}: arguments are not valid JSON ({exc})") from None
    if not isinstance(args, dict):
        raise DataError(f"{where}: arguments must be an object")
    return (name if isinstance(name, str) else None), args


class Environment:
    """One episode's world: a working database and the toolkit over it."""

    def __init__(self, domain: Domain[Any], task: Task | None = None,
                 simulator: ToolSimulator | None = None) -> None:
        self.domain = domain
        self.task: Task | None = None
        self.db: DB
        self.toolkit: Toolkit[Any]
        #: Answers the simulated tools of the episode (None: code tools only).
        self.simulator = simulator
        self.reset(task)

    def reset(self, task: Task | None = None) -> None:
        """Start from a fresh database (plus the task's initial state, if any)."""
        self.task = task
        snapshot = task_snapshot(self.domain, task) if task is not None else self.domain.snapshot
        self.db = snapshot.fork()
        self.toolkit = self.domain.toolkit(self.db)
        if task is not None and task.initial_state is not None:
            self._apply_initial_actions(task)

    def _apply_initial_actions(self, task: Task) -> None:
        state = task.initial_state
        assert state is not None
        for action in state.initialization_actions or []:
            where = f"task {task.id!r}: initialization action {action.func_name!r}"
            fn = getattr(self.toolkit, action.func_name, None)
            if fn is None or not callable(fn) or action.func_name.startswith("_"):
                raise DataError(f"{where} is not a toolkit function")
            try:
                inspect.signature(fn).bind(**action.arguments)
            except TypeError as exc:
                raise DataError(f"{where}: {exc}") from None
            try:
                fn(**action.arguments)
            except ToolError as exc:
                raise DataError(f"{where} failed: {exc}") from None
        for i, msg in enumerate(state.message_history or []):
            calls = msg.get("tool_calls") or []
            for j, call in enumerate(calls if isinstance(calls, list) else [calls]):
                name, args = _history_call(call, f"task {task.id!r}: message_history[{i}]"
                                                 f".tool_calls[{j}]")
                if name and self.toolkit.kind(name) == ToolKind.WRITE:
                    self.toolkit.call(name, args)

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tools offered to the agent (OpenAI format)."""
        return self.toolkit.openai_tools()

    @property
    def policy(self) -> str:
        """The domain's policy document."""
        return self.domain.policy

    def execute(self, call: ToolCall) -> ToolExecution:
        """Run one tool call.

        Malformed arguments and unknown tools give an error result. An
        exception other than ``ToolError`` inside a tool is a bug in the tool:
        it is reported to the agent as an error and flagged ``bug=True``.
        """
        start = time.perf_counter()
        bug = False
        if call.parse_error:
            result = ToolResult(
                f"Error: could not parse the arguments of {call.name!r} as a JSON object: "
                f"{call.parse_error}",
                error=True,
            )
        else:
            try:
                result = self.toolkit.call(call.name, call.arguments)
            except Exception as exc:  # a bug in the tool, not the agent's fault
                result = ToolResult(f"Error: {type(exc).__name__}: {exc}", error=True)
                bug = True
        return ToolExecution(call, result, time.perf_counter() - start, bug)

    def simulates(self, call: ToolCall) -> bool:
        """Whether ``call`` goes to the simulator (a well-formed call of a simulated tool)."""
        sim = self.simulator
        return sim is not None and call.parse_error is None and sim.handles(call.name)

    async def execute_simulated(self, call: ToolCall, messages: Sequence[Message]
                                ) -> ToolExecution:
        """Run one call of a simulated tool (see :meth:`simulates`), awaiting its answer.

        Model errors propagate (the rollout ends on ``model_error``), as for
        agent and user models.
        """
        assert self.simulator is not None
        start = time.perf_counter()
        execution = await self.simulator.execute(call, messages, self)
        seconds = time.perf_counter() - start
        return ToolExecution(call, execution.result, seconds, execution.bug, execution.sim,
                             execution.usage, execution.ends)

    def execute_all(self, calls: Iterable[ToolCall]) -> list[ToolExecution]:
        """Run several calls of one assistant turn, in order."""
        return [self.execute(c) for c in calls]

    @staticmethod
    def tool_message(execution: ToolExecution, turn: int | None = None) -> Message:
        """The tool message answering an execution."""
        message = Message(
            role="tool",
            content=execution.result.content,
            tool_call_id=execution.call.id,
            name=execution.call.name,
            error=execution.result.error,
            turn=turn,
        )
        if execution.sim is not None:
            message.sim = execution.sim
        return message

    def digest(self) -> str:
        """Canonical digest of the current database."""
        return self.db.digest()


def replay_calls(
    domain: Domain[Any],
    task: Task | None,
    calls: Iterable[tuple[str, dict[str, Any]]],
    writes_only: bool = True,
) -> tuple[DB, list[tuple[str, ToolResult]]]:
    """Replay tool calls on a fresh database.

    Args:
        domain: The domain.
        task: The task whose initial state to start from (None: the plain DB).
        calls: ``(name, arguments)`` pairs in order.
        writes_only: Skip read-only, generic and unknown tools (they cannot
            change the database), as the DB check does.

    Returns:
        The final database and the ``(name, result)`` of every executed call.
    """
    env = Environment(domain, task)
    results: list[tuple[str, ToolResult]] = []
    for name, args in calls:
        kind = env.toolkit.kind(name)
        if writes_only and kind != ToolKind.WRITE:
            continue
        if kind is None or not isinstance(args, dict):
            results.append((name, ToolResult(f"Error: Tool '{name}' not found.", error=True)))
            continue
        try:
            results.append((name, env.toolkit.call(name, args)))
        except Exception as exc:  # a tool bug must not stop grading
            results.append((name, ToolResult(f"Error: {type(exc).__name__}: {exc}", True)))
    return env.db, results


def calls_from_messages(messages: Iterable[Message]) -> list[tuple[str, dict[str, Any]]]:
    """All tool calls of a conversation (assistant and user), in order."""
    out: list[tuple[str, dict[str, Any]]] = []
    for m in messages:
        for c in m.tool_calls or []:
            if c.parse_error:
                continue
            out.append((c.name, c.arguments))
    return out
