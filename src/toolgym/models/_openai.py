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
    MalformedReplyError,
    Model,
    ModelConfig,
    ModelError,
    ModelResponse,
    RetryableModelError,
    TerminalModelError,
    register_provider,
)
from toolgym.models._preflight import PING_TOOL
from toolgym.models._pricing import PRICING_ARGS, Price, price_for_config, priced_usage
from toolgym.models._toolparse import make_tool_call, recover_text_tool_calls

__all__ = [
    "PREFLIGHT_HEADER",
    "OpenAIModel",
    "completion_to_response",
    "connection_problem",
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

#: Header marking preflight requests (the loopback test server answers them itself).
PREFLIGHT_HEADER = "X-Toolgym-Preflight"

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


def connection_problem(exc: BaseException) -> str:
    """A short description of why a connection failed, from the exception chain.

    ``openai.APIConnectionError`` says only "Connection error."; the reason
    (refused, unknown host, reset) is in the chained exceptions.
    """
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in seen:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        text = str(e).lower()
        if "connection refused" in text or "errno 111" in text:
            return "connection refused"
        if "name or service not known" in text or "nodename nor servname" in text or (
                "temporary failure in name resolution" in text) or "getaddrinfo" in text:
            return "unknown host"
        if "reset by peer" in text:
            return "connection reset by the server"
        if "disconnected without sending a response" in text or (
                "server disconnected" in text):
            return "the server closed the connection without answering"
    deepest = str(seen[-1]) if seen else ""
    return f"cannot connect ({deepest})" if deepest else "cannot connect"


def map_api_error(exc: Exception) -> ModelError | None:
    """Translate an OpenAI-SDK-style exception into toolgym's error types.

    Works for the ``openai`` SDK and for libraries whose exceptions derive
    from it or carry ``status_code`` / ``response`` the same way (litellm).
    Returns None for exceptions that are not API errors.
    """
    import openai

    message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    if isinstance(exc, openai.APITimeoutError):
        return RetryableModelError(f"request timed out: {message}", cause="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return RetryableModelError(f"connection error: {connection_problem(exc)}",
                                   cause="connection")
    if isinstance(exc, openai.APIResponseValidationError):
        return MalformedReplyError(message)
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        if type(exc).__name__ in ("Timeout", "APITimeoutError"):
            return RetryableModelError(f"request timed out: {message}", cause="timeout")
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    text = f"HTTP {status}: {message}"
    body = getattr(exc, "body", None)
    detail = f"{message} {body}" if body is not None else message
    if status in (408, 409, 429) or status >= 500:
        return RetryableModelError(text, retry_after=parse_retry_after(headers), status=status)
    if status in (400, 413, 422) and is_context_overflow(detail):
        return ContextOverflowError(text, status=status)
    return TerminalModelError(text, status=status)


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


def _count(usage: Any, key: str) -> int:
    value = _get(usage, key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise MalformedReplyError(f"usage.{key} is {value!r}, not a token count")
    return int(value)


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
        MalformedReplyError: the response is not a usable chat completion (not
            an object, no choice, a null message, non-numeric usage...).
    """
    if completion is None or isinstance(completion, str | bytes | list | int | float):
        raise MalformedReplyError(f"expected a chat completion object, got "
                                  f"{type(completion).__name__}")
    choices = _get(completion, "choices")
    if not choices:
        raise MalformedReplyError("the server returned no choices")
    if not isinstance(choices, list | tuple):
        raise MalformedReplyError(f"'choices' is a {type(choices).__name__}, not a list")
    msg = _get(choices[0], "message")
    if msg is None or isinstance(msg, str | bytes | list | int | float):
        raise MalformedReplyError("choices[0].message is "
                                  + ("null" if msg is None else f"a {type(msg).__name__}"))
    content = _get(msg, "content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    raw_calls = _get(msg, "tool_calls") or []
    if not isinstance(raw_calls, list | tuple):
        raise MalformedReplyError(f"'tool_calls' is a {type(raw_calls).__name__}, not a list")
    calls: list[ToolCall] = []
    for i, tc in enumerate(raw_calls):
        fn = _get(tc, "function")
        name = _get(fn, "name") or ""
        call_id = _get(tc, "id") or f"call_{i}"
        calls.append(make_tool_call(str(call_id), str(name), _get(fn, "arguments")))
    if not calls and tool_names and recover_text_calls:
        content, calls = recover_text_tool_calls(content, tool_names)
    usage_obj = _get(completion, "usage")
    usage = priced_usage(_count(usage_obj, "prompt_tokens"),
                         _count(usage_obj, "completion_tokens"), price)
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
        self._client: Any = client
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
        return await self._chat(messages, tools, params)

    async def _chat(self, messages: list[Message], tools: list[dict[str, Any]] | None,
                    params: dict[str, Any], extra_options: dict[str, Any] | None = None
                    ) -> ModelResponse:
        import openai

        client = self._ensure_client()
        kwargs = sampling_kwargs(self.config, params)
        if tools:
            kwargs["tools"] = tools
        body, options = _request(self.config.model_name, messages, kwargs)
        for key, value in (extra_options or {}).items():
            if key == "headers":
                options["headers"] = {**options.get("headers", {}), **value}
            else:
                options[key] = value
        started = time.perf_counter()
        try:
            # The SDK's generic ``post`` (same client, auth, base URL and error
            # types) skips ``chat.completions.create``'s recursive TypedDict
            # transform of every message and tool schema, which costs ~10 ms
            # per call with a tau2-sized prompt; our payload is plain JSON. The
            # reply stays plain JSON too (``cast_to=object``): building the SDK's
            # ChatCompletion model costs ~0.3 ms a call, and completion_to_response
            # checks the shape itself.
            completion = await client.post(
                "/chat/completions", body=body, options=options, cast_to=object,
            )
        except openai.OpenAIError as exc:
            mapped = map_api_error(exc)
            if mapped is None:
                raise TerminalModelError(f"{type(exc).__name__}: {exc}") from exc
            raise mapped from exc
        except ValueError as exc:  # a 200 whose body is not JSON (json.JSONDecodeError)
            raise MalformedReplyError(f"the body is not JSON ({exc})") from None
        latency = time.perf_counter() - started
        recover = bool(self.config.args.get("text_tool_calls", True))
        return completion_to_response(completion, tool_names=tool_names_of(tools),
                                      price=self.price, latency_s=latency,
                                      recover_text_calls=recover)

    async def preflight(self, tools: bool = False) -> str:
        """Check the endpoint before a run (see :mod:`toolgym.models._preflight`).

        Returns:
            What was verified, for people.

        Raises:
            PreflightError: the endpoint is unusable; the message says why.
        """
        from toolgym.models._preflight import PREFLIGHT_TIMEOUT_S, PreflightError

        timeout = min(self.config.timeout_s, PREFLIGHT_TIMEOUT_S)
        name = self.config.model_name
        listed = await self._preflight_models(timeout)
        if listed is not None and listed and name not in listed:
            shown = ", ".join(sorted(listed)[:5]) + (", ..." if len(listed) > 5 else "")
            raise PreflightError(f"model {name!r} is not served here (it serves: {shown})")
        options = {"timeout": timeout, "headers": {PREFLIGHT_HEADER: "1"}}
        limit = ({} if {"max_tokens", "max_completion_tokens"} & set(self.config.args)
                 else {"max_tokens": 64})
        ask = [Message.user("Call the ping tool." if tools else "Reply with the word pong.")]
        offered = [PING_TOOL] if tools else None
        what = "model listed, " if listed else ""
        try:
            reply = await self._preflight_chat(ask, offered, limit, options)
        except _Reachable:
            return what + "reachable (answered 429: rate limited right now)"
        if not tools:
            return what + "chat request answered"
        calls = reply.message.tool_calls or []
        own = [c for c in calls if c.name == "ping"]
        call = own[0] if own else ToolCall(id="call_preflight", name="ping", arguments={})
        history = [*ask, Message(role="assistant", content=None, tool_calls=[call]),
                   Message(role="tool", content="pong", tool_call_id=call.id, name="ping")]
        try:
            await self._preflight_chat(history, offered, limit, options)
        except _Reachable:
            return what + "reachable (answered 429: rate limited right now)"
        return what + ("tool call round-tripped" if own else
                       "tool definitions and tool-call history accepted (the model answered "
                       "in text)")

    async def _preflight_models(self, timeout: float) -> set[str] | None:
        import openai

        from toolgym.models._preflight import PreflightError

        client = self._ensure_client()
        try:
            page = await client.models.list(timeout=timeout,
                                            extra_headers={PREFLIGHT_HEADER: "1"})
        except openai.APITimeoutError:
            raise PreflightError(f"no answer within {timeout:g} s") from None
        except openai.APIConnectionError as exc:
            raise PreflightError(connection_problem(exc)) from None
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise PreflightError(self._auth_problem(exc.status_code, str(exc.message))
                                     ) from None
            return None  # no usable /models route: the chat request decides
        except (ValueError, openai.OpenAIError):
            return None
        ids = {getattr(m, "id", None) for m in getattr(page, "data", None) or []}
        return {i for i in ids if isinstance(i, str)}

    def _auth_problem(self, status: int, message: str) -> str:
        return (f"authentication failed (HTTP {status}: {message}); check the key in "
                f"${self._key_env}")

    async def _preflight_chat(self, messages: list[Message], tools: list[dict[str, Any]] | None,
                              params: dict[str, Any], options: dict[str, Any]
                              ) -> ModelResponse:
        from toolgym.models._preflight import PreflightError

        what = "a chat request" + (" with a tool" if tools else "")
        try:
            try:
                return await self._chat(messages, tools, params, options)
            except TerminalModelError as exc:
                if "max_tokens" in params and "max_tokens" in str(exc):
                    # Some models take only max_completion_tokens.
                    return await self._chat(
                        messages, tools, {"max_completion_tokens": params["max_tokens"]},
                        options)
                raise
        except RetryableModelError as exc:
            if exc.cause == "429":
                raise _Reachable from None  # rate limited now: reachable and configured
            if exc.cause == "timeout":
                raise PreflightError(f"no answer to {what} within {options['timeout']:g} s"
                                     ) from None
            if exc.cause == "connection":
                raise PreflightError(str(exc).removeprefix("connection error: ")) from None
            raise PreflightError(f"{what} failed: {exc}") from None
        except TerminalModelError as exc:
            if exc.status in (401, 403):
                raise PreflightError(self._auth_problem(exc.status, str(exc))) from None
            if exc.status == 404:
                raise PreflightError(f"model {self.config.model_name!r} not found ({exc})"
                                     ) from None
            hint = (" (a vLLM server needs --enable-auto-tool-choice and --tool-call-parser "
                    "for tool calls)" if tools else "")
            raise PreflightError(f"{what} was refused: {exc}{hint}") from None


    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None and hasattr(self._client, "close"):
            await self._client.close()
        self._client = None


class _Reachable(Exception):
    """The endpoint answered 429 during the preflight: it is up and knows the key."""


@register_provider("openai")
def _make_openai(config: ModelConfig) -> Model:
    return OpenAIModel(config)
