"""A seeded, deterministic generator for toolgym's built-in airline database.

``generate_airline_db(seed)`` builds a plain dict in the tau2 airline
``db.json`` layout (SEMANTICS §2.1, tau2's field order): 300 flights between
the 20 airports of §2.2 over 2024-05-01..2024-05-30, 500 users and 2,000
reservations that refer to real users, flights and payment methods.

The clock is fixed at 2024-05-15 15:00 EST, as in the policy: earlier dates
have landed or cancelled flights, later ones are bookable, and the 15th is a
mix of landed, flying, delayed and on-time flights.

Determinism: every draw derives from the ``random()`` stream of one
``random.Random(seed)`` (see :class:`_Rng`), which is stable across CPython
versions; every collection is walked in list/dict insertion order (never
``hash()``- or set-ordered); and the only float maths is IEEE-exact
(``+ - * /`` and ``math.sqrt``). The built-in task set refers to ids of
``generate_airline_db(0)``, so any change here that moves a draw invalidates
the tasks; the test-suite pins the seed-0 digest to catch that.

Names, streets and cities below are made up for toolgym or are ordinary
English words and US place names; no external data file is used.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

__all__ = [
    "AIRPORTS",
    "CURRENT_TIME",
    "FREE_BAGS",
    "generate_airline_db",
]

#: The simulated "now" (EST); tools stamp new reservations with it.
CURRENT_TIME = datetime(2024, 5, 15, 15, 0, 0)

#: The airports of SEMANTICS §2.2 (same order) with rough coordinates
#: (latitude, longitude) used only to derive plausible flight durations.
AIRPORTS: tuple[tuple[str, str, float, float], ...] = (
    ("SFO", "San Francisco", 37.6, -122.4),
    ("JFK", "New York", 40.6, -73.8),
    ("LAX", "Los Angeles", 33.9, -118.4),
    ("ORD", "Chicago", 42.0, -87.9),
    ("DFW", "Dallas", 32.9, -97.0),
    ("DEN", "Denver", 39.9, -104.7),
    ("SEA", "Seattle", 47.4, -122.3),
    ("ATL", "Atlanta", 33.6, -84.4),
    ("MIA", "Miami", 25.8, -80.3),
    ("BOS", "Boston", 42.4, -71.0),
    ("PHX", "Phoenix", 33.4, -112.0),
    ("IAH", "Houston", 30.0, -95.3),
    ("LAS", "Las Vegas", 36.1, -115.2),
    ("MCO", "Orlando", 28.4, -81.3),
    ("EWR", "Newark", 40.7, -74.2),
    ("CLT", "Charlotte", 35.2, -80.9),
    ("MSP", "Minneapolis", 44.9, -93.2),
    ("DTW", "Detroit", 42.2, -83.4),
    ("PHL", "Philadelphia", 39.9, -75.2),
    ("LGA", "LaGuardia", 40.8, -73.9),
)

#: Free checked bags per passenger, by membership then cabin (our policy).
FREE_BAGS: dict[str, dict[str, int]] = {
    "regular": {"basic_economy": 0, "economy": 1, "business": 2},
    "silver": {"basic_economy": 1, "economy": 2, "business": 3},
    "gold": {"basic_economy": 2, "economy": 3, "business": 3},
}

CABINS = ("basic_economy", "economy", "business")
N_ROUTE_PAIRS = 150  # each pair is flown both ways: 300 flights
N_USERS = 500
N_RESERVATIONS = 2000
FIRST_DAY, LAST_DAY, TODAY = 1, 30, 15
RESERVED_IDS = ("HATHAT", "HATHAU", "HATHAV")  # the ids book_reservation hands out
RESERVED_CERTIFICATES = (3221322, 3221323, 3221324)  # the ids send_certificate hands out
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


FIRST_NAMES = _words(
    "Ada Ari Bea Bram Cato Cleo Dara Dev Elin Emil Faye Finn Gia Gus Hana Hugo Ines Ivo "
    "Jana Jude Kaia Kian Lena Luca Mara Milo Nell Niko Olga Omar Pia Pavel Quinn Rhea "
    "Rafi Sana Soren Tess Theo Uma Ugo Vera Vito Wren Wade Xena Yara Yusuf Zoe Zane Amara "
    "Bodhi Cyra Dario Esme Felix Greta Hector Iris Joel"
)
LAST_NAMES = _words(
    "Abara Bellweather Castellan Dunmore Eastwick Fairbanks Galloway Hartley Ibarra "
    "Jessup Kowalczyk Lindqvist Marchetti Nakamura Okafor Pemberton Quintero Rasmussen "
    "Silvestri Thorne Underhill Vasquez Whitlock Yamamoto Zeller Ashdown Brightwater "
    "Corrigan Delacroix Ellery Fontaine Greenleaf Holloway Iverson Jaramillo Kingsley "
    "Lachance Moreau Northcott Oduya Pritchard Rowntree Sandoval Tremaine Valdivia "
    "Winslow Yilmaz Zuberi Mbeki Ferreira"
)
STREETS = _words(
    "Maple Row,Harbor Lane,Juniper Court,Cedar Hollow Road,Lantern Street,Orchard Way,"
    "Quarry Road,Bluebell Avenue,Copper Ridge Drive,Willow Bend,Foundry Street,"
    "Meadowlark Lane,Summit Avenue,Tidewater Road,Kestrel Way,Birch Terrace,"
    "Granite Boulevard,Sparrow Court,Riverstone Drive,Elm Crossing",
    ",",
)
#: (city, state, first three zip digits)
CITIES = tuple(
    tuple(entry.split("/"))
    for entry in _words(
        "Austin/TX/787 Portland/OR/972 Columbus/OH/432 Denver/CO/802 Raleigh/NC/276 "
        "Tucson/AZ/857 Madison/WI/537 Boise/ID/837 Savannah/GA/314 Albany/NY/122 "
        "Spokane/WA/992 Omaha/NE/681 Richmond/VA/232 Fresno/CA/937 Tampa/FL/336 "
        "Nashville/TN/372 Providence/RI/029 Anchorage/AK/995"
    )
)
CARD_BRANDS = ("visa", "mastercard", "amex", "discover")

_T = TypeVar("_T")


class _Rng:
    """Random draws built only on ``random.Random(seed).random()``.

    The Mersenne Twister stream and its conversion to floats are fixed across
    CPython versions, while helpers such as ``randint`` have changed
    internals before; deriving every draw from ``random()`` here keeps the
    database identical everywhere, and is also several times faster.
    """

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def randint(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``."""
        return lo + int(self.random() * (hi - lo + 1))

    def randrange(self, n: int) -> int:
        """An int in ``[0, n)``."""
        return int(self.random() * n)

    def choice(self, seq: Sequence[_T]) -> _T:
        """One element of a non-empty sequence."""
        return seq[int(self.random() * len(seq))]

    def shuffle(self, items: list[Any]) -> None:
        """Fisher-Yates shuffle in place."""
        for i in range(len(items) - 1, 0, -1):
            j = int(self.random() * (i + 1))
            items[i], items[j] = items[j], items[i]


@dataclass
class _Flight:
    """A generated flight with what the reservation builder needs."""

    number: str
    origin: str
    destination: str
    dep_minutes: int  # scheduled departure, minutes after midnight
    duration: int  # minutes
    base: dict[str, int]
    dates: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def arr_minutes(self) -> int:
        return self.dep_minutes + self.duration

    @property
    def overnight(self) -> bool:
        return self.arr_minutes >= 24 * 60


def _hms(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


_DATES = tuple(f"2024-05-{day:02d}" for day in range(32))


def _date(day: int) -> str:
    return _DATES[day]


def _stamp(dt: datetime) -> str:
    # Seconds precision: every datetime here has microsecond == 0.
    return dt.isoformat()


def _duration(a: tuple[str, str, float, float], b: tuple[str, str, float, float]) -> int:
    """Block time in minutes: 45 min plus ~7.5 min per degree, rounded to 30 min."""
    dist = math.sqrt((a[2] - b[2]) ** 2 + (0.8 * (a[3] - b[3])) ** 2)
    minutes = 45 + dist * 7.5
    return max(60, int(minutes / 30 + 0.5) * 30)


# -- flights -------------------------------------------------------------------
def _make_flights(rng: _Rng) -> list[_Flight]:
    flights: list[_Flight] = []
    for _ in range(N_ROUTE_PAIRS):
        a = rng.randrange(len(AIRPORTS))
        b = rng.randrange(len(AIRPORTS) - 1)
        b += b >= a  # a distinct second airport
        duration = _duration(AIRPORTS[a], AIRPORTS[b])
        for src, dst in ((a, b), (b, a)):
            hours = duration / 60
            basic = 40 + int(hours * 12) + rng.randint(0, 30)
            base = {
                "basic_economy": basic,
                "economy": basic * 2 + rng.randint(0, 40),
                "business": basic * 5 + rng.randint(0, 150),
            }
            flights.append(
                _Flight(
                    "", AIRPORTS[src][0], AIRPORTS[dst][0], rng.randint(0, 23) * 60, duration, base
                )
            )
    rng.shuffle(flights)
    for i, f in enumerate(flights, start=1):
        f.number = f"HAT{i:03d}"
        for day in range(FIRST_DAY, LAST_DAY + 1):
            f.dates[_date(day)] = _instance(rng, f, day)
    return flights


def _at(minutes: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` for a time given in minutes since 2024-05-01 00:00."""
    # Plain integer arithmetic: datetime objects made this the generator's hot spot.
    if minutes < 0:  # only a few minutes before May 1st
        minutes += 24 * 60
        return f"2024-04-30T{minutes // 60:02d}:{minutes % 60:02d}:00"
    day, rest = divmod(minutes, 24 * 60)
    return f"{_DATES[day + 1]}T{rest // 60:02d}:{rest % 60:02d}:00"


_NOW = (TODAY - 1) * 24 * 60 + 15 * 60  # CURRENT_TIME in minutes since May 1st


def _instance(rng: _Rng, f: _Flight, day: int) -> dict[str, Any]:
    """The state of flight ``f`` on May ``day`` as seen at CURRENT_TIME."""
    if day > TODAY:
        return {
            "status": "available",
            "available_seats": {c: rng.randint(0, 20) for c in CABINS},
            "prices": {c: f.base[c] + rng.randint(-15, 25) for c in CABINS},
        }
    sched_dep = (day - 1) * 24 * 60 + f.dep_minutes
    sched_arr = sched_dep + f.duration
    dep_shift = rng.randint(-25, 40)
    arr_shift = dep_shift + rng.randint(-20, 20)
    if sched_dep + dep_shift > _NOW:
        if rng.random() < 0.4:
            delay = rng.randint(4, 24) * 15
            return {
                "status": "delayed",
                "estimated_departure_time_est": _at(sched_dep + delay),
                "estimated_arrival_time_est": _at(sched_arr + delay),
            }
        return {
            "status": "on time",
            "estimated_departure_time_est": _at(sched_dep),
            "estimated_arrival_time_est": _at(sched_arr),
        }
    if day < TODAY and rng.random() < 0.08:
        return {"status": "cancelled"}
    if sched_arr + arr_shift > _NOW:
        return {
            "status": "flying",
            "actual_departure_time_est": _at(sched_dep + dep_shift),
            "estimated_arrival_time_est": _at(sched_arr + arr_shift),
        }
    return {
        "status": "landed",
        "actual_departure_time_est": _at(sched_dep + dep_shift),
        "actual_arrival_time_est": _at(sched_arr + arr_shift),
    }


def _flight_record(f: _Flight) -> dict[str, Any]:
    arr = f.arr_minutes
    arrival = _hms(arr % (24 * 60)) + ("+1" if f.overnight else "")
    return {
        "flight_number": f.number,
        "origin": f.origin,
        "destination": f.destination,
        "scheduled_departure_time_est": _hms(f.dep_minutes),
        "scheduled_arrival_time_est": arrival,
        "dates": f.dates,
    }


# -- users ---------------------------------------------------------------------
class _Ids:
    """Unique ids drawn from the shared generator."""

    def __init__(self, rng: _Rng) -> None:
        self.rng = rng
        self.numbers: set[int] = set(RESERVED_CERTIFICATES)
        self.reservations: set[str] = set(RESERVED_IDS)
        self.users: set[str] = set()
        self.emails: set[str] = set()

    def number(self) -> int:
        while True:
            n = self.rng.randint(1000000, 9999999)
            if n not in self.numbers:
                self.numbers.add(n)
                return n

    def reservation(self) -> str:
        while True:
            rid = "".join(self.rng.choice(ID_ALPHABET) for _ in range(6))
            if rid not in self.reservations:
                self.reservations.add(rid)
                return rid


def _dob(rng: _Rng, first_year: int, last_year: int) -> str:
    return f"{rng.randint(first_year, last_year)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _person(rng: _Rng) -> dict[str, str]:
    return {
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "dob": _dob(rng, 1940, 2018),
    }


def _payment_methods(rng: _Rng, ids: _Ids) -> dict[str, dict[str, Any]]:
    # Every user can pay for a booking: the first method is a card.
    kinds = [rng.choice(("credit_card", "credit_card", "gift_card"))]
    kinds += [
        rng.choice(("credit_card", "gift_card", "certificate")) for _ in range(rng.randint(0, 4))
    ]
    methods: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        pid = f"{kind}_{ids.number()}"
        if kind == "credit_card":
            methods[pid] = {
                "source": kind,
                "id": pid,
                "brand": rng.choice(CARD_BRANDS),
                "last_four": f"{rng.randint(0, 9999):04d}",
            }
        elif kind == "gift_card":
            methods[pid] = {"source": kind, "id": pid, "amount": float(rng.randint(0, 350))}
        else:
            amount = rng.choice((50, 100, 100, 150, 200, 250, 250, 500))
            methods[pid] = {"source": kind, "id": pid, "amount": float(amount)}
    return methods


def _make_users(rng: _Rng, ids: _Ids) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    while len(users) < N_USERS:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user_id = f"{first.lower()}_{last.lower()}_{rng.randint(1000, 9999)}"
        email = f"{first.lower()}.{last.lower()}{rng.randint(100, 9999)}@example.com"
        if user_id in ids.users or email in ids.emails:
            continue
        ids.users.add(user_id)
        ids.emails.add(email)
        city, state, zip3 = rng.choice(CITIES)
        address2 = rng.choice(
            (None, None, f"Apt {rng.randint(1, 40)}", f"Suite {rng.randint(100, 900)}")
        )
        users.append(
            {
                "user_id": user_id,
                "name": {"first_name": first, "last_name": last},
                "address": {
                    "address1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
                    "address2": address2,
                    "city": city,
                    "country": "USA",
                    "state": state,
                    "zip": f"{zip3}{rng.randint(0, 99):02d}",
                },
                "email": email,
                "dob": _dob(rng, 1950, 2004),
                "payment_methods": _payment_methods(rng, ids),
                "saved_passengers": [_person(rng) for _ in range(rng.randint(0, 3))],
                "membership": rng.choice(
                    ("regular", "silver", "silver", "gold", "gold", "regular")
                ),
                "reservations": [],
            }
        )
    return users


# -- reservations ----------------------------------------------------------------
class _Network:
    """Flights indexed by origin, for building itineraries."""

    def __init__(self, flights: list[_Flight]) -> None:
        self.by_origin: dict[str, list[_Flight]] = {}
        for f in flights:
            self.by_origin.setdefault(f.origin, []).append(f)

    def connections(self, first: _Flight, avoid: str) -> list[_Flight]:
        """Same-day onward flights leaving after ``first`` lands."""
        if first.overnight:
            return []
        return [
            f
            for f in self.by_origin.get(first.destination, [])
            if f.destination != avoid and f.dep_minutes >= first.arr_minutes + 60
        ]

    def route(self, rng: _Rng, origin: str, destination: str | None) -> list[_Flight]:
        """A direct or one-stop itinerary from ``origin`` (to ``destination`` if given)."""
        starts = self.by_origin.get(origin, [])
        if destination is None:
            first = rng.choice(starts)
            if rng.random() < 0.3:
                onward = self.connections(first, origin)
                if onward:
                    return [first, rng.choice(onward)]
            return [first]
        direct = [f for f in starts if f.destination == destination]
        if direct:
            return [rng.choice(direct)]
        pairs = [
            [f1, f2]
            for f1 in starts
            for f2 in self.connections(f1, origin)
            if f2.destination == destination
        ]
        return rng.choice(pairs) if pairs else []


def _segment_price(rng: _Rng, f: _Flight, day: int, cabin: str) -> int:
    inst = f.dates[_date(day)]
    if inst["status"] == "available":
        return int(inst["prices"][cabin])
    return f.base[cabin] + rng.randint(-15, 25)


def _passenger_count(rng: _Rng) -> int:
    r = rng.random()
    return 1 if r < 0.45 else 2 if r < 0.78 else 3 if r < 0.94 else 4 if r < 0.99 else 5


def _make_reservation(rng: _Rng, ids: _Ids, net: _Network, user: dict[str, Any]) -> dict[str, Any]:
    origin = rng.choice(list(net.by_origin))
    out = net.route(rng, origin, None)
    destination = out[-1].destination
    day = (
        rng.randint(FIRST_DAY, LAST_DAY - 1)
        if rng.random() < 0.5
        else rng.randint(TODAY + 1, LAST_DAY - 1)
    )
    legs = [(f, day) for f in out]
    flight_type = "one_way"
    if rng.random() < 0.5:
        back_day = day + rng.randint(1, 6)
        back = net.route(rng, destination, origin) if back_day <= LAST_DAY else []
        if back:
            flight_type = "round_trip"
            legs += [(f, back_day) for f in back]
    cabin = rng.choice(CABINS)
    n_pax = _passenger_count(rng)
    passengers: list[dict[str, str]] = []
    if rng.random() < 0.8:
        name = user["name"]
        passengers.append(
            {"first_name": name["first_name"], "last_name": name["last_name"], "dob": user["dob"]}
        )
    for saved in user["saved_passengers"]:
        if len(passengers) < n_pax:
            passengers.append(dict(saved))
    while len(passengers) < n_pax:
        passengers.append(_person(rng))
    segments: list[dict[str, Any]] = [
        {
            "flight_number": f.number,
            "origin": f.origin,
            "destination": f.destination,
            "date": _date(d),
            "price": _segment_price(rng, f, d, cabin),
        }
        for f, d in legs
    ]
    insurance = rng.choice(("yes", "no"))
    allowance = FREE_BAGS[user["membership"]][cabin] * n_pax
    total_bags = rng.randint(0, allowance + 1)
    nonfree = max(0, total_bags - allowance)
    total = sum(s["price"] for s in segments) * n_pax + nonfree * 50
    total += 30 * n_pax if insurance == "yes" else 0
    payers = [pid for pid, pm in user["payment_methods"].items() if pm["source"] != "certificate"]
    payment = {"payment_id": rng.choice(payers), "amount": total}
    # Booked up to three weeks ahead, never after the current time.
    latest = min(datetime(2024, 5, day) - timedelta(hours=3), CURRENT_TIME - timedelta(minutes=30))
    earliest = latest - timedelta(days=21)
    created = earliest + timedelta(seconds=rng.randrange(int((latest - earliest).total_seconds())))
    record: dict[str, Any] = {
        "reservation_id": ids.reservation(),
        "user_id": user["user_id"],
        "origin": origin,
        "destination": destination,
        "flight_type": flight_type,
        "cabin": cabin,
        "flights": segments,
        "passengers": passengers,
        "payment_history": [payment],
        "created_at": _stamp(created),
        "total_baggages": total_bags,
        "nonfree_baggages": nonfree,
        "insurance": insurance,
    }
    if rng.random() < 0.03:
        record["payment_history"].append({"payment_id": payment["payment_id"], "amount": -total})
        record["status"] = "cancelled"
    return record


def generate_airline_db(seed: int = 0) -> dict[str, Any]:
    """Generate a complete airline database in the tau2 ``db.json`` layout.

    Args:
        seed: Seed of the only random source; equal seeds give equal databases
            (the same canonical digest) on every run and Python version.

    Returns:
        A plain JSON-ready dict with keys ``flights``, ``users`` and
        ``reservations``, ready for ``AirlineDB.from_dict``.
    """
    rng = _Rng(seed)
    flights = _make_flights(rng)
    ids = _Ids(rng)
    users = _make_users(rng, ids)
    net = _Network(flights)
    reservations: dict[str, dict[str, Any]] = {}
    for _ in range(N_RESERVATIONS):
        user = rng.choice(users)
        res = _make_reservation(rng, ids, net, user)
        reservations[res["reservation_id"]] = res
        user["reservations"].append(res["reservation_id"])
    return {
        "flights": {f.number: _flight_record(f) for f in flights},
        "users": {u["user_id"]: u for u in users},
        "reservations": reservations,
    }
