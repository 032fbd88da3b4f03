"""The two argument modes agree on every well-formed call.

The tau2 mode differs from the strict one only in what it does with
malformed arguments; on well-formed calls both must give the same output,
the same error flag and the same database. Checked on every gold action of
every task (tau2 data and built-in) and on seeded random well-formed call
sequences.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from toolgym.domains import Domain, load_domain
from toolgym.env import Environment

Call = tuple[str, dict[str, Any]]


def _domains(name: str, data_dir: Path | None) -> tuple[Domain[Any], Domain[Any]]:
    return (load_domain(name, data_dir=data_dir, tool_args="strict"),
            load_domain(name, data_dir=data_dir, tool_args="tau2"))


def _same(name: str, data_dir: Path | None, task: Any, calls: list[Call]) -> None:
    strict, tau2 = _domains(name, data_dir)
    a, b = Environment(strict, task), Environment(tau2, task)
    for i, (tool_name, args) in enumerate(calls):
        ra, rb = a.toolkit.call(tool_name, args), b.toolkit.call(tool_name, args)
        assert (ra.content, ra.error) == (rb.content, rb.error), (i, tool_name, args)
    assert a.db.same_state(b.db) and a.digest() == b.digest()


@pytest.mark.parametrize("name", ["airline", "retail"])
@pytest.mark.parametrize("source", ["tau2", "builtin"])
def test_gold_actions_agree(name: str, source: str, shared_dir: Path) -> None:
    data_dir = shared_dir / "tau2" / name if source == "tau2" else None
    strict, _ = _domains(name, data_dir)
    for task in strict.tasks:
        _same(name, data_dir, task, [(a.name, a.arguments) for a in task.gold_actions])


def _airline_calls(db: Any, rng: random.Random, n: int) -> list[Call]:
    users, reservations = list(db.users), list(db.reservations)
    flights = list(db.flights.values())
    airports = sorted({f.origin for f in flights})
    dates = [f"2024-05-{d:02d}" for d in range(10, 31)]
    cabins = ["business", "economy", "basic_economy"]
    calls: list[Call] = []
    for _ in range(n):
        res = rng.choice([*reservations, "ZZZZZZ"])
        # Mostly the reservation's own user, whose payment methods an update takes.
        user = (db.reservations[res].user_id if res in db.reservations and rng.random() < 0.8
                else rng.choice([*users, "nobody_1"]))
        methods = list(db.users[user].payment_methods) if user in db.users else ["gift_card_0"]
        pay = rng.choice(methods)
        flight = rng.choice(flights)
        date = rng.choice(dates)
        people = [{"first_name": "Ann", "last_name": "Lee", "dob": "1990-01-01"}] * rng.randint(
            1, 3)
        kind = rng.randrange(12)
        if kind == 0:
            calls.append(("get_user_details", {"user_id": user}))
        elif kind == 1:
            calls.append(("get_reservation_details", {"reservation_id": res}))
        elif kind == 2:
            calls.append(("get_flight_status", {"flight_number": flight.flight_number,
                                                "date": date}))
        elif kind == 3:
            tool = rng.choice(["search_direct_flight", "search_onestop_flight"])
            calls.append((tool, {"origin": rng.choice(airports),
                                 "destination": rng.choice(airports), "date": date}))
        elif kind == 4:
            calls.append(("cancel_reservation", {"reservation_id": res}))
        elif kind == 5:
            calls.append(("update_reservation_baggages", {
                "reservation_id": res, "total_baggages": rng.randint(0, 5),
                "nonfree_baggages": rng.randint(0, 5), "payment_id": pay}))
        elif kind == 6:
            legs = [{"flight_number": f.flight_number, "date": f.date}
                    for f in db.reservations[res].flights] if res in db.reservations else []
            if rng.random() < 0.5 or not legs:
                legs.append({"flight_number": flight.flight_number, "date": date})
            calls.append(("update_reservation_flights", {
                "reservation_id": res, "cabin": rng.choice(cabins), "flights": legs,
                "payment_id": pay}))
        elif kind == 7:
            calls.append(("update_reservation_passengers", {"reservation_id": res,
                                                            "passengers": people}))
        elif kind == 8:
            calls.append(("send_certificate", {"user_id": user, "amount": rng.randint(1, 500)}))
        elif kind == 9:
            legs = [{"flight_number": flight.flight_number, "date": date}]
            cabin = rng.choice(cabins)
            inst = flight.dates.get(date)
            price = getattr(inst, "prices", {}).get(cabin, 100) * len(people)
            calls.append(("book_reservation", {
                "user_id": user, "origin": flight.origin, "destination": flight.destination,
                "flight_type": "one_way", "cabin": cabin, "flights": legs,
                "passengers": people, "payment_methods": [{"payment_id": pay,
                                                           "amount": price}],
                "total_baggages": 1, "nonfree_baggages": 0,
                "insurance": rng.choice(["yes", "no"])}))
        elif kind == 10:
            calls.append(("calculate", {"expression": rng.choice(
                ["1 + 2", "(3 - 1) * 2.5", "10 / 4", "7 // 2", "2 ** 3"])}))
        else:
            calls.append(("list_all_airports", {}))
    return calls


def _retail_calls(db: Any, rng: random.Random, n: int) -> list[Call]:
    users, orders, products = list(db.users), list(db.orders), list(db.products.values())
    reasons = ["no longer needed", "ordered by mistake", "changed my mind"]
    address = {"address1": "1 Main St", "address2": "", "city": "Austin", "state": "TX",
               "country": "USA", "zip": "78701"}
    calls: list[Call] = []
    for _ in range(n):
        order_id = rng.choice([*orders, "#W0000000"])
        order = db.orders.get(order_id)
        user_id = order.user_id if order is not None else rng.choice(users)
        user = db.users[user_id]
        pay = rng.choice(list(user.payment_methods))
        items = [i.item_id for i in order.items] if order is not None else ["1234567890"]
        old = rng.sample(items, k=rng.randint(1, len(items)))
        new = []
        for item_id in old:
            product = next((p for p in products if item_id in p.variants), products[0])
            new.append(rng.choice(list(product.variants)))
        kind = rng.randrange(12)
        if kind == 0:
            calls.append(("find_user_id_by_email", {"email": rng.choice(
                [user.email, user.email.upper(), "nobody@example.com"])}))
        elif kind == 1:
            calls.append(("find_user_id_by_name_zip", {
                "first_name": user.name.first_name, "last_name": user.name.last_name,
                "zip": rng.choice([user.address.zip, "00000"])}))
        elif kind == 2:
            calls.append(("get_order_details", {"order_id": order_id}))
        elif kind == 3:
            product = rng.choice(products)
            calls.append(rng.choice([("get_product_details", {"product_id": product.product_id}),
                                     ("get_item_details",
                                      {"item_id": rng.choice(list(product.variants))})]))
        elif kind == 4:
            calls.append(("cancel_pending_order", {"order_id": order_id,
                                                   "reason": rng.choice(reasons)}))
        elif kind == 5:
            calls.append(("modify_pending_order_address", {"order_id": order_id, **address}))
        elif kind == 6:
            calls.append(("modify_user_address", {"user_id": user_id, **address}))
        elif kind == 7:
            calls.append(("modify_pending_order_items", {
                "order_id": order_id, "item_ids": old, "new_item_ids": new,
                "payment_method_id": pay}))
        elif kind == 8:
            calls.append(("modify_pending_order_payment", {"order_id": order_id,
                                                           "payment_method_id": pay}))
        elif kind == 9:
            calls.append(("exchange_delivered_order_items", {
                "order_id": order_id, "item_ids": old, "new_item_ids": new,
                "payment_method_id": pay}))
        elif kind == 10:
            calls.append(("return_delivered_order_items", {
                "order_id": order_id, "item_ids": old, "payment_method_id": pay}))
        else:
            calls.append(("list_all_product_types", {}))
    return calls


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_random_well_formed_calls_agree(name: str, shared_dir: Path) -> None:
    data_dir = shared_dir / "tau2" / name
    strict, _ = _domains(name, data_dir)
    db = strict.snapshot.fork()
    make = _airline_calls if name == "airline" else _retail_calls
    for seed in range(120):
        _same(name, data_dir, None, make(db, random.Random(seed), 8))
