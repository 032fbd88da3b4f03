"""Building blocks of template scenarios: a seeded RNG, scenario parts, phrasing.

A template task is one or more :class:`Part` objects (one per intent) for
one sampled user. A part carries its gold actions (reads and writes, in
order), the lines of the user's scenario, the facts the user must be told,
what the agent must communicate and the structure the difficulty label is
computed from. :func:`assemble` turns the parts into a tau2 task dict.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "PERSONAS",
    "Part",
    "Rng",
    "assemble",
    "join_sentences",
    "money",
]

_T = TypeVar("_T")


class Rng:
    """Draws built only on ``random.Random(seed).random()``.

    The float stream of the Mersenne Twister is fixed across CPython
    versions, while helpers such as ``randint`` have changed internals
    before; deriving every draw from ``random()`` keeps generated task files
    byte-identical everywhere.
    """

    def __init__(self, seed: int | str) -> None:
        self.random = random.Random(seed).random

    def randint(self, lo: int, hi: int) -> int:
        """An int in ``[lo, hi]``."""
        return lo + int(self.random() * (hi - lo + 1))

    def choice(self, seq: Sequence[_T]) -> _T:
        """One element of a non-empty sequence."""
        return seq[int(self.random() * len(seq))]

    def shuffled(self, items: Sequence[_T]) -> list[_T]:
        """A shuffled copy (Fisher-Yates)."""
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = int(self.random() * (i + 1))
            out[i], out[j] = out[j], out[i]
        return out

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p


@dataclass
class Part:
    """One intent of a scenario, with its gold actions and the user's side of it."""

    kind: str
    """Scenario type of this intent (``cancel``, ``add_bags``...)."""
    actions: list[tuple[str, dict[str, Any]]]
    """Gold tool calls of this intent, reads included, in order."""
    reason: str
    """The sentence(s) of the reason for calling."""
    known: list[str] = field(default_factory=list)
    """Known-info lines beyond the user's identity."""
    unknown: list[str] = field(default_factory=list)
    """Unknown-info lines."""
    behaviour: list[str] = field(default_factory=list)
    """Task-instruction lines: preferences, what to accept, when to stop."""
    facts: list[str] = field(default_factory=list)
    """Strings the instructions must contain (what the user needs to know)."""
    communicate: list[str] = field(default_factory=list)
    """Strings the agent must say."""
    expect: str = ""
    """What a policy-following agent does (an NL assertion, not scored)."""
    traps: list[str] = field(default_factory=list)
    """Policy traps of the intent (refusal, bag allowance, split payment...)."""
    context: dict[str, Any] = field(default_factory=dict)
    """Facts the policy check needs that the actions do not show (a cancel reason)."""
    refusal: bool = False
    """The policy forbids the request: no write, and the agent must say why."""
    policy: str = ""
    """The policy section the intent exercises."""
    topic: str = ""
    """What the intent is about, for instructions of a multi-intent task ("the bags")."""


def money(value: float) -> str:
    """An amount as the shortest text an agent's ``$12.30`` or ``12.3`` contains.

    Integral values have no decimals (``250``), others at most two (``12.3``,
    ``12.34``); never a comma, which the communicate check removes from the
    agent's text.
    """
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def join_sentences(lines: Sequence[str]) -> str:
    """Lines joined by spaces, each ending with a full stop."""
    out = []
    for line in lines:
        line = line.strip()
        if line:
            out.append(line if line[-1] in ".?!" else line + ".")
    return " ".join(out)


PERSONAS = (
    "You are polite but in a hurry, and you answer in short sentences.",
    "You are friendly and chatty, and you like to explain why you are calling.",
    "You are precise and double-check every detail before agreeing to anything.",
    "You are a little anxious and want to be sure nothing else on your account changes.",
    "You are calm and patient, and you let the agent lead the conversation.",
    "You are direct: you state what you want and expect a clear answer.",
    "You travel and shop a lot and know how these calls usually go.",
    "You are not very familiar with computers and ask the agent to explain each step.",
    "You are busy at work and want to get this done in one go.",
    "You are courteous and thank the agent for each answer.",
    "You are mildly frustrated after a long week, but you stay polite.",
    "You are careful with money and ask about every amount.",
)

_OPENERS = (
    "{reason}",
    "Hi! {reason}",
    "Hello, {reason_lower}",
    "Good morning. {reason}",
)

_CLOSERS = (
    "Confirm an action when the agent's summary matches what you asked for.",
    "Say yes once the agent has described exactly what it will do.",
    "Agree to the change when the details the agent reads back are right.",
)


_TOPICS = {
    "cancel": "the cancellation", "change_flights": "the flight change",
    "change_cabin": "the cabin change", "add_bags": "the bags",
    "change_passengers": "the passenger change", "book": "the new booking",
    "compensation": "the compensation", "refusal": "that request", "info": "the question",
    "modify_items": "the item change", "modify_address": "the new shipping address",
    "modify_payment": "the payment change", "return": "the return",
    "exchange": "the exchange", "user_address": "the profile address",
}

_ID_LINES = ("The order id is ", "The reservation id is ")


def _merge_ids(lines: list[str]) -> list[str]:
    """``The order id is A``, ``The order id is B`` -> ``The order ids are A and B``."""
    out: list[str] = []
    for prefix in _ID_LINES:
        ids = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
        ids = list(dict.fromkeys(ids))
        if len(ids) == 1:
            out.append(prefix + ids[0])
        elif ids:
            out.append(prefix.replace(" id is ", " ids are ") + ", ".join(ids[:-1])
                       + " and " + ids[-1])
    return [line for line in lines if not line.startswith(_ID_LINES)] + out


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != "I " else text


def assemble(
    *,
    domain: str,
    task_id: str,
    user_id: str,
    identity: tuple[list[tuple[str, dict[str, Any]]], list[str], list[str]],
    parts: list[Part],
    writes: frozenset[str],
    rng: Rng,
) -> dict[str, Any]:
    """The scenario and ground truth of a task (without its metadata).

    Args:
        domain: Domain name (``airline`` / ``retail``).
        task_id: The task id (prefixes the action ids).
        user_id: The sampled user.
        identity: (gold actions that identify the user, known-info lines,
            facts) put before every part.
        parts: The intents, in order.
        writes: The domain's write tools.
        rng: Source of phrasing choices.
    """
    id_actions, id_known, id_facts = identity
    if len(parts) == 1:
        reason = rng.choice(_OPENERS).format(reason=parts[0].reason,
                                              reason_lower=_lower_first(parts[0].reason))
    else:
        links = ["First, ", "Then, ", "Finally, "] if len(parts) == 3 else ["First, ", "Then, "]
        pieces = [link + _lower_first(p.reason) for link, p in zip(links, parts, strict=True)]
        reason = ("You have " + ("two" if len(parts) == 2 else "three")
                  + " things to sort out in this call. " + join_sentences(pieces))
    known = id_known + _merge_ids([line for p in parts for line in p.known])
    unknown = list(dict.fromkeys(line for p in parts for line in p.unknown))
    if len(parts) == 1:
        behaviour = list(parts[0].behaviour)
    else:
        # Each intent's preferences say which intent they belong to.
        behaviour = [f"About {p.topic or _TOPICS.get(p.kind, 'the ' + p.kind)}: "
                     + join_sentences(p.behaviour) for p in parts if p.behaviour]
    if any(name in writes for p in parts if not p.refusal for name, _ in p.actions):
        behaviour.append(rng.choice(_CLOSERS))
    if any(p.refusal for p in parts):
        behaviour.append("If the agent explains that a request is not allowed, accept that "
                         "answer and do not ask for anything else instead of it.")
    behaviour.append("Do not make up any information that is not given here.")
    calls = list(id_actions)
    seen = {repr(c) for c in calls}
    for p in parts:
        for call in p.actions:
            # A read repeated by a later intent (the profile) is made once.
            key = repr(call)
            if key in seen and call[0] not in writes:
                continue
            seen.add(key)
            calls.append(call)
    actions = [{"action_id": f"{task_id}_{i}", "name": name, "arguments": args}
               for i, (name, args) in enumerate(calls)]
    communicate: list[str] = []
    for p in parts:
        communicate.extend(s for s in p.communicate if s not in communicate)
    facts: list[str] = []
    for f in id_facts + [f for p in parts for f in p.facts]:
        if f not in facts:
            facts.append(f)
    return {
        "persona": rng.choice(PERSONAS),
        "instructions": {
            "domain": domain,
            "reason_for_call": reason,
            "known_info": join_sentences(known) or None,
            "unknown_info": join_sentences(unknown) or None,
            "task_instructions": join_sentences(behaviour),
        },
        "actions": actions,
        "communicate_info": communicate,
        "nl_assertions": [p.expect for p in parts if p.expect],
        "facts": facts,
        "user_id": user_id,
    }

