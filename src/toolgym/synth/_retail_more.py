"""Retail template intents: refusals and read-only questions.

A refusal is a request the policy forbids (an exchange on a pending order,
cancelling an order that has shipped, a reason the policy does not accept,
a gift card that cannot cover the order); its gold has no write and its
``communicate_info`` is the key fact of the refusal.
"""

from __future__ import annotations

from typing import Any

from toolgym.domains.retail._db import GiftCard, Order
from toolgym.synth._parts import Part, Rng, money
from toolgym.synth._retail import RetailCtx, RetailIntent, options_text, order_ref, pay_text

__all__ = ["RETAIL_MORE_INTENTS"]


def _refusal(subtype: str, order: Order, reads: list[tuple[str, dict[str, Any]]], reason: str,
             key: str, rule: str, *, known: list[str], unknown: list[str], facts: list[str],
             behaviour: list[str] | None = None) -> Part:
    return Part(
        kind="refusal", actions=list(reads), reason=reason, known=known, unknown=unknown,
        behaviour=[*(behaviour or []), "You do not want anything else instead"],
        facts=facts, communicate=[key],
        expect=f"The agent refuses: {rule}. Nothing changes.", traps=["refusal"],
        refusal=True, context={"refused": order.order_id, "subtype": subtype}, policy=rule,
        topic=f"the request about order {order.order_id}")


def _refuse(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    every = ("pending", "processed", "delivered", "cancelled", "pending (item modified)",
             "exchange requested", "return requested")
    for order in ctx.orders(user_id, rng, every):
        phrase, reads, known, unknown, facts = order_ref(ctx, user_id, order, rng)
        status = order.status
        item = rng.choice(order.items)
        what = f"{item.name} ({options_text(item.options)})"
        part = None
        for subtype in rng.shuffled(["exchange_pending", "cancel_shipped", "bad_reason",
                                     "return_undelivered", "gift_card_short"]):
            if subtype == "exchange_pending" and status == "pending":
                part = _refusal(
                    subtype, order, reads, f"You want to exchange the {what} in {phrase} for "
                    f"another colour or size", "pending", "only delivered orders can be "
                    "exchanged", known=known, unknown=unknown, facts=[*facts, item.name],
                    behaviour=["You only want an exchange, not a change to the order"])
            elif subtype == "cancel_shipped" and status in ("processed", "delivered"):
                part = _refusal(
                    subtype, order, reads, f"You want to cancel {phrase} because you no "
                    f"longer need it", status, "only pending orders can be cancelled",
                    known=known, unknown=unknown, facts=[*facts, "no longer need"])
            elif subtype == "bad_reason" and status == "pending":
                part = _refusal(
                    subtype, order, reads, f"You want to cancel {phrase} because you found "
                    f"it cheaper in another shop", "no longer needed", "the cancellation "
                    "reason must be 'no longer needed' or 'ordered by mistake'", known=known,
                    unknown=unknown, facts=[*facts, "cheaper"],
                    behaviour=["That is your only reason: do not give any other reason"])
            elif subtype == "return_undelivered" and status in ("pending", "processed"):
                part = _refusal(
                    subtype, order, reads, f"You want to return the {what} from {phrase}",
                    status, "only delivered orders can be returned", known=known,
                    unknown=unknown, facts=[*facts, item.name])
            elif (subtype == "gift_card_short" and status == "pending"
                  and len(order.payment_history) == 1):
                paid = order.payment_history[0]
                short = [m for m in user.payment_methods.values()
                         if isinstance(m, GiftCard) and m.balance < paid.amount
                         and m.id != paid.payment_method_id and m.balance >= 1]
                if short:
                    card = rng.choice(short)
                    pay, pay_facts = pay_text(user, card.id)
                    part = _refusal(
                        subtype, order, [*reads, ("get_user_details", {"user_id": user_id})],
                        f"You want to pay for {phrase} with {pay} instead",
                        money(card.balance), "a gift card must cover the whole order total",
                        known=known, unknown=unknown, facts=[*facts, *pay_facts])
            if part is not None:
                ctx.used.add(order.order_id)
                return part
    return None


def _info(ctx: RetailCtx, user_id: str, rng: Rng) -> Part | None:
    user = ctx.user(user_id)
    for subtype in rng.shuffled(["status", "tracking", "total", "gift_balance"]):
        if subtype == "gift_balance":
            gifts = [m for m in user.payment_methods.values() if isinstance(m, GiftCard)
                     and m.balance >= 10]
            if gifts:
                card = rng.choice(gifts)
                pay, facts = pay_text(user, card.id)
                return Part(kind="info", actions=[("get_user_details", {"user_id": user_id})],
                            reason=f"You want to know the balance of {pay}", facts=facts,
                            communicate=[money(card.balance)],
                            expect=f"The agent says {money(card.balance)}.",
                            policy="Customers")
            continue
        for order in ctx.orders(user_id, rng, ("pending", "processed", "delivered",
                                               "cancelled")):
            phrase, reads, known, unknown, facts = order_ref(ctx, user_id, order, rng)
            answer: str
            if subtype == "status":
                answer, ask = str(order.status), f"the status of {phrase}"
            elif subtype == "tracking" and order.fulfillments:
                answer = order.fulfillments[0].tracking_id[0]
                ask = f"the tracking number of {phrase}"
            elif subtype == "total":
                answer = money(sum(i.price for i in order.items))
                ask = f"the total price of the items in {phrase}"
            else:
                continue
            ctx.used.add(order.order_id)
            return Part(kind="info", actions=list(reads), reason=f"You want to know {ask}",
                        known=known, unknown=unknown,
                        behaviour=["You only want the information; do not change anything"],
                        facts=facts, communicate=[answer],
                        expect=f"The agent says {answer}.", policy="Orders")
    return None


RETAIL_MORE_INTENTS: dict[str, RetailIntent] = {
    "refusal": _refuse,
    "info": _info,
}
