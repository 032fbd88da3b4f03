"""Matching agent events to the oracle event graph, and typed failures.

:func:`judge_events` runs two steps:

1. **Count check.** Per write tool, the agent's number of successful calls
   equals the oracle's. Messages to the user may exceed the oracle's count
   by ``extra_messages``; when the oracle has no message events at all,
   messages are neither counted nor matched.
2. **Assignment.** Each oracle event is matched to a distinct agent event
   of the same tool whose arguments pass the checkers and which comes
   strictly after the agent events matched to all the oracle event's
   parents. Unlike a greedy first fit, this is an exact search: oracle
   events are decided in topological order, each tries every candidate (and,
   to find the largest partial matching when no complete one exists, being
   left unmatched), and states already explored are memoised on what the
   rest of the search can see (the agent events used, and where the parents
   and placeholder targets of the remaining events went). A branch stops as
   soon as it reaches an upper bound (a maximum bipartite matching of the
   remaining events on the calls that pass their literal hard checks,
   ignoring order), so the usual cases cost a handful of checks. So a
   complete matching is found whenever one exists; the worst case (many
   interchangeable calls of one tool, in an order that defeats the graph)
   stays exponential, about half a second for 20 calls of one tool.

When no complete matching exists, the largest partial one is kept (ties
prefer matching events that come earlier in topological order, then earlier
agent events), and each unmatched oracle event gets a typed failure.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from toolgym.errors import DataError
from toolgym.judges._checkers import SoftChecker, check_hard
from toolgym.judges._graph import (
    MESSAGE_TOOL,
    AgentEvent,
    OracleEvent,
    find_placeholders,
    split_ref,
    topological_order,
)
from toolgym.messages import Usage

__all__ = [
    "ArgRejection",
    "Candidate",
    "CausalityViolation",
    "CountMismatch",
    "GraphFailure",
    "GraphJudgment",
    "LateParent",
    "UnmatchedEvent",
    "judge_events",
]

#: Candidates listed per unmatched oracle event.
MAX_CANDIDATES = 3
_SHORT = 80


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


class ArgRejection(BaseModel):
    """One argument that a checker rejected."""

    arg: str = Field(description="Argument name.")
    checker: str = Field(description="The checker, as written (name and parameters).")
    oracle: Any = Field(None, description="The oracle's value, placeholders resolved.")
    agent: Any = Field(None, description="The agent's value.")
    reason: str = Field(description="Why the checker rejected it.")

    def text(self) -> str:
        """One readable line."""
        return (f"{self.arg} ({self.checker}: {self.reason}): expected {_short(self.oracle)}, "
                f"got {_short(self.agent)}")


class LateParent(BaseModel):
    """A parent of an oracle event matched to an agent event that is not earlier."""

    parent: str = Field(description="The parent oracle event's id.")
    parent_agent_index: int = Field(description="The agent event it was matched to.")


class Candidate(BaseModel):
    """An agent event of the right tool considered for an unmatched oracle event."""

    agent_index: int = Field(description="Index of the agent event.")
    args: dict[str, Any] = Field(description="Its arguments.")
    rejected_by: list[ArgRejection] = Field(
        default_factory=list, description="Arguments the checkers rejected (empty: all pass).")
    late_parents: list[LateParent] = Field(
        default_factory=list, description="Parents matched to this or a later agent event.")
    matched_to: str | None = Field(None, description="The oracle event it is matched to.")


class CountMismatch(BaseModel):
    """The agent's number of events of a tool differs from the oracle's."""

    type: Literal["count_mismatch"] = "count_mismatch"
    tool: str = Field(description="Tool name (send_message_to_user for messages).")
    agent: int = Field(description="The agent's count (successful calls).")
    oracle: int = Field(description="The oracle's count.")
    extra_allowed: int = Field(0, description="Extra events allowed (messages only).")

    def text(self) -> str:
        """One readable line."""
        if self.tool == MESSAGE_TOOL:
            return (f"{self.agent} messages to the user, expected {self.oracle} to "
                    f"{self.oracle + self.extra_allowed}")
        return f"{self.tool}: {self.agent} successful call(s), expected {self.oracle}"


class UnmatchedEvent(BaseModel):
    """No agent event could be matched to an oracle event."""

    type: Literal["unmatched_event"] = "unmatched_event"
    oracle_id: str = Field(description="The oracle event's id.")
    tool: str = Field(description="Its tool.")
    args: dict[str, Any] = Field(description="Its arguments, placeholders resolved where "
                                 "possible.")
    candidates: list[Candidate] = Field(
        default_factory=list, description=f"The closest agent events of that tool (at most "
        f"{MAX_CANDIDATES}), closest first.")

    def text(self) -> str:
        """One readable line."""
        head = f"no call matches {self.tool} [{self.oracle_id}] {_short(self.args)}"
        if not self.candidates:
            return head + f" (no successful {self.tool} call)"
        c = self.candidates[0]
        if c.rejected_by:
            why = "; ".join(r.text() for r in c.rejected_by)
        elif c.matched_to is not None:
            why = f"it passes but is matched to [{c.matched_to}]"
        else:
            why = "it comes too early"
        return head + f"; closest is agent event #{c.agent_index}: {why}"


class CausalityViolation(BaseModel):
    """An agent event passes an oracle event's checks but precedes one of its parents."""

    type: Literal["causality_violation"] = "causality_violation"
    oracle_id: str = Field(description="The oracle event's id.")
    tool: str = Field(description="Its tool.")
    args: dict[str, Any] = Field(description="Its arguments, placeholders resolved.")
    agent_index: int = Field(description="The agent event that matches it but comes too early.")
    parent: str = Field(description="The parent oracle event matched too late.")
    parent_tool: str = Field(description="The parent's tool.")
    parent_agent_index: int = Field(description="The agent event the parent was matched to "
                                    "(not earlier than agent_index).")

    def text(self) -> str:
        """One readable line."""
        return (f"{self.tool} [{self.oracle_id}] (agent event #{self.agent_index}) must come after "
                f"{self.parent_tool} [{self.parent}] (agent event #{self.parent_agent_index})")


GraphFailure = CountMismatch | UnmatchedEvent | CausalityViolation


@dataclass
class GraphJudgment:
    """The verdict of :func:`judge_events`.

    Attributes:
        success: Every oracle event matched (and the counts agree).
        matching: Oracle event id -> agent event index (the largest matching
            found; empty after a count mismatch, which skips matching).
        failures: Typed failures (count mismatches, or one per unmatched
            oracle event).
        messages_judged: Whether messages to the user were counted and
            matched (only when the oracle has message events).
        usage: What soft checks cost.
        soft_fallback: A soft check ran without a judge model (normalised
            equality only).
        soft_unparsed: Soft checks whose replies had no verdict (rejected).
    """

    success: bool
    matching: dict[str, int]
    failures: list[GraphFailure]
    messages_judged: bool = False
    usage: Usage = field(default_factory=Usage)
    soft_fallback: bool = False
    soft_unparsed: list[dict[str, Any]] = field(default_factory=list)

    def failure_dicts(self) -> list[dict[str, Any]]:
        """The failures as plain JSON-ready dicts (for ``Score.failures``)."""
        return [f.model_dump(mode="json") for f in self.failures]

    def feedback(self, limit: int = 5) -> str:
        """A short readable summary built from the failures."""
        if self.success:
            n = len(self.matching)
            return f"all {n} oracle event{'s' if n != 1 else ''} matched"
        lines = [f.text() for f in self.failures[:limit]]
        if len(self.failures) > limit:
            lines.append(f"and {len(self.failures) - limit} more")
        return "; ".join(lines)


@dataclass
class _Outcome:
    passed: bool
    rejections: list[ArgRejection]


_UNRESOLVED = object()
_FULL = re.compile(r"^\s*\{\{\s*([^{}\s]+?)\s*\}\}\s*$")
_ANY = re.compile(r"\{\{\s*([^{}\s]+?)\s*\}\}")


class _Search:
    """The exact assignment search over one judgment's events."""

    def __init__(self, order: list[OracleEvent], agent: list[AgentEvent],
                 soft: SoftChecker) -> None:
        self.order = order
        self.agent = agent
        self.soft = soft
        ids = [o.id for o in order]
        self.by_id = {o.id: o for o in order}
        self.refs: dict[str, dict[str, tuple[str, list[str]] | None]] = {}
        self.targets: dict[str, tuple[str, ...]] = {}
        self.parents: dict[str, tuple[str, ...]] = {}
        for o in order:
            refs = {r: split_ref(r, ids) for r in find_placeholders(o.args)}
            self.refs[o.id] = refs
            self.targets[o.id] = tuple(dict.fromkeys(s[0] for s in refs.values() if s))
            self.parents[o.id] = tuple(p for p in o.parents if p in self.by_id)
        self.candidates = {o.id: [i for i, a in enumerate(agent) if a.tool == o.tool]
                           for o in order}
        # Calls that pass the hard checks of literal arguments: a superset of the calls
        # that can match, for any assignment (placeholders and soft checks pass here).
        self.possible = {o.id: [i for i in self.candidates[o.id] if self._maybe(o, agent[i])]
                         for o in order}
        self.relevant: list[tuple[str, ...]] = []
        for k in range(len(order) + 1):
            before = set(ids[:k])
            needed = {x for o in order[k:] for x in (*self.parents[o.id], *self.targets[o.id])}
            self.relevant.append(tuple(x for x in ids[:k] if x in needed and x in before))
        self._outcomes: dict[tuple[Any, ...], _Outcome] = {}
        self._memo: dict[tuple[Any, ...], tuple[int, tuple[tuple[str, int], ...]]] = {}

    # -- placeholders ------------------------------------------------------------
    def _lookup(self, o: OracleEvent, ref: str, assign: Mapping[str, int],
                problems: list[str]) -> Any:
        split = self.refs[o.id].get(ref)
        if split is None:
            problems.append(f"placeholder {{{{{ref}}}}} names no oracle event")
            return _UNRESOLVED
        target, path = split
        if target not in assign:
            problems.append(f"placeholder {{{{{ref}}}}}: [{target}] is not matched")
            return _UNRESOLVED
        source = self.agent[assign[target]]
        value = source.result
        for part in path:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.lstrip("-").isdigit() and \
                    -len(value) <= int(part) < len(value):
                value = value[int(part)]
            else:
                problems.append(f"placeholder {{{{{ref}}}}}: no {part!r} in the result of "
                                f"agent event #{source.index}")
                return _UNRESOLVED
        return value

    def _resolve(self, o: OracleEvent, value: Any, assign: Mapping[str, int],
                 problems: list[str]) -> Any:
        if isinstance(value, str):
            full = _FULL.match(value)
            if full:
                return self._lookup(o, full.group(1), assign, problems)
            if "{{" not in value:
                return value
            failed = False

            def sub(m: re.Match[str]) -> str:
                nonlocal failed
                got = self._lookup(o, m.group(1), assign, problems)
                if got is _UNRESOLVED:
                    failed = True
                    return m.group(0)
                return got if isinstance(got, str) else json.dumps(got)

            text = _ANY.sub(sub, value)
            return _UNRESOLVED if failed else text
        if isinstance(value, Mapping):
            items = {k: self._resolve(o, v, assign, problems) for k, v in value.items()}
            return _UNRESOLVED if any(v is _UNRESOLVED for v in items.values()) else items
        if isinstance(value, list):
            seq = [self._resolve(o, v, assign, problems) for v in value]
            return _UNRESOLVED if any(v is _UNRESOLVED for v in seq) else seq
        return value

    def resolved_args(self, o: OracleEvent, assign: Mapping[str, int]
                      ) -> tuple[dict[str, Any], dict[str, str]]:
        """Oracle arguments with placeholders resolved, and why others could not be."""
        out: dict[str, Any] = {}
        unresolved: dict[str, str] = {}
        for arg, value in o.args.items():
            problems: list[str] = []
            got = self._resolve(o, value, assign, problems)
            if got is _UNRESOLVED:
                unresolved[arg] = "; ".join(problems)
                out[arg] = value
            else:
                out[arg] = got
        return out, unresolved

    # -- checks ------------------------------------------------------------------
    async def outcome(self, o: OracleEvent, pos: int, assign: Mapping[str, int]) -> _Outcome:
        """Whether agent event ``pos`` passes ``o``'s checkers, given the assignment."""
        key = (o.id, pos, tuple(assign.get(t, -1) for t in self.targets[o.id]))
        cached = self._outcomes.get(key)
        if cached is not None:
            return cached
        a = self.agent[pos]
        resolved, unresolved = self.resolved_args(o, assign)
        rejections: list[ArgRejection] = []
        soft_args: list[str] = []
        for arg in o.judged_args(a.args):
            checker = o.checker_for(arg)
            oval, aval = resolved.get(arg), a.args.get(arg)
            if arg in unresolved and checker.needs_oracle_value:
                rejections.append(ArgRejection(arg=arg, checker=checker.describe(),
                                               oracle=oval, agent=aval,
                                               reason=unresolved[arg]))
            elif checker.name == "soft":
                soft_args.append(arg)
            else:
                reason = check_hard(checker, oval, aval)
                if reason is not None:
                    rejections.append(ArgRejection(arg=arg, checker=checker.describe(),
                                                   oracle=oval, agent=aval, reason=reason))
        if not rejections:  # model calls only for calls that pass every hard check
            for arg in soft_args:
                checker = o.checker_for(arg)
                oval, aval = resolved.get(arg), a.args.get(arg)
                reason = await self.soft.check(checker, o.tool, arg, oval, aval)
                if reason is not None:
                    rejections.append(ArgRejection(arg=arg, checker=checker.describe(),
                                                   oracle=oval, agent=aval, reason=reason))
                    break
        out = _Outcome(not rejections, rejections)
        self._outcomes[key] = out
        return out

    @staticmethod
    def _maybe(o: OracleEvent, a: AgentEvent) -> bool:
        for arg in o.judged_args(a.args):
            checker = o.checker_for(arg)
            oval = o.args.get(arg)
            if checker.name == "soft" or (checker.needs_oracle_value and find_placeholders(oval)):
                continue
            if check_hard(checker, oval, a.args.get(arg)) is not None:
                return False
        return True

    def _bound(self, k: int, used: frozenset[int]) -> int:
        """An upper bound on the matches of order[k:]: a maximum bipartite matching on
        the possible calls not yet used, ignoring causality (Kuhn's augmenting paths)."""
        owner: dict[int, str] = {}

        def augment(oid: str, seen: set[int]) -> bool:
            for pos in self.possible[oid]:
                if pos in used or pos in seen:
                    continue
                seen.add(pos)
                if pos not in owner or augment(owner[pos], seen):
                    owner[pos] = oid
                    return True
            return False

        return sum(augment(o.id, set()) for o in self.order[k:])

    def _late(self, o: OracleEvent, pos: int, assign: Mapping[str, int]) -> list[str]:
        return [p for p in self.parents[o.id] if p in assign and assign[p] >= pos]

    # -- search ------------------------------------------------------------------
    async def solve(self) -> dict[str, int]:
        """The largest valid matching: oracle id -> agent position."""
        _, pairs = await self._go(0, frozenset(), {})
        return dict(pairs)

    async def _go(self, k: int, used: frozenset[int], assign: dict[str, int]
                  ) -> tuple[int, tuple[tuple[str, int], ...]]:
        n = len(self.order)
        if k == n:
            return 0, ()
        key = (k, used, tuple(assign.get(x, -1) for x in self.relevant[k]))
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        o = self.order[k]
        bound = self._bound(k, used)
        best: tuple[int, tuple[tuple[str, int], ...]] = (0, ()) if bound == 0 else (-1, ())
        for pos in self.possible[o.id] if bound else ():
            if pos in used or self._late(o, pos, assign):
                continue
            if not (await self.outcome(o, pos, assign)).passed:
                continue
            assign[o.id] = pos
            got, rest = await self._go(k + 1, used | {pos}, assign)
            del assign[o.id]
            if got + 1 > best[0]:
                best = (got + 1, ((o.id, pos), *rest))
            if best[0] == bound:
                break
        if best[0] < bound:  # leaving o unmatched; it cannot beat the bound either
            got, rest = await self._go(k + 1, used, assign)
            if got > best[0]:
                best = (got, rest)
        self._memo[key] = best
        return best

    # -- failures ----------------------------------------------------------------
    async def explain(self, assign: dict[str, int]) -> list[GraphFailure]:
        """One failure per unmatched oracle event, given the final matching."""
        failures: list[GraphFailure] = []
        taken = {pos: x for x, pos in assign.items()}
        for o in self.order:
            if o.id in assign:
                continue
            resolved, _ = self.resolved_args(o, assign)
            cands: list[tuple[Candidate, bool]] = []
            for pos in self.candidates[o.id]:
                out = await self.outcome(o, pos, assign)
                late = self._late(o, pos, assign)
                a = self.agent[pos]
                cands.append((Candidate(
                    agent_index=a.index, args=a.args, rejected_by=out.rejections,
                    late_parents=[LateParent(parent=p,
                                             parent_agent_index=self.agent[assign[p]].index)
                                  for p in late],
                    matched_to=taken.get(pos)), out.passed))
            violated = next((c for c, ok in cands
                             if ok and c.late_parents and c.matched_to is None), None)
            if violated is not None:
                for lp in violated.late_parents:
                    failures.append(CausalityViolation(
                        oracle_id=o.id, tool=o.tool, args=resolved,
                        agent_index=violated.agent_index, parent=lp.parent,
                        parent_tool=self.by_id[lp.parent].tool,
                        parent_agent_index=lp.parent_agent_index))
                continue
            ranked = sorted(cands, key=lambda item: (not item[1], len(item[0].rejected_by)))
            failures.append(UnmatchedEvent(oracle_id=o.id, tool=o.tool, args=resolved,
                                           candidates=[c for c, _ in ranked[:MAX_CANDIDATES]]))
        return failures


def _count_failures(oracle: Sequence[OracleEvent], agent: Sequence[AgentEvent],
                    extra_messages: int) -> list[GraphFailure]:
    oc = Counter(o.tool for o in oracle)
    ac = Counter(a.tool for a in agent)
    out: list[GraphFailure] = []
    for tool in sorted(set(oc) | set(ac)):
        if tool == MESSAGE_TOOL:
            ok = oc[tool] <= ac[tool] <= oc[tool] + extra_messages
            extra = extra_messages
        else:
            ok, extra = oc[tool] == ac[tool], 0
        if not ok:
            out.append(CountMismatch(tool=tool, agent=ac[tool], oracle=oc[tool],
                                     extra_allowed=extra))
    return out


async def judge_events(
    oracle: Sequence[OracleEvent],
    agent: Sequence[AgentEvent],
    *,
    extra_messages: int = 1,
    soft: SoftChecker | None = None,
) -> GraphJudgment:
    """Judge agent events against an oracle event graph.

    Args:
        oracle: The oracle events (any order; parents must name events of
            the list). Placeholder targets count as parents.
        agent: The judged agent events (successful writes and messages), in
            the order they happened.
        extra_messages: Messages to the user the agent may send beyond the
            oracle's (only when the oracle has message events).
        soft: The soft checker (judge model, user's task, usage); without
            one, soft checks use normalised equality only.

    Returns:
        The judgment: success, the matching (oracle id -> agent index),
        typed failures and the soft checks' usage.

    Raises:
        DataError: Duplicate oracle ids, an unknown parent, or a cycle.
    """
    soft = soft if soft is not None else SoftChecker(None)
    ids = [o.id for o in oracle]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise DataError(f"oracle event id {dup!r} is used twice")
    by_id = {o.id: o for o in oracle}
    edges: dict[str, list[str]] = {}
    for o in oracle:
        unknown = [p for p in o.parents if p not in by_id]
        if unknown:
            raise DataError(f"oracle event {o.id!r}: unknown parent(s) {', '.join(unknown)}")
        targets = [s[0] for r in find_placeholders(o.args) if (s := split_ref(r, ids))]
        edges[o.id] = list(dict.fromkeys([*o.parents, *(t for t in targets if t != o.id)]))
    order = [by_id[x] for x in topological_order(ids, edges)]
    order = [OracleEvent(id=o.id, tool=o.tool, args=o.args, parents=tuple(edges[o.id]),
                         checkers=o.checkers, default_checker=o.default_checker,
                         derived=o.derived) for o in order]
    messages_judged = any(o.tool == MESSAGE_TOOL for o in order)
    judged = [a for a in agent if messages_judged or a.tool != MESSAGE_TOOL]

    def verdict(success: bool, matching: dict[str, int],
                failures: list[GraphFailure]) -> GraphJudgment:
        return GraphJudgment(success=success, matching=matching, failures=failures,
                             messages_judged=messages_judged, usage=soft.usage,
                             soft_fallback=soft.fallback_used,
                             soft_unparsed=list(soft.unparsed))

    counts = _count_failures(order, judged, extra_messages)
    if counts:
        return verdict(False, {}, counts)
    search = _Search(order, judged, soft)
    assign = await search.solve()
    failures = await search.explain(assign)
    matching = {o.id: judged[assign[o.id]].index for o in order if o.id in assign}
    return verdict(not failures, matching, failures)
