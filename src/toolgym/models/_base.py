"""The model interface: messages + tools -> assistant message, usage, latency.

Every model role (agent, user, judge, reflection) goes through :class:`Model`.
Providers are registered by name (``openai``, ``litellm``, ``scripted``,
``oracle``...) and built from a :class:`ModelConfig` by :func:`create_model`.
Errors are typed: :class:`RetryableModelError` (429, 5xx, timeouts) is
retried with backoff by the caller's retry policy, :class:`TerminalModelError`
is not, and :class:`ContextOverflowError` ends the episode with its own
termination reason.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from toolgym._registry import Registry
from toolgym._secrets import secret_fields, url_credentials
from toolgym.errors import ConfigError, ToolgymError
from toolgym.messages import Message, Usage

__all__ = [
    "RETRY_CAUSES",
    "ContextOverflowError",
    "EpisodeInfo",
    "MalformedReplyError",
    "Model",
    "ModelConfig",
    "ModelError",
    "ModelResponse",
    "RetryableModelError",
    "TerminalModelError",
    "WrappedModel",
    "check_provider_args",
    "create_model",
    "model_providers",
    "register_provider",
]


class ModelError(ToolgymError):
    """A model call failed."""

    #: What calls made before the failure cost, when the raiser knows it.
    usage: Usage | None = None


#: Causes of a retried call, as counted per rollout in ``results.jsonl``.
RETRY_CAUSES = ("429", "5xx", "timeout", "connection", "malformed")


class RetryableModelError(ModelError):
    """A transient failure (HTTP 429/5xx, timeout, connection, malformed reply).

    Args:
        message: What went wrong, for people.
        retry_after: Seconds the server asked to wait (``Retry-After``).
        status: The HTTP status, when there was one.
        cause: One of :data:`RETRY_CAUSES`; derived from ``status`` (and, for
            errors without one, from the message) when not given.
    """

    def __init__(self, message: str, retry_after: float | None = None,
                 status: int | None = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        if cause is None:
            if status == 429:
                cause = "429"
            elif status is not None:
                cause = "5xx"
            else:
                cause = "timeout" if "time" in message.lower() else "connection"
        self.cause = cause


class MalformedReplyError(RetryableModelError):
    """The server answered, but not with a usable chat completion."""

    def __init__(self, message: str) -> None:
        super().__init__(f"malformed reply: {message}", cause="malformed")


class TerminalModelError(ModelError):
    """A failure that retrying will not fix (bad request, auth, unknown model).

    Args:
        message: What went wrong, for people.
        status: The HTTP status, when there was one. 401, 403 and 404 are
            configuration errors (wrong key, wrong URL, unknown model): the
            runner stops launching rollouts after a few of them.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def config_error(self) -> bool:
        """Whether the endpoint's configuration is wrong (HTTP 401, 403, 404)."""
        return self.status in (401, 403, 404)


class ContextOverflowError(TerminalModelError):
    """The conversation no longer fits the model's context window."""


_SECRET_NAME = re.compile(
    r"^(key|token)$|(^|_)(api_?key|secret|client_secret|password|passwd|authorization|"
    r"access_token|auth_token|bearer_token|refresh_token)$",
    re.IGNORECASE)
#: Argument subtrees that hold user data, not credentials (a JSON schema may
#: well have a property called "password").
_DATA_ARGS = frozenset({"response_format", "metadata", "logit_bias", "tools", "tool_choice"})


def find_secrets(value: Any, path: str = "") -> list[str]:
    """Paths of secret-looking keys (api_key, token, Authorization...) in nested args."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if not path and k in _DATA_ARGS:
                continue
            if _SECRET_NAME.search(str(k).replace("-", "_")):
                found.append(here)
            elif k in ("extra_headers", "extra_query") and isinstance(v, dict):
                # Where credentials travel: judged by name and by value.
                found.extend(f"{here}.{name}" for name in secret_fields(v))
            else:
                found.extend(find_secrets(v, here))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(find_secrets(v, f"{path}[{i}]"))
    return found


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an HTTP endpoint, or None (checked before any request, so a
    typo is one configuration error rather than an infrastructure error per rollout)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return f"the scheme must be http or https, not {parts.scheme or 'none'!r}"
    host = parts.hostname
    if not host:
        return "no host"
    if host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            return str(exc)
    return None


class ModelConfig(BaseModel):
    """How to build a model: provider/model name, endpoint and parameters.

    ``api_key_env`` names an environment variable; the key itself is never
    stored in a config, a result file or a log.
    """

    # hide_input_in_errors: a refused key must not be echoed by the error itself.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    model: str = Field(description="'<provider>/<model>', e.g. 'openai/gpt-4o' or 'scripted'.")
    base_url: str | None = Field(None, description="Endpoint base URL (OpenAI-compatible).")
    api_key_env: str | None = Field(None, description="Environment variable holding the key.")
    args: dict[str, Any] = Field(default_factory=dict, description="Provider/sampling args.")
    max_concurrency: int | None = Field(None, description="Concurrent calls to this endpoint.")
    max_retries: int = Field(6, ge=0, description="Retries for retryable errors.")
    backoff_base_s: float = Field(1.0, ge=0, description="First backoff delay; doubles per "
                                  "retry.")
    backoff_max_s: float = Field(30.0, ge=0, description="Cap on one backoff delay.")
    timeout_s: float = Field(120.0, gt=0, description="Timeout of one attempt of a model call.")
    retry_budget_s: float = Field(
        300.0, gt=0, description="Most time one model call may take over all its attempts and "
        "backoff waits (waiting for a concurrency slot not counted): a hung endpoint costs a "
        "call at most this long.")

    @field_validator("args")
    @classmethod
    def _no_secrets(cls, args: dict[str, Any]) -> dict[str, Any]:
        found = find_secrets(args)
        if found:
            raise ValueError(
                f"model args must not hold secrets ({', '.join(found)}): configs are saved "
                "with every run; put the key in an environment variable (or .env) and name it "
                "with api_key_env"
            )
        return args

    @field_validator("base_url")
    @classmethod
    def _no_credentials_in_url(cls, url: str | None) -> str | None:
        problem = url_credentials(url) if url else None
        if problem:
            raise ValueError(
                f"base_url must not hold credentials ({problem}): configs are saved with every "
                "run; put the key in an environment variable (or .env) and name it with "
                "api_key_env"
            )
        if url:
            problem = _url_problem(url)
            if problem:
                raise ValueError(f"base_url {url!r} is not a usable URL: {problem} (expected "
                                 "e.g. http://HOST:PORT/v1)")
        return url

    @property
    def provider(self) -> str:
        """The provider part of ``model`` (before the first '/')."""
        return self.model.split("/", 1)[0]

    @property
    def model_name(self) -> str:
        """The model part of ``model`` (after the first '/'), or '' when absent."""
        parts = self.model.split("/", 1)
        return parts[1] if len(parts) == 2 else ""


def check_provider_args(provider: str, args: Mapping[str, Any], known: Iterable[str]) -> None:
    """Refuse ``args`` keys a provider does not know (for providers that send none on).

    Providers that forward their args to a server (``openai``, ``litellm``)
    cannot know every server's parameters; local ones (``oracle``,
    ``scripted``) can, and a typo (``error_rat=0.3``) must not be ignored.

    Raises:
        ConfigError: naming the unknown keys and listing the known ones.
    """
    known_set = frozenset(known)
    unknown = sorted(str(k) for k in args if k not in known_set)
    if not unknown:
        return
    settings = [k for k in unknown if k in ModelConfig.model_fields]
    hint = (f"; {', '.join(settings)} is a model setting, not an argument" if settings else "")
    raise ConfigError(f"{provider}: unknown argument(s) {', '.join(map(repr, unknown))} "
                      f"(known: {', '.join(sorted(known_set))}){hint}")


@dataclass
class ModelResponse:
    """What one model call returned."""

    message: Message
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    raw: Any = None


def local_response(message: Message, latency_s: float = 0.0) -> ModelResponse:
    """A free, in-process model reply (scripted and oracle models): one call, no tokens."""
    usage = Usage(prompt_tokens=0, completion_tokens=0, cost=0.0, calls=1)
    message.usage = usage
    message.latency_s = latency_s
    return ModelResponse(message=message, usage=usage, latency_s=latency_s)


@dataclass(frozen=True)
class EpisodeInfo:
    """What a model may know about the episode it serves.

    Only special providers use it (the oracle agent reads the task's gold
    actions; scripted models pick a per-task script); real models ignore it.
    """

    task: Any
    domain: Any
    trial: int
    seed: int
    role: str


class Model(abc.ABC):
    """An async chat model with tool calling."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Produce the next assistant message.

        Args:
            messages: The conversation so far, system prompt first.
            tools: OpenAI tool definitions the model may call.
            **params: Sampling parameters overriding the config's args.

        Raises:
            RetryableModelError: a transient failure.
            TerminalModelError: a failure retrying will not fix.
        """

    def for_episode(self, episode: EpisodeInfo) -> Model:
        """A model instance for one episode (stateful providers override this)."""
        return self

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network resources."""

    @property
    def name(self) -> str:
        """The configured model string."""
        return self.config.model


class WrappedModel(Model):
    """A layer around another model (retries, caching...) that forwards the rest.

    The wrapper shares the inner model's config, closes it, reports its name
    and forwards unknown attributes to it, so provider extras (``price``,
    ``assert_complete``...) stay reachable through any stack of layers.
    Subclasses implement :meth:`generate` and :meth:`_rewrap`.

    Args:
        inner: The wrapped model.
    """

    def __init__(self, inner: Model) -> None:
        super().__init__(inner.config)
        self.inner = inner

    def for_episode(self, episode: EpisodeInfo) -> Model:
        """This layer over the inner model's instance for ``episode``."""
        return self._rewrap(self.inner.for_episode(episode), episode)

    @abc.abstractmethod
    def _rewrap(self, inner: Model, episode: EpisodeInfo) -> Model:
        """This layer around ``inner``, the inner model's instance for ``episode``."""

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()

    @property
    def name(self) -> str:
        """The inner model's name."""
        return self.inner.name

    def __getattr__(self, item: str) -> Any:
        # Only called for attributes not found normally. Guarding "inner" stops
        # endless recursion when it is not set yet (copy, unpickling).
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)


ProviderFactory = Callable[[ModelConfig], Model]


def _import_builtin() -> None:
    import toolgym.models._providers  # noqa: F401


_PROVIDERS: Registry[ProviderFactory] = Registry("model provider", _import_builtin)


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Decorator registering a model provider factory under ``name``."""
    return _PROVIDERS.register(name)


def model_providers() -> list[str]:
    """Names of the registered providers."""
    return _PROVIDERS.names()


def create_model(config: ModelConfig | str) -> Model:
    """Build a model from a config or a model string such as ``'openai/gpt-4o'``."""
    if isinstance(config, str):
        config = ModelConfig(model=config)
    return _PROVIDERS.get(config.provider, within=config.model)(config)
