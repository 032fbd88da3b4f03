"""Tests for the airline database and tools (SEMANTICS §1, §2, §5).

Two kinds of data: a tiny hand-made database (always available) that pins
down each check, error text and quirk, and the shipped tau2 ``db.json`` and
``tasks.json`` under ``../shared`` for losslessness and the gold replay.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from toolgym.domains._db import Snapshot, canonical_digest, canonical_json
from toolgym.domains._toolkit import ToolKind
from toolgym.domains.airline._db import AirlineDB, Certificate, FlightAvailable, GiftCard
from toolgym.domains.airline._tools import AirlineTools
from toolgym.errors import DataError


# -- a tiny database --------------------------------------------------------------
def _available(seats: int = 5, economy: int = 100, economy_seats: int | None = None) -> dict:
    return {
        "status": "available",
        "available_seats": {
            "basic_economy": seats,
            "economy": seats if economy_seats is None else economy_seats,
            "business": seats,
        },
        "prices": {"basic_economy": 50, "economy": economy, "business": 200},
    }


def _flight(number: str, origin: str, dest: str, dep: str, arr: str, dates: dict) -> dict:
    return {
        "flight_number": number,
        "origin": origin,
        "destination": dest,
        "scheduled_departure_time_est": dep,
        "scheduled_arrival_time_est": arr,
        "dates": dates,
    }


TINY: dict[str, Any] = {
    "flights": {
        "TST001": _flight(
            "TST001", "AAA", "BBB", "22:00:00", "01:30:00+1",
            {"2024-05-06": _available(), "2024-05-16": _available(economy=130)},
        ),
        # "2024-05-7" is the key tau2's unpadded next-day date looks up.
        "TST002": _flight(
            "TST002", "BBB", "CCC", "02:00:00", "04:00:00",
            {"2024-05-7": _available(), "2024-05-07": _available()},
        ),
        "TST003": _flight(
            "TST003", "BBB", "CCC", "00:30:00", "02:00:00", {"2024-05-7": _available()}
        ),
        "TST004": _flight(
            "TST004", "AAA", "BBB", "08:00:00", "10:00:00",
            {
                "2024-05-05": {
                    "status": "landed",
                    "actual_departure_time_est": "2024-05-05T08:01:00",
                    "actual_arrival_time_est": "2024-05-05T09:58:00",
                },
                "2024-05-06": _available(),
                "2024-05-07": {"status": "cancelled"},
                "2024-05-08": _available(economy_seats=0),
            },
        ),
        "TST005": _flight(
            "TST005", "BBB", "CCC", "09:00:00", "11:00:00", {"2024-05-06": _available()}
        ),
        "TST006": _flight(
            "TST006", "BBB", "CCC", "10:00:00", "12:00:00",
            {
                "2024-05-06": _available(),
                "2024-05-08": {
                    "status": "flying",
                    "actual_departure_time_est": "2024-05-08T10:05:00",
                    "estimated_arrival_time_est": "2024-05-08T12:10:00",
                },
            },
        ),
    },
    "users": {
        "u1": {
            "user_id": "u1",
            "name": {"first_name": "Ada", "last_name": "Lane"},
            "address": {
                "address1": "1 Main St",
                "address2": None,
                "city": "Town",
                "country": "USA",
                "state": "NY",
                "zip": "10001",
            },
            "email": "ada@example.com",
            "dob": "1980-01-01",
            "payment_methods": {
                "credit_card_1": {
                    "source": "credit_card", "brand": "visa", "last_four": "1111",
                    "id": "credit_card_1",
                },
                "gift_card_1": {"source": "gift_card", "amount": 100.0, "id": "gift_card_1"},
                "gift_card_2": {"source": "gift_card", "amount": 1.1, "id": "gift_card_2"},
                "certificate_1": {"source": "certificate", "amount": 50.0, "id": "certificate_1"},
            },
            "saved_passengers": [],
            "membership": "gold",
            "reservations": ["R1"],
        }
    },
    "reservations": {
        "R1": {
            "reservation_id": "R1",
            "user_id": "u1",
            "origin": "AAA",
            "destination": "BBB",
            "flight_type": "one_way",
            "cabin": "economy",
            "flights": [
                {"flight_number": "TST004", "origin": "AAA", "destination": "BBB",
                 "date": "2024-05-05", "price": 80},
                {"flight_number": "TST001", "origin": "AAA", "destination": "BBB",
                 "date": "2024-05-06", "price": 100},
            ],
            "passengers": [{"first_name": "Ada", "last_name": "Lane", "dob": "1980-01-01"}],
            "payment_history": [{"payment_id": "gift_card_1", "amount": 180}],
            "created_at": "2024-05-01T10:00:00",
            "total_baggages": 1,
            "nonfree_baggages": 0,
            "insurance": "no",
        }
    },
}  # fmt: skip

ADA = {"first_name": "Ada", "last_name": "Lane", "dob": "1980-01-01"}
BOB = {"first_name": "Bob", "last_name": "Lane", "dob": "1982-02-02"}


@pytest.fixture(scope="module")
def tiny_snapshot() -> Snapshot[AirlineDB]:
    return Snapshot(AirlineDB.from_dict(copy.deepcopy(TINY)))


@pytest.fixture
def tiny(tiny_snapshot: Snapshot[AirlineDB]) -> AirlineTools:
    return AirlineTools(tiny_snapshot.fork())


@pytest.fixture(scope="module")
def shipped_snapshot(tau2_airline_dir: Path) -> Snapshot[AirlineDB]:
    return Snapshot(AirlineDB.load(tau2_airline_dir / "db.json"))


@pytest.fixture(scope="module")
def raw_digest(tau2_airline_dir: Path) -> str:
    return canonical_digest(json.loads((tau2_airline_dir / "db.json").read_text()))


@pytest.fixture
def shipped(shipped_snapshot: Snapshot[AirlineDB]) -> AirlineTools:
    return AirlineTools(shipped_snapshot.fork())


def ok(tools: AirlineTools, name: str, **args: Any) -> Any:
    """Call a tool that must succeed; JSON outputs are decoded."""
    result = tools.call(name, args)
    assert not result.error, result.content
    try:
        return json.loads(result.content)
    except json.JSONDecodeError:
        return result.content


def err(tools: AirlineTools, name: str, **args: Any) -> str:
    """Call a tool that must fail; return the message after ``Error: ``."""
    result = tools.call(name, args)
    assert result.error, result.content
    assert result.content.startswith("Error: ")
    return result.content.removeprefix("Error: ")


def _user(tools: AirlineTools, user_id: str = "u1") -> Any:
    return tools.db.users[user_id]


def _gift(tools: AirlineTools, pid: str) -> float:
    method = _user(tools).payment_methods[pid]
    assert isinstance(method, GiftCard)
    return method.amount


def _seats(tools: AirlineTools, number: str, date: str, cabin: str) -> int:
    inst = tools.db.flights[number].dates[date]
    assert isinstance(inst, FlightAvailable)
    return inst.available_seats[cabin]  # type: ignore[index]


# -- the toolkit as a whole ----------------------------------------------------------
def test_tool_names_and_kinds(tiny: AirlineTools) -> None:
    writes = {
        "book_reservation", "cancel_reservation", "send_certificate",
        "update_reservation_baggages", "update_reservation_flights",
        "update_reservation_passengers",
    }  # fmt: skip
    generic = {"calculate", "transfer_to_human_agents"}
    reads = {
        "get_reservation_details", "get_user_details", "list_all_airports",
        "search_direct_flight", "search_onestop_flight", "get_flight_status",
    }  # fmt: skip
    assert set(tiny.tools) == writes | generic | reads
    for name in tiny.tools:
        want = ToolKind.WRITE if name in writes else ToolKind.GENERIC if name in generic else None
        assert tiny.kind(name) == (want or ToolKind.READ), name


def test_schemas_have_descriptions(tiny: AirlineTools) -> None:
    for name, t in tiny.tools.items():
        assert t.description, name
        for pname, prop in t.parameters["properties"].items():
            assert prop.get("description"), (name, pname)
    params = tiny.tools["book_reservation"].parameters
    assert params["properties"]["cabin"]["enum"] == ["business", "economy", "basic_economy"]
    assert len(params["required"]) == 11


# -- lookups -------------------------------------------------------------------------
def test_get_user_details(tiny: AirlineTools) -> None:
    user = ok(tiny, "get_user_details", user_id="u1")
    assert list(user) == [
        "user_id", "name", "address", "email", "dob", "payment_methods",
        "saved_passengers", "membership", "reservations",
    ]  # fmt: skip
    assert user["address"]["address2"] is None
    assert list(user["payment_methods"]["credit_card_1"]) == ["source", "id", "brand", "last_four"]
    assert list(user["payment_methods"]["gift_card_1"]) == ["source", "id", "amount"]
    assert err(tiny, "get_user_details", user_id="nobody") == "User nobody not found"
    assert err(tiny, "get_user_details", user_id=["u1"]) == "unhashable type: 'list'"


def test_get_reservation_details_prints_null_status(tiny: AirlineTools) -> None:
    content = tiny.call("get_reservation_details", {"reservation_id": "R1"}).content
    assert content.endswith('"insurance": "no", "status": null}')
    res = json.loads(content)
    assert list(res) == [
        "reservation_id", "user_id", "origin", "destination", "flight_type", "cabin",
        "flights", "passengers", "payment_history", "created_at", "total_baggages",
        "nonfree_baggages", "insurance", "status",
    ]  # fmt: skip
    assert list(res["flights"][0]) == ["flight_number", "origin", "destination", "date", "price"]
    assert err(tiny, "get_reservation_details", reservation_id="NOPE") == (
        "Reservation NOPE not found"
    )


def test_get_flight_status(tiny: AirlineTools) -> None:
    assert ok(tiny, "get_flight_status", flight_number="TST004", date="2024-05-05") == "landed"
    assert ok(tiny, "get_flight_status", flight_number="TST006", date="2024-05-08") == "flying"
    assert err(tiny, "get_flight_status", flight_number="TST999", date="2024-05-05") == (
        "Flight TST999 not found"
    )
    assert err(tiny, "get_flight_status", flight_number="TST006", date="2024-05-09") == (
        "Flight TST006 not found on date 2024-05-09"
    )


def test_list_all_airports(tiny: AirlineTools) -> None:
    airports = ok(tiny, "list_all_airports")
    assert len(airports) == 20
    assert airports[0] == {"iata": "SFO", "city": "San Francisco"}
    assert airports[-1] == {"iata": "LGA", "city": "LaGuardia"}


def test_transfer_to_human_agents(tiny: AirlineTools) -> None:
    assert ok(tiny, "transfer_to_human_agents", summary="wants a human") == "Transfer successful"
    assert tiny.db.changed() == {}


# -- search ----------------------------------------------------------------------------
def test_search_direct_flight(tiny: AirlineTools) -> None:
    found = ok(tiny, "search_direct_flight", origin="AAA", destination="BBB", date="2024-05-06")
    assert [f["flight_number"] for f in found] == ["TST001", "TST004"]
    assert list(found[0]) == [
        "flight_number", "origin", "destination", "status", "scheduled_departure_time_est",
        "scheduled_arrival_time_est", "date", "available_seats", "prices",
    ]  # fmt: skip
    assert found[0]["date"] is None  # tau2 leaves it null in direct search
    assert found[0]["status"] == "available"
    assert found[0]["prices"] == {"basic_economy": 50, "economy": 100, "business": 200}
    # TST004 is cancelled on 05-07: not available, so nothing found.
    result = tiny.call(
        "search_direct_flight", {"origin": "AAA", "destination": "BBB", "date": "2024-05-07"}
    )
    assert result.content == "[]" and not result.error


def test_search_onestop_quirks(tiny: AirlineTools) -> None:
    pairs = ok(tiny, "search_onestop_flight", origin="AAA", destination="CCC", date="2024-05-06")
    got = [[(leg["flight_number"], leg["date"]) for leg in pair] for pair in pairs]
    # TST001 lands "01:30:00+1": the next day is the unpadded "2024-05-7", and
    # TST003 (00:30:00 < "01:30:00+1" as strings) is left out. TST004 lands at
    # 10:00:00: TST005 leaves too early, TST006 at exactly 10:00:00 qualifies.
    assert got == [
        [("TST001", "2024-05-06"), ("TST002", "2024-05-7")],
        [("TST004", "2024-05-06"), ("TST006", "2024-05-06")],
    ]


def test_search_on_shipped_data(shipped: AirlineTools, tau2_airline_dir: Path) -> None:
    raw = json.loads((tau2_airline_dir / "db.json").read_text())
    nonempty = 0
    for origin, dest, date in [
        ("JFK", "SEA", "2024-05-20"), ("ORD", "PHL", "2024-05-26"), ("SFO", "JFK", "2024-05-16"),
        ("LAX", "DFW", "2024-05-25"), ("JFK", "SFO", "2024-05-10"),
    ]:  # fmt: skip
        want = [
            f["flight_number"]
            for f in raw["flights"].values()
            if f["origin"] == origin
            and f["destination"] == dest
            and f["dates"].get(date, {}).get("status") == "available"
        ]
        got = ok(shipped, "search_direct_flight", origin=origin, destination=dest, date=date)
        assert [g["flight_number"] for g in got] == want
        nonempty += bool(want)
        pairs = ok(shipped, "search_onestop_flight", origin=origin, destination=dest, date=date)
        for first, second in pairs:
            assert first["origin"] == origin and second["destination"] == dest
            assert first["destination"] == second["origin"]
            assert first["date"] == date and second["date"] is not None
            assert second["scheduled_departure_time_est"] >= first["scheduled_arrival_time_est"]
    assert nonempty >= 3


# -- book_reservation -------------------------------------------------------------------
def _booking(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "user_id": "u1",
        "origin": "XXX",
        "destination": "YYY",
        "flight_type": "one_way",
        "cabin": "economy",
        "flights": [{"flight_number": "TST001", "date": "2024-05-06"}],
        "passengers": [ADA],
        "payment_methods": [{"payment_id": "credit_card_1", "amount": 100}],
        "total_baggages": 0,
        "nonfree_baggages": 0,
        "insurance": "no",
    }
    args.update(over)
    return args


def test_book_reservation_happy_path(tiny: AirlineTools) -> None:
    payments = [
        {"payment_id": "certificate_1", "amount": 30},
        {"payment_id": "gift_card_1", "amount": 80},
        {"payment_id": "gift_card_2", "amount": 0},
        {"payment_id": "credit_card_1", "amount": 200},
    ]
    # 2 x 100 (economy) + 2 x 30 insurance + 1 x 50 bag = 310
    args = _booking(
        passengers=[ADA, BOB], payment_methods=payments, insurance="yes",
        total_baggages=3, nonfree_baggages=1,
    )  # fmt: skip
    content = tiny.call("book_reservation", args).content
    res = json.loads(content)
    assert content.endswith('"status": null}')
    assert res["reservation_id"] == "HATHAT"
    assert (res["origin"], res["destination"]) == ("XXX", "YYY")  # stored as given
    assert res["flights"] == [
        {"flight_number": "TST001", "origin": "AAA", "destination": "BBB",
         "date": "2024-05-06", "price": 100},
    ]  # fmt: skip
    assert res["payment_history"] == payments  # exactly as passed, zero entry kept
    assert res["created_at"] == "2024-05-15T15:00:00"
    assert (res["total_baggages"], res["nonfree_baggages"]) == (3, 1)
    user = _user(tiny)
    # The certificate is gone although only 30 of 50 was used.
    assert "certificate_1" not in user.payment_methods
    assert _gift(tiny, "gift_card_1") == 20.0
    assert _gift(tiny, "gift_card_2") == 1.1
    assert user.reservations == ["R1", "HATHAT"]
    assert list(tiny.db.reservations) == ["R1", "HATHAT"]
    assert _seats(tiny, "TST001", "2024-05-06", "economy") == 3
    assert _seats(tiny, "TST001", "2024-05-06", "business") == 5


def test_book_reservation_ids_and_limits(tiny: AirlineTools) -> None:
    for expected in ("HATHAT", "HATHAU", "HATHAV"):
        assert ok(tiny, "book_reservation", **_booking())["reservation_id"] == expected
    assert err(tiny, "book_reservation", **_booking()) == "Too many reservations"
    assert _seats(tiny, "TST001", "2024-05-06", "economy") == 2


def test_book_reservation_float_balance_is_not_rounded(tiny: AirlineTools) -> None:
    args = _booking(
        payment_methods=[
            {"payment_id": "gift_card_2", "amount": 1},
            {"payment_id": "credit_card_1", "amount": 99},
        ]
    )
    ok(tiny, "book_reservation", **args)
    assert _gift(tiny, "gift_card_2") == 1.1 - 1 != 0.1


def test_book_reservation_duplicates_quirks(tiny: AirlineTools) -> None:
    # The same flight twice is checked twice against 5 seats, then takes 6.
    flight = {"flight_number": "TST001", "date": "2024-05-06"}
    args = _booking(
        flights=[flight, flight],
        passengers=[ADA, BOB, ADA],
        payment_methods=[
            # Each entry is checked alone against the full balance of 100.
            {"payment_id": "gift_card_1", "amount": 100},
            {"payment_id": "gift_card_1", "amount": 100},
            {"payment_id": "credit_card_1", "amount": 400},
        ],
    )
    ok(tiny, "book_reservation", **args)
    assert _seats(tiny, "TST001", "2024-05-06", "economy") == -1
    assert _gift(tiny, "gift_card_1") == -100.0


def test_book_reservation_certificate_twice_is_a_partial_change(tiny: AirlineTools) -> None:
    args = _booking(
        payment_methods=[
            {"payment_id": "gift_card_1", "amount": 10},
            {"payment_id": "certificate_1", "amount": 45},
            {"payment_id": "certificate_1", "amount": 45},
        ]
    )
    assert err(tiny, "book_reservation", **args) == "'certificate_1'"
    assert _gift(tiny, "gift_card_1") == 90.0  # charged before the failure
    assert "certificate_1" not in _user(tiny).payment_methods
    assert list(tiny.db.reservations) == ["R1"]
    assert _seats(tiny, "TST001", "2024-05-06", "economy") == 5


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"user_id": "nobody"}, "User nobody not found"),
        ({"flights": [{"flight_number": "TST999", "date": "2024-05-06"}]},
         "Flight TST999 not found"),
        ({"flights": [{"flight_number": "TST001", "date": "2024-05-09"}]},
         "Flight TST001 not found on date 2024-05-09"),
        ({"flights": [{"flight_number": "TST004", "date": "2024-05-07"}]},
         "Flight TST004 not available on date 2024-05-07"),
        ({"flights": [{"flight_number": "TST004", "date": "2024-05-05"}]},
         "Flight TST004 not available on date 2024-05-05"),
        ({"flights": [{"flight_number": "TST004", "date": "2024-05-08"}]},
         "Not enough seats on flight TST004"),
        ({"payment_methods": [{"payment_id": "gift_card_9", "amount": 100}]},
         "Payment method gift_card_9 not found"),
        ({"payment_methods": [{"payment_id": "gift_card_2", "amount": 2},
                              {"payment_id": "credit_card_1", "amount": 98}]},
         "Not enough balance in payment method gift_card_2"),
        ({"payment_methods": [{"payment_id": "certificate_1", "amount": 51},
                              {"payment_id": "credit_card_1", "amount": 49}]},
         "Not enough balance in payment method certificate_1"),
        ({"payment_methods": [{"payment_id": "credit_card_1", "amount": 90}]},
         "Payment amount does not add up, total price is 100, but paid 90"),
        ({"insurance": "yes"},
         "Payment amount does not add up, total price is 130, but paid 100"),
        ({"nonfree_baggages": 2},
         "Payment amount does not add up, total price is 200, but paid 100"),
    ],
)  # fmt: skip
def test_book_reservation_errors(tiny: AirlineTools, over: dict, message: str) -> None:
    assert err(tiny, "book_reservation", **_booking(**over)) == message
    assert tiny.db.changed() == {}


def test_book_reservation_validation_order(tiny: AirlineTools) -> None:
    # Malformed records fail before the user lookup...
    bad = _booking(user_id="nobody", passengers=[{"first_name": "A", "last_name": "B"}])
    assert err(tiny, "book_reservation", **bad).startswith("invalid passengers.0.dob")
    bad = _booking(payment_methods=[{"payment_id": "credit_card_1", "amount": 99.5}])
    assert err(tiny, "book_reservation", **bad).startswith("invalid payment_methods.0.amount")
    # ...while enums and counts are checked when the record is built, after it.
    assert err(tiny, "book_reservation", **_booking(user_id="nobody", cabin="first")) == (
        "User nobody not found"
    )
    assert err(tiny, "book_reservation", **_booking(cabin="first")).startswith(
        "invalid reservation.cabin"
    )
    assert err(tiny, "book_reservation", **_booking(insurance="maybe")).startswith(
        "invalid reservation.insurance"
    )
    # Lax typing: extra keys dropped, integral floats and numeric strings accepted.
    args = _booking(
        flights=[{"flight_number": "TST001", "date": "2024-05-06", "price": 1}],
        payment_methods=[{"payment_id": "credit_card_1", "amount": 100.0}],
        nonfree_baggages="0",
    )
    res = ok(tiny, "book_reservation", **args)
    assert res["payment_history"] == [{"payment_id": "credit_card_1", "amount": 100}]
    assert res["nonfree_baggages"] == 0


# -- cancel_reservation -------------------------------------------------------------------
def test_cancel_reservation(tiny: AirlineTools) -> None:
    res = ok(tiny, "cancel_reservation", reservation_id="R1")
    assert res["status"] == "cancelled"
    assert res["payment_history"] == [
        {"payment_id": "gift_card_1", "amount": 180},
        {"payment_id": "gift_card_1", "amount": -180},
    ]
    # No seats released, no balance restored: only the reservation changed.
    assert tiny.db.changed() == {"reservations": {"R1"}}
    assert _gift(tiny, "gift_card_1") == 100.0
    # Never refuses: cancelling again negates every entry once more.
    res = ok(tiny, "cancel_reservation", reservation_id="R1")
    assert [p["amount"] for p in res["payment_history"]] == [180, -180, -180, 180]
    assert err(tiny, "cancel_reservation", reservation_id="NOPE") == "Reservation NOPE not found"


# -- update_reservation_baggages ---------------------------------------------------------
def _bags(total: Any, nonfree: Any, payment_id: str = "gift_card_1") -> dict[str, Any]:
    return {
        "reservation_id": "R1",
        "total_baggages": total,
        "nonfree_baggages": nonfree,
        "payment_id": payment_id,
    }


def test_update_baggages_charges_new_nonfree_bags(tiny: AirlineTools) -> None:
    res = ok(tiny, "update_reservation_baggages", **_bags(3, 2))
    assert (res["total_baggages"], res["nonfree_baggages"]) == (3, 2)
    assert res["payment_history"][-1] == {"payment_id": "gift_card_1", "amount": 100}
    assert _gift(tiny, "gift_card_1") == 0.0
    # Lowering refunds nothing and appends nothing (price 0).
    res = ok(tiny, "update_reservation_baggages", **_bags(1, 0, "credit_card_1"))
    assert (res["total_baggages"], res["nonfree_baggages"]) == (1, 0)
    assert len(res["payment_history"]) == 2
    assert _gift(tiny, "gift_card_1") == 0.0


def test_update_baggages_errors(tiny: AirlineTools) -> None:
    # Certificates are refused even when nothing is charged.
    assert err(tiny, "update_reservation_baggages", **_bags(1, 0, "certificate_1")) == (
        "Certificate cannot be used to update reservation"
    )
    assert err(tiny, "update_reservation_baggages", **_bags(2, 1, "gift_card_2")) == (
        "Gift card balance is not enough"
    )
    assert err(tiny, "update_reservation_baggages", **_bags(2, 1, "gift_card_9")) == (
        "Payment method not found"
    )
    assert err(tiny, "update_reservation_baggages", **_bags(2, "1")) == (
        "unsupported operand type(s) for -: 'str' and 'int'"
    )
    args = _bags(1, 0) | {"reservation_id": "NOPE"}
    assert err(tiny, "update_reservation_baggages", **args) == "Reservation NOPE not found"
    assert tiny.db.changed() == {}


def test_update_scalars_are_stored_as_given(tiny: AirlineTools) -> None:
    # tau2 assigns these without validation; dumping them must not even warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tiny.call("update_reservation_baggages", _bags("3", 0, "credit_card_1"))
        assert '"total_baggages": "3", "nonfree_baggages": 0,' in result.content
        args = _change("first", [], "credit_card_1")
        res = ok(tiny, "update_reservation_flights", **args)
        assert (res["cabin"], res["flights"]) == ("first", [])
        assert tiny.db.digest() == canonical_digest(tiny.db.to_dict())


# -- update_reservation_flights ----------------------------------------------------------
KEPT = [
    {"flight_number": "TST004", "date": "2024-05-05"},
    {"flight_number": "TST001", "date": "2024-05-06"},
]


def _change(cabin: str, flights: list[dict], payment_id: str = "gift_card_1") -> dict[str, Any]:
    return {"reservation_id": "R1", "cabin": cabin, "flights": flights, "payment_id": payment_id}


def test_update_flights_same_itinerary_costs_nothing(tiny: AirlineTools) -> None:
    res = ok(tiny, "update_reservation_flights", **_change("economy", KEPT))
    # Kept segments are reused, so the landed TST004 is accepted.
    assert [f["price"] for f in res["flights"]] == [80, 100]
    assert len(res["payment_history"]) == 1
    assert _gift(tiny, "gift_card_1") == 100.0


def test_update_flights_charges_difference_and_takes_no_seats(tiny: AirlineTools) -> None:
    flights = [KEPT[0], {"flight_number": "TST001", "date": "2024-05-16"}]
    res = ok(tiny, "update_reservation_flights", **_change("economy", flights))
    assert res["flights"][1] == {
        "flight_number": "TST001", "origin": "AAA", "destination": "BBB",
        "date": "2024-05-16", "price": 130,
    }  # fmt: skip
    assert res["payment_history"][-1] == {"payment_id": "gift_card_1", "amount": 30}
    assert _gift(tiny, "gift_card_1") == 70.0
    assert "flights" not in tiny.db.changed()  # no seat counts change
    assert _seats(tiny, "TST001", "2024-05-16", "economy") == 5


def test_update_flights_refund_credits_gift_card(tiny: AirlineTools) -> None:
    # A cabin change re-prices every segment: 50 - (80 + 100) = -130.
    flights = [{"flight_number": "TST001", "date": "2024-05-06"}]
    res = ok(tiny, "update_reservation_flights", **_change("basic_economy", flights))
    assert res["cabin"] == "basic_economy"
    assert res["flights"] == [
        {"flight_number": "TST001", "origin": "AAA", "destination": "BBB",
         "date": "2024-05-06", "price": 50},
    ]  # fmt: skip
    assert res["payment_history"][-1] == {"payment_id": "gift_card_1", "amount": -130}
    assert _gift(tiny, "gift_card_1") == 230.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # A cabin change re-checks every segment, so the landed one fails.
        (_change("basic_economy", KEPT), "Flight TST004 not available on date 2024-05-05"),
        (_change("economy", KEPT, "certificate_1"),
         "Certificate cannot be used to update reservation"),
        (_change("economy", KEPT, "gift_card_9"), "Payment method not found"),
        (_change("economy", [KEPT[0], {"flight_number": "TST001", "date": "2024-05-16"}],
                 "gift_card_2"), "Gift card balance is not enough"),
        (_change("economy", [{"flight_number": "TST004", "date": "2024-05-08"}]),
         "Not enough seats on flight TST004"),
        (_change("economy", [{"flight_number": "TST004", "date": "2024-05-07"}]),
         "Flight TST004 not available on date 2024-05-07"),
        (_change("economy", [{"flight_number": "TST009", "date": "2024-05-07"}]),
         "Flight TST009 not found"),
        (_change("economy", [{"flight_number": "TST004", "date": "2024-06-07"}]),
         "Flight TST004 not found on date 2024-06-07"),
        (_change("first", [{"flight_number": "TST001", "date": "2024-05-06"}]), "'first'"),
        (_change("economy", KEPT) | {"reservation_id": "NOPE"}, "Reservation NOPE not found"),
    ],
)  # fmt: skip
def test_update_flights_errors(tiny: AirlineTools, args: dict, message: str) -> None:
    assert err(tiny, "update_reservation_flights", **args) == message
    assert tiny.db.changed() == {}


def test_update_flights_validates_flights_first(tiny: AirlineTools) -> None:
    args = _change("economy", [{"flight_number": "TST001"}]) | {"reservation_id": "NOPE"}
    assert err(tiny, "update_reservation_flights", **args).startswith("invalid flights.0.date")


# -- update_reservation_passengers ---------------------------------------------------------
def test_update_passengers(tiny: AirlineTools) -> None:
    res = ok(tiny, "update_reservation_passengers", reservation_id="R1", passengers=[BOB])
    assert res["passengers"] == [BOB]
    assert res["payment_history"] == [{"payment_id": "gift_card_1", "amount": 180}]
    assert err(
        tiny, "update_reservation_passengers", reservation_id="R1", passengers=[ADA, BOB]
    ) == ("Number of passengers does not match")
    # The passengers are validated before the reservation is looked up.
    bad = [{"first_name": "A", "dob": "2000-01-01"}]
    message = err(tiny, "update_reservation_passengers", reservation_id="NOPE", passengers=bad)
    assert message.startswith("invalid passengers.0.last_name")


# -- send_certificate -------------------------------------------------------------------------
def test_send_certificate(tiny: AirlineTools) -> None:
    for suffix in ("322", "323", "324"):
        message = ok(tiny, "send_certificate", user_id="u1", amount=100)
        assert message == f"Certificate certificate_3221{suffix} added to user u1 with amount 100."
    cert = _user(tiny).payment_methods["certificate_3221322"]
    assert isinstance(cert, Certificate) and cert.amount == 100.0
    assert isinstance(cert.amount, float)
    assert list(_user(tiny).payment_methods)[-1] == "certificate_3221324"
    assert err(tiny, "send_certificate", user_id="u1", amount=5) == "Too many certificates"
    assert err(tiny, "send_certificate", user_id="nobody", amount=5) == "User nobody not found"


# -- calculate --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 * ((350 - 122) + (499 - 127))", "1200.0"),
        ("2/3", "0.67"),
        ("4", "4.0"),
        ("-3 + +5", "2.0"),
        ("  7 - 10", "-3.0"),
        (".5 + 5.", "5.5"),
        # Python's eval (what tau2 runs) accepts ** and // on these characters.
        ("2**10", "1024.0"),
        ("2 ** -1", "0.5"),
        ("7 // 2", "3.0"),
    ],
)
def test_calculate_values(tiny: AirlineTools, expression: str, expected: str) -> None:
    result = tiny.call("calculate", {"expression": expression})
    assert (result.content, result.error) == (expected, False)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "Invalid characters in expression"),
        ("2 + x", "Invalid characters in expression"),
        ("1e3", "Invalid characters in expression"),
        ("1/0", "division by zero"),
        ("1.0 / (2 - 2)", "division by zero"),
        ("5 // 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("9**9**9", "result too large"),
        ("(2**50000)**3", "result too large"),
        ("(-8) ** 0.5", "float() argument must be a string or a real number, not 'complex'"),
        ("()", "unsupported expression"),
        ("...", "unsupported expression"),
    ],
)
def test_calculate_errors(tiny: AirlineTools, expression: str, message: str) -> None:
    # Refusing (not computing) 9**9**9 is what keeps this from hanging.
    assert err(tiny, "calculate", expression=expression) == message


# -- the shipped database ---------------------------------------------------------------------
def test_shipped_db_loads_losslessly(
    tmp_path: Path, raw_digest: str, tau2_airline_dir: Path
) -> None:
    path = tau2_airline_dir / "db.json"
    db = AirlineDB.load(path)
    assert db.digest() == raw_digest
    assert Snapshot(db).digest() == raw_digest
    out = tmp_path / "db.json"
    db.save(out)
    assert AirlineDB.load(out).digest() == raw_digest
    saved = json.loads(out.read_text())
    assert list(saved) == ["flights", "users", "reservations"]
    res = next(iter(saved["reservations"].values()))
    assert list(res["flights"][0]) == ["flight_number", "origin", "destination", "date", "price"]
    assert res["status"] is None
    card = saved["users"]["mia_li_3668"]["payment_methods"]["credit_card_4421486"]
    assert list(card) == ["source", "id", "brand", "last_four"]
    statuses = {
        inst["status"]: list(inst)
        for f in saved["flights"].values()
        for inst in f["dates"].values()
    }
    assert statuses == {
        "available": ["status", "available_seats", "prices"],
        "landed": ["status", "actual_departure_time_est", "actual_arrival_time_est"],
        "cancelled": ["status"],
        "delayed": ["status", "estimated_departure_time_est", "estimated_arrival_time_est"],
        "flying": ["status", "actual_departure_time_est", "estimated_arrival_time_est"],
        "on time": ["status", "estimated_departure_time_est", "estimated_arrival_time_est"],
    }


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        AirlineDB.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"flights": {},\n "users": }')
    with pytest.raises(DataError, match="invalid JSON at line 2"):
        AirlineDB.load(bad)
    data = copy.deepcopy(TINY)
    data["flights"]["TST004"]["dates"]["2024-05-07"] = {"status": "boarding"}
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"field flights\.TST004\.dates\.2024-05-07"):
        AirlineDB.load(bad)
    data = copy.deepcopy(TINY) | {"airports": []}
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match="airports"):
        AirlineDB.load(bad)


def test_shipped_user_and_reservation_round_trip(
    shipped: AirlineTools, tau2_airline_dir: Path
) -> None:
    raw = json.loads((tau2_airline_dir / "db.json").read_text())
    assert ok(shipped, "get_user_details", user_id="mia_li_3668") == raw["users"]["mia_li_3668"]
    res = ok(shipped, "get_reservation_details", reservation_id="4WQ150")
    assert res.pop("status") is None
    assert res == raw["reservations"]["4WQ150"]


def test_fork_digest_matches_full_digest_after_writes(
    shipped_snapshot: Snapshot[AirlineDB],
) -> None:
    tools = AirlineTools(shipped_snapshot.fork())
    original = shipped_snapshot.digest()
    ok(tools, "cancel_reservation", reservation_id="GJLSXX")
    ok(tools, "send_certificate", user_id="emma_kim_4489", amount=50)
    price = ok(tools, "search_direct_flight", origin="CLT", destination="EWR", date="2024-05-26")
    economy = next(f for f in price if f["flight_number"] == "HAT015")["prices"]["economy"]
    booked = ok(
        tools,
        "book_reservation",
        user_id="emma_kim_4489", origin="CLT", destination="EWR", flight_type="one_way",
        cabin="economy", flights=[{"flight_number": "HAT015", "date": "2024-05-26"}],
        passengers=[{"first_name": "Emma", "last_name": "Kim", "dob": "1993-06-15"}],
        payment_methods=[
            {"payment_id": "gift_card_7218676", "amount": 26},
            {"payment_id": "credit_card_3786623", "amount": economy - 26},
        ],
        total_baggages=0, nonfree_baggages=0, insurance="no",
    )  # fmt: skip
    assert booked["reservation_id"] == "HATHAT"
    digest = tools.db.digest()
    assert digest != original
    assert digest == canonical_digest(tools.db.to_dict())
    assert shipped_snapshot.fork().digest() == original


# -- gold replay ---------------------------------------------------------------------------------
def _touched(actions: list[dict], snapshot_db: AirlineDB) -> list[tuple[str, str]]:
    """Records a task's gold actions can read: the ones named in their arguments."""
    keys: list[tuple[str, str]] = []
    for action in actions:
        args = action["arguments"]
        if "user_id" in args:
            keys.append(("users", args["user_id"]))
        if "reservation_id" in args and args["reservation_id"] in snapshot_db.reservations:
            keys.append(("reservations", args["reservation_id"]))
            keys.append(("users", snapshot_db.reservations[args["reservation_id"]].user_id))
        for flight in args.get("flights", []):
            keys.append(("flights", flight["flight_number"]))
    return [(t, k) for t, k in keys if k in snapshot_db.table(t)]


def test_gold_actions_replay_cleanly(
    shipped_snapshot: Snapshot[AirlineDB], raw_digest: str, tau2_airline_dir: Path
) -> None:
    tasks = json.loads((tau2_airline_dir / "tasks.json").read_text())
    assert len(tasks) == 50
    pristine: AirlineDB = shipped_snapshot._db
    failures: list[tuple[str, str, str]] = []
    count = 0
    for task in tasks:
        actions = task["evaluation_criteria"]["actions"] or []
        watched = _touched(actions, pristine)
        before = [canonical_json(pristine.table(t)[k]) for t, k in watched]
        tools = AirlineTools(shipped_snapshot.fork())
        for action in actions:
            count += 1
            # Any exception other than a ToolError propagates out of call().
            result = tools.call(action["name"], action["arguments"])
            if result.error:
                failures.append((task["id"], action["name"], result.content))
        # Copy-on-write: the records the task read are untouched in the snapshot.
        assert [canonical_json(pristine.table(t)[k]) for t, k in watched] == before, task["id"]
        if task["id"] in {"7", "23"}:  # the full dump is slow; two write-heavy tasks
            assert tools.db.digest() == canonical_digest(tools.db.to_dict()), task["id"]
    assert count == 142
    # Every airline gold action succeeds (none is skipped when building targets).
    assert failures == []
    # The whole snapshot is still the shipped file (a fork shares its records).
    assert canonical_digest(pristine.to_dict()) == raw_digest
    assert shipped_snapshot.fork().digest() == raw_digest
