"""Training examples from trajectories, and the file formats that carry them.

An :class:`Example` is format-neutral: a list of messages (tool-call
arguments as objects, with call ids), the tools offered, which assistant
messages train, and where it came from. The writers turn it into:

* ``openai``: OpenAI fine-tuning JSONL. ``messages``, ``tools``,
  ``parallel_tool_calls``; tool-call ``arguments`` as JSON strings linked to
  tool messages by ``tool_call_id``; ``weight`` 0/1 on every assistant message.
* ``trl-messages``: TRL's conversational ``messages`` + ``tools`` (arguments
  as objects, tool messages with ``name`` and ``tool_call_id``), for
  ``assistant_only_loss`` (every assistant message trains).
* ``trl-prompt-completion``: conversational ``prompt`` / ``completion`` (the
  context, then the one assistant message that trains) + ``tools``, for
  ``completion_only_loss``: the prompt is masked.

Whole-conversation examples become one prompt/completion example per
trained assistant message, which is what prompt/completion means.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from toolgym.messages import Message

__all__ = ["FORMATS", "Example", "conversation_example", "step_examples", "to_format"]

#: File formats written as JSON lines (``hf`` is a saved DatasetDict).
FORMATS = ("openai", "trl-messages", "trl-prompt-completion", "hf")
#: Which assistant messages train: every one, the last one, or those that call a write tool.
TRAIN_ON = ("all", "final", "writes")


@dataclass
class Example:
    """One training example, format-neutral."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    #: Per message: whether it trains (only assistant messages may).
    train: list[bool]
    #: Where it came from: run, task_id, trial, step (message index of the target, or None).
    source: dict[str, Any] = field(default_factory=dict)


def _neutral(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        d["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments}
                           for c in m.tool_calls]
    if m.role == "tool":
        d["tool_call_id"] = m.tool_call_id
        d["name"] = m.name
    return d


def _trainable(messages: list[Message], train_on: str, writes: set[str]) -> list[bool]:
    flags = [False] * len(messages)
    agent = [i for i, m in enumerate(messages) if m.role == "assistant" and m.turn]
    if train_on == "final":
        if agent:
            flags[agent[-1]] = True
    elif train_on == "writes":
        for i in agent:
            if any(c.name in writes for c in messages[i].tool_calls or []):
                flags[i] = True
    else:
        for i in agent:
            flags[i] = True
    return flags


def conversation_example(messages: list[Message], tools: list[dict[str, Any]],
                         source: dict[str, Any], train_on: str = "all",
                         writes: set[str] | None = None) -> Example | None:
    """The whole conversation as one example (None when nothing would train).

    Only the agent's own messages train (those written by a model step:
    ``Message.turn`` set), never the canned greeting.
    """
    flags = _trainable(messages, train_on, writes or set())
    if not any(flags):
        return None
    return Example([_neutral(m) for m in messages], tools, flags, dict(source, step=None))


def step_examples(messages: list[Message], tools: list[dict[str, Any]],
                  source: dict[str, Any], train_on: str = "all",
                  writes: set[str] | None = None, keep: set[int] | None = None
                  ) -> list[Example]:
    """One example per trained assistant message: its context -> that message.

    Args:
        keep: Message indices allowed as targets (e.g. steps rated high enough);
            None allows every trained message.
    """
    flags = _trainable(messages, train_on, writes or set())
    neutral = [_neutral(m) for m in messages]
    out = []
    for i, trains in enumerate(flags):
        if not trains or (keep is not None and i not in keep):
            continue
        out.append(Example(neutral[: i + 1], tools, [False] * i + [True],
                           dict(source, step=i)))
    return out


def _openai_message(m: dict[str, Any], train: bool) -> dict[str, Any]:
    if m["role"] == "tool":
        return {"role": "tool", "content": m.get("content") or "",
                "tool_call_id": m.get("tool_call_id")}
    out: dict[str, Any] = {"role": m["role"], "content": m.get("content")}
    if m.get("tool_calls"):
        out["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
            "name": c["name"], "arguments": json.dumps(c["arguments"], ensure_ascii=False)}}
            for c in m["tool_calls"]]
    if m["role"] == "assistant":
        out["weight"] = 1 if train else 0
    elif out["content"] is None:
        out["content"] = ""
    return out


def _trl_message(m: dict[str, Any]) -> dict[str, Any]:
    if m["role"] == "tool":
        return {"role": "tool", "name": m.get("name"), "tool_call_id": m.get("tool_call_id"),
                "content": m.get("content") or ""}
    out: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
    if m.get("tool_calls"):
        out["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
            "name": c["name"], "arguments": c["arguments"]}} for c in m["tool_calls"]]
    return out


def to_format(example: Example, fmt: str) -> Iterator[tuple[dict[str, Any], int | None]]:
    """The lines ``example`` becomes in ``fmt``, each with the step it trains on
    (prompt/completion gives one line per trained message; the others one line)."""
    if fmt == "openai":
        yield ({"messages": [_openai_message(m, t) for m, t in
                             zip(example.messages, example.train, strict=True)],
                "tools": example.tools, "parallel_tool_calls": False},
               example.source.get("step"))
    elif fmt in ("trl-messages", "hf"):
        yield ({"messages": [_trl_message(m) for m in example.messages],
                "tools": example.tools}, example.source.get("step"))
    elif fmt == "trl-prompt-completion":
        for i, trains in enumerate(example.train):
            if trains:
                yield ({"prompt": [_trl_message(m) for m in example.messages[:i]],
                        "completion": [_trl_message(example.messages[i])],
                        "tools": example.tools}, i)
    else:
        raise ValueError(f"unknown format {fmt!r}")
