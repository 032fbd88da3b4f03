"""The policy check: do a task's gold actions obey the domain policy?

The domain tools enforce almost none of the policy (tau2's tools cancel any
reservation and store any bag count), so gold actions that replay without
error can still be wrong. :func:`check_policy` replays the gold actions on a
fresh database and, before each write, checks it against the policy rules
on the state at that moment: the user was identified first and owns what is
changed; a cancelled reservation had a ground and no departed flight; paid
bags follow the allowance table; a certificate has a ground and the right
amount; an order was in a status that allows the change; a declared refusal
writes nothing. It is written independently of the template generators, so a
template bug shows up here instead of as silently wrong gold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolKind
from toolgym.env import Environment
from toolgym.synth._rules import AirlineRules, RetailRules
from toolgym.tasks import Task

__all__ = ["check_policy", "declared_refusal"]


@dataclass
class _State:
    """What the check knows while walking the gold actions."""

    env: Environment
    rules: Any
    identified: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    looked_up: list[str] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    certificates: int = 0
    modified: set[str] = field(default_factory=set)

    @property
    def db(self) -> Any:
        return self.env.db


def _synth(task: Task) -> dict[str, Any]:
    info = (task.model_extra or {}).get("synth")
    return info if isinstance(info, dict) else {}


def declared_refusal(task: Task) -> bool:
    """Whether the task says the policy forbids its whole request.

    A synthetic task says so in ``synth.refusal``; any other task by its
    ``scenario_type`` (``refusal``) or a ``refusal`` tag.
    """
    synth = _synth(task)
    if "refusal" in synth:
        return bool(synth["refusal"])
    extra = task.model_extra or {}
    return extra.get("scenario_type") == "refusal" or "refusal" in task.tags


# -- airline ---------------------------------------------------------------------
def _status(db: Any, flight_number: str, date: str) -> str | None:
    flight = db.flights.get(flight_number)
    inst = flight.dates.get(date) if flight is not None else None
    return None if inst is None else str(inst.status)


def _own_reservation(s: _State, rid: Any) -> tuple[Any, list[str]]:
    res = s.db.reservations.get(rid) if isinstance(rid, str) else None
    if res is None:
        return None, []  # the replay check reports lookups that fail
    out = []
    if res.user_id != s.identified:
        out.append(f"acts on reservation {rid} of user {res.user_id}, not the identified "
                   f"user {s.identified}")
    if res.status == "cancelled":
        out.append(f"changes reservation {rid}, which is cancelled")
    return res, out


def _payment_kind(s: _State, user_id: str, payment_id: Any) -> str | None:
    user = s.db.users.get(user_id)
    method = user.payment_methods.get(payment_id) if user and isinstance(payment_id, str) else None
    return None if method is None else str(method.source)


def _cancel_reservation(s: _State, args: dict[str, Any]) -> list[str]:
    rules: AirlineRules = s.rules
    rid = args.get("reservation_id")
    res, out = _own_reservation(s, rid)
    if res is None:
        return out
    for seg in res.flights:
        if _status(s.db, seg.flight_number, seg.date) in rules.departed_statuses:
            out.append(f"cancels reservation {rid} although flight {seg.flight_number} on "
                       f"{seg.date} has departed")
            return out
    reason = s.reasons.get(str(rid))
    grounds = [res.created_at >= rules.cancel_window_start,
               any(_status(s.db, g.flight_number, g.date) == "cancelled" for g in res.flights),
               res.cabin == "business",
               res.insurance == "yes" and (reason is None or reason in rules.insured_reasons)]
    if not any(grounds):
        out.append(f"cancels reservation {rid} without a ground the policy accepts (created "
                   f"{res.created_at}, {res.cabin}, insurance {res.insurance}, reason "
                   f"{reason or 'not given'})")
    s.changed.add(str(rid))
    return out


def _endpoints(s: _State, flights: list[Any]) -> list[tuple[str, str]] | None:
    out = []
    for f in flights:
        rec = s.db.flights.get(f.get("flight_number")) if isinstance(f, dict) else None
        if rec is None:
            return None
        out.append((rec.origin, rec.destination))
    return out


def _itinerary_problem(legs: list[tuple[str, str]], origin: str, destination: str,
                       flight_type: str) -> str | None:
    if not legs:
        return "has no flights"
    if any(a[1] != b[0] for a, b in itertools.pairwise(legs)):
        return "has flights that do not connect"
    if legs[0][0] != origin:
        return f"does not start at {origin}"
    if flight_type == "round_trip":
        if legs[-1][1] != origin or destination not in [leg[1] for leg in legs]:
            return f"is not a round trip {origin}-{destination}-{origin}"
    elif legs[-1][1] != destination:
        return f"does not end at {destination}"
    return None


def _update_payment(s: _State, user_id: str, payment_id: Any, what: str) -> list[str]:
    kind = _payment_kind(s, user_id, payment_id)
    if kind == "certificate":
        return [f"pays {what} with travel certificate {payment_id}"]
    return []


def _update_flights(s: _State, args: dict[str, Any]) -> list[str]:
    rules: AirlineRules = s.rules
    rid = args.get("reservation_id")
    res, out = _own_reservation(s, rid)
    flights = args.get("flights")
    if res is None or not isinstance(flights, list):
        return out
    new = [(f.get("flight_number"), f.get("date")) for f in flights if isinstance(f, dict)]
    old = [(g.flight_number, g.date) for g in res.flights]
    cabin = args.get("cabin")
    if new != old and res.cabin == "basic_economy":
        out.append(f"changes the flights of basic economy reservation {rid}")
    for seg in res.flights:
        if _status(s.db, seg.flight_number, seg.date) not in rules.departed_statuses:
            continue
        if (seg.flight_number, seg.date) not in new:
            out.append(f"replaces flight {seg.flight_number} on {seg.date}, which has departed")
        if cabin != res.cabin:
            out.append(f"changes the cabin of {rid} although {seg.flight_number} on "
                       f"{seg.date} has departed")
    legs = _endpoints(s, flights)
    if legs is not None:
        problem = _itinerary_problem(legs, res.origin, res.destination, res.flight_type)
        if problem:
            out.append(f"the new itinerary of {rid} {problem} (origin, destination and trip "
                       f"type must stay)")
    out += _update_payment(s, res.user_id, args.get("payment_id"), "a flight or cabin change")
    s.changed.add(str(rid))
    return out


def _update_bags(s: _State, args: dict[str, Any]) -> list[str]:
    rules: AirlineRules = s.rules
    rid = args.get("reservation_id")
    res, out = _own_reservation(s, rid)
    if res is None:
        return out
    total, nonfree = args.get("total_baggages"), args.get("nonfree_baggages")
    user = s.db.users.get(res.user_id)
    if isinstance(total, int) and isinstance(nonfree, int) and user is not None:
        if total < res.total_baggages:
            out.append(f"removes checked bags from {rid} ({res.total_baggages} -> {total})")
        free = rules.free_bags[user.membership][res.cabin] * len(res.passengers)
        expected = max(0, total - free)
        if nonfree != expected:
            out.append(f"sets {nonfree} paid bags on {rid}, but {total} bags with {free} free "
                       f"({user.membership} member, {res.cabin}, {len(res.passengers)} "
                       f"passenger(s)) means {expected}")
    out += _update_payment(s, res.user_id, args.get("payment_id"), "bags")
    return out


def _update_passengers(s: _State, args: dict[str, Any]) -> list[str]:
    res, out = _own_reservation(s, args.get("reservation_id"))
    passengers = args.get("passengers")
    if res is not None and isinstance(passengers, list) and len(passengers) != len(
            res.passengers):
        out.append("changes the number of passengers")
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _book(s: _State, args: dict[str, Any]) -> list[str]:
    rules: AirlineRules = s.rules
    out = []
    user_id = args.get("user_id")
    if user_id != s.identified:
        out.append(f"books for user {user_id}, not the identified user {s.identified}")
    user = s.db.users.get(user_id) if isinstance(user_id, str) else None
    passengers = _list(args.get("passengers"))
    if len(passengers) > rules.max_passengers:
        out.append(f"books {len(passengers)} passengers (at most {rules.max_passengers})")
    legs = _endpoints(s, _list(args.get("flights")))
    if legs is not None:
        problem = _itinerary_problem(legs, str(args.get("origin")), str(args.get("destination")),
                                     str(args.get("flight_type")))
        if problem:
            out.append(f"the booked itinerary {problem}")
    counts: dict[str, int] = {}
    for p in _list(args.get("payment_methods")):
        kind = _payment_kind(s, str(user_id), p.get("payment_id") if isinstance(p, dict) else None)
        if kind is None:
            out.append(f"pays with {p!r}, which is not in the profile")
            continue
        counts[kind] = counts.get(kind, 0) + 1
    limits = {"credit_card": rules.max_credit_cards, "gift_card": rules.max_gift_cards,
              "certificate": rules.max_certificates}
    for kind, limit in limits.items():
        if counts.get(kind, 0) > limit:
            out.append(f"pays with {counts[kind]} {kind.replace('_', ' ')}s (at most {limit})")
    total, nonfree, cabin = (args.get("total_baggages"), args.get("nonfree_baggages"),
                             args.get("cabin"))
    if (user is not None and isinstance(total, int) and isinstance(nonfree, int)
            and isinstance(cabin, str) and cabin in rules.free_bags[user.membership]):
        free = rules.free_bags[user.membership][cabin] * len(passengers)
        if nonfree != max(0, total - free):
            out.append(f"books {nonfree} paid bags, but {total} bags with {free} free "
                       f"({user.membership}, {cabin}) means {max(0, total - free)}")
    return out


def _certificate(s: _State, args: dict[str, Any]) -> list[str]:
    rules: AirlineRules = s.rules
    out = []
    user_id, amount = args.get("user_id"), args.get("amount")
    if user_id != s.identified:
        out.append(f"sends a certificate to {user_id}, not the identified user {s.identified}")
    s.certificates += 1
    if s.certificates > 1:
        out.append("sends more than one certificate")
    user = s.db.users.get(user_id) if isinstance(user_id, str) else None
    grounds = []
    # The reservations in question: those the gold looked up or changed; every
    # reservation of the user when the gold looks none up (write-only gold).
    candidates = [*s.looked_up, *sorted(s.changed)]
    if not s.looked_up and user is not None:
        candidates += list(user.reservations)
    for rid in dict.fromkeys(candidates):
        res = s.db.reservations.get(rid)
        if res is None or user is None or res.user_id != user_id:
            continue
        eligible = (user.membership in rules.compensated_memberships
                    or res.insurance == "yes" or res.cabin == "business")
        statuses = {_status(s.db, g.flight_number, g.date) for g in res.flights}
        n = len(res.passengers)
        if eligible and "cancelled" in statuses:
            grounds.append(rules.certificate_cancelled * n)
        if eligible and "delayed" in statuses and rid in s.changed:
            grounds.append(rules.certificate_delayed * n)
    if amount not in grounds:
        why = (f"the policy allows {', '.join(map(str, sorted(set(grounds))))}" if grounds else
               "no reservation in question gives a ground (a cancelled flight, or a delay "
               "followed by a change or cancellation, for an eligible customer)")
        out.append(f"sends a certificate of {amount}: {why}")
    return out


_AIRLINE: dict[str, Callable[[_State, dict[str, Any]], list[str]]] = {
    "cancel_reservation": _cancel_reservation,
    "update_reservation_flights": _update_flights,
    "update_reservation_baggages": _update_bags,
    "update_reservation_passengers": _update_passengers,
    "book_reservation": _book,
    "send_certificate": _certificate,
}


def _airline_read(s: _State, name: str, args: dict[str, Any], content: str, error: bool
                  ) -> None:
    if name == "get_user_details" and s.identified is None and not error:
        s.identified = args.get("user_id")
    if name == "get_reservation_details" and isinstance(args.get("reservation_id"), str):
        s.looked_up.append(args["reservation_id"])


# -- retail ------------------------------------------------------------------------
def _own_order(s: _State, oid: Any, statuses: tuple[str, ...], what: str
               ) -> tuple[Any, list[str]]:
    order = s.db.orders.get(oid) if isinstance(oid, str) else None
    if order is None:
        return None, []
    out = []
    if order.user_id != s.identified:
        out.append(f"acts on order {oid} of user {order.user_id}, not the identified user "
                   f"{s.identified}")
    if order.status not in statuses:
        out.append(f"{what} order {oid}, whose status is {order.status!r}")
    return order, out


def _user_method(s: _State, payment_id: Any) -> Any:
    user = s.db.users.get(s.identified) if s.identified else None
    return user.payment_methods.get(payment_id) if user and isinstance(payment_id, str) else None


def _swap_problems(s: _State, order: Any, args: dict[str, Any]) -> list[str]:
    out: list[str] = []
    olds, news = args.get("item_ids"), args.get("new_item_ids")
    if not isinstance(olds, list) or not isinstance(news, list):
        return out
    diff = 0.0
    for old, new in zip(olds, news, strict=False):
        item = next((i for i in order.items if i.item_id == old), None)
        if item is None:
            continue
        product = s.db.products.get(item.product_id)
        variant = product.variants.get(new) if product is not None else None
        if variant is None:
            out.append(f"swaps {old} for {new}, which is not an item of the same product")
            continue
        if new == old or variant.options == item.options:
            out.append(f"swaps {old} for an item with the same options")
        if not variant.available:
            out.append(f"swaps {old} for {new}, which is not available")
        diff += variant.price - item.price
    method = _user_method(s, args.get("payment_method_id"))
    if method is None:
        out.append(f"uses payment method {args.get('payment_method_id')!r}, which is not the "
                   "user's")
    elif method.source == "gift_card" and diff > 0 and method.balance < diff:
        out.append(f"charges {diff:.2f} to a gift card holding {method.balance}")
    return out


def _retail_write(s: _State, name: str, args: dict[str, Any]) -> list[str]:
    rules: RetailRules = s.rules
    oid = args.get("order_id")
    if name == "modify_user_address":
        uid = args.get("user_id")
        return [] if uid == s.identified else [f"changes the address of {uid}, not the "
                                               f"identified user {s.identified}"]
    if name == "cancel_pending_order":
        order, out = _own_order(s, oid, rules.cancellable, "cancels")
        if order is not None and args.get("reason") not in rules.cancel_reasons:
            out.append(f"cancels with reason {args.get('reason')!r}")
        return out
    if name == "modify_pending_order_address":
        return _own_order(s, oid, rules.modifiable, "changes the address of")[1]
    if name == "modify_pending_order_payment":
        order, out = _own_order(s, oid, rules.modifiable, "changes the payment of")
        if order is None:
            return out
        method = _user_method(s, args.get("payment_method_id"))
        history = order.payment_history
        if len(history) != 1:
            out.append(f"changes the payment of {oid}, which has {len(history)} payments")
        elif method is None:
            out.append("switches to a payment method that is not the user's")
        elif method.id == history[0].payment_method_id:
            out.append("switches to the payment method already in use")
        elif method.source == "gift_card" and method.balance < history[0].amount:
            out.append(f"switches to a gift card holding {method.balance}, less than the "
                       f"order's {history[0].amount}")
        return out
    if name == "modify_pending_order_items":
        order, out = _own_order(s, oid, rules.cancellable, "changes the items of")
        if order is None:
            return out
        if oid in s.modified:
            out.append(f"changes the items of {oid} a second time")
        s.modified.add(str(oid))
        return out + _swap_problems(s, order, args)
    if name == "exchange_delivered_order_items":
        order, out = _own_order(s, oid, rules.returnable, "exchanges items of")
        return out if order is None else out + _swap_problems(s, order, args)
    if name == "return_delivered_order_items":
        order, out = _own_order(s, oid, rules.returnable, "returns items of")
        if order is None:
            return out
        method = _user_method(s, args.get("payment_method_id"))
        original = order.payment_history[0].payment_method_id if order.payment_history else None
        if method is None or (method.id != original and method.source != "gift_card"):
            out.append(f"refunds to {args.get('payment_method_id')!r}, neither the original "
                       "payment method nor a gift card of the user")
        return out
    return []


def _retail_read(s: _State, name: str, args: dict[str, Any], content: str, error: bool
                 ) -> None:
    if name in ("find_user_id_by_email", "find_user_id_by_name_zip") and not error:
        s.identified = s.identified or content


# -- the check ---------------------------------------------------------------------
def _owner(s: _State, task: Task) -> str | None:
    extra = (task.model_extra or {}).get("user_id")
    if isinstance(extra, str):
        return extra
    for action in task.gold_actions:
        args = action.arguments
        if isinstance(args.get("user_id"), str):
            return str(args["user_id"])
        for table, key in (("reservations", "reservation_id"), ("orders", "order_id")):
            rec = getattr(s.db, table, {}).get(args.get(key)) if isinstance(
                args.get(key), str) else None
            if rec is not None:
                return str(rec.user_id)
    return None


def check_policy(domain: Domain[Any], task: Task, rules: AirlineRules | RetailRules
                 ) -> list[str]:
    """Every way the task's gold actions break the policy (empty: none).

    Args:
        domain: The airline or retail domain.
        task: The task; its ``synth.contexts`` (cancellation reasons, refused
            entities) are used when present.
        rules: The rule profile to apply.
    """
    s = _State(Environment(domain, task), rules)
    for ctx in _synth(task).get("contexts") or []:
        if not isinstance(ctx, dict):
            continue
        if ctx.get("reservation_id") and ctx.get("cancel_reason"):
            s.reasons[str(ctx["reservation_id"])] = str(ctx["cancel_reason"])
        if ctx.get("refused"):
            s.refused.add(str(ctx["refused"]))
    airline = isinstance(rules, AirlineRules)
    lookups = (("get_user_details",) if airline
               else ("find_user_id_by_email", "find_user_id_by_name_zip"))
    if not any(a.name in lookups for a in task.gold_actions):
        # Gold actions that list only the writes (most of tau2's): the user is
        # the task's, or the owner of what the first write touches.
        s.identified = _owner(s, task)
    out: list[str] = []
    writes = 0
    for i, action in enumerate(task.gold_actions):
        if action.requestor != "assistant":
            continue
        name, args = action.name, action.arguments
        label = f"action {action.action_id or i} ({name})"
        if s.env.toolkit.kind(name) == ToolKind.WRITE:
            writes += 1
            if s.identified is None:
                out.append(f"{label}: writes before the user is identified")
            check = _AIRLINE.get(name) if airline else None
            problems = (check(s, args) if check else []) if airline else _retail_write(
                s, name, args)
            target = args.get("reservation_id") or args.get("order_id")
            if target in s.refused:
                problems.append(f"changes {target}, which the task says must be refused")
            out += [f"{label}: {p}" for p in problems]
        result = s.env.toolkit.call(name, args)
        if airline:
            _airline_read(s, name, args, result.content, result.error)
        else:
            _retail_read(s, name, args, result.content, result.error)
    if declared_refusal(task) and writes:
        out.append(f"a refusal task, but its gold has {writes} write(s)")
    return out
