"""Prices and costs."""

from __future__ import annotations

import pytest

from toolgym.errors import ConfigError
from toolgym.messages import Usage
from toolgym.models import DEFAULT_PRICES, PRICES_AS_OF, Price, lookup_price, price_for_config
from toolgym.models._pricing import compute_cost, priced_usage


def test_known_models_and_snapshots() -> None:
    assert PRICES_AS_OF
    assert lookup_price("openai/gpt-4o") == DEFAULT_PRICES["gpt-4o"]
    assert lookup_price("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert lookup_price("openai/gpt-4o-mini") == DEFAULT_PRICES["gpt-4o-mini"]
    assert lookup_price("litellm/anthropic/claude-sonnet-4-20250514") == \
        DEFAULT_PRICES["claude-sonnet-4"]
    # A different product in the same family is not guessed.
    assert lookup_price("gpt-4o-audio-preview") is None


def test_unknown_price_means_no_cost() -> None:
    assert lookup_price("openai/Qwen/Qwen3-8B") is None
    assert compute_cost(100, 10, None) is None
    usage = priced_usage(100, 10, None)
    assert usage.cost is None and usage.total_tokens == 110
    # Unknown cost stays unknown when added to a priced call.
    assert (usage + priced_usage(1, 1, Price(1, 1))).cost is None


def test_cost_arithmetic() -> None:
    price = lookup_price("gpt-4o")
    assert price is not None
    assert compute_cost(1_000_000, 100_000, price) == pytest.approx(2.5 + 1.0)
    total = priced_usage(1000, 0, price) + priced_usage(0, 1000, price)
    assert isinstance(total, Usage) and total.calls == 2
    assert total.cost == pytest.approx((1000 * 2.5 + 1000 * 10) / 1e6)


def test_config_overrides() -> None:
    assert price_for_config("openai/gpt-4o", {"price_in": 1, "price_out": 3}) == Price(1, 3)
    assert price_for_config("openai/Qwen/Qwen3-8B",
                            {"prices": {"Qwen/Qwen3-8B": {"input": 0.1, "output": 0.2}}}
                            ) == Price(0.1, 0.2)
    assert price_for_config("openai/Qwen/Qwen3-8B",
                            {"prices": {"qwen3-8b": [0.1, 0.2]}}) == Price(0.1, 0.2)
    assert price_for_config("openai/gpt-4o", {"prices": {"gpt-4o": {"input": 9, "output": 9}}}
                            ) == Price(9, 9)
    with pytest.raises(ConfigError, match="both"):
        price_for_config("openai/gpt-4o", {"price_in": 1})
    with pytest.raises(ConfigError):
        price_for_config("m", {"prices": {"m": "cheap"}})
