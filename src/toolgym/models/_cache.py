"""An optional on-disk cache of model responses.

The key is the SHA-256 of the model string, base URL, the conversation in
OpenAI format, the tools, the sampling parameters, the trial index and the
rollout seed, so a re-run of the same trial replays the same replies while
different trials (or the same trial under another run seed) still sample
independently. Entries are small JSON files
(``<dir>/<key[:2]>/<key>.json``), written atomically. Only successful
responses are stored.

A hit returns the stored message and usage (so the accounting of a replayed
run matches the original) with the hit's own, near-zero latency;
:attr:`ResponseCache.hits` / :attr:`ResponseCache.misses` say how much was
replayed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from toolgym._io import loads_json
from toolgym.messages import Message, Usage
from toolgym.models._base import EpisodeInfo, Model, ModelResponse, WrappedModel
from toolgym.models._pricing import PRICING_ARGS

__all__ = ["CachedModel", "ResponseCache", "cache_key"]

# 2: the rollout seed joined the key.
_VERSION = 2


def cache_key(
    model: Model,
    messages: list[Message],
    tools: list[dict[str, Any]] | None,
    params: dict[str, Any],
    trial: int | None,
    seed: int | None = None,
) -> str:
    """The cache key of one call.

    Args:
        model: The model that would answer (its config's model string, base
            URL and args are part of the key; pricing args are not).
        messages: The conversation sent.
        tools: The tool definitions sent.
        params: Per-call sampling parameters (override the config's args).
        trial: The episode's trial index (None outside an episode).
        seed: The episode's rollout seed (None outside an episode).
    """
    cfg = model.config
    sampling = {k: v for k, v in {**cfg.args, **params}.items() if k not in PRICING_ARGS}
    payload = {
        "v": _VERSION,
        "model": cfg.model,
        "base_url": cfg.base_url,
        "messages": [m.to_openai() for m in messages],
        "tools": tools or [],
        "params": sampling,
        "trial": trial,
        "seed": seed,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """A directory of cached responses.

    Args:
        directory: Where the JSON files live (created on first write).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> ModelResponse | None:
        """The stored response for ``key``, or None (a corrupt entry counts as absent)."""
        path = self._path(key)
        try:
            data = loads_json(path.read_bytes())
            message = Message.model_validate(data["message"])
            usage = Usage.model_validate(data["usage"])
        except (OSError, ValueError, KeyError, TypeError):
            with self._lock:
                self.misses += 1
            return None
        with self._lock:
            self.hits += 1
        return ModelResponse(message=message, usage=usage, raw={"cache_hit": key})

    def put(self, key: str, response: ModelResponse) -> None:
        """Store a response."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": _VERSION,
            "message": response.message.model_dump(mode="json", exclude_none=True),
            "usage": response.usage.model_dump(mode="json"),
            "latency_s": response.latency_s,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class CachedModel(WrappedModel):
    """A model wrapper that answers from a :class:`ResponseCache` when it can.

    Put it outside the retry layer so that hits take no concurrency slot.
    """

    def __init__(self, inner: Model, cache: ResponseCache | str | Path,
                 trial: int | None = None, seed: int | None = None) -> None:
        super().__init__(inner)
        self.cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache)
        self.trial = trial
        self.seed = seed

    def _rewrap(self, inner: Model, episode: EpisodeInfo) -> Model:
        # Always a new wrapper: it is bound to the episode's trial and seed.
        return CachedModel(inner, self.cache, trial=episode.trial, seed=episode.seed)

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Return the cached response, or call the inner model and store its reply."""
        key = cache_key(self.inner, messages, tools, params, self.trial, self.seed)
        started = time.perf_counter()
        hit = self.cache.get(key)
        if hit is not None:
            hit.latency_s = time.perf_counter() - started
            hit.message.latency_s = hit.latency_s
            return hit
        response = await self.inner.generate(messages, tools, **params)
        self.cache.put(key, response)
        return response
