"""The ``graph`` judge: a rollout's writes and messages against the task's event graph.

Oracle events are the task's gold write actions (and messages to the user,
if a task has any), with edges as written in ``depends_on`` or derived (see
:mod:`toolgym.judges._graph`). To derive them, the gold actions are replayed
on the task's starting database, which gives each write's result and the
values it created. Agent events are the rollout's successful write calls
and its assistant messages, in order; reads, generic tools (``calculate``,
``transfer_to_human_agents``) and failed calls are ignored.

Checkers, each layer overriding the one before:

1. every argument ``exact``, or, when the gold action lists
   ``compare_args``, those ``exact`` and the others ignored;
2. the judge argument ``checkers`` (a JSON file, or a mapping from Python):
   ``tool -> argument -> checker``, for every task of the domain;
3. the gold action's own ``checkers`` field (``argument -> checker``), for
   that action of that task.

Judge arguments: ``extra_messages`` (default 1), ``checkers``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from toolgym.domains._db import DB, canonical_json
from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolKind
from toolgym.env._environment import Environment
from toolgym.errors import ConfigError, DataError
from toolgym.judges._base import Judge, JudgeContext, Score, register_judge
from toolgym.judges._checkers import (
    EXACT,
    IGNORE,
    Checker,
    CheckerTable,
    SoftChecker,
    load_checker_table,
    parse_checker,
    parse_checker_table,
)
from toolgym.judges._graph import (
    MESSAGE_TOOL,
    AgentEvent,
    OracleEvent,
    OracleStep,
    build_oracle_graph,
)
from toolgym.judges._graph_match import GraphJudgment, judge_events
from toolgym.messages import Message
from toolgym.tasks import Action, Task

__all__ = [
    "GoldReplay",
    "GraphJudge",
    "graph_details",
    "parse_result",
    "replay_gold",
    "rollout_agent_events",
    "task_oracle_graph",
]

KindOf = Callable[[str], ToolKind | None]


def parse_result(content: Any) -> Any:
    """A tool result as a value: JSON text parsed, anything else kept as it is."""
    if isinstance(content, str):
        text = content.strip()
        if text[:1] in ("{", "[", '"') or text in ("true", "false", "null"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return content
    return content


def domain_kinds(domain: Domain[Any] | None) -> KindOf:
    """Tool kinds of a domain; without one, every tool but messages is a write."""
    if domain is None:
        return lambda name: None if name == MESSAGE_TOOL else ToolKind.WRITE
    specs = domain.toolkit_type.tool_specs()
    return lambda name: specs[name][0] if name in specs else None


@dataclass(frozen=True)
class EventSource:
    """Where a judged agent event of a rollout came from."""

    message: int
    """Index of the message in the conversation."""
    call_id: str | None
    """The tool call's id (None for a message to the user)."""


def rollout_agent_events(messages: Sequence[Message], kind_of: KindOf, *,
                         include_messages: bool = True
                         ) -> tuple[list[AgentEvent], list[EventSource]]:
    """The judged events of a conversation: successful writes and assistant messages.

    A message's text comes before its tool calls. A call is successful when
    a tool message answers it without the error flag; calls with
    unparseable arguments, unanswered calls and non-write tools are ignored.

    Args:
        messages: The conversation.
        kind_of: Tool name -> kind (only writes are events).
        include_messages: Whether assistant texts are events (messages to
            the user); the judge leaves them out when the oracle has none.

    Returns:
        The events (``index`` = position in this list) and where each came from.
    """
    answers = {m.tool_call_id: m for m in messages if m.role == "tool" and m.tool_call_id}
    events: list[AgentEvent] = []
    sources: list[EventSource] = []
    for i, m in enumerate(messages):
        if m.role != "assistant":
            continue
        if include_messages and m.content and m.content.strip():
            events.append(AgentEvent(len(events), MESSAGE_TOOL, {"content": m.content}))
            sources.append(EventSource(i, None))
        for call in m.tool_calls or []:
            answer = answers.get(call.id)
            if call.parse_error or answer is None or answer.error:
                continue
            if kind_of(call.name) != ToolKind.WRITE:
                continue
            events.append(AgentEvent(len(events), call.name, dict(call.arguments),
                                     parse_result(answer.content)))
            sources.append(EventSource(i, call.id))
    return events, sources


def _dump_record(db: DB, table: str, key: str) -> Any:
    value: Any = getattr(db, key, None) if table == "" else db.table(table).get(key)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return []


@dataclass(frozen=True)
class GoldReplay:
    """What one gold action did when replayed."""

    result: Any = None
    """Its result (parsed JSON or text); None when it failed."""
    created: frozenset[str] = frozenset()
    """Values it created at run time (writes only)."""
    failed: bool = False
    """The call gave an error (such a write is not an oracle event)."""


def _replay_one(env: Environment, before: DB, action: Action, kind_of: KindOf) -> GoldReplay:
    try:
        result = env.toolkit.call(action.name, action.arguments)
    except Exception:  # a tool bug must not stop judging
        return GoldReplay(failed=True)
    if result.error:
        return GoldReplay(failed=True)
    value = parse_result(result.content)
    if kind_of(action.name) != ToolKind.WRITE:
        return GoldReplay(value)
    fresh = set(_leaves(value)) - set(_leaves(action.arguments))
    if not fresh:
        return GoldReplay(value)
    earlier = "".join(canonical_json(_dump_record(before, t, k))
                      for t, keys in env.db.changed().items() for k in keys)
    return GoldReplay(value, frozenset(v for v in fresh if canonical_json(v) not in earlier))


def replay_gold(domain: Domain[Any], task: Task, actions: Sequence[Action],
                kind_of: KindOf | None = None) -> list[GoldReplay]:
    """Replay gold actions on the task's starting database, in order.

    A value is created by a write when it is in the write's result but not
    in its arguments, and not in any changed record as it was before the
    write (a second replay, one action behind, gives that state).
    """
    kind_of = kind_of or domain_kinds(domain)
    env, before = Environment(domain, task), Environment(domain, task)
    out: list[GoldReplay] = []
    for action in actions:
        out.append(_replay_one(env, before.db, action, kind_of))
        # Keep ``before`` one action behind (failed calls too: some change state).
        with contextlib.suppress(Exception):
            before.toolkit.call(action.name, action.arguments)
    return out


def action_checkers(action: Action, table: CheckerTable, where: str
                    ) -> tuple[dict[str, Checker], Checker]:
    """The checkers of one gold action's arguments, and the default for the others."""
    if action.compare_args is None:
        checkers: dict[str, Checker] = {}
        default = EXACT
    else:
        checkers = {arg: EXACT for arg in action.compare_args}
        default = IGNORE
    checkers.update(table.get(action.name, {}))
    for arg, spec in (action.checkers or {}).items():
        checkers[arg] = parse_checker(spec, f"{where} checkers.{arg}")
    return checkers, default


def task_oracle_graph(task: Task, domain: Domain[Any] | None,
                      table: CheckerTable | None = None) -> list[OracleEvent]:
    """The oracle event graph of a task, in topological order.

    Gold writes that fail when replayed (tau2 has a few) are not events:
    they change nothing, and an agent's failed call is ignored too.

    Args:
        task: The task (its assistant gold actions).
        domain: Its domain (tool kinds, and the database the gold actions are
            replayed on to derive edges); None: every tool is a write and only
            the same-entity rule derives edges.
        table: Domain-wide checkers (``tool -> argument -> checker``).

    Raises:
        DataError: Bad ``depends_on``, placeholders or checkers on the task.
    """
    kind_of = domain_kinds(domain)
    actions = [a for a in task.gold_actions if a.requestor == "assistant"]
    replayed = (replay_gold(domain, task, actions, kind_of) if domain is not None
                else [GoldReplay()] * len(actions))
    steps: list[OracleStep] = []
    for i, (action, gold) in enumerate(zip(actions, replayed, strict=True)):
        step_id = action.action_id or f"action_{i}"
        where = f"task {task.id!r} action {step_id!r}"
        try:
            checkers, default = action_checkers(action, table or {}, where)
        except ConfigError as exc:
            raise DataError(str(exc)) from None
        # A gold write that fails on replay changes nothing, like a failed agent call.
        writes = kind_of(action.name) == ToolKind.WRITE and not gold.failed
        steps.append(OracleStep(
            id=step_id, tool=action.name, args=action.arguments, depends_on=action.depends_on,
            is_event=writes or action.name == MESSAGE_TOOL, writes=writes, result=gold.result,
            created=gold.created if domain is not None else None,
            checkers=checkers, default_checker=default))
    try:
        return build_oracle_graph(steps)
    except DataError as exc:
        raise DataError(f"task {task.id!r}: {exc}") from None


def graph_details(oracle: Sequence[OracleEvent], judgment: GraphJudgment) -> dict[str, Any]:
    """The judge-specific details of a score: matching, graph, soft-check notes."""
    details: dict[str, Any] = {
        "matching": judgment.matching,
        "oracle": [{"id": o.id, "tool": o.tool, "parents": list(o.parents),
                    "derived": o.derived} for o in oracle],
        "messages_judged": judgment.messages_judged,
    }
    if judgment.soft_fallback:
        details["soft_checks"] = "normalised equality only (no judge model)"
    if judgment.soft_unparsed:
        details["soft_unparsed"] = judgment.soft_unparsed
    return details


def _load_table(value: Any) -> CheckerTable:
    if value is None:
        return {}
    if isinstance(value, str | Path):
        return load_checker_table(value)
    return parse_checker_table(value, "judge argument checkers")


@register_judge("graph")
class GraphJudge(Judge):
    """Matches a rollout's writes and messages to the task's oracle event graph.

    Args (``--judge-arg``):
        extra_messages: Messages to the user allowed beyond the oracle's
            (default 1; only when the oracle has message events).
        checkers: A JSON file (or, from Python, a mapping) ``tool ->
            argument -> checker`` applied to every task.

    A judge model is optional: soft checkers use it; without one they pass
    only on normalised equality, and the score's details say so.
    """

    needs_model = False
    allowed_args = frozenset({"extra_messages", "checkers"})

    def __init__(self, ctx: JudgeContext) -> None:
        super().__init__(ctx)
        raw = ctx.args.get("extra_messages", 1)
        try:
            extra = int(raw)
        except (TypeError, ValueError):
            extra = -1
        if isinstance(raw, bool) or extra < 0 or (isinstance(raw, float) and raw != extra):
            raise ConfigError(f"judge {ctx.name!r}: extra_messages must be an integer >= 0, "
                              f"got {raw!r}")
        self.extra_messages = extra
        try:
            self.table = _load_table(ctx.args.get("checkers"))
        except DataError as exc:
            raise ConfigError(f"judge {ctx.name!r}: {exc}") from None
        self._graphs: dict[str, list[OracleEvent]] = {}

    def oracle_graph(self, task: Task) -> list[OracleEvent]:
        """The task's oracle graph (built once per task)."""
        graph = self._graphs.get(task.id)
        if graph is None:
            graph = task_oracle_graph(task, self.ctx.domain, self.table)
            self._graphs[task.id] = graph
        return graph

    async def score(self, task: Any, result: Any) -> Score:
        """Judge one rollout.

        A task without gold actions (``actions`` null: unknown, unlike ``[]``)
        or whose graph is malformed gives an error score, never a verdict.
        """
        ec = task.evaluation_criteria
        error: str | None = None
        if ec is None or ec.actions is None:
            error = f"task {task.id!r} has no gold actions: nothing to judge against"
        else:
            try:
                oracle = self.oracle_graph(task)
            except DataError as exc:
                error = str(exc)
        if error is not None:
            return Score(task_id=result.task_id, trial=result.trial, judge=self.ctx.name,
                         success=None, score=None, error=error,
                         feedback=f"could not build the oracle graph: {error}")
        with_messages = any(o.tool == MESSAGE_TOOL for o in oracle)
        events, sources = rollout_agent_events(result.messages, domain_kinds(self.ctx.domain),
                                               include_messages=with_messages)
        soft = SoftChecker(self.ctx.model, task.user_scenario.instructions_text())
        judgment = await judge_events(oracle, events, extra_messages=self.extra_messages,
                                      soft=soft)
        details = graph_details(oracle, judgment)
        uses_soft = any(c.name == "soft" for o in oracle
                        for c in (*o.checkers.values(), o.default_checker))
        if uses_soft and self.ctx.model is None:
            details["soft_checks"] = "normalised equality only (no judge model)"
        details["agent_events"] = [
            {"index": e.index, "tool": e.tool, "message": s.message, "call_id": s.call_id}
            for e, s in zip(events, sources, strict=True)]
        return Score(task_id=result.task_id, trial=result.trial, judge=self.ctx.name,
                     success=judgment.success, score=1.0 if judgment.success else 0.0,
                     feedback=judgment.feedback(), failures=judgment.failure_dicts(),
                     usage=judgment.usage, details=details)
