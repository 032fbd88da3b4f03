"""The ``openai/<model>`` provider: any OpenAI-compatible chat completions API.

Works with OpenAI itself and with local servers (vLLM, Ollama, llama.cpp,
SGLang...) through ``base_url``. The SDK's own retries are disabled: toolgym's
retry layer (:mod:`toolgym.models._retry`) owns backoff and concurrency.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Mapping
from typing import Any

from toolgym.errors import ConfigError
from toolgym.messages import Message, ToolCall
from toolgym.models._base import (
    ContextOverflowError,
    Model,
    ModelConfig,
    ModelError,
    ModelResponse,
    RetryableModelError,
    TerminalModelError,
    register_provider,
)
from toolgym.models._pricing import PRICING_ARGS, Price, price_for_config, priced_usage
from toolgym.models._toolparse import make_tool_call, recover_text_tool_calls

__all__ = [
    "OpenAIModel",
    "completion_to_response",
    "is_context_overflow",
    "map_api_error",
    "parse_retry_after",
    "sampling_kwargs",
]

# Arguments the chat completions endpoint takes as named parameters. Anything
# else in config.args (vLLM's top_k, repetition_penalty...) goes in extra_body.
_SDK_PARAMS = frozenset({
    "temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop", "n",
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
    "parallel_tool_calls", "tool_choice", "reasoning_effort", "response_format", "user",
    "service_tier", "metadata", "store", "verbosity", "prompt_cache_key",
    "extra_body", "extra_headers", "extra_query",
})

# toolgym's own switches, never sent to the server.
TOOLGYM_ARGS = PRICING_ARGS | frozenset({"text_tool_calls", "script", "on_exhausted",
                                         "latency_ms", "error_rate", "role"})

_OVERFLOW_WORDS = (
    "maximum context length", "context_length_exceeded", "context length", "context window",
    "too many tokens", "maximum model length", "prompt is too long", "input is too long",
    "exceeds the context", "contextwindowexceeded",
)


def is_context_overflow(text: str) -> bool:
    """Whether an error text says the prompt does not fit the context window."""
    low = text.lower()
    return any(w in low for w in _OVERFLOW_WORDS)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait according to ``Retry-After`` / ``retry-after-ms`` headers."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def map_api_error(exc: Exception) -> ModelError | None:
    """Translate an OpenAI-SDK-style exception into toolgym's error types.

    Works for the ``openai`` SDK and for libraries whose exceptions derive
    from it or carry ``status_code`` / ``response`` the same way (litellm).
    Returns None for exceptions that are not API errors.
    """
    import openai

    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    if isinstance(exc, openai.APITimeoutError):
        return RetryableModelError(f"request timed out: {message}")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableModelError(f"connection error: {message}")
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        if type(exc).__name__ in ("Timeout", "APITimeoutError"):
            return RetryableModelError(f"request timed out: {message}")
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    text = f"HTTP {status}: {message}"
    body = getattr(exc, "body", None)
    detail = f"{message} {body}" if body is not None else message
    if status in (408, 409, 429) or status >= 500:
        return RetryableModelError(text, retry_after=parse_retry_after(headers), status=status)
    if status in (400, 413, 422) and is_context_overflow(detail):
        return ContextOverflowError(text)
    return TerminalModelError(text)


def sampling_kwargs(config: ModelConfig, params: Mapping[str, Any]) -> dict[str, Any]:
    """Request keyword arguments from ``config.args`` overridden by ``params``.

    toolgym-only keys are dropped; unknown keys travel in ``extra_body`` (how
    vLLM and friends accept ``top_k``, ``repetition_penalty``...).
    """
    merged = {**config.args, **params}
    out: dict[str, Any] = {}
    extra: dict[str, Any] = dict(merged.get("extra_body") or {})
    for key, value in merged.items():
        if key in TOOLGYM_ARGS or key == "extra_body":
            continue
        if key in _SDK_PARAMS:
            out[key] = value
        else:
            extra[key] = value
    if extra:
        out["extra_body"] = extra
    return out


def _request(model: str, messages: list[Message], kwargs: dict[str, Any]
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON body and the SDK request options of one chat-completions call."""
    kwargs = dict(kwargs)
    options: dict[str, Any] = {}
    for sdk_key, option in (("extra_headers", "headers"), ("extra_query", "params"),
                            ("timeout", "timeout")):
        if sdk_key in kwargs:
            options[option] = kwargs.pop(sdk_key)
    extra = kwargs.pop("extra_body", None) or {}
    body = {"model": model, "messages": [m.to_openai() for m in messages], **kwargs, **extra}
    return body, options


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def completion_to_response(
    completion: Any,
    *,
    tool_names: set[str] | None,
    price: Price | None,
    latency_s: float,
    recover_text_calls: bool = True,
) -> ModelResponse:
    """Convert a chat completion (SDK object or dict) into a :class:`ModelResponse`.

    Args:
        completion: The response, attribute- or dict-style.
        tool_names: Names of the offered tools (None when no tools were offered).
        price: Price used to fill the usage cost.
        latency_s: Measured latency.
        recover_text_calls: Recover tool calls written as text when the reply
            has no native ones and tools were offered.

    Raises:
        RetryableModelError: the response carries no choice.
    """
    choices = _get(completion, "choices") or []
    if not choices:
        raise RetryableModelError("the server returned no choices")
    msg = _get(choices[0], "message")
    content = _get(msg, "content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    calls: list[ToolCall] = []
    for i, tc in enumerate(_get(msg, "tool_calls") or []):
        fn = _get(tc, "function")
        name = _get(fn, "name") or ""
        call_id = _get(tc, "id") or f"call_{i}"
        calls.append(make_tool_call(str(call_id), str(name), _get(fn, "arguments")))
    if not calls and tool_names and recover_text_calls:
        content, calls = recover_text_tool_calls(content, tool_names)
    usage_obj = _get(completion, "usage")
    usage = priced_usage(int(_get(usage_obj, "prompt_tokens") or 0),
                         int(_get(usage_obj, "completion_tokens") or 0), price)
    reasoning = _get(msg, "reasoning_content") or _get(msg, "reasoning")
    message = Message(role="assistant", content=content, tool_calls=calls or None,
                      reasoning=reasoning if isinstance(reasoning, str) else None,
                      usage=usage, latency_s=latency_s)
    return ModelResponse(message=message, usage=usage, latency_s=latency_s, raw=completion)


def tool_names_of(tools: list[dict[str, Any]] | None) -> set[str] | None:
    """Names of OpenAI tool definitions (None when there are none)."""
    if not tools:
        return None
    names = {_get(_get(t, "function"), "name") for t in tools}
    return {n for n in names if isinstance(n, str)}


class OpenAIModel(Model):
    """A chat model behind the OpenAI chat completions API.

    Config:
        ``model``: ``openai/<model name>``. ``base_url``: endpoint (else env
        ``OPENAI_BASE_URL``, else OpenAI). ``api_key_env``: variable holding
        the key (default ``OPENAI_API_KEY``); with a custom base URL and no key
        set, the dummy key ``EMPTY`` is sent (vLLM / Ollama need none).
        ``args``: sampling parameters (temperature, max_tokens, top_p, seed,
        extra_body...), ``price_in`` / ``price_out``, and
        ``text_tool_calls: false`` to turn off tool-call recovery from text.
    """

    def __init__(self, config: ModelConfig, *, client: Any = None) -> None:
        super().__init__(config)
        if not config.model_name:
            raise ConfigError(f"{config.model!r}: expected 'openai/<model name>'")
        self.base_url = config.base_url or os.environ.get("OPENAI_BASE_URL") or None
        key_env = config.api_key_env or "OPENAI_API_KEY"
        if not os.environ.get(key_env) and not self.base_url and client is None:
            raise ConfigError(f"{config.model}: set the API key in ${key_env} "
                              "(or give a base_url for a local server)")
        self._key_env = key_env
        self._client = client
        self.price: Price | None = price_for_config(config.model, config.args)

    @property
    def price_known(self) -> bool:
        """Whether calls are priced (otherwise usage reports tokens only)."""
        return self.price is not None

    def _ensure_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            # The key is read at the last moment and only handed to the SDK.
            self._client = AsyncOpenAI(
                api_key=os.environ.get(self._key_env) or "EMPTY",
                base_url=self.base_url,
                max_retries=0,
                timeout=self.config.timeout_s,
            )
        return self._client

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Call the chat completions endpoint once (no retries here)."""
        import openai

        client = self._ensure_client()
        kwargs = sampling_kwargs(self.config, params)
        if tools:
            kwargs["tools"] = tools
        body, options = _request(self.config.model_name, messages, kwargs)
        started = time.perf_counter()
        try:
            # The SDK's generic ``post`` (same client, auth, base URL and error
            # types) skips ``chat.completions.create``'s recursive TypedDict
            # transform of every message and tool schema, which costs ~10 ms
            # per call with a tau2-sized prompt; our payload is plain JSON.
            completion = await client.post(
                "/chat/completions", body=body, options=options,
                cast_to=openai.types.chat.ChatCompletion,
            )
        except openai.OpenAIError as exc:
            mapped = map_api_error(exc)
            if mapped is None:
                raise TerminalModelError(f"{type(exc).__name__}: {exc}") from exc
            raise mapped from exc
        latency = time.perf_counter() - started
        recover = bool(self.config.args.get("text_tool_calls", True))
        return completion_to_response(completion, tool_names=tool_names_of(tools),
                                      price=self.price, latency_s=latency,
                                      recover_text_calls=recover)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None and hasattr(self._client, "close"):
            await self._client.close()
        self._client = None


@register_provider("openai")
def _make_openai(config: ModelConfig) -> Model:
    return OpenAIModel(config)
