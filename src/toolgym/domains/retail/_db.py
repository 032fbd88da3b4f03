"""The retail database: products, users and orders (tau2 layout).

Field order in every record follows tau2's saved order (SEMANTICS §3.1), so a
dump is laid out the way tau2 writes ``db.json``. Payment methods are a union
discriminated on ``source``, so each kind dumps exactly its own fields. The
optional order fields that only exchange, return and cancel set default to
``None`` and dump as ``null``, as tau2 does.

Records forbid unknown keys: the shipped file has none, and silently dropping
one would make a load lossy.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from toolgym.domains._db import DB

__all__ = [
    "CancelReason",
    "CreditCard",
    "Fulfillment",
    "GiftCard",
    "Order",
    "OrderItem",
    "OrderStatus",
    "PaymentEntry",
    "PaymentMethod",
    "Paypal",
    "Product",
    "RetailDB",
    "User",
    "UserAddress",
    "UserName",
    "Variant",
]

OrderStatus = Literal[
    "processed",
    "pending",
    "pending (item modified)",
    "delivered",
    "cancelled",
    "exchange requested",
    "return requested",
]
CancelReason = Literal["no longer needed", "ordered by mistake"]
TransactionType = Literal["payment", "refund"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- products --------------------------------------------------------------------
class Variant(_Record):
    """One purchasable variant (an *item*) of a product."""

    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(_Record):
    """A product type and its variants keyed by item id."""

    name: str
    product_id: str
    variants: dict[str, Variant]


# -- users -----------------------------------------------------------------------
class UserName(_Record):
    """A customer's name."""

    first_name: str
    last_name: str


class UserAddress(_Record):
    """A postal address (``address2`` is required and may be empty)."""

    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class CreditCard(_Record):
    """A credit card on file."""

    source: Literal["credit_card"]
    id: str
    brand: str
    last_four: str


class Paypal(_Record):
    """A PayPal account on file."""

    source: Literal["paypal"]
    id: str


class GiftCard(_Record):
    """A gift card; unlike the airline domain its balance field is ``balance``."""

    source: Literal["gift_card"]
    id: str
    balance: float


PaymentMethod = Annotated[CreditCard | Paypal | GiftCard, Field(discriminator="source")]


class User(_Record):
    """A customer account."""

    user_id: str
    name: UserName
    address: UserAddress
    email: str
    payment_methods: dict[str, PaymentMethod]
    orders: list[str]


# -- orders ----------------------------------------------------------------------
class OrderItem(_Record):
    """One item of an order (a variant bought at a price)."""

    name: str
    product_id: str
    item_id: str
    price: float
    options: dict[str, str]


class Fulfillment(_Record):
    """A shipment: tracking ids and the item ids it carries."""

    tracking_id: list[str]
    item_ids: list[str]


class PaymentEntry(_Record):
    """One entry of an order's payment history."""

    transaction_type: TransactionType
    amount: float
    payment_method_id: str


class Order(_Record):
    """A customer order."""

    order_id: str
    user_id: str
    address: UserAddress
    items: list[OrderItem]
    status: OrderStatus
    fulfillments: list[Fulfillment]
    payment_history: list[PaymentEntry]
    cancel_reason: CancelReason | None = None
    exchange_items: list[str] | None = None
    exchange_new_items: list[str] | None = None
    exchange_payment_method_id: str | None = None
    exchange_price_difference: float | None = None
    return_items: list[str] | None = None
    return_payment_method_id: str | None = None


class RetailDB(DB):
    """The retail database: ``products``, ``users`` and ``orders`` tables."""

    fast_record_copy = True  # plain-data records (see DB.fast_record_copy)

    products: dict[str, Product]
    users: dict[str, User]
    orders: dict[str, Order]
