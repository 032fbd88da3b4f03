"""Airline template intents: new bookings, refusals and read-only questions.

Bookings apply the booking rules (one cabin, at most five passengers, free
bags by membership and cabin, insurance, which stored payment methods may pay
and how many of each kind). A refusal is a request the policy forbids: its
gold has no write, and ``communicate_info`` holds the key phrase of the rule
that stops it (``24 hours``, ``basic economy``, the departed flight...), so a
conversation is graded on both: nothing changed, and the agent said why.
"""

from __future__ import annotations

from typing import Any

from toolgym.domains.airline._db import Certificate, CreditCard, FlightAvailable, GiftCard, User
from toolgym.domains.airline._tools import RESERVATION_IDS
from toolgym.synth._airline import (
    CABIN_TEXT,
    CITY,
    FUTURE_DATES,
    AirlineCtx,
    Intent,
    cancel_grounds,
    compensable,
    pay_text,
    reference,
)
from toolgym.synth._parts import Part, Rng, money

__all__ = ["AIRLINE_MORE_INTENTS"]

_BOOKING = "<new booking>"


# -- booking -------------------------------------------------------------------------
def _pick(ctx: AirlineCtx, options: list[tuple[str, int, str]], date: str, cabin: str,
          passengers: int, rng: Rng) -> tuple[tuple[str, int, str], str, str] | None:
    """A bookable flight the user can name unambiguously: (flight, how, fact).

    ``options`` are all the day's direct flights, so that "the cheapest" is
    the cheapest the agent sees; the chosen one must have the seats.
    """
    picked = _name_one(options, rng)
    if picked is None or not ctx.has_seats(picked[0][0], date, cabin, passengers):
        return None
    return picked


def _name_one(options: list[tuple[str, int, str]], rng: Rng
              ) -> tuple[tuple[str, int, str], str, str] | None:
    if not options:
        return None
    cheapest = min(o[1] for o in options)
    best = [o for o in options if o[1] == cheapest]
    if len(best) == 1 and (len(options) == 1 or rng.chance(0.5)):
        return best[0], "the cheapest direct flight", "cheapest"
    chosen = rng.choice(options)
    if sum(1 for o in options if o[2] == chosen[2]) != 1:
        return None
    hhmm = chosen[2][:5]
    return chosen, f"the direct flight leaving at {hhmm}", hhmm


def _whole(amount: float) -> bool:
    return amount > 0 and float(amount).is_integer()


def _payment_plans(ctx: AirlineCtx, user: User, total: int
                   ) -> list[tuple[list[tuple[str, int]], str, list[str], bool]]:
    """Ways the policy lets this user pay ``total``: (entries, text, facts, split)."""
    methods = list(user.payment_methods.values())
    cards = [m for m in methods if isinstance(m, CreditCard)]
    gifts = [m for m in methods if isinstance(m, GiftCard)]
    certs = [m for m in methods if isinstance(m, Certificate)]
    plans: list[tuple[list[tuple[str, int]], str, list[str], bool]] = []

    def text(mid: str) -> tuple[str, list[str]]:
        return pay_text(user, mid)

    for card in cards:
        t, f = text(card.id)
        plans.append(([(card.id, total)], f"Pay with {t}", f, False))
    for g in gifts:
        if g.amount >= total:
            t, f = text(g.id)
            plans.append(([(g.id, total)], f"Pay the whole amount with {t}", f, False))
    for c in certs:
        if not _whole(c.amount):
            continue
        t, f = text(c.id)
        if c.amount >= total:
            plans.append(([(c.id, total)], f"Pay with {t}; you accept that the part of its "
                          f"value the trip does not need is lost", f, False))
        for card in cards if c.amount < total else []:
            t2, f2 = text(card.id)
            plans.append(([(c.id, int(c.amount)), (card.id, total - int(c.amount))],
                          f"First use {t} for as much as it covers, then put the rest on {t2}",
                          f + f2, True))
    for g in gifts:
        if not _whole(g.amount) or g.amount >= total:
            continue
        t, f = text(g.id)
        rest = total - int(g.amount)
        for card in cards:
            t2, f2 = text(card.id)
            plans.append(([(g.id, int(g.amount)), (card.id, rest)],
                          f"First use the whole balance of {t}, then put the rest on {t2}",
                          f + f2, True))
        if ctx.rules.max_gift_cards >= 2:
            for g2 in gifts:
                if g2.id != g.id and g2.amount >= rest:
                    t2, f2 = text(g2.id)
                    plans.append(([(g.id, int(g.amount)), (g2.id, rest)],
                                  f"First use the whole balance of {t}, then put the rest "
                                  f"on {t2}", f + f2, True))
    return plans


def _book(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    if _BOOKING in ctx.used or all(r in ctx.db.reservations for r in RESERVATION_IDS):
        return None
    user = ctx.user(user_id)
    me = {"first_name": user.name.first_name, "last_name": user.name.last_name,
          "dob": user.dob}
    saved = [p.model_dump() for p in user.saved_passengers if p.model_dump() != me]
    companions = saved[:rng.randint(0, min(2, len(saved)))]
    passengers = [me, *companions]
    n = len(passengers)
    cabin = rng.choice(tuple(CABIN_TEXT))
    date = rng.choice(FUTURE_DATES[:-3])
    starts = [f for f in ctx.db.flights.values()
              if isinstance(inst := f.dates.get(date), FlightAvailable)
              and inst.available_seats[cabin] >= n]  # type: ignore[index]
    if not starts:
        return None
    first = rng.choice(starts)
    origin, destination = first.origin, first.destination
    out = _pick(ctx, ctx.direct(origin, destination, date, cabin, 0), date, cabin, n, rng)
    if out is None:
        return None
    legs = [(out, date)]
    back_date = None
    if rng.chance(0.5):
        day = int(date[-2:]) + rng.randint(1, 4)
        back_day = f"2024-05-{day:02d}"
        back = (_pick(ctx, ctx.direct(destination, origin, back_day, cabin, 0), back_day,
                      cabin, n, rng) if day <= 30 else None)
        if back is not None:
            back_date = back_day
            legs.append((back, back_day))
    bags = rng.randint(0, 3)
    allowance = ctx.rules.allowance(user.membership, cabin, n)
    nonfree = max(0, bags - allowance)
    insurance = rng.choice(("yes", "no"))
    total = (sum(pick[0][1] for pick, _ in legs) * n + ctx.rules.bag_fee * nonfree
             + (ctx.rules.insurance_fee * n if insurance == "yes" else 0))
    plans = _payment_plans(ctx, user, total)
    if not plans:
        return None
    entries, pay_line, pay_facts, split = rng.choice(plans)
    flights = [{"flight_number": pick[0][0], "date": d} for pick, d in legs]
    args: dict[str, Any] = {
        "user_id": user_id, "origin": origin, "destination": destination,
        "flight_type": "round_trip" if back_date else "one_way", "cabin": cabin,
        "flights": flights, "passengers": passengers,
        "payment_methods": [{"payment_id": p, "amount": a} for p, a in entries],
        "total_baggages": bags, "nonfree_baggages": nonfree, "insurance": insurance}
    searches = [("search_direct_flight", {"origin": origin, "destination": destination,
                                          "date": date})]
    if back_date:
        searches.append(("search_direct_flight", {"origin": destination,
                                                  "destination": origin, "date": back_date}))
    trip = "round trip" if back_date else "one-way trip"
    reason = (f"You want to book a {trip} from {CITY.get(origin, origin)} ({origin}) to "
              f"{CITY.get(destination, destination)} ({destination}), leaving on {date}"
              + (f" and flying back on {back_date}" if back_date else ""))
    who = ("You travel alone" if not companions else "You travel with " + " and ".join(
        f"{p['first_name']} {p['last_name']} (born {p['dob']})" for p in companions))
    hows = [f"On the way out you want {out[1]}"]
    if back_date:
        hows.append(f"On the way back you want {legs[1][0][1]}")
    ctx.used.add(_BOOKING)
    traps = ["bag allowance"] + (["split payment"] if split else [])
    return Part(
        kind="book",
        actions=[*searches, ("book_reservation", args)],
        reason=reason,
        known=[f"Your date of birth is {user.dob}", who],
        behaviour=[f"You want to fly {CABIN_TEXT[cabin]}", *hows,
                   f"You have {bags} checked bags" if bags else "You have no checked bags",
                   "You want travel insurance" if insurance == "yes"
                   else "You do not want travel insurance",
                   pay_line, "Before agreeing, you want to hear the total price"],
        facts=[origin, destination, date, *([back_date] if back_date else []),
               CABIN_TEXT[cabin], user.dob, *[p["first_name"] for p in companions],
               *[p["dob"] for p in companions], out[2],
               *([legs[1][0][2]] if back_date else []), *pay_facts],
        communicate=[str(total)],
        expect=(f"The agent books {' and '.join(f['flight_number'] for f in flights)} in "
                f"{cabin} for {n} passenger(s), {bags} bags ({nonfree} paid), insurance "
                f"{insurance}, total {total}."),
        traps=traps,
        policy="New bookings",
    )


# -- refusals ---------------------------------------------------------------------------
def _refusal(kind: str, res_id: str, reason: str, key: str, expect: str, *,
             known: list[str], unknown: list[str], facts: list[str],
             extra: list[tuple[str, dict[str, Any]]] | None = None,
             behaviour: list[str] | None = None, context: dict[str, Any] | None = None
             ) -> Part:
    return Part(
        kind="refusal",
        actions=[("get_reservation_details", {"reservation_id": res_id}), *(extra or [])],
        reason=reason, known=known, unknown=unknown,
        behaviour=[*(behaviour or []), "You do not want any other change instead"],
        facts=facts, communicate=[key],
        expect=f"The agent refuses: {expect}. Nothing changes.",
        traps=["refusal"], refusal=True,
        context={"refused": res_id, "subtype": kind, **(context or {})},
        policy=expect, topic=f"the request about reservation {res_id}",
    )


def _refuse(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    kinds = ["cancel_no_ground", "change_basic_economy", "passenger_count", "remove_bags",
             "add_insurance", "compensation_regular"]
    if ctx.rules.departed_cancel == "refuse":
        kinds.append("cancel_departed")
    for res in ctx.reservations(user_id, rng):
        departed = ctx.departed(res)
        phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
        rid = res.reservation_id
        for kind in rng.shuffled(kinds):
            part = None
            if kind == "cancel_no_ground" and not departed and not cancel_grounds(ctx, res):
                part = _refusal(
                    kind, rid, f"You want to cancel {phrase} because your plans changed",
                    "24 hours", "the reservation is older than 24 hours, not business, not "
                    "cancelled by the airline, and a change of plans is not an insured reason",
                    known=known, unknown=unknown, facts=[*facts, "plans changed"],
                    behaviour=["You want a full refund"],
                    context={"cancel_reason": "plans"})
            elif kind == "cancel_departed" and departed and len(departed) < len(res.flights):
                seg = departed[0]
                part = _refusal(
                    kind, rid, f"You want to cancel the rest of {phrase}; you already flew "
                    f"the first flight", seg.flight_number,
                    f"flight {seg.flight_number} has already departed", known=known,
                    unknown=unknown, facts=facts, context={"cancel_reason": "plans"})
            elif (kind == "change_basic_economy" and res.cabin == "basic_economy"
                  and ctx.all_available(res)):
                seg = res.flights[0]
                part = _refusal(
                    kind, rid, f"You want to move the flight of {phrase} to a later date",
                    "basic economy", "flights of a basic economy reservation cannot be "
                    "changed", known=known, unknown=unknown, facts=facts,
                    behaviour=["You want to keep the basic economy cabin"],
                    context={"flight": seg.flight_number})
            elif kind == "passenger_count" and not departed and len(res.passengers) < 5:
                part = _refusal(
                    kind, rid, f"You want to add your colleague Sam Okoro (born 1990-04-12) "
                    f"as an extra passenger on {phrase}", "number of passengers",
                    "the number of passengers of a reservation cannot change", known=known,
                    unknown=unknown, facts=[*facts, "Sam Okoro"])
            elif kind == "remove_bags" and not departed and res.total_baggages > 0:
                part = _refusal(
                    kind, rid, f"You want to remove one checked bag from {phrase} and get "
                    f"money back for it", "removed", "checked bags cannot be removed",
                    known=known, unknown=unknown, facts=facts)
            elif kind == "add_insurance" and not departed and res.insurance == "no":
                part = _refusal(
                    kind, rid, f"You want to add travel insurance to {phrase}", "insurance",
                    "insurance cannot be added to an existing reservation", known=known,
                    unknown=unknown, facts=facts)
            elif kind == "compensation_regular" and not compensable(ctx, user, res):
                cancelled = [s for s in res.flights
                             if ctx.status(s.flight_number, s.date) == "cancelled"]
                if cancelled:
                    seg = cancelled[0]
                    part = _refusal(
                        kind, rid, f"Your flight {seg.flight_number} on {seg.date} ({phrase}) "
                        f"was cancelled by the airline, and you want compensation",
                        "regular", "a regular member without insurance outside business is "
                        "not compensated", known=known, unknown=unknown,
                        facts=[*facts, seg.flight_number, seg.date],
                        extra=[("get_flight_status", {"flight_number": seg.flight_number,
                                                      "date": seg.date})])
            if part is not None:
                ctx.used.add(rid)
                return part
    return None


# -- read-only questions --------------------------------------------------------------------
_STATUS_WORDS = ("landed", "cancelled", "delayed", "flying", "on time")


def _info(ctx: AirlineCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for kind in rng.shuffled(["flight_status", "total_paid", "gift_balance", "find_reservation",
                              "cheapest_flight"]):
        if kind == "gift_balance":
            gifts = [m for m in user.payment_methods.values()
                     if isinstance(m, GiftCard) and m.amount >= 10]
            if gifts:
                g = rng.choice(gifts)
                t, f = pay_text(user, g.id)
                return Part(kind="info", actions=[],
                            reason=f"You want to know the remaining balance of {t}",
                            facts=f, communicate=[money(g.amount)],
                            expect=f"The agent reads the balance {money(g.amount)} from the "
                                   f"profile.", policy="Payment methods")
            continue
        if kind == "cheapest_flight":
            date = rng.choice(FUTURE_DATES[:-1])
            flight = rng.choice(list(ctx.db.flights.values()))
            cabin = rng.choice(tuple(CABIN_TEXT))
            options = ctx.direct(flight.origin, flight.destination, date, cabin, 0)
            prices = sorted(o[1] for o in options)
            if len(prices) < 2 or prices[0] == prices[1]:
                continue
            best = next(o for o in options if o[1] == prices[0])
            o, d = flight.origin, flight.destination
            return Part(
                kind="info",
                actions=[("search_direct_flight", {"origin": o, "destination": d,
                                                   "date": date})],
                reason=(f"You want to know which direct flight from {CITY.get(o, o)} ({o}) to "
                        f"{CITY.get(d, d)} ({d}) on {date} is the cheapest in "
                        f"{CABIN_TEXT[cabin]}, and its price"),
                behaviour=["You only want the information; do not book anything"],
                facts=[o, d, date, CABIN_TEXT[cabin]], communicate=[best[0], str(best[1])],
                expect=f"The agent names {best[0]} at {best[1]}.", policy="Flights")
        for res in ctx.reservations(user_id, rng):
            phrase, known, unknown, facts = reference(ctx, user_id, res, rng)
            get = ("get_reservation_details", {"reservation_id": res.reservation_id})
            if kind == "flight_status":
                segs = [s for s in res.flights
                        if ctx.status(s.flight_number, s.date) in _STATUS_WORDS]
                if not segs:
                    continue
                seg = rng.choice(segs)
                status = ctx.status(seg.flight_number, seg.date)
                assert status is not None
                return Part(
                    kind="info",
                    actions=[("get_flight_status", {"flight_number": seg.flight_number,
                                                    "date": seg.date})],
                    reason=f"You want to know the status of flight {seg.flight_number} on "
                           f"{seg.date}", facts=[seg.flight_number, seg.date],
                    communicate=[status], expect=f"The agent says it is {status}.",
                    policy="Flights")
            if kind == "total_paid":
                paid = sum(p.amount for p in res.payment_history)
                if paid < 10:
                    continue
                ctx.used.add(res.reservation_id)
                return Part(kind="info", actions=[get],
                            reason=f"You want to know how much you paid in total for {phrase}",
                            known=known, unknown=unknown, facts=facts,
                            communicate=[str(paid)],
                            expect=f"The agent says {paid}.", policy="Reservations")
            if kind == "find_reservation" and not known:
                ctx.used.add(res.reservation_id)
                return Part(kind="info", actions=[get],
                            reason=f"You need the reservation id of {phrase}",
                            unknown=unknown, facts=facts, communicate=[res.reservation_id],
                            expect=f"The agent finds {res.reservation_id} in the profile.",
                            policy="Identity and access")
    return None


AIRLINE_MORE_INTENTS: dict[str, Intent] = {
    "book": _book,
    "refusal": _refuse,
    "info": _info,
}
