"""The record / replay cache of simulated tool results.

A result is keyed by the tool (its name and a fingerprint of its spec), its
canonical arguments, whether a full or a partial answer was asked for, and,
when the tool is ``stateful``, the episode's earlier tool results. Nothing
else: not the trial, not the seed, not the tool-sim model, so a result
recorded once is reused by every later rollout, trial and run that makes the
same call (a different model in ``replay`` mode gets the recorded result).

Modes: ``off``; ``record`` (read, and write what is missing); ``replay``
(read, call the model on a miss without writing); ``frozen`` (read only; a
miss is a :class:`ToolCacheMissError`, which ends the rollout as a model
error). Entries are small JSON files ``<dir>/<key[:2]>/<key>.json`` written
atomically. Within a run, concurrent rollouts asking for the same missing
key share one model call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym._io import loads_json
from toolgym.domains._db import canon
from toolgym.errors import ConfigError
from toolgym.models._base import TerminalModelError
from toolgym.simtools._spec import CacheMode, SimTool

__all__ = ["CachedResult", "HistoryItem", "ToolCache", "ToolCacheMissError", "tool_cache_key"]

_VERSION = 1
MODES: tuple[CacheMode, ...] = ("off", "record", "replay", "frozen")

#: One earlier tool result of the episode: (tool, arguments, content, error).
HistoryItem = tuple[str, dict[str, Any], str, bool]


class ToolCacheMissError(TerminalModelError):
    """A frozen tool cache has no entry for a call (the rollout ends on ``model_error``)."""


@dataclass(frozen=True)
class CachedResult:
    """A simulated result as stored: the text the agent sees and whether it is an error."""

    content: str
    error: bool = False


def tool_cache_key(tool: SimTool, arguments: dict[str, Any], answer: str,
                   history: Sequence[HistoryItem] | None) -> str:
    """The cache key of one simulated call (see the module docstring).

    Args:
        tool: The tool's spec.
        arguments: The call's arguments (canonicalised: key order, 1 vs 1.0
            and null members do not matter).
        answer: ``full`` or ``partial``.
        history: The episode's earlier results, for a stateful tool (None otherwise).
    """
    payload = {
        "v": _VERSION,
        "tool": tool.name,
        "spec": tool.digest(),
        "arguments": canon(arguments),
        "answer": answer,
        "history": None if history is None else [
            [name, canon(args), content, error] for name, args, content, error in history],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class _LeaderFailed(Exception):
    """The rollout computing a shared key failed; a waiting one tries itself."""


class ToolCache:
    """A directory of simulated tool results (see the module docstring).

    Args:
        directory: Where the entries live (created on the first write).
        mode: ``record``, ``replay`` or ``frozen``.
    """

    def __init__(self, directory: str | Path, mode: CacheMode = "record") -> None:
        if mode not in MODES or mode == "off":
            raise ConfigError(f"tool cache mode must be record, replay or frozen, got {mode!r}")
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ConfigError(f"tool cache {self.directory} exists and is not a directory")
        self.mode: CacheMode = mode
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._pending: dict[str, asyncio.Future[CachedResult]] = {}

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedResult | None:
        """The stored result for ``key`` (a missing or unreadable entry is None)."""
        try:
            data = loads_json(self._path(key).read_bytes())
            content, error = data["content"], data.get("error", False)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(content, str) or not isinstance(error, bool):
            return None
        return CachedResult(content, error)

    def put(self, key: str, result: CachedResult, meta: dict[str, Any]) -> None:
        """Store a result atomically (``meta``: tool, arguments, model... for people)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": _VERSION, **meta, "content": result.content, "error": result.error,
                "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    async def fetch(self, key: str, describe: Callable[[], str],
                    compute: Callable[[], Awaitable[tuple[CachedResult, dict[str, Any]]]]
                    ) -> tuple[CachedResult, bool]:
        """The result for ``key``: from the cache, or computed (and, in record mode, stored).

        Args:
            key: The cache key.
            describe: The call in words, for the frozen-miss error.
            compute: Calls the model: ``(result, metadata to store)``.

        Returns:
            ``(result, hit)``. A rollout that waited for another one's call of
            the same key counts a hit (it made no call).

        Raises:
            ToolCacheMissError: frozen mode and no entry.
        """
        while True:
            found = self.get(key)
            if found is not None:
                self._count(True)
                return found, True
            if self.mode == "frozen":
                self._count(False)
                raise ToolCacheMissError(
                    f"frozen tool cache {self.directory} has no result for {describe()} "
                    f"(key {key[:12]}); record it first with --tool-cache-mode record "
                    "(or replay, which calls the model on a miss)")
            leader = self._pending.get(key)
            if leader is None:
                break
            try:
                result = await asyncio.shield(leader)
            except _LeaderFailed:
                continue  # its call failed: make our own
            self._count(True)
            return result, True
        future: asyncio.Future[CachedResult] = asyncio.get_running_loop().create_future()
        # Nobody may be waiting: never leave an exception unretrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending[key] = future
        try:
            result, meta = await compute()
            if self.mode == "record":
                self.put(key, result, meta)
        except BaseException:
            future.set_exception(_LeaderFailed())
            raise
        finally:
            if self._pending.get(key) is future:
                del self._pending[key]
        future.set_result(result)
        self._count(False)
        return result, False
