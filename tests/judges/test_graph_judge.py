"""The ``graph`` judge on rollouts of the built-in airline domain (hand-built conversations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import toolgym
from toolgym.env import Environment
from toolgym.errors import ConfigError
from toolgym.evaluation._types import RewardBreakdown
from toolgym.judges import GraphJudge, rollout_agent_events, task_oracle_graph
from toolgym.judges._base import JudgeContext, create_judge, judge_names
from toolgym.messages import Message, ToolCall
from toolgym.models import ScriptedModel
from toolgym.runner import RolloutResult, Termination, Timings
from toolgym.tasks import Action, EvaluationCriteria, Task, UserScenario

DOMAIN = toolgym.load_domain("airline")
PAY = "credit_card_2824948"


def bags(total: int, reservation: str = "KEVR4R", pay: str = PAY
         ) -> tuple[str, dict[str, Any]]:
    return ("update_reservation_baggages", {"reservation_id": reservation,
                                            "total_baggages": total, "nonfree_baggages": 0,
                                            "payment_id": pay})


def cancel(reservation: str) -> tuple[str, dict[str, Any]]:
    return ("cancel_reservation", {"reservation_id": reservation})


def read(reservation: str) -> tuple[str, dict[str, Any]]:
    return ("get_reservation_details", {"reservation_id": reservation})


def make_task(*steps: tuple[str, dict[str, Any]], **fields: Any) -> Task:
    actions = [Action(action_id=f"a{i}", name=name, arguments=args,
                      **(fields.get(f"a{i}") or {}))
               for i, (name, args) in enumerate(steps)]
    return Task(id="t", user_scenario=UserScenario(instructions="Add a bag; cancel my trip."),
                evaluation_criteria=EvaluationCriteria(actions=actions))


def rollout(task: Task, *steps: tuple[str, dict[str, Any]] | str) -> RolloutResult:
    """Run the calls for real (texts are assistant messages) and record a rollout."""
    env = Environment(DOMAIN, task)
    messages = [Message.system("policy"), Message.assistant("Hi! How can I help?"),
                Message.user("Please help.")]
    for i, step in enumerate(steps):
        if isinstance(step, str):
            messages.append(Message.assistant(step))
            continue
        call = ToolCall(id=f"call_{i}", name=step[0], arguments=step[1])
        messages.append(Message.assistant(tool_calls=[call]))
        messages.append(Environment.tool_message(env.execute(call)))
    now = "2024-01-01T00:00:00Z"
    return RolloutResult(task_id=task.id, trial=0, seed=0, messages=messages, reward=None,
                         breakdown=RewardBreakdown(reward=None),
                         termination=Termination.USER_STOP,
                         timings=Timings(started_at=now, finished_at=now, duration_s=0.0))


def judge(model: ScriptedModel | None = None, **args: Any) -> GraphJudge:
    built = create_judge(JudgeContext(name="graph", domain=DOMAIN, model=model, args=args))
    assert isinstance(built, GraphJudge)
    return built


TASK = make_task(read("KEVR4R"), bags(1), cancel("QP3PEI"))


def test_registered_without_a_required_model_and_with_its_arguments() -> None:
    assert "graph" in judge_names()
    assert GraphJudge.needs_model is False
    assert {"extra_messages", "checkers"} <= GraphJudge.allowed_args
    assert judge(extra_messages="2").extra_messages == 2
    for bad in ("x", -1, True, 1.5):
        with pytest.raises(ConfigError, match="extra_messages must be an integer >= 0"):
            judge(extra_messages=bad)
    with pytest.raises(ConfigError, match="unknown argument"):
        judge(tolerance=1)


async def test_the_gold_trajectory_passes_with_extra_reads_failed_calls_and_messages() -> None:
    result = rollout(TASK, read("KEVR4R"), read("QP3PEI"), "Let me check.",
                     ("cancel_reservation", {"reservation_id": "NOPE00"}),  # fails: ignored
                     bags(1), read("KEVR4R"), cancel("QP3PEI"), "Done, anything else?")
    score = await judge().score(TASK, result)
    assert score.success is True and score.score == 1.0 and score.error is None
    assert score.failures == [] and score.feedback == "all 2 oracle events matched"
    assert score.details["matching"] == {"a1": 0, "a2": 1}
    assert [e["tool"] for e in score.details["agent_events"]] == [
        "update_reservation_baggages", "cancel_reservation"]
    assert score.details["agent_events"][0]["message"] == 10  # the call, not its answer
    assert score.details["messages_judged"] is False and score.judge == "graph"


async def test_reordered_independent_writes_pass() -> None:
    score = await judge().score(TASK, rollout(TASK, cancel("QP3PEI"), bags(1)))
    assert score.success is True and score.details["matching"] == {"a1": 1, "a2": 0}


async def test_reordered_dependent_writes_fail_with_a_causality_violation() -> None:
    task = make_task(bags(1), bags(2))  # same reservation: the second depends on the first
    assert [e.parents for e in task_oracle_graph(task, DOMAIN)] == [(), ("a0",)]
    assert (await judge().score(task, rollout(task, bags(1), bags(2)))).success is True
    score = await judge().score(task, rollout(task, bags(2), bags(1)))
    assert score.success is False and score.score == 0.0
    assert score.failures[0]["type"] == "causality_violation"
    assert score.failures[0]["parent"] == "a0" and score.failures[0]["agent_index"] == 0
    assert "must come after update_reservation_baggages [a0]" in score.feedback


async def test_an_extra_write_fails_the_count_check() -> None:
    score = await judge().score(TASK, rollout(TASK, bags(1), cancel("QP3PEI"),
                                              cancel("LJSXGK")))
    assert score.success is False
    assert score.failures == [{"type": "count_mismatch", "tool": "cancel_reservation",
                               "agent": 2, "oracle": 1, "extra_allowed": 0}]


async def test_a_wrong_argument_is_an_unmatched_event_with_the_rejecting_checker() -> None:
    score = await judge().score(TASK, rollout(TASK, bags(2), cancel("QP3PEI")))
    (failure,) = score.failures
    assert failure["type"] == "unmatched_event" and failure["oracle_id"] == "a1"
    assert failure["candidates"][0]["rejected_by"] == [
        {"arg": "total_baggages", "checker": "exact", "oracle": 1, "agent": 2,
         "reason": "not equal"}]
    assert "total_baggages (exact: not equal): expected 1, got 2" in score.feedback


async def test_compare_args_limit_what_is_compared() -> None:
    task = make_task(bags(1), a0={"compare_args": ["reservation_id"]})
    assert (await judge().score(task, rollout(task, bags(2)))).success is True
    other = await judge().score(task, rollout(task, bags(2, "QP3PEI")))
    assert other.success is False


async def test_checkers_file_and_per_action_checkers(tmp_path: Path) -> None:
    path = tmp_path / "checkers.json"
    path.write_text(json.dumps({"update_reservation_baggages": {
        "total_baggages": {"name": "number", "tolerance": 1}}}))
    result = rollout(TASK, bags(2), cancel("QP3PEI"))
    assert (await judge(checkers=str(path)).score(TASK, result)).success is True
    strict = make_task(read("KEVR4R"), bags(1), cancel("QP3PEI"),
                       a1={"checkers": {"total_baggages": "exact"}})
    assert (await judge(checkers=str(path)).score(strict, result)).success is False
    loose = make_task(read("KEVR4R"), bags(1), cancel("QP3PEI"),
                      a1={"checkers": {"total_baggages": {"name": "ignore"}}})
    assert (await judge().score(loose, result)).success is True
    path.write_text(json.dumps({"update_reservation_baggages": {"total_baggages": "near"}}))
    with pytest.raises(ConfigError, match="unknown checker 'near'"):
        judge(checkers=str(path))
    inline = judge(checkers={"update_reservation_baggages": {"total_baggages": "ignore"}})
    assert (await inline.score(TASK, result)).success is True


async def test_a_malformed_task_graph_is_a_judge_error_not_a_verdict() -> None:
    task = make_task(bags(1), a0={"depends_on": ["missing"]})
    score = await judge().score(task, rollout(task, bags(1)))
    assert score.success is None and score.score is None
    assert score.error is not None and "unknown step 'missing'" in score.error
    bad = make_task(bags(1), a0={"checkers": {"total_baggages": "nearly"}})
    score = await judge().score(bad, rollout(bad, bags(1)))
    assert score.error is not None and "task 't' action 'a0' checkers.total_baggages" in score.error


BOOK = DOMAIN.tasks[0].gold_actions[-1]  # xena_quintero_2311 books a flight
XENA_PAY = "credit_card_6627356"


def booked_id() -> str:
    env = Environment(DOMAIN)
    return str(json.loads(env.toolkit.call(BOOK.name, BOOK.arguments).content)["reservation_id"])


async def test_no_gold_actions_means_nothing_to_judge_but_an_empty_list_means_no_writes(
) -> None:
    unknown = Task(id="u", user_scenario=UserScenario(instructions="x"),
                   evaluation_criteria=EvaluationCriteria(actions=None))
    score = await judge().score(unknown, rollout(unknown, cancel("QP3PEI")))
    assert score.success is None and "no gold actions" in str(score.error)
    nothing = make_task()
    assert (await judge().score(nothing, rollout(nothing, read("QP3PEI")))).success is True
    score = await judge().score(nothing, rollout(nothing, cancel("QP3PEI")))
    assert score.success is False and score.failures[0]["type"] == "count_mismatch"


def test_an_id_created_by_a_gold_write_becomes_a_placeholder() -> None:
    task = make_task((BOOK.name, BOOK.arguments), bags(1, booked_id(), XENA_PAY))
    graph = task_oracle_graph(task, DOMAIN)
    assert graph[1].parents == ("a0",)
    assert graph[1].args["reservation_id"] == "{{a0.reservation_id}}"


async def test_a_booking_followed_by_a_change_of_the_new_reservation_passes() -> None:
    new_id = booked_id()
    task = make_task((BOOK.name, BOOK.arguments), bags(1, new_id, XENA_PAY))
    score = await judge().score(task, rollout(task, (BOOK.name, BOOK.arguments),
                                              bags(1, new_id, XENA_PAY)))
    assert score.success is True, score.feedback
    wrong = await judge().score(task, rollout(task, (BOOK.name, BOOK.arguments),
                                              bags(2, new_id, XENA_PAY)))
    (failure,) = wrong.failures
    assert failure["args"]["reservation_id"] == new_id  # resolved from the agent's result
    assert failure["candidates"][0]["rejected_by"][0]["arg"] == "total_baggages"


async def test_the_agent_is_expected_to_use_the_id_its_own_booking_returned() -> None:
    new_id = booked_id()
    task = make_task((BOOK.name, BOOK.arguments), bags(1, new_id, XENA_PAY))
    # The same episode, but the booking came back with another id (another run's state).
    result = rollout(task, (BOOK.name, BOOK.arguments), bags(1, new_id, XENA_PAY))
    text = result.model_dump_json().replace(new_id, "OTHER1")
    other = RolloutResult.model_validate_json(text)
    assert (await judge().score(task, other)).success is True
    stale = RolloutResult.model_validate_json(text.replace(
        '"reservation_id":"OTHER1","total_baggages"', f'"reservation_id":"{new_id}",'
        '"total_baggages"'))
    score = await judge().score(task, stale)
    assert score.success is False
    assert score.failures[0]["candidates"][0]["rejected_by"][0] == {
        "arg": "reservation_id", "checker": "exact", "oracle": "OTHER1", "agent": new_id,
        "reason": "not equal"}


async def test_gold_messages_are_judged_with_a_soft_checker_and_the_model_usage() -> None:
    prompts: list[str] = []

    def verdict(messages: list[Message], tools: object) -> str:
        prompts.append(messages[-1].content or "")
        return "Same facts. [[match]]"

    task = make_task(cancel("QP3PEI"), ("send_message_to_user",
                                        {"content": "Your trip QP3PEI is cancelled."}),
                     a1={"checkers": {"content": "soft"}, "depends_on": ["a0"]})
    # The greeting counts as a message: one more than the oracle's, within the allowance.
    result = rollout(task, cancel("QP3PEI"), "I've cancelled reservation QP3PEI.")
    model = ScriptedModel.from_items([verdict], on_exhausted="error")
    score = await judge(model).score(task, result)
    assert score.success is True and score.details["messages_judged"] is True
    assert score.details["matching"] == {"a0": 1, "a1": 2}
    assert score.usage.calls == 1 and "Add a bag; cancel my trip." in prompts[0]
    assert "I've cancelled reservation QP3PEI." in prompts[0]
    without = await judge().score(task, result)
    assert without.success is False
    assert without.details["soft_checks"] == "normalised equality only (no judge model)"
    exact_words = rollout(task, cancel("QP3PEI"), "Your trip QP3PEI is cancelled!")
    shortcut = await judge().score(task, exact_words)
    assert shortcut.success is True
    assert shortcut.details["soft_checks"] == "normalised equality only (no judge model)"
    assert "soft_checks" not in (await judge(model).score(task, exact_words)).details
    too_chatty = rollout(task, cancel("QP3PEI"), "Done.", "Bye.")
    chatty = await judge(model).score(task, too_chatty)
    assert chatty.failures[0]["type"] == "count_mismatch"
    assert chatty.failures[0]["tool"] == "send_message_to_user"


def test_agent_events_skip_unanswered_and_unparseable_calls() -> None:
    messages = [
        Message.assistant("hi", tool_calls=[ToolCall(id="a", name="cancel_reservation",
                                                     arguments={"reservation_id": "X"})]),
        Message(role="tool", content='{"ok": 1}', tool_call_id="a", name="cancel_reservation"),
        Message.assistant(tool_calls=[ToolCall(id="b", name="cancel_reservation",
                                               raw_arguments="{bad", parse_error="bad JSON")]),
        Message(role="tool", content="Error", tool_call_id="b", error=True),
        Message.assistant(tool_calls=[ToolCall(id="c", name="cancel_reservation")]),
    ]
    kinds = {"cancel_reservation": toolgym.ToolKind.WRITE}
    events, sources = rollout_agent_events(messages, kinds.get)
    assert [(e.tool, e.result) for e in events] == [("send_message_to_user", None),
                                                     ("cancel_reservation", {"ok": 1})]
    assert [s.message for s in sources] == [0, 0]
    events, _ = rollout_agent_events(messages, kinds.get, include_messages=False)
    assert [e.index for e in events] == [0]
