"""The airline tools in the tau2 argument mode (``--tool-args tau2``, the default).

Each override follows what tau2's tool does with arguments it never checked
(see :mod:`toolgym.domains._tau2_args`): list arguments become records only
when every element is an object, and are otherwise used as sent; scalars
reach comparisons, lookups, arithmetic and the database as they are. On a
well-formed call every tool does exactly what :class:`AirlineTools` does;
the checks, their order and the database effects are shared with it.
"""

from __future__ import annotations

import copy
from typing import Any

from toolgym.domains._calculate import calculate_tau2
from toolgym.domains._error_texts import bad_operands, contains, validate
from toolgym.domains._tau2_args import Tau2Arguments, as_records, first_element_error
from toolgym.domains.airline._db import (
    Certificate,
    Flight,
    FlightAvailable,
    FlightInfo,
    Passenger,
    Payment,
    Reservation,
    ReservationFlight,
)
from toolgym.domains.airline._tools import (
    BAG_PRICE,
    CERTIFICATE_IDS,
    CURRENT_TIME,
    INSURANCE_PRICE,
    RESERVATION_IDS,
    AirlineTools,
    _search_result,
)
from toolgym.errors import ToolError

__all__ = ["AirlineTau2Tools"]


class AirlineTau2Tools(Tau2Arguments, AirlineTools):
    """:class:`AirlineTools` with tau2's handling of malformed arguments."""

    python_name = "AirlineTools"

    def _infos(self, infos: list[FlightInfo] | None, sent: Any) -> list[FlightInfo]:
        """The flights to go through; tau2 reads ``flight_number`` off the first
        element of a flight list it left as sent, which fails."""
        if infos is None:
            raise first_element_error(sent, "flight_number")
        return infos

    def _direct(self, origin: Any, destination: Any, date: Any, leave_after: str | None = None
                ) -> list[tuple[Flight, FlightAvailable]]:
        """tau2's direct-flight search: a null origin or destination matches any."""
        found: list[tuple[Flight, FlightAvailable]] = []
        for flight in self.db.flights.values():
            if origin is not None and flight.origin != origin:
                continue
            if destination is not None and flight.destination != destination:
                continue
            if not contains(flight.dates, date):
                continue
            inst = flight.dates[date]
            if not isinstance(inst, FlightAvailable):
                continue
            if leave_after is not None and not flight.scheduled_departure_time_est >= leave_after:
                continue
            found.append((flight, inst))
        return found

    # -- read tools ------------------------------------------------------------
    def search_direct_flight(self, origin: Any, destination: Any, date: Any) -> Any:
        return [_search_result(flight, inst, None)
                for flight, inst in self._direct(origin, destination, date)]

    def search_onestop_flight(self, origin: Any, destination: Any, date: Any) -> Any:
        results = []
        for first, inst1 in self._direct(origin, None, date):
            arrival = first.scheduled_arrival_time_est
            # The same quirks as AirlineTools: no zero padding, a fixed month,
            # a plain string comparison of the times.
            next_date = f"2024-05-{int(date[-2:]) + 1}" if "+1" in arrival else date
            for second, inst2 in self._direct(first.destination, destination, next_date,
                                              leave_after=arrival):
                results.append([_search_result(first, inst1, date),
                                _search_result(second, inst2, next_date)])
        return results

    # -- write tools -------------------------------------------------------------
    def book_reservation(
        self,
        user_id: Any,
        origin: Any,
        destination: Any,
        flight_type: Any,
        cabin: Any,
        flights: Any,
        passengers: Any,
        payment_methods: Any,
        total_baggages: Any,
        nonfree_baggages: Any,
        insurance: Any,
    ) -> Any:
        infos = as_records(FlightInfo, flights)
        travellers = as_records(Passenger, passengers)
        payments = as_records(Payment, payment_methods)
        user = self._user(user_id)
        new_id = next((r for r in RESERVATION_IDS if r not in self.db.reservations), None)
        if new_id is None:
            raise ToolError("Too many reservations")
        # A list left as sent holds a non-object, which the reservation refuses.
        reservation = validate(Reservation, {
            "reservation_id": new_id,
            "user_id": user_id,
            "origin": origin,
            "destination": destination,
            "flight_type": flight_type,
            "cabin": cabin,
            "flights": [],
            "passengers": passengers if travellers is None else [p.model_copy()
                                                                 for p in travellers],
            "payment_history": payment_methods if payments is None else [p.model_copy()
                                                                         for p in payments],
            "created_at": CURRENT_TIME,
            "total_baggages": total_baggages,
            "nonfree_baggages": nonfree_baggages,
            "insurance": insurance,
        })
        assert travellers is not None and payments is not None
        count = len(travellers)
        total: Any = 0
        for info in self._infos(infos, flights):
            segment = self._new_segment(info, cabin, count)
            reservation.flights.append(segment)
            total += segment.price * count
        if insurance == "yes":
            total += INSURANCE_PRICE * count
        # The count as sent, not as validated: "1" passes the reservation and
        # then fails here; 1.0 makes the total a float.
        if isinstance(nonfree_baggages, str):
            raise ToolError(bad_operands("+=", total, nonfree_baggages))
        total += BAG_PRICE * nonfree_baggages
        return self._settle_booking(user_id, user, reservation, payments, count, total)

    def update_reservation_flights(self, reservation_id: Any, cabin: Any, flights: Any,
                                   payment_id: Any) -> Any:
        infos = as_records(FlightInfo, flights)
        reservation = self._reservation(reservation_id)
        self._user(reservation.user_id)
        # Passengers stored as sent (a string, an object) count by their length.
        count = len(reservation.passengers)
        segments: list[ReservationFlight] = []
        total = 0
        for info in self._infos(infos, flights):
            kept = None
            if cabin == reservation.cabin:
                kept = next((s for s in reservation.flights
                             if s.flight_number == info.flight_number and s.date == info.date),
                            None)
            if kept is not None:
                segments.append(kept.model_copy())
                total += kept.price * count
                continue
            segment = self._new_segment(info, cabin, count)
            segments.append(segment)
            total += segment.price * count
        price = total - sum(s.price for s in reservation.flights) * count
        self._pay_for_update(reservation.reservation_id, payment_id, price)
        edited = self.db.edit("reservations", reservation.reservation_id)
        edited.flights = segments
        edited.cabin = cabin
        return edited

    def update_reservation_passengers(self, reservation_id: Any, passengers: Any) -> Any:
        travellers = as_records(Passenger, passengers)
        reservation = self._reservation(reservation_id)
        new = passengers if travellers is None else travellers
        if len(new) != len(reservation.passengers):
            raise ToolError("Number of passengers does not match")
        edited = self.db.edit("reservations", reservation.reservation_id)
        # A list left as sent (a string, an object, a list of lists) is stored
        # as it is, and shows up so in every later output.
        edited.passengers = (copy.deepcopy(passengers) if travellers is None
                             else [p.model_copy() for p in travellers])
        return edited

    def send_certificate(self, user_id: Any, amount: Any) -> Any:
        user = self._user(user_id)
        new_id = next((c for c in CERTIFICATE_IDS if c not in user.payment_methods), None)
        if new_id is None:
            raise ToolError("Too many certificates")
        certificate = validate(Certificate,
                               {"id": new_id, "amount": amount, "source": "certificate"})
        edited = self.db.edit("users", user.user_id)
        edited.payment_methods[new_id] = certificate
        # The amount as sent ("100", 10.5), not as stored.
        return f"Certificate {new_id} added to user {user.user_id} with amount {amount}."

    # -- generic tools ------------------------------------------------------------
    def calculate(self, expression: Any) -> Any:
        return calculate_tau2(expression)
