"""The retail toolkit, behaviour-compatible with tau2-bench's retail tools.

Every tool runs its checks in the order of SEMANTICS §3.3, raises the exact
error texts listed there, and changes the database exactly as tau2 does,
including tau2's quirks, which gold trajectories depend on (each is marked
``QUIRK`` where it lives). Records read from ``self.db`` are shared with the
pristine snapshot, so every change goes through ``self.db.edit`` first.

Arguments arrive as the agent sent them (no schema coercion at the call
boundary). Scalar ids are only compared, so a non-string id is simply "not
found"; structured values (id lists, addresses) are validated with
:func:`parse`, which turns a type mismatch into a :class:`ToolError` where
tau2 would fail with a Python error.
"""

from __future__ import annotations

import json
import typing
from collections import Counter
from typing import Any

from toolgym.domains._calculate import calculate as _calculate
from toolgym.domains._toolkit import ToolKind, Toolkit, parse, tool
from toolgym.domains.retail._db import (
    CancelReason,
    GiftCard,
    Order,
    OrderItem,
    PaymentEntry,
    PaymentMethod,
    Product,
    RetailDB,
    User,
    UserAddress,
    Variant,
)
from toolgym.errors import ToolError

__all__ = ["RetailTools"]

_CANCEL_REASONS = ("no longer needed", "ordered by mistake")


class RetailTools(Toolkit[RetailDB]):
    """Customer-service tools over the retail database."""

    # -- lookups (errors as in SEMANTICS §3.2) -------------------------------------
    def _order(self, order_id: Any) -> Order:
        order = self.db.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise ToolError("Order not found")
        return order

    def _user(self, user_id: Any) -> User:
        user = self.db.users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise ToolError("User not found")
        return user

    def _product(self, product_id: Any) -> Product:
        product = self.db.products.get(product_id) if isinstance(product_id, str) else None
        if product is None:
            raise ToolError("Product not found")
        return product

    def _variant(self, product_id: Any, item_id: Any) -> Variant:
        variants = self._product(product_id).variants
        variant = variants.get(item_id) if isinstance(item_id, str) else None
        if variant is None:
            raise ToolError("Variant not found")
        return variant

    def _payment_method(self, user_id: Any, payment_method_id: Any) -> PaymentMethod:
        methods = self._user(user_id).payment_methods
        method = methods.get(payment_method_id) if isinstance(payment_method_id, str) else None
        if method is None:
            raise ToolError("Payment method not found")
        return method

    @staticmethod
    def _valid_reason(reason: Any) -> bool:
        """Whether ``reason`` is one of the two cancellation reasons."""
        return reason in _CANCEL_REASONS

    @staticmethod
    def _new_address(address1: Any, address2: Any, city: Any, state: Any, country: Any,
                     zip: Any) -> UserAddress:
        """The address record of the address tools (the tau2 mode words errors as tau2)."""
        return _address(address1, address2, city, state, country, zip)

    def _add_to_gift_card(self, user_id: str, payment_method_id: str, amount: float) -> None:
        """Credit (or, with a negative amount, debit) a gift card, rounding to cents."""
        card = self.db.edit("users", user_id).payment_methods[payment_method_id]
        assert isinstance(card, GiftCard)
        card.balance = round(card.balance + amount, 2)

    @staticmethod
    def _first_item(order: Order, item_id: str) -> OrderItem:
        return next(item for item in order.items if item.item_id == item_id)

    @staticmethod
    def _check_counts(order: Order, item_ids: list[str], message: str) -> None:
        """Each id may be asked for at most as often as the order holds it.

        ``message`` may contain ``{item_id}``: the first id, in request order,
        that is asked for too often.
        """
        held = Counter(item.item_id for item in order.items)
        for item_id, wanted in Counter(item_ids).items():
            if wanted > held[item_id]:
                raise ToolError(message.format(item_id=item_id))

    def _price_swap(
        self,
        order: Order,
        item_ids: Any,
        new_item_ids: Any,
        *,
        count_error: str,
        length_error: str,
        same_id_error: str | None,
    ) -> tuple[list[str], list[str], float, Variant | None]:
        """Check an item swap and price it: steps 3-5 of the two swapping tools.

        The checks run in SEMANTICS §3.3 order: id lists, counts (``count_error``
        may contain ``{item_id}``), equal lengths, then for each pair in turn:
        old != new (only when ``same_id_error`` is given), the variant within
        the first matching item's product, and its availability.

        Returns:
            The old ids, the new ids, the unrounded price difference and the
            variant of the last pair (None when there are no pairs).
        """
        old_ids = _ids(item_ids, "item_ids")
        new_ids = _ids(new_item_ids, "new_item_ids")
        self._check_counts(order, old_ids, count_error)
        if len(old_ids) != len(new_ids):
            raise ToolError(length_error)
        diff = 0.0
        variant: Variant | None = None
        for old_id, new_id in zip(old_ids, new_ids, strict=True):
            if same_id_error is not None and old_id == new_id:
                raise ToolError(same_id_error)
            # With a repeated old id, every pair prices against the first match.
            item = self._first_item(order, old_id)
            variant = self._variant(item.product_id, new_id)
            if not variant.available:
                raise ToolError(f"New item {new_id} not found or available")
            diff += variant.price - item.price
        return old_ids, new_ids, diff, variant

    # -- write tools ---------------------------------------------------------------
    @tool(ToolKind.WRITE)
    def cancel_pending_order(self, order_id: str, reason: str) -> Order:
        """Cancel a pending order and refund its payments.

        Only orders whose status is exactly "pending" can be cancelled. Every
        payment is refunded to the method it came from: gift cards are credited
        at once, other methods are refunded in 5 to 7 business days. Get the
        user's explicit confirmation before calling this.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            reason: Why the order is cancelled: either 'no longer needed' or
                'ordered by mistake'.
        """
        order = self._order(order_id)
        if order.status != "pending":
            raise ToolError("Non-pending order cannot be cancelled")
        if not self._valid_reason(reason):
            raise ToolError("Invalid reason")
        refunds: list[PaymentEntry] = []
        # QUIRK: every history entry is refunded, refund entries included, and
        # a missing payment method fails only after earlier gift cards in this
        # loop were already credited (partial change, as in tau2).
        for entry in order.payment_history:
            refunds.append(
                PaymentEntry(
                    transaction_type="refund",
                    amount=entry.amount,
                    payment_method_id=entry.payment_method_id,
                )
            )
            method = self._payment_method(order.user_id, entry.payment_method_id)
            if isinstance(method, GiftCard):
                self._add_to_gift_card(order.user_id, entry.payment_method_id, entry.amount)
        order = self.db.edit("orders", order_id)
        order.status = "cancelled"
        order.cancel_reason = typing.cast(CancelReason, reason)
        order.payment_history.extend(refunds)
        return order

    @tool(ToolKind.WRITE)
    def modify_pending_order_address(
        self,
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> Order:
        """Change the shipping address of a pending order.

        Works on orders whose status contains "pending". The user's own
        address on file is not changed. Get the user's explicit confirmation
        before calling this.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            address1: First line of the address, e.g. '123 Main St'.
            address2: Second line of the address, e.g. 'Apt 1'; may be empty.
            city: City, e.g. 'San Francisco'.
            state: State, e.g. 'CA'.
            country: Country, e.g. 'USA'.
            zip: ZIP code, e.g. '12345'.
        """
        order = self._order(order_id)
        # Loose check: "pending (item modified)" orders can still be readdressed.
        if "pending" not in order.status:
            raise ToolError("Non-pending order cannot be modified")
        address = self._new_address(address1, address2, city, state, country, zip)
        order = self.db.edit("orders", order_id)
        order.address = address
        return order

    @tool(ToolKind.WRITE)
    def modify_user_address(
        self,
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> User:
        """Change the default address on a user's account.

        Existing orders keep their shipping addresses. Get the user's explicit
        confirmation before calling this.

        Args:
            user_id: The user id, e.g. 'sara_doe_496'.
            address1: First line of the address, e.g. '123 Main St'.
            address2: Second line of the address, e.g. 'Apt 1'; may be empty.
            city: City, e.g. 'San Francisco'.
            state: State, e.g. 'CA'.
            country: Country, e.g. 'USA'.
            zip: ZIP code, e.g. '12345'.
        """
        self._user(user_id)
        address = self._new_address(address1, address2, city, state, country, zip)
        user = self.db.edit("users", user_id)
        user.address = address
        return user

    @tool(ToolKind.WRITE)
    def modify_pending_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> Order:
        """Swap items of a pending order for other variants of the same products.

        Only orders whose status is exactly "pending" can have items modified,
        and only once: afterwards the status is "pending (item modified)". Each
        new item must be an available variant of the same product as the item
        it replaces. The price difference is charged to, or refunded to, the
        given payment method; a gift card must cover it. Collect every item to
        change before calling, and get the user's explicit confirmation.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            item_ids: Item ids in the order to replace; an id may repeat as
                often as the order holds it.
            new_item_ids: Replacement item ids, matched to item_ids by position.
            payment_method_id: Payment method for the price difference, one of
                the user's methods, e.g. 'gift_card_0000000'.
        """
        order = self._order(order_id)
        # Strict check, unlike the address and payment tools.
        if order.status != "pending":
            raise ToolError("Non-pending order cannot be modified")
        old_ids, new_ids, diff, variant = self._price_swap(
            order,
            item_ids,
            new_item_ids,
            count_error="{item_id} not found",
            length_error="The number of items to be exchanged should match",
            same_id_error="The new item id should be different from the old item id",
        )
        # QUIRK: the difference is left unrounded (float noise and all), while
        # the gift-card balance below is rounded to cents.
        method = self._payment_method(order.user_id, payment_method_id)
        if isinstance(method, GiftCard) and method.balance < diff:
            raise ToolError("Insufficient gift card balance to pay for the new item")

        order = self.db.edit("orders", order_id)
        order.payment_history.append(
            PaymentEntry(
                # A zero difference is recorded as a refund of 0.
                transaction_type="payment" if diff > 0 else "refund",
                amount=abs(diff),
                payment_method_id=payment_method_id,
            )
        )
        if isinstance(method, GiftCard):
            self._add_to_gift_card(order.user_id, payment_method_id, -diff)

        for old_id, new_id in zip(old_ids, new_ids, strict=True):
            # Matching on the *current* ids walks through duplicates: once the
            # first match is renamed, the next pair finds the next one.
            item = self._first_item(order, old_id)
            item.item_id = new_id
            # QUIRK (tau2 bug kept on purpose): price and options come from the
            # variant of the LAST pair, not this pair's own variant, so with
            # several pairs every changed item gets the final new item's price
            # and options. Shipped multi-item gold actions depend on it.
            assert variant is not None
            item.price = variant.price
            item.options = dict(variant.options)
        order.status = "pending (item modified)"
        return order

    @tool(ToolKind.WRITE)
    def modify_pending_order_payment(self, order_id: str, payment_method_id: str) -> Order:
        """Pay for a pending order with a different payment method.

        Works on orders whose status contains "pending" and that have exactly
        one payment. The new method is charged the order amount and the old
        one refunded; a gift card must cover the amount. Get the user's
        explicit confirmation before calling this.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            payment_method_id: The new payment method, one of the user's
                methods, e.g. 'credit_card_0000000'; it must differ from the
                current one.
        """
        order = self._order(order_id)
        if "pending" not in order.status:
            raise ToolError("Non-pending order cannot be modified")
        method = self._payment_method(order.user_id, payment_method_id)
        history = order.payment_history
        if len(history) != 1 or history[0].transaction_type != "payment":
            raise ToolError("There should be exactly one payment for a pending order")
        old_id = history[0].payment_method_id
        if old_id == payment_method_id:
            raise ToolError("The new payment method should be different from the current one")
        amount = history[0].amount
        if isinstance(method, GiftCard) and method.balance < amount:
            raise ToolError("Insufficient gift card balance to pay for the order")

        order = self.db.edit("orders", order_id)
        order.payment_history.append(
            PaymentEntry(
                transaction_type="payment", amount=amount, payment_method_id=payment_method_id
            )
        )
        order.payment_history.append(
            PaymentEntry(transaction_type="refund", amount=amount, payment_method_id=old_id)
        )
        if isinstance(method, GiftCard):
            self._add_to_gift_card(order.user_id, payment_method_id, -amount)
        # QUIRK: the old method is looked up only now, so if it is gone the
        # call fails after the history and the new gift card were changed.
        old_method = self._payment_method(order.user_id, old_id)
        if isinstance(old_method, GiftCard):
            self._add_to_gift_card(order.user_id, old_id, amount)
        return order

    @tool(ToolKind.WRITE)
    def exchange_delivered_order_items(
        self,
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> Order:
        """Request an exchange of items of a delivered order.

        Each new item must be an available variant of the same product as the
        item it replaces. The order can be exchanged only once, so collect
        every item to exchange first. The price difference will be settled
        with the given payment method; a gift card must cover it. Get the
        user's explicit confirmation before calling this.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            item_ids: Item ids in the order to exchange; an id may repeat as
                often as the order holds it.
            new_item_ids: Replacement item ids, matched to item_ids by position.
            payment_method_id: Payment method for the price difference, one of
                the user's methods, e.g. 'gift_card_0000000'.
        """
        order = self._order(order_id)
        if order.status != "delivered":
            raise ToolError("Non-delivered order cannot be exchanged")
        old_ids, new_ids, diff, _ = self._price_swap(
            order,
            item_ids,
            new_item_ids,
            count_error="Number of {item_id} not found.",
            length_error="The number of items to be exchanged should match.",
            # Unlike modify_pending_order_items, old == new is allowed here.
            same_id_error=None,
        )
        # Rounded here, unlike modify_pending_order_items.
        diff = round(diff, 2)

        method = self._payment_method(order.user_id, payment_method_id)
        if isinstance(method, GiftCard) and method.balance < diff:
            raise ToolError("Insufficient gift card balance to pay for the price difference")

        # Only a request: items, payment history and balances stay as they are.
        order = self.db.edit("orders", order_id)
        order.status = "exchange requested"
        # QUIRK: each list is sorted on its own, so the old/new pairing is lost.
        order.exchange_items = sorted(old_ids)
        order.exchange_new_items = sorted(new_ids)
        order.exchange_payment_method_id = payment_method_id
        order.exchange_price_difference = diff
        return order

    @tool(ToolKind.WRITE)
    def return_delivered_order_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str
    ) -> Order:
        """Request a return of items of a delivered order.

        The refund goes to the order's original payment method or to one of
        the user's gift cards. Get the user's explicit confirmation before
        calling this.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
            item_ids: Item ids in the order to return; an id may repeat as
                often as the order holds it.
            payment_method_id: Where the refund goes: the original payment
                method or a gift card of the user, e.g. 'gift_card_0000000'.
        """
        order = self._order(order_id)
        if order.status != "delivered":
            raise ToolError("Non-delivered order cannot be returned")
        method = self._payment_method(order.user_id, payment_method_id)
        # QUIRK: any gift card of the user is accepted, even one the order
        # was not paid with; other methods must match the FIRST history entry.
        if not isinstance(method, GiftCard) and (
            not order.payment_history
            or payment_method_id != order.payment_history[0].payment_method_id
        ):
            raise ToolError("Payment method should be the original payment method")
        ids = _ids(item_ids, "item_ids")
        self._check_counts(order, ids, "Some item not found")

        order = self.db.edit("orders", order_id)
        order.status = "return requested"
        order.return_items = sorted(ids)
        order.return_payment_method_id = payment_method_id
        return order

    # -- read tools ----------------------------------------------------------------
    @tool(ToolKind.READ)
    def find_user_id_by_email(self, email: str) -> str:
        """Find a user id by email address.

        Args:
            email: The user's email address, e.g. 'something@example.com'.
        """
        wanted = _text(email, "email").lower()
        for user in self.db.users.values():
            if user.email.lower() == wanted:
                return user.user_id
        raise ToolError("User not found")

    @tool(ToolKind.READ)
    def find_user_id_by_name_zip(self, first_name: str, last_name: str, zip: str) -> str:
        """Find a user id by first name, last name and ZIP code.

        Use this when the user cannot give an email address.

        Args:
            first_name: The user's first name, e.g. 'John'.
            last_name: The user's last name, e.g. 'Doe'.
            zip: The ZIP code of the user's address, e.g. '12345'.
        """
        first = _text(first_name, "first_name").lower()
        last = _text(last_name, "last_name").lower()
        for user in self.db.users.values():
            if (
                user.name.first_name.lower() == first
                and user.name.last_name.lower() == last
                and user.address.zip == zip
            ):
                return user.user_id
        raise ToolError("User not found")

    @tool(ToolKind.READ)
    def get_user_details(self, user_id: str) -> User:
        """Get a user's profile: name, address, email, payment methods and orders.

        Args:
            user_id: The user id, e.g. 'sara_doe_496'.
        """
        return self._user(user_id)

    @tool(ToolKind.READ)
    def get_order_details(self, order_id: str) -> Order:
        """Get an order's status, items, shipments and payment history.

        Args:
            order_id: The order id, including the leading '#', e.g. '#W0000000'.
        """
        return self._order(order_id)

    @tool(ToolKind.READ)
    def get_product_details(self, product_id: str) -> Product:
        """Get a product type and all its variants (items), with options and prices.

        Args:
            product_id: The product id, e.g. '6086499569'. This is not an item id.
        """
        return self._product(product_id)

    @tool(ToolKind.READ)
    def get_item_details(self, item_id: str) -> Variant:
        """Get one item (a variant of a product): its options, availability and price.

        Args:
            item_id: The item id, e.g. '1008292230'.
        """
        if isinstance(item_id, str):
            for product in self.db.products.values():
                variant = product.variants.get(item_id)
                if variant is not None:
                    return variant
        raise ToolError("Item not found")

    @tool(ToolKind.READ)
    def list_all_product_types(self) -> str:
        """List every product type in the store, as a map from name to product id."""
        names = {product.name: product.product_id for product in self.db.products.values()}
        return json.dumps(dict(sorted(names.items())))

    # -- generic tools ---------------------------------------------------------------
    @tool(ToolKind.GENERIC)
    def calculate(self, expression: str) -> str:
        """Evaluate an arithmetic expression, rounded to 2 decimals.

        Args:
            expression: Numbers combined with +, -, *, / and parentheses,
                e.g. '(149.99 - 20) * 2'.
        """
        return _calculate(expression)

    @tool(ToolKind.GENERIC)
    def transfer_to_human_agents(self, summary: str) -> str:
        """Hand the conversation over to a human agent.

        Use this only when the user explicitly asks for a human agent, or when
        the request cannot be handled within the policy and the available tools.

        Args:
            summary: A short summary of the user's issue for the human agent.
        """
        return "Transfer successful"


def _ids(value: Any, what: str) -> list[str]:
    """Validate a list of item ids (a plain string is not a list)."""
    ids: list[str] = parse(list[str], value, what)
    return ids


def _text(value: Any, what: str) -> str:
    """Validate a string argument that the tool needs to treat as text."""
    text: str = parse(str, value, what)
    return text


def _address(
    address1: Any, address2: Any, city: Any, state: Any, country: Any, zip: Any
) -> UserAddress:
    """Build an address record from tool arguments (validated, lax rules)."""
    return parse(
        UserAddress,
        {
            "address1": address1,
            "address2": address2,
            "city": city,
            "country": country,
            "state": state,
            "zip": zip,
        },
        "address",
    )
