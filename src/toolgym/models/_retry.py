"""Retries, per-call timeouts and per-endpoint concurrency limits.

:class:`RetryingModel` wraps any :class:`Model`. Retryable errors (429, 5xx,
timeouts, connection errors) are retried with exponential backoff and full
jitter, honouring a server's ``Retry-After``; terminal errors (including
context overflow) are raised at once. Concurrency limits live in an
:class:`EndpointPool` that a run creates and shares among its models, so two
runs in one process never throttle each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from toolgym.messages import Message
from toolgym.models._base import (
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelResponse,
    RetryableModelError,
    WrappedModel,
    create_model,
)
from toolgym.models._cache import CachedModel, ResponseCache

__all__ = [
    "EndpointPool",
    "RetryObserver",
    "RetryStats",
    "RetryingModel",
    "backoff_delay",
    "build_model",
    "counting_retries",
    "with_retries",
]

SleepFn = Callable[[float], Awaitable[Any]]

_MAX_RETRY_AFTER_S = 300.0
"""Ceiling on a server-requested wait, so one bad header cannot stall a run."""


#: The retry counter of the rollout running in the current task (per cause).
_ROLLOUT_RETRIES: ContextVar[Counter[str] | None] = ContextVar("toolgym_retries", default=None)


@contextlib.contextmanager
def counting_retries() -> Iterator[Counter[str]]:
    """Count, by cause, the retries of every model call made inside the block.

    The counter follows the current asyncio task (a context variable), so
    concurrent rollouts each count their own calls, whatever model objects
    they share.
    """
    counter: Counter[str] = Counter()
    token = _ROLLOUT_RETRIES.set(counter)
    try:
        yield counter
    finally:
        _ROLLOUT_RETRIES.reset(token)


class RetryObserver(Protocol):
    """Receives retry events (e.g. to show retrying / rate-limited counts live)."""

    def on_retry(self, attempt: int, error: RetryableModelError, delay: float) -> None:
        """A call failed and will be retried as ``attempt`` (1-based) after ``delay`` s."""

    def on_rate_limited(self, error: RetryableModelError) -> None:
        """The endpoint answered 429."""


class RetryStats:
    """A ready-made observer that counts retries and rate-limited answers."""

    def __init__(self) -> None:
        self.retries = 0
        self.rate_limited = 0
        self.last_error: str | None = None

    def on_retry(self, attempt: int, error: RetryableModelError, delay: float) -> None:
        """Count a retry."""
        self.retries += 1
        self.last_error = str(error)

    def on_rate_limited(self, error: RetryableModelError) -> None:
        """Count a 429."""
        self.rate_limited += 1


class EndpointPool:
    """Concurrency limits per endpoint, keyed by ``(base_url, model)``.

    Create one per run (and per event loop): the semaphores belong to the loop
    that first waits on them.

    Args:
        default_limit: Limit for endpoints whose config sets no
            ``max_concurrency`` (None: unlimited).
    """

    def __init__(self, default_limit: int | None = None) -> None:
        self.default_limit = default_limit
        self._sems: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._limits: dict[tuple[str, str], int] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    @staticmethod
    def key(config: ModelConfig) -> tuple[str, str]:
        """The endpoint key of a config."""
        return (config.base_url or "", config.model)

    def limit_of(self, config: ModelConfig) -> int | None:
        """The limit applied to this config's endpoint (the first one registered wins)."""
        key = self.key(config)
        if key in self._limits:
            return self._limits[key]
        limit = config.max_concurrency or self.default_limit
        return limit if limit and limit > 0 else None

    def slot(self, config: ModelConfig) -> AbstractAsyncContextManager[Any]:
        """An async context manager holding one call slot of the endpoint."""
        key = self.key(config)
        sem = self._sems.get(key)
        if sem is None:
            limit = self.limit_of(config)
            if limit is None:
                return _Counted(self, key, None)
            sem = self._sems[key] = asyncio.Semaphore(limit)
            self._limits[key] = limit
        return _Counted(self, key, sem)

    def in_flight(self, config: ModelConfig | None = None) -> int:
        """Calls in progress for one endpoint, or for all of them."""
        if config is None:
            return sum(self._in_flight.values())
        return self._in_flight.get(self.key(config), 0)


class _Counted(AbstractAsyncContextManager[Any]):
    def __init__(self, pool: EndpointPool, key: tuple[str, str],
                 sem: asyncio.Semaphore | None) -> None:
        self._pool, self._key, self._sem = pool, key, sem

    async def __aenter__(self) -> None:
        if self._sem is not None:
            await self._sem.acquire()
        self._pool._in_flight[self._key] = self._pool._in_flight.get(self._key, 0) + 1

    async def __aexit__(self, *exc: object) -> None:
        self._pool._in_flight[self._key] -= 1
        if self._sem is not None:
            self._sem.release()


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based).

    Full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``, raised
    to the server's ``retry_after`` when that is longer.
    """
    ceiling = min(cap, base * (2 ** (attempt - 1))) if base > 0 else 0.0
    delay = rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0
    if retry_after is not None:
        delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
    return delay


class RetryingModel(WrappedModel):
    """A model wrapper adding retries, a per-call timeout and concurrency limits.

    Args:
        inner: The wrapped model.
        pool: Concurrency limits to honour (None: no limit).
        observer: Receives retry and rate-limit events (an object with
            ``on_retry`` and ``on_rate_limited``).
        on_retry: Callback ``(attempt, error, delay)``, called before each
            retry's sleep, in addition to the observer.
        on_rate_limited: Callback ``(error)`` for every 429, in addition to
            the observer.
        sleep: The sleep coroutine (tests inject a recorder or a no-op).
        rng: Jitter source (seed it for reproducible delays).
    """

    def __init__(
        self,
        inner: Model,
        *,
        pool: EndpointPool | None = None,
        observer: RetryObserver | None = None,
        on_retry: Callable[[int, RetryableModelError, float], Any] | None = None,
        on_rate_limited: Callable[[RetryableModelError], Any] | None = None,
        sleep: SleepFn | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        self.pool = pool
        self.observer = observer
        self.on_retry = on_retry
        self.on_rate_limited = on_rate_limited
        self._sleep: SleepFn = sleep or asyncio.sleep
        self._rng = rng or random.Random()

    def _notify_retry(self, attempt: int, error: RetryableModelError, delay: float) -> None:
        if self.observer is not None:
            self.observer.on_retry(attempt, error, delay)
        if self.on_retry is not None:
            self.on_retry(attempt, error, delay)

    def _notify_rate_limited(self, error: RetryableModelError) -> None:
        if self.observer is not None:
            self.observer.on_rate_limited(error)
        if self.on_rate_limited is not None:
            self.on_rate_limited(error)

    def _rewrap(self, inner: Model, episode: EpisodeInfo) -> Model:
        # A stateless inner model keeps this very wrapper (and its rng).
        if inner is self.inner:
            return self
        return RetryingModel(inner, pool=self.pool, observer=self.observer,
                             on_retry=self.on_retry, on_rate_limited=self.on_rate_limited,
                             sleep=self._sleep, rng=self._rng)

    async def _attempt(self, messages: list[Message], tools: list[dict[str, Any]] | None,
                       params: dict[str, Any], budget_left: float, began: list[float]
                       ) -> ModelResponse:
        slot = self.pool.slot(self.config) if self.pool is not None else nullcontext()
        async with slot:
            began[0] = time.monotonic()  # the budget counts from here, not the slot wait
            limit = min(self.config.timeout_s, budget_left)
            try:
                # asyncio.timeout (not wait_for): no extra task per model call.
                async with asyncio.timeout(limit):
                    return await self.inner.generate(messages, tools, **params)
            except TimeoutError:
                raise RetryableModelError(f"model call timed out after {limit:g}s",
                                          cause="timeout") from None

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Call the inner model, retrying retryable errors.

        A call gives up after ``max_retries`` retries or once its attempts and
        backoff waits have used ``retry_budget_s`` (waits for a concurrency
        slot do not count), raising the last error.
        """
        cfg = self.config
        attempt = 0
        spent = 0.0
        began = [0.0]
        while True:
            began[0] = time.monotonic()
            try:
                return await self._attempt(messages, tools, params, cfg.retry_budget_s - spent,
                                           began)
            except RetryableModelError as err:
                spent += time.monotonic() - began[0]
                if err.status == 429:
                    self._notify_rate_limited(err)
                budget_left = cfg.retry_budget_s - spent
                if attempt >= cfg.max_retries or budget_left <= 0:
                    raise
                attempt += 1
                delay = min(budget_left, backoff_delay(attempt, cfg.backoff_base_s,
                                                       cfg.backoff_max_s, self._rng,
                                                       err.retry_after))
                counter = _ROLLOUT_RETRIES.get()
                if counter is not None:
                    counter[err.cause] += 1
                self._notify_retry(attempt, err, delay)
                await self._sleep(delay)
                spent += delay


#: The same as constructing a :class:`RetryingModel`; kept as the documented entry point.
with_retries = RetryingModel


def build_model(
    config: ModelConfig | str,
    *,
    pool: EndpointPool | None = None,
    observer: RetryObserver | None = None,
    on_retry: Callable[[int, RetryableModelError, float], Any] | None = None,
    cache: ResponseCache | str | Path | None = None,
    sleep: SleepFn | None = None,
) -> Model:
    """Create a model and stack the standard layers: cache (optional) over retries.

    Args:
        config: The model config or model string.
        pool: The run's endpoint pool (concurrency limits).
        observer: Retry / rate-limit events.
        on_retry: Retry callback ``(attempt, error, delay)``.
        cache: A response cache or its directory; None disables caching.
        sleep: Sleep coroutine for backoff (tests).
    """
    model: Model = with_retries(create_model(config), pool=pool, observer=observer,
                                on_retry=on_retry, sleep=sleep)
    if cache is not None:
        model = CachedModel(model, cache)
    return model
