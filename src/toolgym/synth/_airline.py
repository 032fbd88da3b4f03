"""Airline template intents: sample a reservation, apply the policy, derive the gold.

Each intent function takes the task's working database (:class:`AirlineCtx`),
a user id and the RNG, and returns a :class:`~toolgym.synth._parts.Part`, or
None when this user has nothing the intent fits. Gold actions follow from
the state and the policy rules (:class:`~toolgym.synth._rules.AirlineRules`):
which reservations may be cancelled, which bags are free, what a change
costs. Bookings, refusals and read-only questions are in
:mod:`toolgym.synth._airline_more`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolgym.domains.airline._db import (
    AirlineDB,
    CreditCard,
    FlightAvailable,
    GiftCard,
    Reservation,
    ReservationFlight,
    User,
)
from toolgym.domains.airline._tools import AIRPORTS, AirlineTools
from toolgym.synth._parts import Part, Rng
from toolgym.synth._rules import AirlineRules

__all__ = [
    "AIRLINE_INTENTS",
    "CABIN_TEXT",
    "CITY",
    "AirlineCtx",
    "Intent",
    "airline_identity",
    "cancel_grounds",
    "compensable",
    "consistent_bags",
    "pay_text",
    "reference",
    "trip_text",
    "update_payer",
]

CABIN_TEXT = {"basic_economy": "basic economy", "economy": "economy", "business": "business"}
CITY = dict(AIRPORTS)
#: Dates a changed flight may move to (bookable dates of the data).
FUTURE_DATES = tuple(f"2024-05-{d:02d}" for d in range(16, 31))


@dataclass
class AirlineCtx:
    """The state one task's intents are built on, in order."""

    db: AirlineDB
    tools: AirlineTools
    rules: AirlineRules
    used: set[str] = field(default_factory=set)
    """Reservations an earlier intent of the task already uses."""
    compensated: bool = False
    """An earlier intent of the task sends a certificate (at most one per task)."""

    def user(self, user_id: str) -> User:
        """The user record as it is now (after earlier intents)."""
        return self.db.users[user_id]

    def reservations(self, user_id: str, rng: Rng) -> list[Reservation]:
        """The user's active reservations no earlier intent uses, shuffled."""
        out = []
        for rid in self.user(user_id).reservations:
            res = self.db.reservations.get(rid)
            if res is not None and res.status is None and rid not in self.used:
                out.append(res)
        return rng.shuffled(out)

    def status(self, flight_number: str, date: str) -> str | None:
        """The status of a flight on a date (None if it does not fly then)."""
        flight = self.db.flights.get(flight_number)
        inst = flight.dates.get(date) if flight else None
        return inst.status if inst is not None else None

    def available(self, flight_number: str, date: str) -> FlightAvailable | None:
        """The flight's bookable instance on that date, if it has one."""
        flight = self.db.flights.get(flight_number)
        inst = flight.dates.get(date) if flight else None
        return inst if isinstance(inst, FlightAvailable) else None

    def departed(self, res: Reservation) -> list[ReservationFlight]:
        """Segments that have departed (flying or landed)."""
        return [s for s in res.flights
                if self.status(s.flight_number, s.date) in self.rules.departed_statuses]

    def all_available(self, res: Reservation, cabin: str | None = None) -> bool:
        """Every segment is bookable now (with seats for everyone in ``cabin``, if given)."""
        n = len(res.passengers)
        for s in res.flights:
            inst = self.available(s.flight_number, s.date)
            if inst is None or (cabin is not None and inst.available_seats[cabin] < n):  # type: ignore[index]
                return False
        return True

    def has_seats(self, flight_number: str, date: str, cabin: str, passengers: int) -> bool:
        """The flight is bookable that day with seats for everyone in ``cabin``."""
        inst = self.available(flight_number, date)
        return inst is not None and inst.available_seats[cabin] >= passengers  # type: ignore[index]

    def direct(self, origin: str, destination: str, date: str, cabin: str,
               passengers: int) -> list[tuple[str, int, str]]:
        """Bookable direct flights ``(number, price, departure)`` with enough seats."""
        out = []
        for f in self.db.flights.values():
            if f.origin != origin or f.destination != destination:
                continue
            inst = f.dates.get(date)
            if isinstance(inst, FlightAvailable) and inst.available_seats[cabin] >= passengers:  # type: ignore[index]
                out.append((f.flight_number, int(inst.prices[cabin]),  # type: ignore[index]
                            f.scheduled_departure_time_est))
        return out


def airline_identity(ctx: AirlineCtx, user_id: str
                     ) -> tuple[list[tuple[str, dict[str, Any]]], list[str], list[str]]:
    """The user gives their user id; the agent loads the profile."""
    user = ctx.user(user_id)
    name = f"{user.name.first_name} {user.name.last_name}"
    return ([("get_user_details", {"user_id": user_id})],
            [f"You are {name}", f"Your user id is {user_id}"], [user_id])


# -- shared phrasing -------------------------------------------------------------
def trip_text(res: Reservation) -> str:
    """``your round trip from Chicago (ORD) to Denver (DEN) on 2024-05-20``."""
    kind = "round trip" if res.flight_type == "round_trip" else "one-way trip"
    return (f"your {kind} from {CITY.get(res.origin, res.origin)} ({res.origin}) to "
            f"{CITY.get(res.destination, res.destination)} ({res.destination}) on "
            f"{res.flights[0].date}")


def reference(ctx: AirlineCtx, user_id: str, res: Reservation, rng: Rng
              ) -> tuple[str, list[str], list[str], list[str]]:
    """How the user points at a reservation: (phrase, known, unknown, facts).

    Either by id, or, when the user's trips tell it apart, by its route and date
    (the agent finds it through the profile).
    """
    key = (res.origin, res.destination, res.flights[0].date)
    twins = [r for rid in ctx.user(user_id).reservations
             if (r := ctx.db.reservations.get(rid)) is not None and rid != res.reservation_id
             and (r.origin, r.destination, r.flights[0].date if r.flights else "") == key]
    if twins or rng.chance(0.6):
        return (f"reservation {res.reservation_id}",
                [f"The reservation id is {res.reservation_id}"], [],
                [res.reservation_id])
    return (trip_text(res), [],
            [f"You do not remember the reservation id of the trip from {res.origin} to "
             f"{res.destination}"],
            [res.origin, res.destination, res.flights[0].date])


def pay_text(user: User, method_id: str) -> tuple[str, list[str]]:
    """How the user names a stored payment method, and the facts that name it."""
    method = user.payment_methods[method_id]
    if isinstance(method, CreditCard):
        return (f"your {method.brand} credit card ending in {method.last_four}",
                [method.last_four])
    kind = "gift card" if isinstance(method, GiftCard) else "travel certificate"
    same = [m for m in user.payment_methods.values() if m.source == method.source]
    if len(same) == 1:
        return f"your {kind}", [kind]
    return f"your {kind} {method_id}", [method_id]


def update_payer(user: User, price: int, rng: Rng) -> str | None:
    """A credit card or gift card that can pay ``price`` (the update tools' rule)."""
    ok = [m.id for m in user.payment_methods.values()
          if isinstance(m, CreditCard) or (isinstance(m, GiftCard) and m.amount >= price)]
    return rng.choice(ok) if ok else None


def _itinerary(res: Reservation) -> list[dict[str, str]]:
    return [{"flight_number": s.flight_number, "date": s.date} for s in res.flights]


def _amount_line(price: int) -> tuple[str, list[str]]:
    if price > 0:
        return "Before agreeing, you want to know how much you will pay", [str(price)]
    if price < 0:
        return "Before agreeing, you want to know how much you will get back", [str(-price)]
    return "", []


# -- cancel ----------------------------------------------------------------------
def cancel_grounds(ctx: AirlineCtx, res: Reservation) -> list[str]:
    """The policy's grounds that allow cancelling ``res`` (without the insurance one)."""
    grounds = []
    if res.created_at >= ctx.rules.cancel_window_start:
        grounds.append("recent")
    if any(ctx.status(s.flight_number, s.date) == "cancelled" for s in res.flights):
        grounds.append("airline_cancelled")
    if res.cabin == "business":
        grounds.append("business")
    return grounds


_REASONS = {
    "health": ("you have come down with a bad flu and your doctor told you not to travel "
               "(a health reason)", "health"),
    "weather": ("a big storm is forecast at your destination (severe weather)",
                "severe weather"),
    "plans": ("your plans changed", "plans changed"),
    "airline": ("the airline cancelled one of your flights", "cancelled"),
}


def _cancel(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    for res in ctx.reservations(user_id, rng):
        if ctx.departed(res):
            continue
        grounds = cancel_grounds(ctx, res)
        insured = res.insurance == "yes"
        if not grounds and not insured:
            continue
        if grounds and (not insured or rng.chance(0.6)):
            reason = "airline" if "airline_cancelled" in grounds and rng.chance(0.5) else "plans"
            ground = grounds[0] if reason == "plans" else "airline_cancelled"
        else:
            reason, ground = rng.choice(("health", "weather")), "insurance"
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        why, fact = _REASONS[reason]
        ctx.used.add(res.reservation_id)
        return Part(
            kind="cancel",
            actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                     ("cancel_reservation", {"reservation_id": res.reservation_id})],
            reason=rng.choice((
                "You want to cancel {p} because {w}", "You need to cancel {p}: {w}",
                "Because {w}, you would like {p} cancelled")).format(p=phrase, w=why),
            known=known, unknown=unknown,
            behaviour=["You want the whole reservation cancelled"],
            facts=[*facts, fact],
            expect=f"The agent cancels reservation {res.reservation_id} (allowed: {ground}).",
            traps=["insurance reason"] if ground == "insurance" else [],
            context={"cancel_reason": reason, "reservation_id": res.reservation_id},
            policy="Cancelling a reservation",
        )
    return None


# -- change flights --------------------------------------------------------------
def _legs(res: Reservation) -> list[list[int]]:
    """Segment indexes of the outbound and (round trip) return legs."""
    if res.flight_type != "round_trip":
        return [list(range(len(res.flights)))]
    for i, s in enumerate(res.flights):
        if s.destination == res.destination:
            return [list(range(i + 1)), list(range(i + 1, len(res.flights)))]
    return [list(range(len(res.flights)))]


def _change_flights(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    for res in ctx.reservations(user_id, rng):
        if res.cabin == "basic_economy" or not ctx.all_available(res):
            continue
        legs = [leg for leg in _legs(res) if len(leg) == 1]
        if not legs:
            continue
        leg = rng.choice(legs)
        i = leg[0]
        seg = res.flights[i]
        n = len(res.passengers)
        # The moved flight stays between the trip's other flights, within three days.
        low = res.flights[i - 1].date if i > 0 else ""
        high = res.flights[i + 1].date if i + 1 < len(res.flights) else "9"
        dates = [d for d in FUTURE_DATES if low < d < high and d != seg.date
                 and abs(int(d[-2:]) - int(seg.date[-2:])) <= 3]
        if not dates:
            continue
        new_date = rng.choice(dates)
        options = ctx.direct(seg.origin, seg.destination, new_date, res.cabin, 0)
        same = [o for o in options if o[0] == seg.flight_number]
        if same:
            chosen, how = same[0], f"the same flight, {seg.flight_number}"
        else:
            if not options:
                continue
            cheapest = min(o[1] for o in options)
            best = [o for o in options if o[1] == cheapest]
            if len(best) != 1:
                continue
            chosen, how = best[0], "the cheapest direct flight that day"
        if not ctx.has_seats(chosen[0], new_date, res.cabin, n):
            continue
        price = (chosen[1] - seg.price) * n
        user = ctx.user(user_id)
        payer = update_payer(user, price, rng)
        if payer is None:
            continue
        flights = _itinerary(res)
        flights[i] = {"flight_number": chosen[0], "date": new_date}
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        pay, pay_facts = pay_text(user, payer)
        line, communicate = _amount_line(price)
        ctx.used.add(res.reservation_id)
        return Part(
            kind="change_flights",
            actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                     ("search_direct_flight", {"origin": seg.origin,
                                               "destination": seg.destination,
                                               "date": new_date}),
                     ("update_reservation_flights", {
                         "reservation_id": res.reservation_id, "cabin": res.cabin,
                         "flights": flights, "payment_id": payer})],
            reason=(f"You want to move the flight from {CITY.get(seg.origin, seg.origin)} "
                    f"({seg.origin}) to {CITY.get(seg.destination, seg.destination)} "
                    f"({seg.destination}) on {seg.date} of {phrase} to {new_date}"),
            known=known, unknown=unknown,
            behaviour=[f"On {new_date} you want {how}", "Keep the rest of the trip as it is",
                       f"Pay or receive any fare difference with {pay}", *([line] if line
                                                                            else [])],
            facts=[*facts, seg.origin, seg.destination, seg.date, new_date, *pay_facts],
            communicate=communicate,
            expect=(f"The agent moves {seg.flight_number} on {seg.date} to {chosen[0]} on "
                    f"{new_date} on reservation {res.reservation_id} and charges "
                    f"{price} to {payer}."),
            traps=["fare difference"],
            policy="Changing a reservation: flights",
        )
    return None


# -- change cabin ----------------------------------------------------------------
def _change_cabin(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    for res in ctx.reservations(user_id, rng):
        if ctx.departed(res):
            continue
        cabins = [c for c in CABIN_TEXT if c != res.cabin and ctx.all_available(res, c)]
        if not cabins:
            continue
        cabin = rng.choice(cabins)
        n = len(res.passengers)
        new_total = 0
        for s in res.flights:
            inst = ctx.available(s.flight_number, s.date)
            assert inst is not None
            new_total += int(inst.prices[cabin]) * n  # type: ignore[index]
        price = new_total - sum(s.price for s in res.flights) * n
        user = ctx.user(user_id)
        payer = update_payer(user, price, rng)
        if payer is None:
            continue
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        pay, pay_facts = pay_text(user, payer)
        line, communicate = _amount_line(price)
        ctx.used.add(res.reservation_id)
        return Part(
            kind="change_cabin",
            actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                     ("update_reservation_flights", {
                         "reservation_id": res.reservation_id, "cabin": cabin,
                         "flights": _itinerary(res), "payment_id": payer})],
            reason=rng.choice((
                "You want to change the cabin of {p} to {c}",
                "You would like {p} moved to {c}", "You want to fly {c} on {p} instead")
            ).format(p=phrase, c=CABIN_TEXT[cabin]),
            known=known, unknown=unknown,
            behaviour=["Every flight of the reservation should move to the new cabin, and "
                       "the flights stay the same",
                       f"Pay or receive the difference with {pay}",
                       *([line] if line else [])],
            facts=[*facts, CABIN_TEXT[cabin], *pay_facts],
            communicate=communicate,
            expect=(f"The agent moves reservation {res.reservation_id} to {cabin} and "
                    f"settles {price} on {payer}."),
            traps=["fare difference"],
            policy="Changing a reservation: cabin",
        )
    return None


# -- bags --------------------------------------------------------------------------
def consistent_bags(ctx: AirlineCtx, user: User, res: Reservation) -> bool:
    """The reservation's paid bags are what the allowance table gives for its bags."""
    allowance = ctx.rules.allowance(user.membership, res.cabin, len(res.passengers))
    return res.nonfree_baggages == max(0, res.total_baggages - allowance)


def _add_bags(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for res in ctx.reservations(user_id, rng):
        if ctx.departed(res) or not consistent_bags(ctx, user, res):
            continue
        added = rng.randint(1, 3)
        total = res.total_baggages + added
        allowance = ctx.rules.allowance(user.membership, res.cabin, len(res.passengers))
        nonfree = max(0, total - allowance)
        fee = ctx.rules.bag_fee * (nonfree - res.nonfree_baggages)
        payer = update_payer(user, fee, rng)
        if payer is None:
            continue
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        pay, pay_facts = pay_text(user, payer)
        bags = "bag" if added == 1 else "bags"
        ctx.used.add(res.reservation_id)
        return Part(
            kind="add_bags",
            actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                     ("update_reservation_baggages", {
                         "reservation_id": res.reservation_id, "total_baggages": total,
                         "nonfree_baggages": nonfree, "payment_id": payer})],
            reason=rng.choice((
                "You want to add {n} checked {b} to {p}",
                "You will travel with {n} more checked {b} on {p} and want to add them",
                "You need {n} extra checked {b} on {p}")).format(n=added, b=bags, p=phrase),
            known=known, unknown=unknown,
            behaviour=[f"If there is a fee, pay it with {pay}",
                       "You want to know how much the bags cost before agreeing"],
            facts=[*facts, str(added), *pay_facts],
            communicate=[str(fee)] if fee > 0 else [],
            expect=(f"The agent sets reservation {res.reservation_id} to {total} bags, "
                    f"{nonfree} of them paid ({user.membership} member, "
                    f"{CABIN_TEXT[res.cabin]}), and charges {fee}."),
            traps=["bag allowance"],
            policy="Changing a reservation: bags",
        )
    return None


# -- passengers ----------------------------------------------------------------------
_NEW_FIRST = ("Aurelio", "Brenna", "Caspian", "Delphine", "Ezra", "Freya", "Gideon", "Honor",
              "Isolde", "Jasper", "Keira", "Lorcan", "Maren", "Nico", "Odette", "Piers")
_NEW_LAST = ("Ashcombe", "Birchall", "Crowther", "Dalby", "Elsworth", "Fenwick", "Garside",
             "Hebden", "Ilsley", "Jowett", "Kershaw", "Lumley", "Moxon", "Normanton")


def _change_passengers(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    for res in ctx.reservations(user_id, rng):
        if ctx.departed(res):
            continue
        j = rng.randint(0, len(res.passengers) - 1)
        old = res.passengers[j]
        new = {"first_name": old.first_name, "last_name": old.last_name, "dob": old.dob}
        how = rng.choice(("dob", "person"))
        if how == "dob":
            year = int(old.dob[:4])
            new["dob"] = f"{year + rng.choice((-1, 1))}{old.dob[4:]}"
            ask = (f"The date of birth of passenger {old.first_name} {old.last_name} is wrong: "
                   f"it should be {new['dob']}")
            facts = [old.first_name, old.last_name, new["dob"]]
        else:
            new = {"first_name": rng.choice(_NEW_FIRST), "last_name": rng.choice(_NEW_LAST),
                   "dob": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                          f"{rng.randint(1, 28):02d}"}
            ask = (f"{old.first_name} {old.last_name} cannot travel; {new['first_name']} "
                   f"{new['last_name']}, born {new['dob']}, takes that seat instead")
            facts = [old.first_name, old.last_name, new["first_name"], new["last_name"],
                     new["dob"]]
        passengers = [{"first_name": p.first_name, "last_name": p.last_name, "dob": p.dob}
                      for p in res.passengers]
        passengers[j] = new
        if passengers == [p.model_dump() for p in res.passengers]:
            continue
        phrase, known, unknown, ref_facts = reference(ctx, user_id, res, rng)
        ctx.used.add(res.reservation_id)
        return Part(
            kind="change_passengers",
            actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                     ("update_reservation_passengers", {
                         "reservation_id": res.reservation_id, "passengers": passengers})],
            reason=f"You need to update a passenger on {phrase}",
            known=[*known, ask], unknown=unknown,
            behaviour=["The other passengers stay as they are"],
            facts=[*ref_facts, *facts],
            expect=f"The agent updates passenger {j + 1} of reservation {res.reservation_id}.",
            policy="Changing a reservation: passengers",
        )
    return None


# -- compensation --------------------------------------------------------------------
def compensable(ctx: AirlineCtx, user: User, res: Reservation) -> bool:
    """The policy's compensation eligibility: membership, insurance or business."""
    return (user.membership in ctx.rules.compensated_memberships or res.insurance == "yes"
            or res.cabin == "business")


def _compensation(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    if ctx.compensated:
        return None
    for res in ctx.reservations(user_id, rng):
        if not compensable(ctx, user, res):
            continue
        n = len(res.passengers)
        cancelled = [s for s in res.flights if ctx.status(s.flight_number, s.date) == "cancelled"]
        delayed = [s for s in res.flights if ctx.status(s.flight_number, s.date) == "delayed"]
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        if cancelled:
            seg = cancelled[0]
            amount = ctx.rules.certificate_cancelled * n
            ctx.used.add(res.reservation_id)
            ctx.compensated = True
            return Part(
                kind="compensation",
                actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                         ("get_flight_status", {"flight_number": seg.flight_number,
                                                "date": seg.date}),
                         ("send_certificate", {"user_id": user_id, "amount": amount})],
                reason=(f"Your flight {seg.flight_number} on {seg.date} ({phrase}) was "
                        f"cancelled by the airline, and you want compensation"),
                known=known, unknown=unknown,
                behaviour=["You do not want to change or cancel the reservation",
                           "You accept a travel certificate as compensation"],
                facts=[*facts, seg.flight_number, seg.date],
                communicate=[str(amount)],
                expect=f"The agent sends a certificate of {amount} ({n} passenger(s)).",
                traps=["compensation rule"],
                context={"reservation_id": res.reservation_id},
                policy="Compensation: cancelled flight",
            )
        if delayed and not ctx.departed(res) and cancel_grounds(ctx, res):
            seg = delayed[0]
            amount = ctx.rules.certificate_delayed * n
            ctx.used.add(res.reservation_id)
            ctx.compensated = True
            return Part(
                kind="compensation",
                actions=[("get_reservation_details", {"reservation_id": res.reservation_id}),
                         ("get_flight_status", {"flight_number": seg.flight_number,
                                                "date": seg.date}),
                         ("cancel_reservation", {"reservation_id": res.reservation_id}),
                         ("send_certificate", {"user_id": user_id, "amount": amount})],
                reason=(f"Your flight {seg.flight_number} on {seg.date} ({phrase}) is delayed; "
                        f"because of the delay you want to cancel the reservation and you "
                        f"want compensation for the trouble"),
                known=known, unknown=unknown,
                behaviour=["You accept a travel certificate as compensation"],
                facts=[*facts, seg.flight_number, seg.date],
                communicate=[str(amount)],
                expect=(f"The agent cancels {res.reservation_id}, then sends a certificate "
                        f"of {amount}."),
                traps=["compensation rule", "delay needs a change first"],
                context={"reservation_id": res.reservation_id, "cancel_reason": "delay"},
                policy="Compensation: delayed flight; cancelling",
            )
    return None


Intent = Callable[[AirlineCtx, str, Rng], Part | None]

AIRLINE_INTENTS: dict[str, Intent] = {
    "cancel": _cancel,
    "change_flights": _change_flights,
    "change_cabin": _change_cabin,
    "add_bags": _add_bags,
    "change_passengers": _change_passengers,
    "compensation": _compensation,
}

