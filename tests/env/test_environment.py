"""The environment: fresh state per reset, in-order tool calls, initial state, replay."""

from __future__ import annotations

from typing import Any

import pytest

import toolgym
from toolgym.env import Environment, replay_calls
from toolgym.errors import DataError
from toolgym.messages import ToolCall
from toolgym.tasks import parse_tasks


def _user_and_reservation(domain: Any) -> tuple[str, str]:
    db = domain.snapshot.fork()
    rid = next(r for r, v in db.reservations.items() if v.status is None)
    return db.reservations[rid].user_id, rid


def test_reset_gives_a_fresh_database_and_calls_run_in_order() -> None:
    domain = toolgym.load_domain("airline")
    _, rid = _user_and_reservation(domain)
    env = Environment(domain)
    cancel = ToolCall(id="1", name="cancel_reservation", arguments={"reservation_id": rid})
    show = ToolCall(id="2", name="get_reservation_details", arguments={"reservation_id": rid})
    first, second = env.execute_all([cancel, show])
    assert not first.result.error and '"status": "cancelled"' in second.result.content
    env.reset()
    again = env.execute(show)
    assert '"status": null' in again.result.content
    assert env.digest() == domain.snapshot.digest()


def test_bad_calls_are_error_results() -> None:
    env = Environment(toolgym.load_domain("airline", tool_args="strict"))
    unknown = env.execute(ToolCall(id="1", name="fly", arguments={}))
    assert unknown.result.error and unknown.result.content == "Error: Tool 'fly' not found."
    extra = env.execute(ToolCall(id="2", name="get_user_details",
                                 arguments={"user_id": "a", "x": 1}))
    assert extra.result.error and "unexpected keyword argument 'x'" in extra.result.content
    missing = env.execute(ToolCall(id="4", name="get_user_details", arguments={}))
    assert missing.result.error and "missing a required argument" in missing.result.content
    broken = env.execute(ToolCall(id="3", name="get_user_details", raw_arguments="{oops",
                                  parse_error="Expecting property name"))
    assert broken.result.error and "could not parse the arguments" in broken.result.content


def test_initial_state_is_applied_on_reset() -> None:
    domain = toolgym.load_domain("airline")
    uid, rid = _user_and_reservation(domain)
    before = domain.snapshot.fork().users[uid].membership
    target = "regular" if before == "gold" else "gold"
    (task,) = parse_tasks([{
        "id": "init",
        "user_scenario": {"instructions": "x"},
        "initial_state": {
            "initialization_data": {"agent_data": {"users": {uid: {"membership": target}}}},
            "initialization_actions": [
                {"env_type": "assistant", "func_name": "send_certificate",
                 "arguments": {"user_id": uid, "amount": 50}}],
            "message_history": [{"role": "assistant", "tool_calls": [{
                "id": "h1", "type": "function", "function": {
                    "name": "cancel_reservation",
                    "arguments": f'{{"reservation_id": "{rid}"}}'}}]}],
        },
        "evaluation_criteria": {"actions": [], "reward_basis": ["DB"]},
    }])
    env = Environment(domain, task)
    assert env.db.users[uid].membership == target
    assert "certificate_3221322" in env.db.users[uid].payment_methods
    assert env.db.reservations[rid].status == "cancelled"
    # The shared snapshot is untouched, and a task without initial state sees it as is.
    assert domain.snapshot.fork().users[uid].membership == before
    assert domain.snapshot.verify()
    # With no agent action the task's target is the initial state itself: DB reward 1.
    b = toolgym.Evaluator(domain).evaluate(task, [])
    assert b.reward == 1.0


def test_replay_rebuilds_the_final_state_from_write_calls() -> None:
    domain = toolgym.load_domain("airline")
    _, rid = _user_and_reservation(domain)
    env = Environment(domain)
    env.execute(ToolCall(id="1", name="cancel_reservation", arguments={"reservation_id": rid}))
    db, results = replay_calls(domain, None, [
        ("get_reservation_details", {"reservation_id": rid}),  # read: skipped
        ("no_such_tool", {}),  # unknown: skipped
        ("cancel_reservation", {"reservation_id": rid}),
    ])
    assert [name for name, _ in results] == ["cancel_reservation"]
    assert db.same_state(env.db) and db.digest() == env.digest()


def _with_state(state: dict[str, Any]) -> Any:
    (task,) = parse_tasks([{"id": "s", "user_scenario": {"instructions": "x"},
                            "initial_state": state}])
    return task


@pytest.mark.parametrize(("state", "message"), [
    ({"initialization_actions": [{"func_name": "send_certificate",
                                  "arguments": {"user_id": "x", "amt": 5}}]},
     "task 's': initialization action 'send_certificate': missing a required argument"),
    ({"initialization_actions": [{"func_name": "send_certificate",
                                  "arguments": {"user_id": "nobody", "amount": 5}}]},
     "task 's': initialization action 'send_certificate' failed: User nobody not found"),
    ({"initialization_actions": [{"func_name": "__init__", "arguments": {}}]},
     "is not a toolkit function"),
    ({"message_history": [{"role": "assistant", "tool_calls": [
        {"function": {"name": "cancel_reservation", "arguments": "{oops"}}]}]},
     "task 's': message_history[0].tool_calls[0]: arguments are not valid JSON"),
    ({"message_history": [{"role": "assistant", "tool_calls": ["cancel_reservation"]}]},
     "task 's': message_history[0].tool_calls[0]: a tool call must be an object"),
    ({"message_history": [{"role": "assistant", "tool_calls": [
        {"name": "cancel_reservation", "arguments": [1]}]}]},
     "arguments must be an object"),
])
def test_a_broken_initial_state_is_a_data_error(state: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError) as exc:
        Environment(toolgym.load_domain("airline"), _with_state(state))
    assert message in str(exc.value)
