"""The ``scripted`` provider: canned replies, for tests and demos.

A script is a list of items, played in order, one per model call:

* ``"text"``: an assistant (or user) message with that text;
* ``{"content": "...", "tool_calls": [{"name": ..., "arguments": {...}}]}``
  (``arguments`` may be a JSON string, even a broken one, to test recovery);
* ``{"error": "429" | "500" | "timeout" | "context_overflow" | "400"}``: raise
  that error instead of replying (``retry_after`` may accompany a 429);
* from Python only, a callable ``(messages, tools) -> item``.

A list script is replayed from its start by every episode; a dict script maps
task ids to lists, with ``"*"`` as the default. From the CLI:
``ModelConfig(model="scripted", args={"script": "replies.yaml"})``.

When a script runs out, ``args.on_exhausted`` decides: ``"stop"`` (default)
replies ``###STOP###`` in the user role (the user simulator's stop token) and
``Done.`` in the agent role; ``"error"`` raises :class:`TerminalModelError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from toolgym._io import check_depth, load_json, load_yaml
from toolgym.errors import ConfigError, DataError
from toolgym.messages import Message, ToolCall
from toolgym.models._base import (
    ContextOverflowError,
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelResponse,
    RetryableModelError,
    TerminalModelError,
    check_provider_args,
    local_response,
    register_provider,
)
from toolgym.models._pricing import PRICING_ARGS
from toolgym.models._toolparse import make_tool_call

__all__ = ["USER_STOP_TOKEN", "ScriptedModel", "load_script"]

# The user simulators' stop marker (toolgym.users.STOP). Spelled out here
# because toolgym.users imports toolgym.models; a test checks they agree.
USER_STOP_TOKEN = "###STOP###"
AGENT_DONE_TEXT = "Done."

ScriptItem = str | Mapping[str, Any] | Callable[[list[Message], Any], Any]
Script = list[ScriptItem] | dict[str, list[ScriptItem]]

_ERRORS = ("429", "500", "timeout", "context_overflow", "400")

#: The ``args`` a scripted model accepts.
SCRIPTED_ARGS = PRICING_ARGS | frozenset({"script", "on_exhausted", "latency_ms", "role"})


def _check_item(item: Any, where: str) -> None:
    if isinstance(item, str) or callable(item):
        return
    if not isinstance(item, Mapping):
        raise DataError(f"{where}: a script item must be a string or a mapping, got {item!r}")
    if "error" in item:
        if str(item["error"]) not in _ERRORS:
            known = ", ".join(_ERRORS)
            raise DataError(f"{where}: unknown error {item['error']!r} (known: {known})")
        return
    unknown = set(item) - {"content", "tool_calls"}
    if unknown:
        raise DataError(f"{where}: unknown keys {sorted(unknown)} (content, tool_calls, error)")
    for j, call in enumerate(item.get("tool_calls") or []):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise DataError(f"{where}: tool_calls[{j}] needs a 'name'")


def _normalise(script: Any, source: str) -> Script:
    if isinstance(script, list | Mapping):
        # Inline scripts from Python are checked like files: replies nested
        # deeper than any file may be would fail much later, when saved.
        check_depth(script, source)
    if isinstance(script, list):
        for i, item in enumerate(script):
            _check_item(item, f"{source}[{i}]")
        return list(script)
    if isinstance(script, Mapping):
        out: dict[str, list[ScriptItem]] = {}
        for task_id, items in script.items():
            if not isinstance(items, list):
                raise DataError(f"{source}[{task_id!r}]: expected a list of replies")
            for i, item in enumerate(items):
                _check_item(item, f"{source}[{task_id!r}][{i}]")
            out[str(task_id)] = list(items)
        return out
    raise DataError(f"{source}: a script is a list of replies or a mapping task id -> list")


def load_script(path: str | Path) -> Script:
    """Read a YAML or JSON script file (``DataError`` when malformed).

    A ``.json`` file is read as JSON, anything else as YAML (a superset).
    """
    p = Path(path)
    data = load_json(p, "script file") if p.suffix == ".json" else load_yaml(p, "script file")
    return _normalise(data, str(p))


def _describe(item: ScriptItem) -> str:
    if callable(item) and not isinstance(item, str | Mapping):
        return f"<callable {getattr(item, '__name__', 'item')}>"
    text = repr(item)
    return text if len(text) <= 60 else text[:57] + "..."


class ScriptedModel(Model):
    """Replies from a script (see the module docstring).

    Args:
        config: ``args.script`` (a path, or an inline list / mapping),
            ``args.on_exhausted`` ("stop" or "error"), ``args.latency_ms``,
            ``args.role`` ("agent" or "user", default from the episode) and
            pricing keys (``price_in``/``price_out``); any other key is
            refused with :class:`ConfigError`.
        script: A script given from Python (takes precedence over args.script).
    """

    def __init__(self, config: ModelConfig | None = None, script: Any = None) -> None:
        super().__init__(config or ModelConfig(model="scripted"))
        args = self.config.args
        check_provider_args("scripted", args, SCRIPTED_ARGS)
        if script is None:
            script = args.get("script", [])
            self.script: Script = (load_script(script) if isinstance(script, str | Path)
                                   else _normalise(script, "script"))
        else:
            self.script = _normalise(script, "script")
        self.on_exhausted = str(args.get("on_exhausted", "stop"))
        if self.on_exhausted not in ("stop", "error"):
            raise ConfigError(f"scripted: on_exhausted must be 'stop' or 'error', "
                              f"got {self.on_exhausted!r}")
        self.latency_s = float(args.get("latency_ms", 0)) / 1000.0
        self.role = str(args.get("role", "agent"))
        self.label = "script"
        self.items: list[ScriptItem] = self._select(None)
        self.cursor = 0
        self._children: list[ScriptedModel] = []
        self._used_tasks: set[str] = set()

    @classmethod
    def from_items(cls, items: Script, **args: Any) -> ScriptedModel:
        """A scripted model from Python items, with optional args (on_exhausted...)."""
        return cls(ModelConfig(model="scripted", args=args), script=items)

    def _select(self, task_id: str | None) -> list[ScriptItem]:
        if isinstance(self.script, list):
            return self.script
        if task_id is not None and task_id in self.script:
            return self.script[task_id]
        return self.script.get("*", [])

    def for_episode(self, episode: EpisodeInfo) -> Model:
        """A fresh cursor over the script of the episode's task."""
        task_id = str(getattr(episode.task, "id", "")) or None
        child = ScriptedModel.__new__(ScriptedModel)
        Model.__init__(child, self.config)
        child.script = self.script
        child.on_exhausted = self.on_exhausted
        child.latency_s = self.latency_s
        child.role = str(self.config.args.get("role", episode.role or self.role))
        child.label = f"task {task_id!r} trial {episode.trial}"
        child.items = self._select(task_id)
        child.cursor = 0
        child._children = []
        child._used_tasks = set()
        self._children.append(child)
        if task_id is not None:
            self._used_tasks.add(task_id)
        return child

    @property
    def remaining(self) -> list[ScriptItem]:
        """Items not consumed yet."""
        return self.items[self.cursor:]

    def assert_complete(self) -> None:
        """Raise AssertionError naming every unconsumed step.

        Checks this model and every episode instance made from it; with a dict
        script, tasks that have a script but never ran are reported too.
        """
        problems: list[str] = []
        for model in [self, *self._children]:
            if model is self and self.cursor == 0 and self._children:
                continue  # the parent itself was never called
            for i, item in enumerate(model.remaining, start=model.cursor):
                problems.append(f"{model.label}: step {i} not consumed: {_describe(item)}")
        if isinstance(self.script, dict) and self._children:
            for task_id in self.script:
                if task_id != "*" and task_id not in self._used_tasks:
                    problems.append(f"task {task_id!r}: script never used")
        if problems:
            raise AssertionError("scripted model has unconsumed steps:\n  "
                                 + "\n  ".join(problems))

    def _reply(self, item: Any, messages: list[Message], tools: Any) -> Message:
        if callable(item) and not isinstance(item, str | Mapping):
            item = item(messages, tools)
            _check_item(item, f"{self.label} step {self.cursor - 1} (callable result)")
        if isinstance(item, str):
            return Message(role="assistant", content=item)
        assert isinstance(item, Mapping)
        if "error" in item:
            kind = str(item["error"])
            if kind == "429":
                raise RetryableModelError("scripted 429: rate limited", status=429,
                                          retry_after=item.get("retry_after"))
            if kind == "500":
                raise RetryableModelError("scripted 500: server error", status=500)
            if kind == "timeout":
                raise RetryableModelError("scripted timeout")
            if kind == "context_overflow":
                raise ContextOverflowError("scripted: maximum context length exceeded")
            raise TerminalModelError("scripted 400: bad request")
        calls: list[ToolCall] = []
        for call in item.get("tool_calls") or []:
            call_id = str(call.get("id") or f"call_{self.cursor}_{len(calls)}")
            calls.append(make_tool_call(call_id, call["name"], call.get("arguments", {})))
        return Message(role="assistant", content=item.get("content"), tool_calls=calls or None)

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """Play the next item of the script."""
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if self.cursor >= len(self.items):
            if self.on_exhausted == "error":
                raise TerminalModelError(
                    f"scripted model ({self.label}): script exhausted after "
                    f"{len(self.items)} replies"
                )
            text = USER_STOP_TOKEN if self.role == "user" else AGENT_DONE_TEXT
            message = Message(role="assistant", content=text)
        else:
            item = self.items[self.cursor]
            # Consume before replying, so an error item is not replayed by a retry.
            self.cursor += 1
            message = self._reply(item, messages, tools)
        return local_response(message, self.latency_s)


@register_provider("scripted")
def _make_scripted(config: ModelConfig) -> Model:
    """No model: canned replies from a script (args.script), for tests and demos."""
    return ScriptedModel(config)
