"""The ``template`` generator: sampled users and scenario types, gold by the policy.

:class:`TemplateGenerator` yields task dicts. For each task it picks a
scenario type (round robin over the requested types, in a seeded order),
then walks the users in a seeded order, starting after the last user it
used, so that tasks spread over users; the first user the type's intents fit
gets the task. A ``multi`` task chains two or three intents for one user on
one working database: each intent is built on the state the earlier ones
leave, so their gold actions compose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.evaluation._validate import write_tools
from toolgym.synth._airline import AIRLINE_INTENTS, AirlineCtx, airline_identity
from toolgym.synth._airline_more import AIRLINE_MORE_INTENTS
from toolgym.synth._labels import structural_difficulty
from toolgym.synth._parts import Part, Rng, assemble
from toolgym.synth._records import SynthInfo
from toolgym.synth._retail import RETAIL_INTENTS, RetailCtx, retail_identity
from toolgym.synth._retail_more import RETAIL_MORE_INTENTS
from toolgym.synth._rules import AirlineRules, RetailRules

__all__ = ["SCENARIO_TYPES", "TemplateGenerator", "scenario_types"]

#: Scenario types per domain, with what each one asks for.
SCENARIO_TYPES: dict[str, dict[str, str]] = {
    "airline": {
        "cancel": "cancel a reservation that a policy ground allows (24 hours, airline "
                  "cancellation, business, insurance with a covered reason)",
        "change_flights": "move one flight of a non-basic-economy trip to another date; "
                          "fare difference on a card or gift card",
        "change_cabin": "move a whole reservation to another cabin; difference charged or "
                        "refunded",
        "add_bags": "add checked bags; paid bags from the allowance table (membership, "
                    "cabin)",
        "change_passengers": "correct or replace a passenger (same number of passengers)",
        "book": "book a one-way or round trip: cabin, passengers, bags, insurance, payment "
                "rules (certificate, gift cards, one credit card)",
        "compensation": "certificate for a cancelled flight, or for a delay after a "
                        "cancellation, when the customer qualifies",
        "refusal": "a request the policy forbids (no cancellation ground, departed flight, "
                   "basic economy change, more passengers, removing bags, adding insurance, "
                   "compensation for a regular member): no write, the agent says why",
        "info": "a read-only question: flight status, amount paid, gift card balance, a "
                "reservation id, the cheapest direct flight",
        "multi": "two or three of the above in one conversation",
    },
    "retail": {
        "cancel": "cancel a pending order with an accepted reason",
        "modify_items": "change item options of a pending order (same product, available), "
                        "all in one call",
        "modify_address": "change the shipping address of a pending order",
        "modify_payment": "switch a pending order to another saved payment method",
        "return": "return items of a delivered order to the original method or a gift card",
        "exchange": "exchange items of a delivered order for other options of the same "
                    "product",
        "user_address": "change the default address of the profile",
        "refusal": "a request the policy forbids (exchange of a pending order, cancelling a "
                   "shipped order, an unaccepted reason, a gift card that cannot pay): no "
                   "write, the agent says why",
        "info": "a read-only question: order status, tracking number, order total, gift "
                "card balance",
        "multi": "two or three of the above in one conversation",
    },
}

_MULTI_POOL = {
    "airline": ("cancel", "change_flights", "change_cabin", "add_bags", "change_passengers",
                "compensation", "refusal", "info", "book"),
    "retail": ("cancel", "modify_items", "modify_address", "modify_payment", "return",
               "exchange", "user_address", "refusal", "info"),
}


def scenario_types(domain: str) -> dict[str, str]:
    """The template scenario types of ``airline`` or ``retail``, with descriptions."""
    return dict(SCENARIO_TYPES.get(domain, {}))


@dataclass
class _Draft:
    kind: str
    user_id: str
    identity: tuple[list[tuple[str, dict[str, Any]]], list[str], list[str]]
    parts: list[Part]


class TemplateGenerator:
    """Yields template task dicts for a domain.

    Args:
        domain: The airline or retail domain (built-in or tau2 data).
        rules: Its rule profile.
        seed: Seed of every random choice.
        types: Scenario types to generate (all when None).
        version: toolgym version recorded in the provenance.
    """

    def __init__(self, domain: Domain[Any], rules: AirlineRules | RetailRules, seed: int,
                 types: list[str] | None, version: str) -> None:
        self.domain = domain
        self.rules = rules
        self.seed = seed
        self.version = version
        self.rng = Rng(f"toolgym-synth:{domain.name}:{seed}")
        known = SCENARIO_TYPES[domain.name]
        self.types = list(types) if types else list(known)
        self.writes = frozenset(write_tools(domain))
        self.users = self.rng.shuffled(list(domain.snapshot.fork().users))
        self.cursor = 0
        self.seen: set[tuple[str, str]] = set()
        self.intents = ({**AIRLINE_INTENTS, **AIRLINE_MORE_INTENTS} if domain.name == "airline"
                        else {**RETAIL_INTENTS, **RETAIL_MORE_INTENTS})

    def _ctx(self) -> AirlineCtx | RetailCtx:
        db = self.domain.snapshot.fork()
        tools = self.domain.toolkit(db)
        if isinstance(self.rules, AirlineRules):
            return AirlineCtx(db, tools, self.rules)  # type: ignore[arg-type]
        return RetailCtx(db, tools, self.rules)  # type: ignore[arg-type]

    def _draft(self, kind: str) -> _Draft | None:
        kinds = [kind]
        if kind == "multi":
            pool = [k for k in _MULTI_POOL[self.domain.name] if k in self.intents]
            kinds = self.rng.shuffled(pool)[:2 if self.rng.chance(0.7) else 3]
        n = len(self.users)
        for step in range(n):
            user_id = self.users[(self.cursor + step) % n]
            ctx = self._ctx()
            identity = (airline_identity(ctx, user_id) if isinstance(ctx, AirlineCtx)
                        else retail_identity(ctx, user_id, self.rng))
            if identity is None:
                continue
            parts: list[Part] = []
            for k in kinds:
                part = self.intents[k](ctx, user_id, self.rng)  # type: ignore[arg-type]
                if part is None:
                    break
                for name, args in part.actions:
                    if name in self.writes:
                        # Later intents see this one's effects; a failing call is left
                        # for validation to report (it replays every gold action).
                        ctx.tools.call(name, args)
                parts.append(part)
            if len(parts) == len(kinds):
                key = (user_id, repr([p.actions for p in parts]))
                if key in self.seen:
                    continue  # the same task as an earlier one: try another user
                self.seen.add(key)
                self.cursor = (self.cursor + step + 1) % n
                return _Draft(kind, user_id, identity, parts)
        return None

    def _task(self, draft: _Draft, index: int) -> dict[str, Any]:
        task_id = f"{self.domain.name}_template_s{self.seed}_{index:04d}"
        body = assemble(domain=self.domain.name, task_id=task_id, user_id=draft.user_id,
                        identity=draft.identity, parts=draft.parts, writes=self.writes,
                        rng=self.rng)
        writes = [a for a in body["actions"] if a["name"] in self.writes]
        traps = [t for p in draft.parts for t in p.traps]
        label = structural_difficulty(len(writes), traps, len(draft.parts))
        kinds = [p.kind for p in draft.parts]
        refusal = all(p.refusal for p in draft.parts)
        # "refusal" tags a task the policy forbids as a whole; an intent of a
        # multi-intent task that must be refused is tagged "refused-intent".
        parts = [("refused-intent" if k == "refusal" and len(kinds) > 1 else k) for k in kinds]
        tags = list(dict.fromkeys(
            ["synthetic", "refusal" if refusal else ("write" if writes else "read-only"),
             *parts, *(["multi-intent"] if len(kinds) > 1 else [])]))
        info = SynthInfo(generator="template", seed=self.seed, toolgym_version=self.version,
                         rules=self.rules.name, parts=kinds, facts=body["facts"],
                         contexts=[p.context for p in draft.parts], refusal=refusal,
                         traps=traps, structural_difficulty=label)
        return {
            "id": task_id,
            "description": {
                "purpose": " ".join(p.expect for p in draft.parts),
                "relevant_policies": "; ".join(dict.fromkeys(p.policy for p in draft.parts
                                                             if p.policy)) or None,
                "notes": f"Generated by toolgym synth (template, seed {self.seed}).",
            },
            "user_scenario": {"persona": body["persona"], "instructions": body["instructions"]},
            "initial_state": None,
            "evaluation_criteria": {
                "actions": body["actions"],
                "communicate_info": body["communicate_info"],
                "nl_assertions": body["nl_assertions"],
                "reward_basis": ["DB", "COMMUNICATE"],
            },
            "difficulty": label,
            "provenance": f"toolgym {self.version} synth template seed {self.seed}",
            "tags": tags,
            "user_id": draft.user_id,
            "method": "template",
            "scenario_type": draft.kind,
            "synth": info.model_dump(mode="json", exclude_none=True),
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Task dicts, forever or until no scenario type fits any user any more."""
        order = self.rng.shuffled(self.types)
        dead: set[str] = set()
        misses: dict[str, int] = {}
        index = 0
        turn = 0
        while len(dead) < len(order):
            kind = order[turn % len(order)]
            turn += 1
            if kind in dead:
                continue
            draft = self._draft(kind)
            if draft is None:
                # No user fits this type any more; a multi-intent draft may fit
                # with another combination of intents, so it gets a few tries.
                misses[kind] = misses.get(kind, 0) + 1
                if kind != "multi" or misses[kind] >= 5:
                    dead.add(kind)
                continue
            yield self._task(draft, index)
            index += 1
