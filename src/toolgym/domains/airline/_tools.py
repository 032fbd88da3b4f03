"""The airline tools, behaviour-compatible with tau2-bench's airline domain.

Every check, its order, its error text and every change to the database
follow SEMANTICS §2.4, tau2's quirks included: a gold trajectory replayed here
must end in the same database as in tau2. The tools enforce no policy (bag
allowances, membership, 24-hour rule, ...): the policy is the agent's job.

Arguments arrive as the agent sent them. Structured ones are turned into
records with :func:`parse`; plain scalars are compared or stored as given,
like tau2 does. Lookups with an unhashable argument (say a list) fail with
Python's own message, which is also what tau2 shows.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from toolgym.domains._calculate import calculate as safe_calculate
from toolgym.domains._error_texts import bad_operands, key_error, unhashable
from toolgym.domains._toolkit import ToolKind, Toolkit, parse, tool
from toolgym.domains.airline._db import (
    AirlineDB,
    Airport,
    CabinClass,
    Certificate,
    Flight,
    FlightAvailable,
    FlightInfo,
    FlightInstance,
    FlightSearchResult,
    FlightType,
    GiftCard,
    Insurance,
    Passenger,
    Payment,
    Reservation,
    ReservationFlight,
    User,
)
from toolgym.errors import ToolError

__all__ = ["AIRPORTS", "CURRENT_TIME", "AirlineTools"]

#: The simulated "now"; the policy text states the same time.
CURRENT_TIME = "2024-05-15T15:00:00"
#: New reservations take the first of these ids that is free.
RESERVATION_IDS = ("HATHAT", "HATHAU", "HATHAV")
#: New certificates take the first of these ids that the user does not hold yet.
CERTIFICATE_IDS = ("certificate_3221322", "certificate_3221323", "certificate_3221324")
INSURANCE_PRICE = 30
BAG_PRICE = 50

AIRPORTS: tuple[tuple[str, str], ...] = (
    ("SFO", "San Francisco"),
    ("JFK", "New York"),
    ("LAX", "Los Angeles"),
    ("ORD", "Chicago"),
    ("DFW", "Dallas"),
    ("DEN", "Denver"),
    ("SEA", "Seattle"),
    ("ATL", "Atlanta"),
    ("MIA", "Miami"),
    ("BOS", "Boston"),
    ("PHX", "Phoenix"),
    ("IAH", "Houston"),
    ("LAS", "Las Vegas"),
    ("MCO", "Orlando"),
    ("EWR", "Newark"),
    ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"),
    ("DTW", "Detroit"),
    ("PHL", "Philadelphia"),
    ("LGA", "LaGuardia"),
)

_V = TypeVar("_V")
_R = TypeVar("_R", bound=BaseModel)


def _get(mapping: dict[str, _V], key: Any) -> _V | None:
    """``mapping.get(key)``, turning an unhashable key into a ToolError."""
    try:
        return mapping.get(key)
    except TypeError:  # e.g. the agent passed a list as an id
        raise ToolError(unhashable(key)) from None


def _cabin_value(values: dict[CabinClass, int], cabin: Any) -> int:
    """``values[cabin]``; a bad cabin fails like tau2's dict lookup (``'xyz'``)."""
    try:
        return values[cabin]
    except KeyError:
        raise ToolError(key_error(cabin)) from None
    except TypeError:
        raise ToolError(unhashable(cabin)) from None


def _sub(left: Any, right: Any) -> Any:
    """``left - right`` on numbers; Python's message for anything else (tau2 stores
    baggage counts as given, so either side may be a string)."""
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left - right
    raise ToolError(bad_operands("-", left, right))


def _search_result(flight: Flight, inst: FlightAvailable, date: str | None) -> FlightSearchResult:
    return FlightSearchResult(
        flight_number=flight.flight_number,
        origin=flight.origin,
        destination=flight.destination,
        status="available",
        scheduled_departure_time_est=flight.scheduled_departure_time_est,
        scheduled_arrival_time_est=flight.scheduled_arrival_time_est,
        date=date,
        available_seats=dict(inst.available_seats),
        prices=dict(inst.prices),
    )


class AirlineTools(Toolkit[AirlineDB]):
    """Tools of an airline customer-service agent."""

    # -- lookups -------------------------------------------------------------
    def _user(self, user_id: Any) -> User:
        user = _get(self.db.users, user_id)
        if user is None:
            raise ToolError(f"User {user_id} not found")
        return user

    def _reservation(self, reservation_id: Any) -> Reservation:
        reservation = _get(self.db.reservations, reservation_id)
        if reservation is None:
            raise ToolError(f"Reservation {reservation_id} not found")
        return reservation

    def _flight(self, flight_number: Any) -> Flight:
        flight = _get(self.db.flights, flight_number)
        if flight is None:
            raise ToolError(f"Flight {flight_number} not found")
        return flight

    def _instance(self, flight_number: Any, date: Any) -> tuple[Flight, FlightInstance]:
        flight = self._flight(flight_number)
        inst = _get(flight.dates, date)
        if inst is None:
            raise ToolError(f"Flight {flight_number} not found on date {date}")
        return flight, inst

    def _new_segment(self, info: FlightInfo, cabin: Any, count: int) -> ReservationFlight:
        """Check a flight can take ``count`` passengers in ``cabin``; return its new segment.

        The segment's origin and destination come from the flight record and
        its price is today's price of the cabin.
        """
        flight_number, date = info.flight_number, info.date
        flight, inst = self._instance(flight_number, date)
        if not isinstance(inst, FlightAvailable):
            raise ToolError(f"Flight {flight_number} not available on date {date}")
        if _cabin_value(inst.available_seats, cabin) < count:
            raise ToolError(f"Not enough seats on flight {flight_number}")
        return ReservationFlight(
            flight_number=flight_number,
            origin=flight.origin,
            destination=flight.destination,
            date=date,
            price=_cabin_value(inst.prices, cabin),
        )

    def _record(self, type_: type[_R], data: dict[str, Any], what: str) -> _R:
        """Build a record from tool arguments (``invalid <what>.<field>: ...``).

        The tau2 argument mode replaces it with tau2's validation report.
        """
        return parse(type_, data, what)

    def _pay_for_update(self, reservation_id: str, payment_id: Any, price: Any) -> None:
        """The payment step shared by the update tools (SEMANTICS §2.4)."""
        user_id = self.db.reservations[reservation_id].user_id
        method = _get(self.db.users[user_id].payment_methods, payment_id)
        if method is None:
            raise ToolError("Payment method not found")
        # tau2 quirk: certificates are refused outright, even for a refund or a
        # zero price.
        if isinstance(method, Certificate):
            raise ToolError("Certificate cannot be used to update reservation")
        if isinstance(method, GiftCard):
            if method.amount < price:
                raise ToolError("Gift card balance is not enough")
            # tau2 subtracts even a negative price, so a refund credits the
            # gift card. Subtracting 0 changes nothing, so skip the copy then.
            if price != 0:
                card = self.db.edit("users", user_id).payment_methods[payment_id]
                assert isinstance(card, GiftCard)
                card.amount -= price
        if price != 0:
            # Built after the gift card was charged: a non-integral price fails
            # here with the balance already changed, as in tau2.
            payment = self._record(Payment, {"payment_id": payment_id, "amount": price},
                                   "payment")
            edited = self.db.edit("reservations", reservation_id)
            edited.payment_history.append(payment)

    # -- read tools ------------------------------------------------------------
    @tool(ToolKind.READ)
    def get_user_details(self, user_id: str) -> User:
        """Get a user's profile: name, address, payment methods, saved passengers,
        membership level and reservation ids.

        Args:
            user_id: The user id, such as 'sara_doe_496'.
        """
        return self._user(user_id)

    @tool(ToolKind.READ)
    def get_reservation_details(self, reservation_id: str) -> Reservation:
        """Get the full details of a reservation.

        Args:
            reservation_id: The reservation id, such as '8JX2WO'.
        """
        return self._reservation(reservation_id)

    @tool(ToolKind.READ)
    def get_flight_status(self, flight_number: str, date: str) -> str:
        """Get the status of a flight on a given date (e.g. 'available', 'landed',
        'delayed', 'cancelled').

        Args:
            flight_number: The flight number, such as 'HAT001'.
            date: The date of the flight in YYYY-MM-DD format, such as '2024-05-01'.
        """
        return self._instance(flight_number, date)[1].status

    @tool(ToolKind.READ)
    def list_all_airports(self) -> list[Airport]:
        """List every airport the airline serves, with its IATA code and city."""
        return [Airport(iata=iata, city=city) for iata, city in AIRPORTS]

    @tool(ToolKind.READ)
    def search_direct_flight(
        self, origin: str, destination: str, date: str
    ) -> list[FlightSearchResult]:
        """Search for nonstop flights between two airports on a date that can still be
        booked, with their seat availability and prices per cabin.

        Args:
            origin: The IATA code of the departure airport, such as 'JFK'.
            destination: The IATA code of the arrival airport, such as 'LAX'.
            date: The date of the flight in YYYY-MM-DD format, such as '2024-05-01'.
        """
        results: list[FlightSearchResult] = []
        for flight in self.db.flights.values():
            if flight.origin != origin or flight.destination != destination:
                continue
            inst = _get(flight.dates, date)
            if isinstance(inst, FlightAvailable):
                # tau2 leaves the date out of direct-search results (null).
                results.append(_search_result(flight, inst, None))
        return results

    @tool(ToolKind.READ)
    def search_onestop_flight(
        self, origin: str, destination: str, date: str
    ) -> list[list[FlightSearchResult]]:
        """Search for one-stop connections between two airports departing on a date.
        Each result is a pair of flights [first leg, second leg]; the second leg
        leaves the connecting airport after the first one lands.

        Args:
            origin: The IATA code of the departure airport, such as 'JFK'.
            destination: The IATA code of the final arrival airport, such as 'LAX'.
            date: The date of the first flight in YYYY-MM-DD format, such as '2024-05-01'.
        """
        results: list[list[FlightSearchResult]] = []
        flights = list(self.db.flights.values())
        for first in flights:
            if first.origin != origin:
                continue
            inst1 = _get(first.dates, date)
            if not isinstance(inst1, FlightAvailable):
                continue
            arrival = first.scheduled_arrival_time_est
            next_date = date
            if "+1" in arrival:
                # tau2 quirk: the next day is built as "2024-05-" + day + 1 with no
                # zero padding ("2024-05-06" -> "2024-05-7") and the month fixed,
                # so such dates usually match nothing.
                try:
                    next_date = f"2024-05-{int(date[-2:]) + 1}"
                except ValueError as exc:  # only with a malformed date key in the data
                    raise ToolError(str(exc)) from None
            for second in flights:
                if second.origin != first.destination or second.destination != destination:
                    continue
                inst2 = second.dates.get(next_date)
                # tau2 quirk: a plain string comparison, even when the arrival
                # time carries a "+1" suffix.
                if (
                    isinstance(inst2, FlightAvailable)
                    and second.scheduled_departure_time_est >= arrival
                ):
                    results.append(
                        [
                            _search_result(first, inst1, date),
                            _search_result(second, inst2, next_date),
                        ]
                    )
        return results

    # -- write tools -------------------------------------------------------------
    @tool(ToolKind.WRITE)
    def book_reservation(
        self,
        user_id: str,
        origin: str,
        destination: str,
        flight_type: FlightType,
        cabin: CabinClass,
        flights: list[FlightInfo],
        passengers: list[Passenger],
        payment_methods: list[Payment],
        total_baggages: int,
        nonfree_baggages: int,
        insurance: Insurance,
    ) -> Reservation:
        """Book a new reservation for a user and charge its payment methods.

        The total is the sum of each flight's cabin price times the number of
        passengers, plus 30 per passenger with travel insurance, plus 50 per
        non-free bag. The payment amounts must add up to the total exactly.

        Args:
            user_id: The id of the user making the booking, such as 'sara_doe_496'.
            origin: The IATA code of the trip's origin airport, such as 'SFO'.
            destination: The IATA code of the trip's destination airport, such as 'JFK'.
            flight_type: Whether the trip is 'one_way' or 'round_trip'.
            cabin: The cabin class for all flights: 'basic_economy', 'economy' or 'business'.
            flights: Every flight of the trip, each with its flight number and date
                (YYYY-MM-DD), in travel order.
            passengers: The travellers, each with first name, last name and date of
                birth (YYYY-MM-DD).
            payment_methods: How to pay: payment method ids from the user's profile
                with the amount to charge to each.
            total_baggages: The total number of checked bags.
            nonfree_baggages: The number of checked bags that must be paid for.
            insurance: Whether to add travel insurance: 'yes' or 'no'.
        """
        flight_infos: list[FlightInfo] = parse(list[FlightInfo], flights, "flights")
        travellers: list[Passenger] = parse(list[Passenger], passengers, "passengers")
        payments: list[Payment] = parse(list[Payment], payment_methods, "payment_methods")
        user = self._user(user_id)
        new_id = next((r for r in RESERVATION_IDS if r not in self.db.reservations), None)
        if new_id is None:
            raise ToolError("Too many reservations")
        reservation: Reservation = parse(
            Reservation,
            {
                "reservation_id": new_id,
                "user_id": user_id,
                "origin": origin,
                "destination": destination,
                "flight_type": flight_type,
                "cabin": cabin,
                "flights": [],
                "passengers": [p.model_dump() for p in travellers],
                # Recorded exactly as passed: same order, zero amounts kept.
                "payment_history": [p.model_dump() for p in payments],
                "created_at": CURRENT_TIME,
                "total_baggages": total_baggages,
                "nonfree_baggages": nonfree_baggages,
                "insurance": insurance,
            },
            "reservation",
        )
        count = len(travellers)
        total = 0
        for info in flight_infos:
            # Each flight is checked against the unchanged seat count, so a
            # flight listed twice is checked twice against the same number.
            segment = self._new_segment(info, reservation.cabin, count)
            reservation.flights.append(segment)
            total += segment.price * count
        if reservation.insurance == "yes":
            total += INSURANCE_PRICE * count
        total += BAG_PRICE * reservation.nonfree_baggages
        return self._settle_booking(user_id, user, reservation, payments, count, total)

    def _settle_booking(self, user_id: str, user: User, reservation: Reservation,
                        payments: list[Payment], count: int, total: Any) -> Reservation:
        """Steps 8-12 of book_reservation: check and charge the payments, take the
        seats and store the reservation (SEMANTICS §2.4)."""
        for payment in payments:
            method = user.payment_methods.get(payment.payment_id)
            if method is None:
                raise ToolError(f"Payment method {payment.payment_id} not found")
            # Each entry is checked on its own against the full balance.
            if isinstance(method, GiftCard | Certificate) and method.amount < payment.amount:
                raise ToolError(f"Not enough balance in payment method {payment.payment_id}")
        paid = sum(p.amount for p in payments)
        if paid != total:
            raise ToolError(
                f"Payment amount does not add up, total price is {total}, but paid {paid}"
            )

        if any(
            isinstance(user.payment_methods[p.payment_id], GiftCard | Certificate) for p in payments
        ):
            user = self.db.edit("users", user_id)
        for payment in payments:
            method = user.payment_methods.get(payment.payment_id)
            if method is None:
                # tau2 quirk (partial change): a certificate listed twice was
                # removed by the first entry; the second fails with the KeyError
                # text after the earlier entries were charged.
                raise ToolError(key_error(payment.payment_id))
            if isinstance(method, GiftCard):
                # No rounding here, unlike the retail domain.
                method.amount -= payment.amount
            elif isinstance(method, Certificate):
                # tau2 quirk: a used certificate is removed whatever the amount
                # drawn; no change is kept.
                del user.payment_methods[payment.payment_id]

        # The only tool that takes seats; duplicates take seats twice.
        for segment in reservation.flights:
            inst = self.db.edit("flights", segment.flight_number).dates[segment.date]
            assert isinstance(inst, FlightAvailable)
            inst.available_seats[reservation.cabin] -= count

        new_id = reservation.reservation_id
        self.db.insert("reservations", new_id, reservation)
        self.db.edit("users", user_id).reservations.append(new_id)
        return reservation

    @tool(ToolKind.WRITE)
    def cancel_reservation(self, reservation_id: str) -> Reservation:
        """Cancel a whole reservation and refund every payment made for it to the
        original payment methods.

        Args:
            reservation_id: The reservation id, such as 'ZFA04Y'.
        """
        self._reservation(reservation_id)
        reservation = self.db.edit("reservations", reservation_id)
        # tau2 quirk: no seats are released and no gift-card or certificate
        # balance is restored; only negated payments are appended. It never
        # refuses, so cancelling twice negates every entry (refunds too) again.
        refunds = [
            Payment(payment_id=p.payment_id, amount=-p.amount) for p in reservation.payment_history
        ]
        reservation.payment_history.extend(refunds)
        reservation.status = "cancelled"
        return reservation

    @tool(ToolKind.WRITE)
    def update_reservation_baggages(
        self, reservation_id: str, total_baggages: int, nonfree_baggages: int, payment_id: str
    ) -> Reservation:
        """Change the number of checked bags on a reservation. Added non-free bags cost
        50 each, charged to the given payment method; fewer bags refund nothing.

        Args:
            reservation_id: The reservation id, such as 'ZFA04Y'.
            total_baggages: The new total number of checked bags.
            nonfree_baggages: The new number of checked bags that must be paid for.
            payment_id: The id of the payment method from the user's profile, such as
                'credit_card_7815826' or 'gift_card_7815826'. Certificates are not accepted.
        """
        reservation = self._reservation(reservation_id)
        self._user(reservation.user_id)
        # A non-numeric count fails like tau2's arithmetic.
        price = BAG_PRICE * max(0, _sub(nonfree_baggages, reservation.nonfree_baggages))
        self._pay_for_update(reservation_id, payment_id, price)
        reservation = self.db.edit("reservations", reservation_id)
        # Stored exactly as passed (tau2 does not validate these scalars).
        reservation.total_baggages = total_baggages
        reservation.nonfree_baggages = nonfree_baggages
        return reservation

    @tool(ToolKind.WRITE)
    def update_reservation_flights(
        self, reservation_id: str, cabin: CabinClass, flights: list[FlightInfo], payment_id: str
    ) -> Reservation:
        """Change the flights and/or the cabin of a reservation. The price difference is
        charged to (or, if negative, refunded to) the given payment method.

        Args:
            reservation_id: The reservation id, such as 'ZFA04Y'.
            cabin: The cabin class for the whole reservation: 'basic_economy', 'economy'
                or 'business'.
            flights: The entire new itinerary, each flight with its flight number and date
                (YYYY-MM-DD). Include unchanged flights too, not only the new ones.
            payment_id: The id of the payment method from the user's profile, such as
                'credit_card_7815826' or 'gift_card_7815826'. Certificates are not accepted.
        """
        flight_infos: list[FlightInfo] = parse(list[FlightInfo], flights, "flights")
        reservation = self._reservation(reservation_id)
        self._user(reservation.user_id)
        count = len(reservation.passengers)
        segments: list[ReservationFlight] = []
        total = 0
        for info in flight_infos:
            kept = None
            if cabin == reservation.cabin:
                kept = next(
                    (
                        s
                        for s in reservation.flights
                        if s.flight_number == info.flight_number and s.date == info.date
                    ),
                    None,
                )
            if kept is not None:
                # A kept segment keeps its old price and is not re-checked at all,
                # so a segment that has already flown can stay.
                segments.append(kept.model_copy())
                total += kept.price * count
                continue
            segment = self._new_segment(info, cabin, count)
            segments.append(segment)
            total += segment.price * count
        # May be negative (a refund entry) or zero (no entry).
        price = total - sum(s.price for s in reservation.flights) * count
        self._pay_for_update(reservation_id, payment_id, price)
        # tau2 quirk: no seat counts change, neither for the new flights nor
        # for the ones dropped.
        edited = self.db.edit("reservations", reservation_id)
        edited.flights = segments
        edited.cabin = cabin
        return edited

    @tool(ToolKind.WRITE)
    def update_reservation_passengers(
        self, reservation_id: str, passengers: list[Passenger]
    ) -> Reservation:
        """Replace the passenger details of a reservation. The number of passengers
        cannot change.

        Args:
            reservation_id: The reservation id, such as 'ZFA04Y'.
            passengers: The full new passenger list, each with first name, last name and
                date of birth (YYYY-MM-DD), as many as the reservation has now.
        """
        travellers: list[Passenger] = parse(list[Passenger], passengers, "passengers")
        reservation = self._reservation(reservation_id)
        if len(travellers) != len(reservation.passengers):
            raise ToolError("Number of passengers does not match")
        edited = self.db.edit("reservations", reservation_id)
        edited.passengers = [p.model_copy() for p in travellers]
        return edited

    @tool(ToolKind.WRITE)
    def send_certificate(self, user_id: str, amount: int) -> str:
        """Give a user a travel certificate of the given value, e.g. as compensation.

        Args:
            user_id: The id of the user, such as 'sara_doe_496'.
            amount: The value of the certificate.
        """
        user = self._user(user_id)
        # Certificate ids come from a fixed list of three, free per user.
        new_id = next((c for c in CERTIFICATE_IDS if c not in user.payment_methods), None)
        if new_id is None:
            raise ToolError("Too many certificates")
        value: float = parse(float, amount, "amount")
        edited = self.db.edit("users", user_id)
        edited.payment_methods[new_id] = Certificate(source="certificate", id=new_id, amount=value)
        return f"Certificate {new_id} added to user {user_id} with amount {amount}."

    # -- generic tools ------------------------------------------------------------
    @tool(ToolKind.GENERIC)
    def transfer_to_human_agents(self, summary: str) -> str:
        """Transfer the user to a human agent, with a summary of their issue. Only do
        this when the user explicitly asks for a human agent, or when the request
        cannot be handled with the available tools and the policy.

        Args:
            summary: A short summary of the user's issue.
        """
        return "Transfer successful"

    @tool(ToolKind.GENERIC)
    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression and return the result rounded to 2 decimals.

        Args:
            expression: The expression, using numbers, +, -, *, /, parentheses and
                spaces, such as '2 * (120 + 35.5) / 4'.
        """
        # tau2 runs Python's eval on the allowed characters, so ** and // work
        # there; the shared evaluator accepts them too but never calls eval.
        return safe_calculate(expression)
