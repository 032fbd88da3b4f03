"""The policy rules a generator applies and a checker enforces, as data.

toolgym's own airline policy and tau2's differ in a few numbers (gold members'
free bags in business, how many gift cards may pay for a booking) and in what
to do about a trip that has already departed (refuse, or transfer). Each
difference lives in an :class:`AirlineRules` profile; :func:`airline_rules`
picks the profile that matches a domain's policy text. The retail policies
agree, so there is one :class:`RetailRules`.

Only the rules live here (tables and constants read off the policies). The
template generators and the policy checker each apply them with their own
code, so that a mistake in one is caught by the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from toolgym.errors import ConfigError

__all__ = [
    "RULE_PROFILES",
    "TAU2_AIRLINE",
    "TOOLGYM_AIRLINE",
    "AirlineRules",
    "RetailRules",
    "airline_rules",
    "rules_for",
]


def _table(rows: dict[str, dict[str, int]]) -> Mapping[str, Mapping[str, int]]:
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in rows.items()})


@dataclass(frozen=True)
class AirlineRules:
    """The airline policy's rules that decide gold actions."""

    name: str
    """Profile name: ``toolgym`` (the built-in policy) or ``tau2``."""
    free_bags: Mapping[str, Mapping[str, int]]
    """Free checked bags per passenger, by membership then cabin."""
    max_gift_cards: int
    """Gift cards that may pay for one booking."""
    departed_cancel: str
    """What to do when a trip to cancel has departed: ``refuse`` or ``transfer``."""
    max_passengers: int = 5
    max_credit_cards: int = 1
    max_certificates: int = 1
    bag_fee: int = 50
    insurance_fee: int = 30
    now: str = "2024-05-15T15:00:00"
    """The policy's current time."""
    cancel_window_start: str = "2024-05-14T15:00:00"
    """Reservations created at or after this time may always be cancelled."""
    insured_reasons: tuple[str, ...] = ("health", "weather")
    """Cancellation reasons that travel insurance covers."""
    certificate_cancelled: int = 100
    """Certificate per passenger for a flight the airline cancelled."""
    certificate_delayed: int = 50
    """Certificate per passenger for a delay, after a change or cancellation."""
    compensated_memberships: tuple[str, ...] = ("silver", "gold")
    departed_statuses: tuple[str, ...] = ("flying", "landed")

    def allowance(self, membership: str, cabin: str, passengers: int) -> int:
        """The reservation's free bags: per-passenger allowance times passengers."""
        return self.free_bags[membership][cabin] * passengers


TOOLGYM_AIRLINE = AirlineRules(
    name="toolgym",
    free_bags=_table({
        "regular": {"basic_economy": 0, "economy": 1, "business": 2},
        "silver": {"basic_economy": 1, "economy": 2, "business": 3},
        "gold": {"basic_economy": 2, "economy": 3, "business": 3},
    }),
    max_gift_cards=2,
    departed_cancel="refuse",
)

TAU2_AIRLINE = AirlineRules(
    name="tau2",
    free_bags=_table({
        "regular": {"basic_economy": 0, "economy": 1, "business": 2},
        "silver": {"basic_economy": 1, "economy": 2, "business": 3},
        "gold": {"basic_economy": 2, "economy": 3, "business": 4},
    }),
    max_gift_cards=3,
    departed_cancel="transfer",
)


@dataclass(frozen=True)
class RetailRules:
    """The retail policy's rules that decide gold actions."""

    name: str = "retail"
    cancel_reasons: tuple[str, ...] = ("no longer needed", "ordered by mistake")
    cancellable: tuple[str, ...] = ("pending",)
    """Statuses an order may be cancelled or have its items changed in."""
    modifiable: tuple[str, ...] = ("pending", "pending (item modified)")
    """Statuses an order may change address or payment in."""
    returnable: tuple[str, ...] = ("delivered",)
    extras: Mapping[str, Any] = field(default_factory=dict)


RULE_PROFILES: dict[str, AirlineRules] = {"toolgym": TOOLGYM_AIRLINE, "tau2": TAU2_AIRLINE}

#: Phrases only tau2's airline policy has (four free business bags for gold
#: members; three gift cards).
_TAU2_MARKERS = ("4 free checked bags for each business passenger",
                 "at most three gift cards")


def airline_rules(policy: str, name: str = "auto") -> AirlineRules:
    """The airline rule profile for a policy text.

    Args:
        policy: The domain's policy document.
        name: ``auto`` (tau2's profile when the text is tau2's policy,
            toolgym's otherwise), ``toolgym`` or ``tau2``.

    Raises:
        ConfigError: an unknown profile name.
    """
    if name == "auto":
        return TAU2_AIRLINE if any(m in policy for m in _TAU2_MARKERS) else TOOLGYM_AIRLINE
    try:
        return RULE_PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown rules {name!r} (known: auto, "
                          f"{', '.join(sorted(RULE_PROFILES))})") from None


def rules_for(domain: Any, name: str = "auto") -> AirlineRules | RetailRules:
    """The rules of a loaded domain (``airline`` or ``retail``).

    Raises:
        ConfigError: another domain, or an unknown profile name.
    """
    if domain.name == "airline":
        return airline_rules(domain.policy, name)
    if domain.name == "retail":
        if name not in ("auto", "toolgym", "tau2", "retail"):
            raise ConfigError(f"unknown rules {name!r} (known: auto, toolgym, tau2)")
        return RetailRules()
    raise ConfigError(f"synthetic tasks support the airline and retail domains, "
                      f"not {domain.name!r}")
