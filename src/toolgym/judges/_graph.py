"""The oracle event graph: reference steps, their edges, and placeholders.

The reference solution of a task is a list of steps (gold actions). The
judged ones (writes, and messages to the user) are *oracle events*; reads
only relay edges. Each event's parents are the events that must happen
before it.

A step with a ``depends_on`` list is taken as written (``[]``: no parents).
For a step without one, parents are derived from earlier steps:

* **produced value**: an earlier write whose result created a value (an id
  created at run time: in its result, not in its arguments, not in the
  records it changed as they were before) that this step uses in its
  arguments. The literal is then replaced by a placeholder pointing into
  that write's result, so the agent's own id is expected;
* **same entity**: an earlier write with the same value for one of the
  entity arguments (``reservation_id``, ``order_id``, ``user_id``).

Placeholders in arguments, ``{{event_id}}`` (the whole result) or
``{{event_id.field.0.sub}}`` (a path into it), are resolved from the result
of the agent call matched to that event. An event that uses a placeholder
also depends on the event it names. A dependency on a read is followed
through to that read's own parents.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolgym.errors import DataError
from toolgym.judges._checkers import EXACT, IGNORE, Checker

__all__ = [
    "ENTITY_ARGS",
    "MESSAGE_TOOL",
    "AgentEvent",
    "OracleEvent",
    "OracleStep",
    "build_oracle_graph",
    "find_placeholders",
    "split_ref",
    "topological_order",
]

#: The tool name of a message to the user, on both sides.
MESSAGE_TOOL = "send_message_to_user"

#: Arguments naming an entity: two writes with the same value are ordered.
ENTITY_ARGS = frozenset({"reservation_id", "order_id", "user_id"})

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+?)\s*\}\}")


@dataclass(frozen=True)
class OracleStep:
    """One step of the reference solution, before the graph is built.

    Attributes:
        id: Unique id (a gold action's ``action_id``).
        tool: Tool name (``send_message_to_user`` for a message).
        args: Arguments; may hold placeholders.
        depends_on: Parent ids as written, or None to derive them.
        is_event: Judged (a write or a message); False for a read, which
            only relays dependencies.
        writes: Changes the state (for the same-entity rule).
        result: The step's result when replayed (parsed JSON or text).
        created: Values the step created at run time; None means the string
            values of its result that are not in its arguments.
        checkers: Argument -> checker for this event.
        default_checker: For arguments not in ``checkers`` (``exact``, or
            ``ignore`` when the step lists the arguments it compares).
    """

    id: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] | None = None
    is_event: bool = True
    writes: bool = True
    result: Any = None
    created: frozenset[str] | None = None
    checkers: Mapping[str, Checker] = field(default_factory=dict)
    default_checker: Checker = EXACT


@dataclass(frozen=True)
class OracleEvent:
    """A judged oracle event, with its parents.

    Attributes:
        id: Unique id.
        tool: Tool name.
        args: Arguments (placeholders resolved at matching time).
        parents: Ids of the events that must be matched to earlier agent events.
        checkers: Argument -> checker.
        default_checker: Checker of arguments not in ``checkers``.
        derived: Whether the parents were derived (no ``depends_on`` given).
    """

    id: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    parents: tuple[str, ...] = ()
    checkers: Mapping[str, Checker] = field(default_factory=dict)
    default_checker: Checker = EXACT
    derived: bool = False

    def checker_for(self, arg: str) -> Checker:
        """The checker of one argument."""
        return self.checkers.get(arg, self.default_checker)

    def judged_args(self, agent_args: Mapping[str, Any]) -> list[str]:
        """The arguments compared against a call with ``agent_args``, in a stable order."""
        names = list(dict.fromkeys([*self.args, *self.checkers, *agent_args]))
        return [n for n in names if self.checker_for(n) != IGNORE]


@dataclass(frozen=True)
class AgentEvent:
    """A judged agent event: a successful write call or a message to the user.

    Attributes:
        index: Position in the caller's list (a case's ``agent`` list, or the
            rollout's judged events); reported in matchings and failures.
        tool: Tool name (``send_message_to_user`` for a message).
        args: Arguments (``{"content": text}`` for a message).
        result: The call's result (parsed JSON, or the text).
    """

    index: int
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    result: Any = None


def find_placeholders(value: Any) -> list[str]:
    """The placeholder references (``event_id`` or ``event_id.path``) inside a value."""
    return list(dict.fromkeys(_refs(value)))


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _PLACEHOLDER.findall(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _refs(v)


def split_ref(ref: str, ids: Iterable[str]) -> tuple[str, list[str]] | None:
    """Split ``event_id.a.b`` into the event id and the path (the longest id wins)."""
    best: str | None = None
    for event_id in ids:
        if (ref == event_id or ref.startswith(event_id + ".")) and (
                best is None or len(event_id) > len(best)):
            best = event_id
    if best is None:
        return None
    rest = ref[len(best) + 1:]
    return best, rest.split(".") if rest else []


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)


def _path_to(result: Any, target: str) -> list[str] | None:
    """The shortest path to ``target`` in a JSON value (breadth first)."""
    queue: list[tuple[Any, list[str]]] = [(result, [])]
    while queue:
        nxt: list[tuple[Any, list[str]]] = []
        for value, path in queue:
            if isinstance(value, str) and value == target and path:
                return path
            if isinstance(value, Mapping):
                nxt.extend((v, [*path, str(k)]) for k, v in value.items()
                           if "." not in str(k) and "}" not in str(k))
            elif isinstance(value, list):
                nxt.extend((v, [*path, str(i)]) for i, v in enumerate(value))
        queue = nxt
    return None


def _substitute(value: Any, literal: str, placeholder: str) -> Any:
    if isinstance(value, str):
        return placeholder if value == literal else value
    if isinstance(value, dict):
        return {k: _substitute(v, literal, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, literal, placeholder) for v in value]
    return value


def _entities(step: OracleStep, entity_args: frozenset[str]) -> set[tuple[str, str]]:
    return {(k, str(v)) for k, v in step.args.items()
            if k in entity_args and isinstance(v, str | int) and not isinstance(v, bool)}


def _created(step: OracleStep) -> frozenset[str]:
    if step.created is not None:
        return step.created
    if not step.writes or step.result is None or isinstance(step.result, str):
        return frozenset()
    return frozenset(_leaves(step.result)) - frozenset(_leaves(step.args))


def _derive(steps: Sequence[OracleStep], entity_args: frozenset[str]
            ) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """Parents of every step, and the arguments after automatic placeholders."""
    parents: dict[str, list[str]] = {}
    args: dict[str, dict[str, Any]] = {s.id: s.args for s in steps}
    created = {s.id: _created(s) for s in steps}
    entities = {s.id: _entities(s, entity_args) for s in steps}
    for i, step in enumerate(steps):
        if step.depends_on is not None:
            parents[step.id] = list(dict.fromkeys(step.depends_on))
            continue
        found: list[str] = []
        new_args = step.args
        used = set(_leaves(step.args))
        for earlier in steps[:i]:
            produced = sorted(used & created[earlier.id])
            if produced:
                found.append(earlier.id)
                if earlier.is_event and earlier.result is not None:
                    for value in produced:
                        path = _path_to(earlier.result, value)
                        if path is not None:
                            ref = "{{" + ".".join([earlier.id, *path]) + "}}"
                            new_args = _substitute(new_args, value, ref)
            elif earlier.writes and entities[earlier.id] & entities[step.id]:
                found.append(earlier.id)
        parents[step.id] = found
        args[step.id] = new_args
    return parents, args


def topological_order(ids: Sequence[str], parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's order, ties broken by the given order.

    Raises:
        DataError: The graph has a cycle (the message names its events).
    """
    rank = {x: i for i, x in enumerate(ids)}
    children: dict[str, list[str]] = {x: [] for x in ids}
    missing = {x: 0 for x in ids}
    for x in ids:
        for p in dict.fromkeys(parents.get(x, ())):
            children[p].append(x)
            missing[x] += 1
    ready = [rank[x] for x in ids if missing[x] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        x = ids[heapq.heappop(ready)]
        out.append(x)
        for c in children[x]:
            missing[c] -= 1
            if missing[c] == 0:
                heapq.heappush(ready, rank[c])
    if len(out) < len(ids):
        stuck = [x for x in ids if missing[x] > 0]
        raise DataError(f"the oracle dependencies have a cycle through {', '.join(stuck)}")
    return out


def build_oracle_graph(steps: Sequence[OracleStep], *,
                       entity_args: frozenset[str] = ENTITY_ARGS) -> list[OracleEvent]:
    """Build the oracle events of a reference solution, in topological order.

    Args:
        steps: The steps, in the reference order (events and reads).
        entity_args: Argument names whose equal values order two writes.

    Returns:
        The events (``is_event`` steps), parents first; ties keep the
        reference order.

    Raises:
        DataError: Duplicate ids, a ``depends_on`` or placeholder naming an
            unknown step (or, for a placeholder, a read or the event itself),
            or a cycle.
    """
    ids = [s.id for s in steps]
    seen: set[str] = set()
    for x in ids:
        if x in seen:
            raise DataError(f"oracle step id {x!r} is used twice")
        seen.add(x)
    for s in steps:
        for p in s.depends_on or []:
            if p not in seen:
                raise DataError(f"oracle step {s.id!r}: depends_on names an unknown step {p!r}")
            if p == s.id:
                raise DataError(f"oracle step {s.id!r} depends on itself")
    parents, args = _derive(steps, entity_args)
    topological_order(ids, parents)  # a cycle among all steps, reads included
    by_id = {s.id: s for s in steps}
    events = [s for s in steps if s.is_event]
    event_ids = {s.id for s in events}
    memo: dict[str, list[str]] = {}

    def event_parents(x: str) -> list[str]:
        # The nearest events upstream of x, through reads.
        if x not in memo:
            out: list[str] = []
            for p in parents[x]:
                out.extend([p] if by_id[p].is_event else event_parents(p))
            memo[x] = list(dict.fromkeys(out))
        return memo[x]

    final: dict[str, list[str]] = {}
    for s in events:
        ps = list(event_parents(s.id))
        for ref in find_placeholders(args[s.id]):
            split = split_ref(ref, seen)
            if split is None:
                raise DataError(f"oracle event {s.id!r}: placeholder {{{{{ref}}}}} names no "
                                "step")
            target = split[0]
            if target == s.id:
                raise DataError(f"oracle event {s.id!r}: placeholder {{{{{ref}}}}} names the "
                                "event itself")
            if target not in event_ids:
                raise DataError(f"oracle event {s.id!r}: placeholder {{{{{ref}}}}} names "
                                f"{target!r}, which is not a judged event (a read?)")
            ps.append(target)
        final[s.id] = list(dict.fromkeys(ps))
    order = topological_order([s.id for s in events], final)
    return [OracleEvent(id=x, tool=by_id[x].tool, args=args[x], parents=tuple(final[x]),
                        checkers=dict(by_id[x].checkers),
                        default_checker=by_id[x].default_checker,
                        derived=by_id[x].depends_on is None)
            for x in order]
