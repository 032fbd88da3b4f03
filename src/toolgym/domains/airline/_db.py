"""The airline database: flights, users and reservations (tau2 layout).

Field order in every record follows tau2's saved order (SEMANTICS §2.1), so a
dump is laid out the way tau2 writes ``db.json``. Flight instances and payment
methods are discriminated unions, so each variant dumps exactly its own
fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer

from toolgym.domains._db import DB

__all__ = [
    "AirlineDB",
    "Airport",
    "CabinClass",
    "Certificate",
    "CreditCard",
    "Flight",
    "FlightAvailable",
    "FlightCancelled",
    "FlightDelayed",
    "FlightFlying",
    "FlightInfo",
    "FlightInstance",
    "FlightLanded",
    "FlightOnTime",
    "FlightSearchResult",
    "FlightType",
    "GiftCard",
    "Insurance",
    "Membership",
    "Name",
    "Passenger",
    "Payment",
    "PaymentMethod",
    "Reservation",
    "ReservationFlight",
    "User",
    "UserAddress",
]

CabinClass = Literal["business", "economy", "basic_economy"]
FlightType = Literal["round_trip", "one_way"]
Insurance = Literal["yes", "no"]
Membership = Literal["gold", "silver", "regular"]


def _as_given(value: Any) -> Any:
    return value


#: A field the update tools store exactly as the agent passed it, like tau2
#: (SEMANTICS §1.1): it dumps whatever it holds, without a serializer warning.
AsGiven = PlainSerializer(_as_given, return_type=Any)


# -- flights -------------------------------------------------------------------
class FlightAvailable(BaseModel):
    """A flight on a date that can still be booked."""

    status: Literal["available"]
    available_seats: dict[CabinClass, int]
    prices: dict[CabinClass, int]


class FlightLanded(BaseModel):
    """A flight on a past date that has landed."""

    status: Literal["landed"]
    actual_departure_time_est: str
    actual_arrival_time_est: str


class FlightCancelled(BaseModel):
    """A flight on a date that was cancelled."""

    status: Literal["cancelled"]


class FlightDelayed(BaseModel):
    """A flight on a date that will leave later than scheduled."""

    status: Literal["delayed"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


class FlightFlying(BaseModel):
    """A flight on a date that is in the air."""

    status: Literal["flying"]
    actual_departure_time_est: str
    estimated_arrival_time_est: str


class FlightOnTime(BaseModel):
    """A flight on a date that has not left yet and is on schedule."""

    status: Literal["on time"]
    estimated_departure_time_est: str
    estimated_arrival_time_est: str


FlightInstance = Annotated[
    FlightAvailable | FlightLanded | FlightCancelled | FlightDelayed | FlightFlying | FlightOnTime,
    Field(discriminator="status"),
]


class Flight(BaseModel):
    """A scheduled flight and its state on each date it operates."""

    flight_number: str
    origin: str
    destination: str
    scheduled_departure_time_est: str
    scheduled_arrival_time_est: str
    dates: dict[str, FlightInstance]


# -- users -----------------------------------------------------------------------
class Name(BaseModel):
    """A person's name."""

    first_name: str
    last_name: str


class UserAddress(BaseModel):
    """A postal address."""

    address1: str
    address2: str | None = None
    city: str
    country: str
    state: str
    zip: str


class CreditCard(BaseModel):
    """A credit card on file; paying with it never changes the database."""

    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class GiftCard(BaseModel):
    """A gift card; ``amount`` is its remaining balance."""

    source: Literal["gift_card"]
    id: str
    amount: float


class Certificate(BaseModel):
    """A travel certificate; ``amount`` is its value."""

    source: Literal["certificate"]
    id: str
    amount: float


PaymentMethod = Annotated[CreditCard | GiftCard | Certificate, Field(discriminator="source")]


class Passenger(BaseModel):
    """A traveller on a reservation (or saved on a user profile)."""

    first_name: str
    last_name: str
    dob: str


class User(BaseModel):
    """A customer profile."""

    user_id: str
    name: Name
    address: UserAddress
    email: str
    dob: str
    payment_methods: dict[str, PaymentMethod]
    saved_passengers: list[Passenger]
    membership: Membership
    reservations: list[str]


# -- reservations ----------------------------------------------------------------
class FlightInfo(BaseModel):
    """A flight to book: its number and the date (YYYY-MM-DD)."""

    flight_number: str
    date: str


class ReservationFlight(BaseModel):
    """One booked flight segment and the price paid per passenger."""

    flight_number: str
    origin: str
    destination: str
    date: str
    price: int


class Payment(BaseModel):
    """A payment: the payment method id and the amount charged (negative for refunds)."""

    payment_id: str
    amount: int


class Reservation(BaseModel):
    """A booking of one or more flights for a fixed list of passengers."""

    reservation_id: str
    user_id: str
    origin: str
    destination: str
    flight_type: FlightType
    cabin: Annotated[CabinClass, AsGiven]
    flights: list[ReservationFlight]
    passengers: list[Passenger]
    payment_history: list[Payment]
    created_at: str
    total_baggages: Annotated[int, AsGiven]
    nonfree_baggages: Annotated[int, AsGiven]
    insurance: Insurance
    status: Literal["cancelled"] | None = None


# -- tool outputs that are not stored --------------------------------------------
class FlightSearchResult(BaseModel):
    """A bookable flight as returned by the search tools."""

    flight_number: str
    origin: str
    destination: str
    status: Literal["available"]
    scheduled_departure_time_est: str
    scheduled_arrival_time_est: str
    date: str | None = None
    available_seats: dict[CabinClass, int]
    prices: dict[CabinClass, int]


class Airport(BaseModel):
    """An airport: IATA code and city."""

    iata: str
    city: str


# -- the database ----------------------------------------------------------------
class AirlineDB(DB):
    """The airline database: ``flights``, ``users`` and ``reservations``."""

    fast_record_copy = True  # plain-data records (see DB.fast_record_copy)

    flights: dict[str, Flight]
    users: dict[str, User]
    reservations: dict[str, Reservation]
