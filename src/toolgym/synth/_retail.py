"""Retail template intents: orders to cancel, change, return or exchange, per the policy.

Each intent function takes the task's working database (:class:`RetailCtx`),
a user id and the RNG, and returns a :class:`~toolgym.synth._parts.Part` or
None. The user is identified first (email, or name and zip code: whichever
the lookup tools resolve to this user); orders are named by id, or by a
product only that order contains. Refusals have no write; their
``communicate_info`` is the key fact of the rule (the order's status, the
accepted cancellation reason, the gift card's balance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolgym.domains.retail._db import CreditCard, GiftCard, Order, OrderItem, RetailDB, User
from toolgym.domains.retail._tools import RetailTools
from toolgym.synth._parts import Part, Rng, money
from toolgym.synth._rules import RetailRules

__all__ = [
    "RETAIL_INTENTS",
    "RetailCtx",
    "RetailIntent",
    "options_text",
    "order_ref",
    "pay_text",
    "retail_identity",
]


@dataclass
class RetailCtx:
    """The state one task's intents are built on, in order."""

    db: RetailDB
    tools: RetailTools
    rules: RetailRules
    used: set[str] = field(default_factory=set)
    """Orders (and ``<profile>``) an earlier intent of the task already uses."""

    def user(self, user_id: str) -> User:
        """The user record as it is now."""
        return self.db.users[user_id]

    def orders(self, user_id: str, rng: Rng, statuses: tuple[str, ...]) -> list[Order]:
        """The user's orders in these statuses that no earlier intent uses, shuffled."""
        out = [o for oid in self.user(user_id).orders
               if (o := self.db.orders.get(oid)) is not None and o.status in statuses
               and oid not in self.used]
        return rng.shuffled(out)


def retail_identity(ctx: RetailCtx, user_id: str, rng: Rng
                    ) -> tuple[list[tuple[str, dict[str, Any]]], list[str], list[str]] | None:
    """The user's identification: by email, or by name and zip code."""
    user = ctx.user(user_id)
    name = f"{user.name.first_name} {user.name.last_name}"
    by_zip = {"first_name": user.name.first_name, "last_name": user.name.last_name,
              "zip": user.address.zip}
    if rng.chance(0.5) and ctx.tools.call("find_user_id_by_name_zip", by_zip).content == user_id:
        return ([("find_user_id_by_name_zip", by_zip)],
                [f"You are {name}", f"Your zip code is {user.address.zip}"],
                [user.name.first_name, user.name.last_name, user.address.zip])
    if ctx.tools.call("find_user_id_by_email", {"email": user.email}).content != user_id:
        return None
    return ([("find_user_id_by_email", {"email": user.email})],
            [f"You are {name}", f"Your email address is {user.email}"], [user.email])


# -- phrasing ----------------------------------------------------------------------
def options_text(options: dict[str, str]) -> str:
    """``color blue, size M``."""
    return ", ".join(f"{k} {v}" for k, v in options.items())


def order_ref(ctx: RetailCtx, user_id: str, order: Order, rng: Rng
              ) -> tuple[str, list[tuple[str, dict[str, Any]]], list[str], list[str], list[str]]:
    """How the user points at an order: (phrase, reads, known, unknown, facts)."""
    get = ("get_order_details", {"order_id": order.order_id})
    names = {i.name for i in order.items}
    others = {i.name for oid in ctx.user(user_id).orders if oid != order.order_id
              for i in ctx.db.orders[oid].items} if rng.chance(0.35) else names
    unique = sorted(names - others)
    if unique:
        name = rng.choice(unique)
        return (f"your order with the {name}", [("get_user_details", {"user_id": user_id}),
                                                get],
                [], [f"You do not remember the id of your order with the {name}"], [name])
    return (f"order {order.order_id}", [get], [f"The order id is {order.order_id}"], [],
            [order.order_id])


def pay_text(user: User, method_id: str) -> tuple[str, list[str]]:
    """How the user names a saved payment method, and the facts that name it."""
    method = user.payment_methods[method_id]
    if isinstance(method, CreditCard):
        return (f"your {method.brand} credit card ending in {method.last_four}",
                [method.last_four])
    if isinstance(method, GiftCard):
        gifts = [m for m in user.payment_methods.values() if isinstance(m, GiftCard)]
        return (("your gift card", ["gift card"]) if len(gifts) == 1
                else (f"your gift card {method_id}", [method_id]))
    return "your PayPal account", ["PayPal"]


def _payer(user: User, owed: float, rng: Rng, exclude: str | None = None) -> str | None:
    """A saved method that can pay ``owed`` (a gift card needs the balance)."""
    ok = [m.id for m in user.payment_methods.values() if m.id != exclude
          and (not isinstance(m, GiftCard) or m.balance >= owed)]
    return rng.choice(ok) if ok else None


def _swap(ctx: RetailCtx, item: OrderItem, rng: Rng) -> tuple[str, dict[str, str]] | None:
    """Another available variant of the item's product, named by the options that change."""
    product = ctx.db.products.get(item.product_id)
    if product is None:
        return None
    choices = [v for v in product.variants.values() if v.available and v.item_id != item.item_id]
    if not choices:
        return None
    target = rng.choice(choices)
    changed = {k: v for k, v in target.options.items() if item.options.get(k) != v}
    same = [v for v in product.variants.values() if v.available and v.options == target.options]
    if not changed or len(same) != 1 or set(target.options) != set(item.options):
        return None
    return target.item_id, changed


def _swaps(ctx: RetailCtx, order: Order, rng: Rng, most: int
           ) -> tuple[list[OrderItem], list[str], list[str], list[str], float] | None:
    """Items to change (distinct ids), their new ids, the phrases and the price difference."""
    items: list[OrderItem] = []
    for item in rng.shuffled(order.items):
        if all(i.item_id != item.item_id for i in items):
            items.append(item)
    items = items[:rng.randint(1, most)]
    new_ids: list[str] = []
    lines: list[str] = []
    facts: list[str] = []
    diff = 0.0
    for item in items:
        swap = _swap(ctx, item, rng)
        if swap is None:
            return None
        new_id, changed = swap
        new = ctx.db.products[item.product_id].variants[new_id]
        new_ids.append(new_id)
        diff += new.price - item.price
        lines.append(f"the {item.name} ({options_text(item.options)}) should become the one "
                     f"with {options_text(changed)}, everything else the same")
        facts += [item.name, *changed.values()]
    return items, new_ids, lines, facts, diff


def _diff_line(diff: float) -> tuple[list[str], list[str]]:
    if abs(diff) < 0.005:
        return [], []
    what = "pay" if diff > 0 else "get back"
    return ([f"Before agreeing, you want to know how much you {what}"], [money(abs(diff))])


# -- intents --------------------------------------------------------------------------
def _cancel(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    for order in ctx.orders(user_id, rng, ctx.rules.cancellable):
        reason = rng.choice(ctx.rules.cancel_reasons)
        said, fact = (("you no longer need it", "no longer need") if reason == "no longer needed"
                      else ("you ordered it by mistake", "by mistake"))
        phrase, reads, known, unknown, facts = order_ref(ctx, user_id, order, rng)
        ctx.used.add(order.order_id)
        return Part(
            kind="cancel",
            actions=[*reads, ("cancel_pending_order", {"order_id": order.order_id,
                                                       "reason": reason})],
            reason=rng.choice((
                "You want to cancel {p} because {s}", "Please cancel {p}: {s}",
                "You would like {p} cancelled, as {s}")).format(p=phrase, s=said),
            known=known, unknown=unknown, facts=[*facts, fact],
            expect=f"The agent cancels {order.order_id} with reason '{reason}'.",
            policy="Cancelling an order")
    return None


def _modify_items(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for order in ctx.orders(user_id, rng, ctx.rules.cancellable):
        found = _swaps(ctx, order, rng, 2)
        if found is None:
            continue
        items, new_ids, lines, facts, diff = found
        payer = _payer(user, diff, rng)
        if payer is None:
            continue
        phrase, reads, known, unknown, ref_facts = order_ref(ctx, user_id, order, rng)
        pay, pay_facts = pay_text(user, payer)
        ask, communicate = _diff_line(diff)
        products = [("get_product_details", {"product_id": pid}) for pid in
                    dict.fromkeys(i.product_id for i in items)]
        ctx.used.add(order.order_id)
        return Part(
            kind="modify_items",
            actions=[*reads, *products, ("modify_pending_order_items", {
                "order_id": order.order_id, "item_ids": [i.item_id for i in items],
                "new_item_ids": new_ids, "payment_method_id": payer})],
            reason=f"You want to change items of {phrase} before it ships: "
                   + "; ".join(lines),
            known=known, unknown=unknown,
            behaviour=["These are all the items you want to change",
                       f"Use {pay} for any price difference", *ask],
            facts=[*ref_facts, *facts, *pay_facts], communicate=communicate,
            expect=f"The agent modifies {len(items)} item(s) of {order.order_id} in one call.",
            traps=["items once per order"] + (["price difference"] if communicate else []),
            policy="Changing a pending order: item options")
    return None


_STREETS = ("Alder Close", "Bramble Way", "Chestnut Walk", "Dovecote Lane", "Elmstead Road",
            "Foxglove Street", "Goldcrest Avenue", "Heronsgate Drive", "Ivybridge Court")
_TOWNS = (("Asheville", "NC", "288"), ("Burlington", "VT", "054"), ("Cheyenne", "WY", "820"),
          ("Dayton", "OH", "454"), ("Eugene", "OR", "974"), ("Flagstaff", "AZ", "860"),
          ("Galveston", "TX", "775"), ("Helena", "MT", "596"))


def _address(rng: Rng) -> tuple[dict[str, str], str, list[str]]:
    town, state, zip3 = rng.choice(_TOWNS)
    address = {"address1": f"{rng.randint(10, 9899)} {rng.choice(_STREETS)}",
               "address2": rng.choice(("", f"Apt {rng.randint(2, 40)}",
                                       f"Unit {rng.randint(100, 600)}")),
               "city": town, "state": state, "country": "USA",
               "zip": f"{zip3}{rng.randint(10, 99)}"}
    parts = [address["address1"], address["address2"], address["city"],
             f"{state} {address['zip']}", "USA"]
    facts = [address["address1"], town, address["zip"]] + (
        [address["address2"]] if address["address2"] else [])
    return address, ", ".join(p for p in parts if p), facts


def _modify_address(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    for order in ctx.orders(user_id, rng, ctx.rules.modifiable):
        address, text, facts = _address(rng)
        phrase, reads, known, unknown, ref_facts = order_ref(ctx, user_id, order, rng)
        ctx.used.add(order.order_id)
        return Part(
            kind="modify_address",
            actions=[*reads, ("modify_pending_order_address",
                              {"order_id": order.order_id, **address})],
            reason=rng.choice((
                "You want {p} shipped to {a} instead",
                "{P} should go to a different address: {a}",
                "You need the shipping address of {p} changed to {a}")).format(
                    p=phrase, P=phrase[:1].upper() + phrase[1:], a=text),
            known=known, unknown=unknown,
            behaviour=["Your profile's default address stays as it is"],
            facts=[*ref_facts, *facts],
            expect=f"The agent changes the shipping address of {order.order_id}.",
            policy="Changing a pending order: shipping address")
    return None


def _modify_payment(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for order in ctx.orders(user_id, rng, ctx.rules.modifiable):
        history = order.payment_history
        if len(history) != 1 or history[0].transaction_type != "payment":
            continue
        payer = _payer(user, history[0].amount, rng, exclude=history[0].payment_method_id)
        if payer is None:
            continue
        phrase, reads, known, unknown, facts = order_ref(ctx, user_id, order, rng)
        pay, pay_facts = pay_text(user, payer)
        ctx.used.add(order.order_id)
        return Part(
            kind="modify_payment",
            actions=[*reads, ("modify_pending_order_payment",
                              {"order_id": order.order_id, "payment_method_id": payer})],
            reason=rng.choice((
                "You want to pay for {p} with {m} instead",
                "You would rather have {p} charged to {m}",
                "You want to switch the payment of {p} to {m}")).format(p=phrase, m=pay),
            known=known, unknown=unknown, facts=[*facts, *pay_facts],
            expect=f"The agent switches the payment of {order.order_id} to {payer}.",
            policy="Changing a pending order: payment method")
    return None


def _return(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for order in ctx.orders(user_id, rng, ctx.rules.returnable):
        original = order.payment_history[0].payment_method_id if order.payment_history else ""
        refunds = [m.id for m in user.payment_methods.values()
                   if m.id == original or isinstance(m, GiftCard)]
        if not refunds:
            continue
        payer = rng.choice(refunds)
        distinct = list(dict.fromkeys(i.item_id for i in order.items))
        chosen = rng.shuffled(distinct)[:rng.randint(1, len(distinct))]
        items = [next(i for i in order.items if i.item_id == c) for c in chosen]
        phrase, reads, known, unknown, facts = order_ref(ctx, user_id, order, rng)
        pay, pay_facts = pay_text(user, payer)
        where = ("the original payment method" if payer == original else pay)
        ctx.used.add(order.order_id)
        return Part(
            kind="return",
            actions=[*reads, ("return_delivered_order_items", {
                "order_id": order.order_id, "item_ids": chosen, "payment_method_id": payer})],
            reason="You want to return the " + " and the ".join(
                f"{i.name} ({options_text(i.options)})" for i in items) + f" from {phrase}",
            known=known, unknown=unknown,
            behaviour=["These are all the items you want to return",
                       f"You want the refund on {where}"],
            facts=[*facts, *[i.name for i in items],
                   *(pay_facts if payer != original else [])],
            expect=f"The agent starts a return of {len(chosen)} item(s) of {order.order_id}.",
            traps=["return once per order"], policy="Returns")
    return None


def _exchange(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for order in ctx.orders(user_id, rng, ctx.rules.returnable):
        found = _swaps(ctx, order, rng, 2)
        if found is None:
            continue
        items, new_ids, lines, facts, diff = found
        diff = round(diff, 2)
        payer = _payer(user, diff, rng)
        if payer is None:
            continue
        phrase, reads, known, unknown, ref_facts = order_ref(ctx, user_id, order, rng)
        pay, pay_facts = pay_text(user, payer)
        ask, communicate = _diff_line(diff)
        products = [("get_product_details", {"product_id": pid}) for pid in
                    dict.fromkeys(i.product_id for i in items)]
        ctx.used.add(order.order_id)
        return Part(
            kind="exchange",
            actions=[*reads, *products, ("exchange_delivered_order_items", {
                "order_id": order.order_id, "item_ids": [i.item_id for i in items],
                "new_item_ids": new_ids, "payment_method_id": payer})],
            reason=f"You received {phrase} and want to exchange: " + "; ".join(lines),
            known=known, unknown=unknown,
            behaviour=["These are all the items you want to exchange",
                       f"Use {pay} for any price difference", *ask],
            facts=[*ref_facts, *facts, *pay_facts], communicate=communicate,
            expect=f"The agent requests an exchange of {len(items)} item(s) of "
                   f"{order.order_id}.",
            traps=["exchange once per order"] + (["price difference"] if communicate else []),
            policy="Exchanges")
    return None


def _user_address(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    if "<profile>" in ctx.used:
        return None
    address, text, facts = _address(rng)
    ctx.used.add("<profile>")
    return Part(
        kind="user_address",
        actions=[("get_user_details", {"user_id": user_id}),
                 ("modify_user_address", {"user_id": user_id, **address})],
        reason=f"You have moved and want the default address on your profile changed to "
               f"{text}",
        behaviour=["Your existing orders keep their addresses"], facts=facts,
        expect="The agent changes the profile's default address.", policy="Default address")


RetailIntent = Callable[[RetailCtx, str, Rng], Part | None]

RETAIL_INTENTS: dict[str, RetailIntent] = {
    "cancel": _cancel,
    "modify_items": _modify_items,
    "modify_address": _modify_address,
    "modify_payment": _modify_payment,
    "return": _return,
    "exchange": _exchange,
    "user_address": _user_address,
}

