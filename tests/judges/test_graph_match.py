"""The event graph and the matching: derived edges, counts, causality, the exact assignment."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgym.errors import DataError
from toolgym.judges import (
    MESSAGE_TOOL,
    AgentEvent,
    CausalityViolation,
    Checker,
    CountMismatch,
    OracleEvent,
    OracleStep,
    SoftChecker,
    UnmatchedEvent,
    build_oracle_graph,
    check_hard,
    judge_events,
    parse_checker,
)
from toolgym.models import ScriptedModel

BAGS = "update_reservation_baggages"
CANCEL = "cancel_reservation"
BOOK = "book_reservation"


def oracle(id: str, tool: str, args: dict[str, Any] | None = None, parents: Sequence[str] = (),
           checkers: Mapping[str, object] | None = None) -> OracleEvent:
    return OracleEvent(id=id, tool=tool, args=args or {}, parents=tuple(parents),
                       checkers={k: parse_checker(v) for k, v in (checkers or {}).items()})


def agent(tools_and_args: Sequence[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], Any]]
          ) -> list[AgentEvent]:
    return [AgentEvent(i, item[0], item[1], item[2] if len(item) > 2 else None)
            for i, item in enumerate(tools_and_args)]


# -- deriving the graph -----------------------------------------------------------


def test_same_entity_orders_writes_and_independent_writes_stay_free() -> None:
    graph = build_oracle_graph([
        OracleStep("c1", CANCEL, {"reservation_id": "R1"}),
        OracleStep("c2", CANCEL, {"reservation_id": "R2"}),
        OracleStep("b1", BAGS, {"reservation_id": "R1", "total_baggages": 2}),
        OracleStep("cert", "send_certificate", {"user_id": "u", "amount": 50}),
        OracleStep("book", BOOK, {"user_id": "u"}),
    ])
    parents = {e.id: e.parents for e in graph}
    assert parents == {"c1": (), "c2": (), "b1": ("c1",), "cert": (), "book": ("cert",)}
    assert all(e.derived for e in graph)


def test_a_value_created_at_run_time_gives_an_edge_and_a_placeholder() -> None:
    graph = build_oracle_graph([
        OracleStep("book", BOOK, {"user_id": "u", "origin": "SFO"},
                   result={"reservation_id": "NEW001", "user_id": "u", "origin": "SFO"}),
        OracleStep("bags", BAGS, {"reservation_id": "NEW001", "total_baggages": 1}),
    ])
    bags = graph[1]
    assert bags.parents == ("book",)
    assert bags.args == {"reservation_id": "{{book.reservation_id}}", "total_baggages": 1}


def test_depends_on_is_taken_as_written() -> None:
    graph = build_oracle_graph([
        OracleStep("c1", CANCEL, {"reservation_id": "R1"}),
        OracleStep("b1", BAGS, {"reservation_id": "R1"}, depends_on=[]),
        OracleStep("b2", BAGS, {"reservation_id": "R9"}, depends_on=["c1"]),
        OracleStep("x", CANCEL, {"reservation_id": "R8"}, depends_on=["b2"]),
    ])
    parents = {e.id: e.parents for e in graph}
    assert parents == {"c1": (), "b1": (), "b2": ("c1",), "x": ("b2",)}
    assert [e.derived for e in graph] == [True, False, False, False]


def test_dependencies_through_reads_are_followed_and_reads_are_not_events() -> None:
    graph = build_oracle_graph([
        OracleStep("w1", CANCEL, {"reservation_id": "R1"}),
        OracleStep("r", "get_reservation_details", {"reservation_id": "R1"},
                   is_event=False, writes=False),
        OracleStep("w2", "send_certificate", {"user_id": "u"}, depends_on=["r"]),
    ])
    assert [(e.id, e.parents) for e in graph] == [("w1", ()), ("w2", ("w1",))]


def test_a_placeholder_makes_its_target_a_parent_and_order_is_topological() -> None:
    graph = build_oracle_graph([
        OracleStep("bags", BAGS, {"reservation_id": "{{book.reservation_id}}"}, depends_on=[]),
        OracleStep("book", BOOK, {"user_id": "u"}, depends_on=[]),
    ])
    assert [(e.id, e.parents) for e in graph] == [("book", ()), ("bags", ("book",))]


@pytest.mark.parametrize(("steps", "message"), [
    ([OracleStep("a", CANCEL), OracleStep("a", CANCEL)], "'a' is used twice"),
    ([OracleStep("a", CANCEL, depends_on=["zz"])], "unknown step 'zz'"),
    ([OracleStep("a", CANCEL, depends_on=["a"])], "depends on itself"),
    ([OracleStep("a", CANCEL, depends_on=["b"]), OracleStep("b", CANCEL, depends_on=["a"])],
     "cycle through a, b"),
    ([OracleStep("a", CANCEL, {"x": "{{nope.id}}"})], "names no step"),
    ([OracleStep("a", CANCEL, {"x": "{{a.id}}"})], "names the event itself"),
    ([OracleStep("r", "get_x", is_event=False, writes=False),
      OracleStep("a", CANCEL, {"x": "{{r.id}}"})], "not a judged event"),
])
def test_malformed_graphs_are_refused(steps: list[OracleStep], message: str) -> None:
    with pytest.raises(DataError, match=message):
        build_oracle_graph(steps)


# -- counts, order, matching ----------------------------------------------------------


async def test_reordered_independent_writes_pass() -> None:
    events = [oracle("c1", CANCEL, {"reservation_id": "R1"}),
              oracle("c2", CANCEL, {"reservation_id": "R2"})]
    got = await judge_events(events, agent([(CANCEL, {"reservation_id": "R2"}),
                                            (CANCEL, {"reservation_id": "R1"})]))
    assert got.success and got.matching == {"c1": 1, "c2": 0} and not got.failures
    assert got.feedback() == "all 2 oracle events matched"


async def test_reordered_dependent_writes_fail_on_causality() -> None:
    events = [oracle("flights", "update_reservation_flights", {"reservation_id": "R1"}),
              oracle("bags", BAGS, {"reservation_id": "R1"}, parents=["flights"])]
    got = await judge_events(events, agent([(BAGS, {"reservation_id": "R1"}),
                                            ("update_reservation_flights",
                                             {"reservation_id": "R1"})]))
    assert not got.success
    assert got.matching == {"flights": 1}
    (failure,) = got.failures
    assert isinstance(failure, CausalityViolation)
    assert (failure.oracle_id, failure.agent_index, failure.parent,
            failure.parent_agent_index) == ("bags", 0, "flights", 1)
    assert got.failure_dicts()[0]["type"] == "causality_violation"
    assert "must come after update_reservation_flights [flights]" in got.feedback()


async def test_an_extra_write_fails_the_count_check_without_matching() -> None:
    events = [oracle("c1", CANCEL, {"reservation_id": "R1"})]
    got = await judge_events(events, agent([(CANCEL, {"reservation_id": "R1"}),
                                            (CANCEL, {"reservation_id": "R2"})]))
    assert not got.success and got.matching == {}
    assert got.failures == [CountMismatch(tool=CANCEL, agent=2, oracle=1)]
    assert got.feedback() == "cancel_reservation: 2 successful call(s), expected 1"


async def test_a_missing_write_of_another_tool_is_a_count_mismatch() -> None:
    events = [oracle("c1", CANCEL, {"reservation_id": "R1"})]
    got = await judge_events(events, agent([(BAGS, {"reservation_id": "R1"})]))
    assert [(f.tool, f.agent, f.oracle) for f in got.failures  # type: ignore[union-attr]
            ] == [(CANCEL, 0, 1), (BAGS, 1, 0)]


async def test_messages_are_ignored_when_the_oracle_has_none() -> None:
    events = [oracle("c1", CANCEL, {"reservation_id": "R1"})]
    calls = agent([(MESSAGE_TOOL, {"content": "hi"}), (CANCEL, {"reservation_id": "R1"}),
                   (MESSAGE_TOOL, {"content": "done"}), (MESSAGE_TOOL, {"content": "bye"})])
    got = await judge_events(events, calls, extra_messages=0)
    assert got.success and not got.messages_judged and got.matching == {"c1": 1}


async def test_messages_are_counted_with_an_allowance_and_matched_when_the_oracle_has_some(
) -> None:
    events = [oracle("c1", CANCEL, {"reservation_id": "R1"}),
              oracle("m", MESSAGE_TOOL, {"content": "cancelled"}, parents=["c1"],
                     checkers={"content": {"name": "contains_all", "targets": ["cancelled"]}})]
    two = agent([(MESSAGE_TOOL, {"content": "hello"}), (CANCEL, {"reservation_id": "R1"}),
                 (MESSAGE_TOOL, {"content": "It is cancelled."})])
    got = await judge_events(events, two, extra_messages=1)
    assert got.success and got.messages_judged and got.matching == {"c1": 1, "m": 2}
    got = await judge_events(events, two, extra_messages=0)
    assert got.failures == [CountMismatch(tool=MESSAGE_TOOL, agent=2, oracle=1)]
    assert "2 messages to the user, expected 1 to 1" in got.feedback()
    early = agent([(MESSAGE_TOOL, {"content": "cancelled, I promise"}),
                   (CANCEL, {"reservation_id": "R1"})])
    got = await judge_events(events, early)
    assert isinstance(got.failures[0], CausalityViolation)


async def test_an_unmatched_event_lists_the_closest_candidates_and_their_checkers() -> None:
    events = [oracle("b", BAGS, {"reservation_id": "R1", "total_baggages": 2},
                     checkers={"total_baggages": {"name": "number", "tolerance": 0}}),
              oracle("c", CANCEL, {"reservation_id": "R1"})]
    got = await judge_events(events, agent([(CANCEL, {"reservation_id": "R1"}),
                                            (BAGS, {"reservation_id": "R2",
                                                    "total_baggages": 3})]))
    (failure,) = got.failures
    assert isinstance(failure, UnmatchedEvent)
    assert failure.oracle_id == "b" and failure.args["total_baggages"] == 2
    (cand,) = failure.candidates
    assert cand.agent_index == 1
    assert [(r.arg, r.checker, r.oracle, r.agent) for r in cand.rejected_by] == [
        ("reservation_id", "exact", "R1", "R2"),
        ("total_baggages", "number(tolerance=0)", 2, 3)]
    assert "closest is agent event #1: reservation_id (exact" in got.feedback()
    assert got.matching == {"c": 0}


def first_fit(events: Sequence[OracleEvent], calls: Sequence[AgentEvent]) -> bool:
    """ARE-style greedy matching (topological order, first fitting call), hard checks only."""
    used: dict[int, str] = {}
    at: dict[str, int] = {}
    for o in events:
        for pos, a in enumerate(calls):
            fits = a.tool == o.tool and all(
                check_hard(o.checker_for(k), o.args.get(k), a.args.get(k)) is None
                for k in o.judged_args(a.args))
            if pos not in used and fits and all(at.get(p, pos) < pos for p in o.parents):
                used[pos], at[o.id] = o.id, pos
                break
        else:
            return False
    return True


async def test_swapped_same_tool_calls_that_defeat_first_fit_are_matched() -> None:
    tolerant = {"total_baggages": {"name": "number", "tolerance": 1}}
    events = [oracle("b1", BAGS, {"reservation_id": "R1", "total_baggages": 2},
                     checkers=tolerant),
              oracle("b2", BAGS, {"reservation_id": "R1", "total_baggages": 3})]
    calls = agent([(BAGS, {"reservation_id": "R1", "total_baggages": 3}),
                   (BAGS, {"reservation_id": "R1", "total_baggages": 2})])
    assert not first_fit(events, calls)  # b1 takes call 0, which b2 needed
    got = await judge_events(events, calls)
    assert got.success and got.matching == {"b1": 1, "b2": 0}


async def test_swapped_calls_with_a_soft_checker_both_accepting_the_first() -> None:
    accepted = {("one bag for the trip to Paris", "add a bag"),
                ("one bag for the trip to Paris", "a bag for the Paris trip"),
                ("a second bag for the trip to Rome", "add a bag")}

    def verdict(messages: list, tools: object) -> str:
        prompt = messages[-1].content
        ref = prompt.split("Reference value: ")[1].split("\n")[0]
        got = prompt.split("Agent's value: ")[1].split("\n")[0]
        return "[[match]]" if (ref, got) in accepted else "[[no match]]"

    model = ScriptedModel.from_items([verdict] * 4, on_exhausted="error")
    soft = {"note": "soft"}
    events = [oracle("paris", BAGS, {"note": "one bag for the trip to Paris"}, checkers=soft),
              oracle("rome", BAGS, {"note": "a second bag for the trip to Rome"},
                     checkers=soft)]
    calls = agent([(BAGS, {"note": "add a bag"}), (BAGS, {"note": "a bag for the Paris trip"})])
    got = await judge_events(events, calls, soft=SoftChecker(model, "Add bags to my trips"))
    assert got.success and got.matching == {"paris": 1, "rome": 0}
    assert got.usage.calls == 4  # each (event, call) pair asked once


async def test_placeholders_are_resolved_from_the_matched_agent_result() -> None:
    events = [oracle("book", BOOK, {"user_id": "u"}),
              oracle("bags", BAGS, {"reservation_id": "{{book.reservation_id}}",
                                    "note": "for {{book.reservation_id}}",
                                    "flight": "{{book.flights.0.number}}"}, parents=["book"])]
    booked = {"reservation_id": "NEW42", "flights": [{"number": "HAT1"}]}
    good = agent([(BOOK, {"user_id": "u"}, booked),
                  (BAGS, {"reservation_id": "NEW42", "note": "for NEW42", "flight": "HAT1"})])
    got = await judge_events(events, good)
    assert got.success and got.matching == {"book": 0, "bags": 1}
    bad = agent([(BOOK, {"user_id": "u"}, booked),
                 (BAGS, {"reservation_id": "OLD1", "note": "for NEW42", "flight": "HAT1"})])
    got = await judge_events(events, bad)
    (failure,) = got.failures
    assert isinstance(failure, UnmatchedEvent) and failure.args["reservation_id"] == "NEW42"
    assert failure.candidates[0].rejected_by[0].oracle == "NEW42"


async def test_a_placeholder_path_missing_from_the_result_is_a_rejection() -> None:
    events = [oracle("book", BOOK, {}),
              oracle("bags", BAGS, {"reservation_id": "{{book.reservation_id}}"})]
    calls = agent([(BOOK, {}, "Booked!"), (BAGS, {"reservation_id": "X"})])
    got = await judge_events(events, calls)
    (failure,) = got.failures
    assert isinstance(failure, UnmatchedEvent)
    reason = failure.candidates[0].rejected_by[0].reason
    assert "no 'reservation_id' in the result of agent event #0" in reason


async def test_a_whole_result_placeholder() -> None:
    events = [oracle("cert", "send_certificate", {}),
              oracle("msg", MESSAGE_TOOL, {"content": "{{cert}}"}, parents=["cert"])]
    calls = agent([("send_certificate", {}, "Certificate C1 added"),
                   (MESSAGE_TOOL, {"content": "Certificate C1 added"})])
    assert (await judge_events(events, calls)).success


async def test_unknown_parents_and_duplicate_ids_are_data_errors() -> None:
    with pytest.raises(DataError, match="unknown parent"):
        await judge_events([oracle("a", CANCEL, parents=["b"])], [])
    with pytest.raises(DataError, match="used twice"):
        await judge_events([oracle("a", CANCEL), oracle("a", CANCEL)], [])


async def test_soft_checks_without_a_model_are_reported() -> None:
    events = [oracle("t", "transfer_to_human_agents", {"summary": "Refund please"},
                     checkers={"summary": "soft"})]
    same = await judge_events(events, agent([("transfer_to_human_agents",
                                              {"summary": "refund, please!"})]))
    assert same.success and not same.soft_fallback
    other = await judge_events(events, agent([("transfer_to_human_agents",
                                               {"summary": "wants money back"})]))
    assert not other.success and other.soft_fallback


# -- no valid matching is missed: brute force on small random instances ------------------


def brute_force_best(tools: list[str], parents: list[list[int]], agent_tools: list[str],
                     compat: set[tuple[int, int]]) -> tuple[bool, int]:
    """(a complete valid matching exists, size of the largest valid partial matching)."""
    n, m = len(tools), len(agent_tools)
    best, complete = 0, False
    for k in range(n, -1, -1):
        for chosen in itertools.combinations(range(n), k):
            for targets in itertools.permutations(range(m), k):
                pos = dict(zip(chosen, targets, strict=True))
                if all(agent_tools[pos[i]] == tools[i] and (i, pos[i]) in compat
                       and all(pos[p] < pos[i] for p in parents[i] if p in pos)
                       for i in chosen):
                    best = max(best, k)
                    complete = complete or k == n
        if best:
            break
    return complete, best


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[str], list[list[int]], list[int],
                                        set[tuple[int, int]]]:
    n = draw(st.integers(1, 5))
    tools = [draw(st.sampled_from("ab")) for _ in range(n)]
    parents = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else []
               for i in range(n)]
    perm = draw(st.permutations(range(n)))
    agent_tools = [tools[i] for i in perm]
    pairs = [(i, j) for i in range(n) for j in range(n) if tools[i] == agent_tools[j]]
    compat = {p for p in pairs if draw(st.booleans())}
    return tools, parents, perm, compat


@settings(max_examples=200, deadline=None)
@given(instances(), st.booleans())
async def test_the_assignment_finds_a_matching_whenever_one_exists(
        instance: tuple[list[str], list[list[int]], list[int], set[tuple[int, int]]],
        soft: bool) -> None:
    tools, parents, perm, compat = instance
    n = len(tools)
    agent_tools = [tools[i] for i in perm]
    soft_checker = None
    if soft:
        # The judge model decides which calls fit which events (no pre-filter can help).
        def verdict(messages: list[Any], tools: object) -> str:
            prompt = messages[-1].content
            i = int(prompt.split("Reference value: o")[1].split("\n")[0])
            j = int(prompt.split("Agent's value: a")[1].split("\n")[0])
            return "[[match]]" if (i, j) in compat else "[[no match]]"

        model = ScriptedModel.from_items([verdict] * (n * n), on_exhausted="error")
        soft_checker = SoftChecker(model, "task")
        events = [OracleEvent(id=f"o{i}", tool=tools[i], args={"k": f"o{i}"},
                              parents=tuple(f"o{p}" for p in parents[i]),
                              checkers={"k": Checker("soft")}) for i in range(n)]
        calls = [AgentEvent(j, agent_tools[j], {"k": f"a{j}"}) for j in range(n)]
    else:
        # Realise the compatibility matrix with contains_any: call j lists the events it fits.
        events = [OracleEvent(id=f"o{i}", tool=tools[i],
                              parents=tuple(f"o{p}" for p in parents[i]),
                              checkers={"k": Checker("contains_any", {"targets": [f"<{i}>"]})})
                  for i in range(n)]
        calls = [AgentEvent(j, agent_tools[j],
                            {"k": "".join(f"<{i}>" for i in range(n) if (i, j) in compat)})
                 for j in range(n)]
    got = await judge_events(events, calls, soft=soft_checker)
    complete, best = brute_force_best(tools, parents, agent_tools, compat)
    assert got.success is complete
    assert len(got.matching) == best
    unmatched = {o.id for o in events} - set(got.matching)
    assert {f.oracle_id for f in got.failures} == unmatched  # type: ignore[union-attr]
    at = {int(o[1:]): j for o, j in got.matching.items()}
    for i, j in at.items():  # the matching returned is itself valid
        assert (i, j) in compat and agent_tools[j] == tools[i]
        assert all(at[p] < j for p in parents[i] if p in at)
    assert len(set(at.values())) == len(at)
