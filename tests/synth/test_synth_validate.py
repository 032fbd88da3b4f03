"""Every validation rule rejects a task that breaks it, with the right reason."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from synth_helpers import of_type

from toolgym.domains import Domain, ToolKind, tool
from toolgym.domains.airline._tools import AirlineTools
from toolgym.synth import (
    RULE_NAMES,
    TOOLGYM_AIRLINE,
    RetailRules,
    SynthResult,
    check_policy,
    generate_tasks,
    validate_tasks,
)
from toolgym.tasks import Task


def _verdict(domain: Any, tasks: list[Any], rules: Any = TOOLGYM_AIRLINE) -> Any:
    _, report = validate_tasks(domain, tasks, rules)
    return report


def _only_rule(report: Any, rule: str, index: int = -1) -> str:
    verdict = report.verdicts[index]
    assert not verdict.kept
    assert {r.rule for r in verdict.reasons} == {rule}, verdict.reasons
    return " ".join(r.message for r in verdict.reasons)


def _actions(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return raw["evaluation_criteria"]["actions"]  # type: ignore[no-any-return]


def test_generated_tasks_pass_every_rule(airline: Any, airline_set: SynthResult) -> None:
    kept, report = validate_tasks(airline, airline_set.raw, TOOLGYM_AIRLINE)
    assert len(kept) == len(airline_set.raw) and report.by_rule == {}
    assert set(RULE_NAMES) >= {"schema", "replay", "determinism", "no_effect", "duplicate",
                               "facts", "policy"}


@pytest.mark.parametrize("breakage,needle", [
    (lambda t: t.pop("user_scenario"), "user_scenario"),
    (lambda t: _actions(t).append({"name": "fly_to_moon", "arguments": {}}), "unknown tool"),
    (lambda t: t.update(evaluation_criteria=None), "no gold actions"),
    (lambda t: _actions(t)[-1]["arguments"].update(total_baggages="three"), "wrong type"),
])
def test_schema(airline: Any, airline_set: SynthResult, breakage: Any, needle: str) -> None:
    raw = of_type(airline_set, "add_bags")
    breakage(raw)
    assert needle in _only_rule(_verdict(airline, [raw]), "schema")


def test_replay(airline: Any, airline_set: SynthResult) -> None:
    raw = of_type(airline_set, "cancel")
    for a in _actions(raw):
        if "reservation_id" in a["arguments"]:
            a["arguments"]["reservation_id"] = "ZZZZZZ"
    verdict = _verdict(airline, [raw]).verdicts[0]
    # The failing cancel changes nothing, so the task has no effect either.
    assert [r.rule for r in verdict.reasons] == ["replay", "replay", "no_effect"]
    assert "Reservation ZZZZZZ not found" in verdict.reasons[0].message


class _FlakyTools(AirlineTools):
    """send_certificate adds a hidden, growing amount: replays differ."""

    extra = itertools.count(1)

    @tool(ToolKind.WRITE)
    def send_certificate(self, user_id: str, amount: int) -> str:
        """Give a user a travel certificate (its amount drifts).

        Args:
            user_id: The user.
            amount: The value.
        """
        return super().send_certificate(user_id, amount + next(self.extra))


def test_determinism(airline: Any, airline_set: SynthResult) -> None:
    flaky = Domain(name="airline", snapshot=airline.snapshot, toolkit_type=_FlakyTools,
                   policy=airline.policy, tasks=[])
    raw = of_type(airline_set, "compensation")
    assert "twice" in _only_rule(_verdict(flaky, [raw]), "determinism")


def test_no_effect(airline: Any, airline_set: SynthResult) -> None:
    raw = of_type(airline_set, "info")
    raw["evaluation_criteria"]["communicate_info"] = []
    assert "change nothing" in _only_rule(_verdict(airline, [raw]), "no_effect")


def test_declared_refusal_may_have_nothing_to_say(airline: Any, airline_set: SynthResult
                                                   ) -> None:
    raw = of_type(airline_set, "refusal")
    raw["evaluation_criteria"]["communicate_info"] = []
    assert _verdict(airline, [raw]).kept == 1


def test_duplicate(airline: Any, airline_set: SynthResult) -> None:
    raw = of_type(airline_set, "book")
    twin = copy.deepcopy(raw)
    twin["id"] = "twin"
    report = _verdict(airline, [raw, twin])
    assert report.verdicts[0].kept
    assert repr(raw["id"]) in _only_rule(report, "duplicate")


def test_facts(airline: Any, airline_set: SynthResult) -> None:
    raw = of_type(airline_set, "change_cabin")
    instructions = raw["user_scenario"]["instructions"]
    instructions["known_info"] = instructions["known_info"].replace(raw["user_id"], "(secret)")
    assert repr(raw["user_id"]) in _only_rule(_verdict(airline, [raw]), "facts")


def _no_ground_reservation(domain: Any, user_id: str | None = None) -> tuple[str, str]:
    """An active reservation that no cancellation ground allows: (user id, reservation id)."""
    db = domain.snapshot.fork()
    for res in db.reservations.values():
        statuses = {db.flights[s.flight_number].dates[s.date].status for s in res.flights}
        if (res.status is None and res.cabin != "business" and res.insurance == "no"
                and res.created_at < "2024-05-14T15:00:00" and statuses == {"available"}
                and (user_id is None or res.user_id == user_id)):
            return res.user_id, res.reservation_id
    raise AssertionError("no such reservation")  # pragma: no cover


def _cancel_without_ground(airline: Any, airline_set: SynthResult) -> dict[str, Any]:
    raw = of_type(airline_set, "cancel")
    user_id, rid = _no_ground_reservation(airline)
    raw["user_id"] = user_id
    raw["synth"]["facts"] = []
    raw["synth"]["contexts"] = [{"cancel_reason": "plans", "reservation_id": rid}]
    raw["evaluation_criteria"]["actions"] = [
        {"name": "get_user_details", "arguments": {"user_id": user_id}},
        {"name": "get_reservation_details", "arguments": {"reservation_id": rid}},
        {"name": "cancel_reservation", "arguments": {"reservation_id": rid}}]
    raw["user_scenario"]["instructions"]["known_info"] = f"Your user id is {user_id}."
    return raw


def _bump(name: str, key: str, by: int) -> Any:
    def change(raw: dict[str, Any]) -> None:
        for a in _actions(raw):
            if a["name"] == name:
                a["arguments"][key] += by
    return change


@pytest.mark.parametrize("kind,breakage,needle", [
    ("add_bags", _bump("update_reservation_baggages", "nonfree_baggages", 1), "paid bags"),
    ("compensation", _bump("send_certificate", "amount", 50), "certificate of"),
    ("refusal", lambda t: _actions(t).append(
        {"name": "cancel_reservation",
         "arguments": {"reservation_id": t["synth"]["contexts"][0]["refused"]}}),
     "a refusal task, but its gold has 1 write"),
    ("cancel", lambda t: t["evaluation_criteria"].update(
        actions=_actions(t)[1:] + _actions(t)[:1]), "before the user is identified"),
])
def test_policy_airline(airline: Any, airline_set: SynthResult, kind: str, breakage: Any,
                        needle: str) -> None:
    raw = of_type(airline_set, kind)
    breakage(raw)
    assert needle in _only_rule(_verdict(airline, [raw]), "policy")


def test_policy_airline_cancel_without_ground(airline: Any, airline_set: SynthResult) -> None:
    raw = _cancel_without_ground(airline, airline_set)
    assert "without a ground the policy accepts" in _only_rule(_verdict(airline, [raw]),
                                                               "policy")


def test_policy_retail(retail: Any, retail_set: SynthResult) -> None:
    rules = RetailRules()
    db = retail.snapshot.fork()

    def available(item_id: str) -> bool:
        return any(item_id in p.variants and p.variants[item_id].available
                   for p in db.products.values())

    # An exchange "for itself" passes the tool (it allows old == new) when the old
    # items are still on sale; the policy wants other options.
    exchanges = generate_tasks(retail, n=10, seed=11, types=["exchange"]).raw
    exchange = next(t for t in exchanges if all(
        available(i) for a in _actions(t) if a["name"] == "exchange_delivered_order_items"
        for i in a["arguments"]["item_ids"]))
    for a in _actions(exchange):
        if a["name"] == "exchange_delivered_order_items":
            a["arguments"]["new_item_ids"] = list(a["arguments"]["item_ids"])
    exchange["evaluation_criteria"]["communicate_info"] = []
    report = _verdict(retail, [exchange], rules)
    assert "same options" in _only_rule(report, "policy")

    cancel = of_type(retail_set, "cancel")
    other = next(o for o in db.orders.values()
                 if o.status == "pending" and o.user_id != cancel["user_id"])
    for a in _actions(cancel):
        if "order_id" in a["arguments"]:
            a["arguments"]["order_id"] = other.order_id
    cancel["synth"]["facts"] = []
    assert f"of user {other.user_id}" in _only_rule(_verdict(retail, [cancel], rules), "policy")


def test_check_policy_directly(airline: Any, airline_set: SynthResult) -> None:
    good = Task.model_validate(of_type(airline_set, "book"))
    assert check_policy(airline, good, TOOLGYM_AIRLINE) == []
    raw = of_type(airline_set, "book")
    for a in _actions(raw):
        if a["name"] == "book_reservation":
            a["arguments"]["nonfree_baggages"] += 2
    problems = check_policy(airline, Task.model_validate(raw), TOOLGYM_AIRLINE)
    assert len(problems) == 1 and "paid bags" in problems[0]
