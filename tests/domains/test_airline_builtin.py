"""toolgym's own airline data: the seeded DB generator, the policy and the tasks."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from importlib import resources
from itertools import pairwise
from typing import Any

import pytest

from toolgym.domains import ToolKind, canonical_digest, load_domain
from toolgym.domains._domain import Domain
from toolgym.domains.airline import AirlineDB
from toolgym.domains.airline._builtin import load_builtin
from toolgym.domains.airline._generate import AIRPORTS, FREE_BAGS, generate_airline_db
from toolgym.tasks import Task, parse_tasks

#: Canonical digest of ``generate_airline_db(0)``. The built-in tasks name ids
#: from that database, so a change here means the tasks must be rebuilt.
SEED0_DIGEST = "ca8e95b0c12c2c3e0ab9108fd26367fd6769ac16dc49824977c7df1709984111"

CABINS = ["basic_economy", "economy", "business"]
AIRPORT_CODES = [a[0] for a in AIRPORTS]
PRIMARY_TAGS = {"write", "read-only", "refusal"}


def _builtin_tasks() -> list[Task]:
    text = (resources.files("toolgym.domains.airline") / "data" / "tasks.json").read_text()
    return parse_tasks(json.loads(text))


TASKS = _builtin_tasks()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return generate_airline_db(0)


@pytest.fixture(scope="module")
def domain() -> Domain[Any]:
    return load_domain("airline")


def _drop_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_nulls(v) for v in x]
    return x


# -- generator -------------------------------------------------------------------------
def test_generated_db_validates_and_round_trips_in_tau2_field_order(raw: dict[str, Any]) -> None:
    db = AirlineDB.from_dict(raw)
    # Same content *and* the same key order as the model's (tau2's) saved layout.
    assert json.dumps(_drop_nulls(db.to_dict())) == json.dumps(_drop_nulls(raw))
    assert list(raw) == ["flights", "users", "reservations"]


def test_same_seed_same_db_and_seed0_is_pinned(raw: dict[str, Any]) -> None:
    assert generate_airline_db(0) == raw
    assert canonical_digest(raw) == SEED0_DIGEST


def test_different_seed_gives_a_different_db(raw: dict[str, Any]) -> None:
    other = generate_airline_db(1)
    assert other != raw
    assert set(other["reservations"]) != set(raw["reservations"])
    assert len(other["reservations"]) == len(raw["reservations"])


def test_sizes_are_like_tau2(raw: dict[str, Any]) -> None:
    assert list(raw["flights"]) == [f"HAT{i:03d}" for i in range(1, 301)]
    assert 400 <= len(raw["users"]) <= 600
    assert 1500 <= len(raw["reservations"]) <= 2500
    per_user = Counter(len(u["reservations"]) for u in raw["users"].values())
    assert max(per_user) >= 6 and per_user[0] < 50


def test_flight_dates_follow_the_clock(raw: dict[str, Any]) -> None:
    seen_today: Counter[str] = Counter()
    dates = [f"2024-05-{d:02d}" for d in range(1, 31)]
    for flight in raw["flights"].values():
        assert flight["origin"] in AIRPORT_CODES and flight["destination"] in AIRPORT_CODES
        assert flight["origin"] != flight["destination"]
        assert re.fullmatch(r"\d\d:\d\d:00", flight["scheduled_departure_time_est"])
        assert re.fullmatch(r"\d\d:\d\d:00(\+1)?", flight["scheduled_arrival_time_est"])
        assert list(flight["dates"]) == dates
        for date, inst in flight["dates"].items():
            status = inst["status"]
            if date < "2024-05-15":
                assert status in ("landed", "cancelled")
            elif date == "2024-05-15":
                assert status in ("landed", "flying", "delayed", "on time")
                seen_today[status] += 1
            else:
                assert status == "available"
                assert list(inst["available_seats"]) == CABINS == list(inst["prices"])
                prices = inst["prices"]
                assert 0 < prices["basic_economy"] < prices["economy"] < prices["business"]
            if status == "landed":
                dep = datetime.fromisoformat(inst["actual_departure_time_est"])
                arr = datetime.fromisoformat(inst["actual_arrival_time_est"])
                assert dep < arr <= datetime(2024, 5, 15, 15)
    assert set(seen_today) == {"landed", "flying", "delayed", "on time"}


def test_every_route_is_flown_both_ways(raw: dict[str, Any]) -> None:
    routes = {(f["origin"], f["destination"]) for f in raw["flights"].values()}
    assert all((d, o) in routes for o, d in routes)


def test_users_and_payment_methods(raw: dict[str, Any]) -> None:
    emails = [u["email"] for u in raw["users"].values()]
    assert len(set(emails)) == len(emails)
    pattern = re.compile(r"(credit_card|gift_card|certificate)_\d{7}")
    all_ids: list[str] = []
    for user_id, user in raw["users"].items():
        assert user["user_id"] == user_id
        assert user["membership"] in FREE_BAGS
        sources = [pm["source"] for pm in user["payment_methods"].values()]
        assert sources[0] in ("credit_card", "gift_card")
        for pid, pm in user["payment_methods"].items():
            assert pid == pm["id"] and pattern.fullmatch(pid) and pid.startswith(pm["source"])
            all_ids.append(pid)
    assert len(set(all_ids)) == len(all_ids)
    # send_certificate hands out these ids; the data must leave them free.
    assert not {"certificate_3221322", "certificate_3221323", "certificate_3221324"} & set(all_ids)


def test_reservations_are_consistent_with_users_and_flights(raw: dict[str, Any]) -> None:
    users, flights = raw["users"], raw["flights"]
    owners = {rid: uid for uid, u in users.items() for rid in u["reservations"]}
    assert owners.keys() == raw["reservations"].keys()
    for rid, res in raw["reservations"].items():
        assert re.fullmatch(r"[A-Z0-9]{6}", rid) and rid == res["reservation_id"]
        assert rid not in ("HATHAT", "HATHAU", "HATHAV")
        assert owners[rid] == res["user_id"]
        assert 1 <= len(res["passengers"]) <= 5
        assert res["created_at"] < "2024-05-15T15:00:00"
        n = len(res["passengers"])
        for seg in res["flights"]:
            flight = flights[seg["flight_number"]]
            assert (seg["origin"], seg["destination"]) == (flight["origin"], flight["destination"])
            assert seg["date"] in flight["dates"]
            assert res["created_at"] < seg["date"]
        legs = res["flights"]
        assert legs[0]["origin"] == res["origin"]
        if res["flight_type"] == "one_way":
            assert legs[-1]["destination"] == res["destination"]
        else:
            assert legs[-1]["destination"] == res["origin"]
        assert all(a["destination"] == b["origin"] for a, b in pairwise(legs))
        first = res["payment_history"][0]
        assert first["payment_id"] in users[res["user_id"]]["payment_methods"]
        total = sum(s["price"] for s in legs) * n + 50 * res["nonfree_baggages"]
        total += 30 * n if res["insurance"] == "yes" else 0
        assert first["amount"] == total
        allowance = FREE_BAGS[users[res["user_id"]]["membership"]][res["cabin"]] * n
        assert res["nonfree_baggages"] == max(0, res["total_baggages"] - allowance)
        if res.get("status") == "cancelled":
            assert [p["amount"] for p in res["payment_history"]] == [total, -total]


def test_segment_prices_of_bookable_dates_are_todays_prices(raw: dict[str, Any]) -> None:
    for res in raw["reservations"].values():
        for seg in res["flights"]:
            inst = raw["flights"][seg["flight_number"]]["dates"][seg["date"]]
            if inst["status"] == "available":
                assert seg["price"] == inst["prices"][res["cabin"]]


def test_airports_match_the_toolkit(domain: Domain[Any]) -> None:
    result = domain.toolkit().call("list_all_airports", {})
    assert [a["iata"] for a in json.loads(result.content)] == AIRPORT_CODES


# -- policy ----------------------------------------------------------------------------
def test_policy_states_the_clock_and_the_fees(domain: Domain[Any]) -> None:
    policy = domain.policy
    assert "2024-05-15 15:00:00 EST" in policy
    assert "$30 per passenger" in policy and "$50" in policy
    assert "at most **five**" in policy
    for tool_name in ("get_user_details", "transfer_to_human_agents", "search_onestop_flight"):
        assert tool_name in policy


def test_policy_bag_table_matches_the_generator(domain: Domain[Any]) -> None:
    rows = re.findall(
        r"^\s*\| (regular|silver|gold) \| (\d) \| (\d) \| (\d) \|$", domain.policy, re.M
    )
    table = {m: dict(zip(CABINS, map(int, counts), strict=True)) for m, *counts in rows}
    assert table == FREE_BAGS


# -- tasks -----------------------------------------------------------------------------
def test_builtin_loader_returns_db_policy_tasks_and_splits(raw: dict[str, Any]) -> None:
    db, policy, tasks, splits = load_builtin()
    assert db == raw
    assert policy.startswith("# ")
    assert [t.id for t in tasks] == [t.id for t in TASKS]
    assert set(splits) == {"train", "test", "base"}


def test_task_set_size_mix_and_metadata() -> None:
    assert len(TASKS) >= 32
    ids = [t.id for t in TASKS]
    assert len(set(ids)) == len(ids)
    tags = Counter(tag for t in TASKS for tag in t.tags)
    assert tags["write"] >= 12 and tags["read-only"] >= 6 and tags["refusal"] >= 8
    assert tags["multi-intent"] >= 6
    for t in TASKS:
        assert t.provenance == "toolgym-builtin-v1"
        assert t.difficulty in ("easy", "medium", "hard")
        assert PRIMARY_TAGS & set(t.tags), t.id
        assert not {"write", "read-only"} <= set(t.tags), t.id
        assert t.initial_state is None
        assert t.reward_basis == ["DB", "COMMUNICATE"]
        assert t.user_scenario.instructions_text()
    assert Counter(t.difficulty for t in TASKS).keys() == {"easy", "medium", "hard"}


def test_splits_partition_the_tasks(domain: Domain[Any]) -> None:
    ids = [t.id for t in TASKS]
    train, test = domain.splits["train"], domain.splits["test"]
    assert domain.splits["base"] == ids
    assert not set(train) & set(test)
    assert sorted(train + test, key=int) == sorted(ids, key=int)
    assert len(test) >= len(ids) // 4


@pytest.mark.parametrize("task", TASKS, ids=lambda t: f"task{t.id}")
def test_gold_actions_replay_without_error(domain: Domain[Any], task: Task) -> None:
    pristine = domain.snapshot.digest()
    db = domain.snapshot.fork()
    kit = domain.toolkit(db)
    kinds = set()
    for action in task.gold_actions:
        assert action.requestor == "assistant"
        result = kit.call(action.name, action.arguments)
        assert not result.error, (action.action_id, result.content)
        kinds.add(kit.kind(action.name))
    if "write" in task.tags:
        assert ToolKind.WRITE in kinds
        assert db.digest() != pristine
    else:
        # Read-only tasks and refusals: the right behaviour leaves the DB untouched.
        assert ToolKind.WRITE not in kinds
        assert db.digest() == pristine
    # Copy-on-write: replaying never moves the shared snapshot.
    assert domain.snapshot.digest() == pristine


def test_action_ids_are_unique_and_prefixed_by_the_task_id() -> None:
    for t in TASKS:
        action_ids = [a.action_id for a in t.gold_actions]
        assert len(set(action_ids)) == len(action_ids)
        assert all(aid and aid.startswith(f"{t.id}_") for aid in action_ids)


def test_read_only_tasks_ask_the_agent_to_say_something() -> None:
    for t in TASKS:
        if "read-only" in t.tags:
            assert t.evaluation_criteria and t.evaluation_criteria.communicate_info, t.id


def test_new_reservations_are_stamped_with_the_policy_clock(domain: Domain[Any]) -> None:
    # The policy's 24-hour rule is stated against the clock the tools use.
    booking = next(t for t in TASKS if any(a.name == "book_reservation" for a in t.gold_actions))
    db = domain.snapshot.fork()
    kit = domain.toolkit(db)
    for action in booking.gold_actions:
        kit.call(action.name, action.arguments)
    assert db.reservations["HATHAT"].created_at == "2024-05-15T15:00:00"
    assert "on or after 2024-05-14 15:00:00" in domain.policy
