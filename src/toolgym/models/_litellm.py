"""The ``litellm/<provider>/<model>`` provider (optional extra ``toolgym[litellm]``).

LiteLLM reaches many vendors (Anthropic, Gemini, Bedrock...) behind one
OpenAI-shaped API. It is imported only when such a model is built. Its own
retries are turned off; toolgym's retry layer handles them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from toolgym.errors import ConfigError, MissingDependencyError
from toolgym.messages import Message
from toolgym.models._base import (
    Model,
    ModelConfig,
    ModelResponse,
    TerminalModelError,
    register_provider,
)
from toolgym.models._openai import (
    TOOLGYM_ARGS,
    completion_to_response,
    map_api_error,
    tool_names_of,
)
from toolgym.models._pricing import Price, price_for_config

__all__ = ["LiteLLMModel"]


def _import_litellm() -> Any:
    try:
        import litellm
    except ImportError:
        raise MissingDependencyError("litellm", "litellm") from None
    return litellm


class LiteLLMModel(Model):
    """A model reached through ``litellm.acompletion``.

    Config: ``model`` is ``litellm/<provider>/<model>`` (the part after
    ``litellm/`` is LiteLLM's model string); ``base_url`` becomes
    ``api_base``; ``api_key_env`` names the variable holding the key (LiteLLM
    reads the vendor's usual variable otherwise); ``args`` are passed through.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        if not config.model_name:
            raise ConfigError(f"{config.model!r}: expected 'litellm/<provider>/<model>'")
        self._litellm = _import_litellm()
        self.price: Price | None = price_for_config(config.model, config.args)

    @property
    def price_known(self) -> bool:
        """Whether toolgym has a price (otherwise LiteLLM's own estimate is tried)."""
        return self.price is not None

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Call ``litellm.acompletion`` once."""
        kwargs: dict[str, Any] = {
            k: v for k, v in {**self.config.args, **params}.items() if k not in TOOLGYM_ARGS
        }
        if tools:
            kwargs["tools"] = tools
        if self.config.base_url:
            kwargs["api_base"] = self.config.base_url
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if key:
                kwargs["api_key"] = key
        started = time.perf_counter()
        try:
            completion = await self._litellm.acompletion(
                model=self.config.model_name,
                messages=[m.to_openai() for m in messages],
                num_retries=0,
                timeout=self.config.timeout_s,
                **kwargs,
            )
        except Exception as exc:
            mapped = map_api_error(exc)
            if mapped is None:
                raise TerminalModelError(f"{type(exc).__name__}: {exc}") from exc
            raise mapped from exc
        latency = time.perf_counter() - started
        price = self.price
        response = completion_to_response(
            completion, tool_names=tool_names_of(tools), price=price, latency_s=latency,
            recover_text_calls=bool(self.config.args.get("text_tool_calls", True)),
        )
        if price is None:
            # LiteLLM knows many prices; use its estimate when we have none.
            try:
                cost = float(self._litellm.completion_cost(completion_response=completion))
            except Exception:
                cost = None
            if cost is not None:
                # The message carries the same Usage object.
                response.usage.cost = cost
        return response


@register_provider("litellm")
def _make_litellm(config: ModelConfig) -> Model:
    """Any model LiteLLM knows (litellm/<provider>/<model>; pip install toolgym[litellm])."""
    return LiteLLMModel(config)
