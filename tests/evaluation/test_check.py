"""check_tasks: malformed tasks versus tasks whose gold actions fail by the domain's rules."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest

from toolgym.domains import load_domain
from toolgym.errors import DataError
from toolgym.evaluation import TaskCheck, check_tasks, evaluate
from toolgym.messages import Message, ToolCall
from toolgym.models._oracle import communicate_text
from toolgym.tasks import Task, parse_tasks

USER = "xena_quintero_2311"


@pytest.fixture(scope="module")
def airline() -> Any:
    return load_domain("airline")


@pytest.fixture(scope="module")
def good(airline: Any) -> dict[str, Any]:
    """Built-in airline task 0 as raw JSON (gold: a lookup, a search, a booking)."""
    return airline.task("0").model_dump(mode="json", exclude_none=True)


def _variant(good: dict[str, Any], tid: str, edit: Any) -> Task:
    raw = copy.deepcopy(good)
    raw["id"] = tid
    edit(raw)
    (task,) = parse_tasks([raw])
    return task


def _actions(raw: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = raw["evaluation_criteria"]["actions"]
    return actions


def _booking(raw: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = _actions(raw)[2]["arguments"]
    return args


def _state(raw: dict[str, Any], **fields: Any) -> None:
    raw["initial_state"] = fields


def _env_assertion(raw: dict[str, Any], func: str, **arguments: Any) -> None:
    raw["evaluation_criteria"]["env_assertions"] = [
        {"func_name": func, "arguments": arguments, "assert_value": True}]


MALFORMED: list[tuple[str, Any, str]] = [
    ("unknown tool", lambda r: _actions(r).append({"name": "fly_to_moon", "arguments": {}}),
     "unknown tool 'fly_to_moon'"),
    ("nested wrong type", lambda r: _booking(r)["flights"][0].update(date=20240521),
     "argument 'flights' has the wrong type ([0].date: expected string, got integer 20240521)"),
    ("missing nested key", lambda r: _booking(r)["passengers"][0].pop("dob"),
     "argument 'passengers' has the wrong type ([0]: missing 'dob')"),
    ("enum", lambda r: _booking(r).update(cabin="first"),
     "argument 'cabin' has the wrong type (expected one of"),
    ("integer as text", lambda r: _booking(r).update(total_baggages="0"),
     "argument 'total_baggages' has the wrong type (expected integer, got string '0')"),
    ("unknown argument", lambda r: _booking(r).update(seat="12A"), "unknown argument 'seat'"),
    ("missing argument", lambda r: _booking(r).pop("insurance"), "missing argument 'insurance'"),
    ("unknown env assertion", lambda r: _env_assertion(r, "reservation_is_paid"),
     "env assertion 0 (reservation_is_paid): unknown toolkit function 'reservation_is_paid'"),
    ("private env assertion", lambda r: _env_assertion(r, "__init__"),
     "unknown toolkit function '__init__'"),
    ("env assertion arguments", lambda r: _env_assertion(r, "get_user_details", uid=USER),
     "env assertion 0 (get_user_details): unknown argument 'uid'"),
    ("history role", lambda r: _state(r, message_history=[{"role": "robot", "content": "hi"}]),
     "message_history[0]: role must be one of system, user, assistant, tool, got 'robot'"),
    ("history content", lambda r: _state(r, message_history=[{"role": "user", "content": 5}]),
     "message_history[0]: content must be text or null"),
    ("history unknown tool", lambda r: _state(r, message_history=[{
        "role": "assistant", "tool_calls": [{"id": "c", "name": "teleport", "arguments": {}}]}]),
     "message_history[0].tool_calls[0] (teleport): unknown tool 'teleport'"),
    ("history bad JSON arguments", lambda r: _state(r, message_history=[{
        "role": "assistant", "tool_calls": [{"type": "function", "function": {
            "name": "get_user_details", "arguments": "{user_id: x"}}]}]),
     "message_history[0].tool_calls[0]: arguments are not valid JSON"),
    ("history arguments of the wrong type", lambda r: _state(r, message_history=[{
        "role": "assistant", "tool_calls": [{"name": "get_user_details",
                                             "arguments": {"user_id": 7}}]}]),
     "argument 'user_id' has the wrong type (expected string, got integer 7)"),
    ("history tool_calls not a list", lambda r: _state(r, message_history=[{
        "role": "assistant", "tool_calls": {"name": "get_user_details"}}]),
     "message_history[0]: tool_calls must be a list"),
    ("tool message with calls", lambda r: _state(r, message_history=[{
        "role": "tool", "content": "x", "tool_calls": []}]),
     "message_history[0]: a tool message cannot make tool calls"),
    ("unknown initialization function", lambda r: _state(r, initialization_actions=[{
        "func_name": "set_weather", "arguments": {}}]),
     "initialization action 0 (set_weather): unknown toolkit function 'set_weather'"),
    ("initialization data breaking the database", lambda r: _state(r, initialization_data={
        "agent_data": {"users": {USER: {"name": 3}}}}),
     "initial_state: field users.xena_quintero_2311.name: "),
]


@pytest.mark.parametrize("edit,needle", [(e, n) for _, e, n in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_tasks_are_refused_with_a_reason(airline: Any, good: dict[str, Any],
                                                   edit: Any, needle: str) -> None:
    ok = _variant(good, "ok", lambda r: None)
    bad = _variant(good, "bad", edit)
    check = check_tasks(airline, [ok, bad])
    assert check.checked == 2 and not check.ok
    assert [i.task_id for i in check.malformed] == ["bad"]
    assert check.rule_failures == []
    assert needle in check.malformed[0].reason, check.malformed[0].reason
    assert [t.id for t in check.runnable([ok, bad])] == ["ok"]
    (line,) = check.malformed_lines()
    assert line.startswith("task 'bad' is malformed: ") and "\n" not in line
    with pytest.raises(DataError, match=r"^tasks\.json: 1 malformed task\(s\) of 2: task 'bad'"):
        check.raise_if_malformed("tasks.json")


def test_rule_failures_stay_runnable_with_one_warning_each(airline: Any,
                                                           good: dict[str, Any]) -> None:
    lookup = _variant(good, "lookup", lambda r: _actions(r)[0]["arguments"].update(
        user_id="nobody_1"))
    # Two flights on a one-way trip: well formed, refused by the booking rules.
    twice = _variant(good, "twice", lambda r: _booking(r)["flights"].append(
        {"flight_number": "HAT259", "date": "2024-05-22"}))
    check = check_tasks(airline, [lookup, twice])
    assert check.ok and check.malformed == []
    assert [i.task_id for i in check.rule_failures] == ["lookup", "twice"]
    assert "action 0_0 (get_user_details) failed: User nobody_1 not found" in \
        check.rule_failures[0].reason
    lines = check.warning_lines()
    assert len(lines) == 2 and all("\n" not in x for x in lines)
    assert lines[0].startswith("task 'lookup': gold actions fail by the domain's rules")
    assert check.runnable([lookup, twice]) == [lookup, twice]
    check.raise_if_malformed("x")  # nothing to refuse


def test_a_reason_line_counts_what_it_does_not_show() -> None:
    from toolgym.evaluation import TaskIssue

    issue = TaskIssue("t", ("a", "b", "c", "d"))
    assert issue.reason == "a; b (and 2 more)"


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_builtin_tasks_are_all_clean(name: str) -> None:
    check = check_tasks(load_domain(name))
    assert check.checked == len(load_domain(name).tasks) > 0
    assert check.malformed == [] and check.rule_failures == []


def test_tau2_retail_has_15_rule_failures_and_no_malformed_task(tau2_retail_dir: Path) -> None:
    domain = load_domain("retail", data_dir=tau2_retail_dir)
    start = time.perf_counter()
    check = check_tasks(domain)
    elapsed = time.perf_counter() - start
    assert check.checked == 114 and check.malformed == []
    ids = [i.task_id for i in check.rule_failures]
    assert ids == ["2", "3", "4", "35", "37", "38", "39", "46", "47", "54", "55", "64", "67",
                   "68", "105"]
    by_id = {i.task_id: i.reason for i in check.rule_failures}
    assert by_id["64"] == ("action 64_6 (exchange_delivered_order_items) failed: "
                           "Non-delivered order cannot be exchanged")
    # It runs before every run: it must stay well under the time to load the data.
    assert elapsed < 3.0, elapsed


def test_tau2_airline_tasks_are_all_clean(tau2_airline_dir: Path) -> None:
    check = check_tasks(load_domain("airline", data_dir=tau2_airline_dir))
    assert isinstance(check, TaskCheck)
    assert check.checked == 50 and check.malformed == [] and check.rule_failures == []


def test_a_malformed_task_that_grades_1_is_caught(airline: Any, good: dict[str, Any]) -> None:
    # A gold call to a tool that does not exist is skipped when the gold database is
    # built, so an agent whose same call fails still matches it: reward 1.0, no warning.
    raw = copy.deepcopy(good)
    raw["id"] = "ghost"
    raw["evaluation_criteria"]["actions"].append(
        {"action_id": "0_3", "name": "refund_everything", "arguments": {}})
    (task,) = parse_tasks([raw])
    calls = [ToolCall(id=f"c{i}", name=a.name, arguments=a.arguments)
             for i, a in enumerate(task.gold_actions)]
    messages = [Message(role="assistant", tool_calls=calls),
                Message(role="assistant", content=communicate_text(task))]
    assert evaluate(airline, task, messages).reward == 1.0
    check = check_tasks(airline, [task])
    assert check.malformed_ids == {"ghost"}
    assert "unknown tool 'refund_everything'" in check.malformed[0].reason
