"""Token prices and cost computation.

The built-in table is a small set of **defaults, as published by the vendors
around 2025-08** (USD per million tokens, standard tier, no caching or batch
discounts). Prices change: override them per model with ``args.price_in`` /
``args.price_out`` (or a ``[prices]`` table in ``toolgym.toml``). A model with
no known price gets ``cost=None``: toolgym then reports tokens only and says
that the cost is unknown, rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolgym.errors import ConfigError
from toolgym.messages import Usage

__all__ = [
    "DEFAULT_PRICES",
    "PRICES_AS_OF",
    "PRICING_ARGS",
    "Price",
    "compute_cost",
    "lookup_price",
    "price_for_config",
    "priced_usage",
]

PRICES_AS_OF = "2025-08"
"""When the default table was last checked against the vendors' price pages."""

PRICING_ARGS = frozenset({"price_in", "price_out", "prices"})
"""Keys of ``ModelConfig.args`` that configure pricing (never sent to a server)."""


@dataclass(frozen=True)
class Price:
    """A model's price in USD per million tokens."""

    input_per_m: float
    output_per_m: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Cost in USD of this many input and output tokens."""
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "o3": Price(2.00, 8.00),
    "o4-mini": Price(1.10, 4.40),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "gemini-2.5-pro": Price(1.25, 10.00),
    "gemini-2.5-flash": Price(0.30, 2.50),
}
"""Default prices (USD per 1M input/output tokens) as of :data:`PRICES_AS_OF`."""

# Dated snapshots ("gpt-4o-2024-08-06", "claude-sonnet-4-20250514") and
# "-latest" aliases share the price of their family; other suffixes do not
# ("gpt-4o-audio-preview" is a different product).
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


def _bare_name(model: str) -> str:
    # "openai/gpt-4o" -> "gpt-4o"; "litellm/anthropic/claude-..." -> "claude-..."
    return model.rsplit("/", 1)[-1].lower()


def _to_price(value: Any, what: str) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        try:
            return Price(float(value["input"]), float(value["output"]))
        except (KeyError, TypeError, ValueError):
            pass
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            return Price(float(value[0]), float(value[1]))
        except (TypeError, ValueError):
            pass
    raise ConfigError(f"{what}: a price must be {{input = <usd/1M>, output = <usd/1M>}}, "
                      f"got {value!r}")


def lookup_price(model: str, table: Mapping[str, Any] | None = None, *,
                 defaults: bool = True) -> Price | None:
    """The price of ``model``, or None when unknown.

    Args:
        model: A model string with or without provider prefix.
        table: Extra prices (name -> :class:`Price`, ``{input, output}`` or
            ``[input, output]``) consulted before the defaults. Keys may be
            the full model string, the part after any "/", or the bare model
            name; case does not matter.
        defaults: Fall back to :data:`DEFAULT_PRICES`.
    """
    tables: list[Mapping[str, Any]] = [table or {}]
    if defaults:
        tables.append(DEFAULT_PRICES)
    # The full string, each suffix after a "/" ("Qwen/Qwen3-8B" for
    # "openai/Qwen/Qwen3-8B"), then a dated snapshot's family.
    parts = model.split("/")
    candidates = ["/".join(parts[i:]) for i in range(len(parts))]
    bare = _bare_name(model)
    stripped = _SNAPSHOT.sub("", bare)
    if stripped != bare:
        candidates.append(stripped)
    for tab in tables:
        lowered = {k.lower(): v for k, v in tab.items()}
        for name in candidates:
            if name in tab:
                return _to_price(tab[name], f"price of {name!r}")
            if name.lower() in lowered:
                return _to_price(lowered[name.lower()], f"price of {name!r}")
    return None


def price_for_config(model: str, args: Mapping[str, Any] | None = None) -> Price | None:
    """The price for a model config: explicit args first, then the tables.

    ``args.price_in`` and ``args.price_out`` (USD per 1M tokens) must come
    together; ``args.prices`` may hold a name -> price table.
    """
    args = args or {}
    pin, pout = args.get("price_in"), args.get("price_out")
    if (pin is None) != (pout is None):
        raise ConfigError(f"{model}: set both price_in and price_out (USD per 1M tokens)")
    if pin is not None and pout is not None:
        try:
            return Price(float(pin), float(pout))
        except (TypeError, ValueError):
            raise ConfigError(f"{model}: price_in/price_out must be numbers") from None
    table = args.get("prices")
    if table is not None and not isinstance(table, Mapping):
        raise ConfigError(f"{model}: args.prices must be a table of model -> price")
    return lookup_price(model, table)


def compute_cost(prompt_tokens: int, completion_tokens: int, price: Price | None) -> float | None:
    """Cost in USD, or None when the price is unknown."""
    return None if price is None else price.cost(prompt_tokens, completion_tokens)


def priced_usage(prompt_tokens: int, completion_tokens: int, price: Price | None) -> Usage:
    """A one-call :class:`Usage` with its cost (None when the price is unknown)."""
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 cost=compute_cost(prompt_tokens, completion_tokens, price), calls=1)
