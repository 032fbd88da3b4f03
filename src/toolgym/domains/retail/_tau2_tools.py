"""The retail tools in the tau2 argument mode (``--tool-args tau2``, the default).

Each override follows what tau2's tool does with arguments it never checked
(see :mod:`toolgym.domains._tau2_args`). Ids are looked up as sent, so a list
or an object as an id fails with Python's ``unhashable type`` message. Item
id lists are walked the way tau2 walks them: a string gives its characters
and an object its keys, element counts use the argument's own ``count``, and
the lists are stored sorted as sent. On a well-formed call every tool does
exactly what :class:`RetailTools` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from toolgym.domains._calculate import calculate_tau2
from toolgym.domains._error_texts import (
    contains,
    no_attribute,
    no_len,
    not_iterable,
    validate,
)
from toolgym.domains._tau2_args import Tau2Arguments
from toolgym.domains.retail._db import (
    GiftCard,
    Order,
    OrderItem,
    PaymentEntry,
    PaymentMethod,
    Product,
    User,
    UserAddress,
    Variant,
)
from toolgym.domains.retail._tools import _CANCEL_REASONS, RetailTools
from toolgym.errors import ToolError

__all__ = ["RetailTau2Tools"]

_REASONS = frozenset(_CANCEL_REASONS)


def _sorted(values: Any) -> list[Any]:
    """``sorted(values)``; only lists of ids (or empty values) get this far."""
    try:
        return sorted(values)
    except TypeError as exc:  # mixed types cannot pass the checks before it
        raise ToolError(str(exc)) from None


def _length(value: Any) -> int:
    if not isinstance(value, str | list | dict):
        raise ToolError(no_len(value))
    return len(value)


class RetailTau2Tools(Tau2Arguments, RetailTools):
    """:class:`RetailTools` with tau2's handling of malformed arguments."""

    python_name = "RetailTools"

    # -- lookups: ``key in table``, as sent ------------------------------------------
    def _order(self, order_id: Any) -> Order:
        if not contains(self.db.orders, order_id):
            raise ToolError("Order not found")
        return self.db.orders[order_id]

    def _user(self, user_id: Any) -> User:
        if not contains(self.db.users, user_id):
            raise ToolError("User not found")
        return self.db.users[user_id]

    def _product(self, product_id: Any) -> Product:
        if not contains(self.db.products, product_id):
            raise ToolError("Product not found")
        return self.db.products[product_id]

    def _variant(self, product_id: Any, item_id: Any) -> Variant:
        variants = self._product(product_id).variants
        if not contains(variants, item_id):
            raise ToolError("Variant not found")
        return variants[item_id]

    def _payment_method(self, user_id: Any, payment_method_id: Any) -> PaymentMethod:
        methods = self._user(user_id).payment_methods
        if not contains(methods, payment_method_id):
            raise ToolError("Payment method not found")
        return methods[payment_method_id]

    @staticmethod
    def _valid_reason(reason: Any) -> bool:
        return contains(_REASONS, reason)

    @staticmethod
    def _new_address(address1: Any, address2: Any, city: Any, state: Any, country: Any,
                     zip: Any) -> UserAddress:
        return validate(UserAddress, {"address1": address1, "address2": address2, "city": city,
                                      "state": state, "country": country, "zip": zip})

    @staticmethod
    def _counts(order: Order, item_ids: Any, message: Callable[[Any], str]) -> None:
        """tau2's check that each id is asked for at most as often as the order has it.

        It walks ``item_ids`` and counts with the argument's own ``count``:
        a string counts substrings (so ``"123"`` fails on ``"1"``), an object
        has no ``count`` at all (unless it is empty).
        """
        if not isinstance(item_ids, str | list | dict):
            raise ToolError(not_iterable(item_ids))
        held = [item.item_id for item in order.items]
        for item_id in item_ids:
            if isinstance(item_ids, dict):
                raise ToolError(no_attribute(item_ids, "count"))
            if item_ids.count(item_id) > held.count(item_id):
                raise ToolError(message(item_id))

    @staticmethod
    def _item(order: Order, item_id: Any) -> OrderItem:
        item = next((i for i in order.items if i.item_id == item_id), None)
        if item is None:
            raise ToolError(f"Item {item_id} not found")
        return item

    def _pairs(self, order: Order, item_ids: Any, new_item_ids: Any, *, same_id: bool
               ) -> tuple[list[tuple[Any, Any]], Any, Variant | None]:
        """Check every (old, new) pair in order and price the swap.

        Returns:
            The pairs, the unrounded price difference (the integer 0 when there
            are none) and the variant of the last pair.
        """
        pairs = list(zip(item_ids, new_item_ids, strict=False))
        diff: Any = 0
        variant: Variant | None = None
        for item_id, new_item_id in pairs:
            if same_id and item_id == new_item_id:
                raise ToolError("The new item id should be different from the old item id")
            item = self._item(order, item_id)
            variant = self._variant(item.product_id, new_item_id)
            if not variant.available:
                raise ToolError(f"New item {new_item_id} not found or available")
            diff += variant.price - item.price
        return pairs, diff, variant

    # -- write tools ------------------------------------------------------------------
    def modify_pending_order_items(self, order_id: Any, item_ids: Any, new_item_ids: Any,
                                   payment_method_id: Any) -> Any:
        order = self._order(order_id)
        if order.status != "pending":
            raise ToolError("Non-pending order cannot be modified")
        self._counts(order, item_ids, lambda i: f"{i} not found")
        if len(item_ids) != _length(new_item_ids):
            raise ToolError("The number of items to be exchanged should match")
        pairs, diff, variant = self._pairs(order, item_ids, new_item_ids, same_id=True)
        method = self._payment_method(order.user_id, payment_method_id)
        if isinstance(method, GiftCard) and method.balance < diff:
            raise ToolError("Insufficient gift card balance to pay for the new item")

        order = self.db.edit("orders", order.order_id)
        order.payment_history.append(PaymentEntry(
            transaction_type="payment" if diff > 0 else "refund", amount=abs(diff),
            payment_method_id=payment_method_id))
        if isinstance(method, GiftCard):
            self._add_to_gift_card(order.user_id, payment_method_id, -diff)
        for item_id, new_item_id in pairs:
            item = self._item(order, item_id)
            item.item_id = new_item_id
            # The last pair's variant for every item, as in RetailTools.
            assert variant is not None
            item.price = variant.price
            item.options = dict(variant.options)
        order.status = "pending (item modified)"
        return order

    def exchange_delivered_order_items(self, order_id: Any, item_ids: Any, new_item_ids: Any,
                                       payment_method_id: Any) -> Any:
        order = self._order(order_id)
        if order.status != "delivered":
            raise ToolError("Non-delivered order cannot be exchanged")
        self._counts(order, item_ids, lambda i: f"Number of {i} not found.")
        if len(item_ids) != _length(new_item_ids):
            raise ToolError("The number of items to be exchanged should match.")
        _, diff, _ = self._pairs(order, item_ids, new_item_ids, same_id=False)
        # round() keeps an integer 0 (no pairs) an integer: it is stored as 0.
        diff = round(diff, 2)
        method = self._payment_method(order.user_id, payment_method_id)
        if isinstance(method, GiftCard) and method.balance < diff:
            raise ToolError("Insufficient gift card balance to pay for the price difference")

        order = self.db.edit("orders", order.order_id)
        order.status = "exchange requested"
        order.exchange_items = _sorted(item_ids)
        order.exchange_new_items = _sorted(new_item_ids)
        order.exchange_payment_method_id = payment_method_id
        order.exchange_price_difference = diff
        return order

    def return_delivered_order_items(self, order_id: Any, item_ids: Any,
                                     payment_method_id: Any) -> Any:
        order = self._order(order_id)
        if order.status != "delivered":
            raise ToolError("Non-delivered order cannot be returned")
        user = self._user(order.user_id)
        method = self._payment_method(user.user_id, payment_method_id)
        if not isinstance(method, GiftCard):
            if not order.payment_history:
                raise ToolError("list index out of range")
            if payment_method_id != order.payment_history[0].payment_method_id:
                raise ToolError("Payment method should be the original payment method")
        self._counts(order, item_ids, lambda _: "Some item not found")

        order = self.db.edit("orders", order.order_id)
        order.status = "return requested"
        order.return_items = _sorted(item_ids)
        order.return_payment_method_id = payment_method_id
        return order

    # -- read tools ---------------------------------------------------------------------
    def find_user_id_by_email(self, email: Any) -> Any:
        for user in self.db.users.values():
            if not isinstance(email, str):
                raise ToolError(no_attribute(email, "lower"))
            if user.email.lower() == email.lower():
                return user.user_id
        raise ToolError("User not found")

    def find_user_id_by_name_zip(self, first_name: Any, last_name: Any, zip: Any) -> Any:
        for user in self.db.users.values():
            if not isinstance(first_name, str):
                raise ToolError(no_attribute(first_name, "lower"))
            if user.name.first_name.lower() != first_name.lower():
                continue
            # Read only once a first name matched.
            if not isinstance(last_name, str):
                raise ToolError(no_attribute(last_name, "lower"))
            if user.name.last_name.lower() == last_name.lower() and user.address.zip == zip:
                return user.user_id
        raise ToolError("User not found")

    def get_item_details(self, item_id: Any) -> Any:
        for product in self.db.products.values():
            if contains(product.variants, item_id):
                return product.variants[item_id]
        raise ToolError("Item not found")

    # -- generic tools ------------------------------------------------------------------
    def calculate(self, expression: Any) -> Any:
        return calculate_tau2(expression)
