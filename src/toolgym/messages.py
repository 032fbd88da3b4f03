"""Conversation messages: the common currency of agents, users, tools and results.

Messages follow the OpenAI chat format closely (role, content, tool calls,
tool call id) so that trajectories export to fine-tuning formats directly,
plus a few fields toolgym needs (tool error flag, the raw text of malformed
arguments, per-message usage and timing).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Message", "Role", "SimInfo", "ToolCall", "Usage"]

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A tool call made by the agent (or, in some domains, the user)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Call id, echoed by the tool message that answers it.")
    name: str = Field(description="Tool name as the model wrote it.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Parsed JSON arguments ({} when unparseable)."
    )
    raw_arguments: str | None = Field(
        None, description="The argument text as received, kept only when it did not parse."
    )
    parse_error: str | None = Field(None, description="Why the arguments did not parse.")

    def arguments_json(self) -> str:
        """Arguments as JSON text (the raw text when they did not parse)."""
        if self.raw_arguments is not None and self.parse_error:
            return self.raw_arguments
        return json.dumps(self.arguments)

    def to_openai(self) -> dict[str, Any]:
        """The call in OpenAI ``tool_calls`` format."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments_json()},
        }


class Usage(BaseModel):
    """Token usage and cost of model calls."""

    prompt_tokens: int = Field(0, description="Input tokens.")
    completion_tokens: int = Field(0, description="Output tokens.")
    cost: float | None = Field(None, description="Cost in USD; None when the price is unknown.")
    calls: int = Field(0, description="Number of model calls.")

    def __add__(self, other: Usage) -> Usage:
        cost: float | None
        if self.calls == 0:
            cost = other.cost
        elif other.calls == 0:
            cost = self.cost
        else:
            cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=cost,
            calls=self.calls + other.calls,
        )

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.prompt_tokens + self.completion_tokens


#: A failure injected into a simulated tool call (see :mod:`toolgym.simtools`).
InjectedFailure = Literal["no_answer", "partial", "error", "timeout"]


class SimInfo(BaseModel):
    """How a simulated tool's result was produced (on its tool message)."""

    model_config = ConfigDict(extra="forbid")

    injected: InjectedFailure | None = Field(
        None, description="The failure injected into this call (drawn from the rollout's "
        "seed), or None.")
    cache: Literal["hit", "miss"] | None = Field(
        None, description="Whether the tool cache answered the call; None when no cache was "
        "consulted (cache off, or an injected failure that needs no result).")


class Message(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="system, user, assistant or tool.")
    content: str | None = Field(None, description="Text content.")
    reasoning: str | None = Field(
        None,
        description="The model's private reasoning (a ReAct thought, or a reasoning model's "
        "reasoning_content); never shown to the simulated user nor sent back to the model "
        "as content.",
    )
    tool_calls: list[ToolCall] | None = Field(None, description="Tool calls (assistant).")
    tool_call_id: str | None = Field(None, description="The call a tool message answers.")
    name: str | None = Field(None, description="Tool name, on tool messages.")
    error: bool = Field(False, description="On tool messages: the call failed.")
    turn: int | None = Field(None, description="Agent step index this message belongs to.")
    usage: Usage | None = Field(None, description="Usage of the model call that wrote it.")
    latency_s: float | None = Field(None, description="Latency of that model call.")
    sim: SimInfo | None = Field(
        None, description="On tool messages of simulated tools: the injected failure and "
        "whether the tool cache answered (None for code tools and older files).")

    def to_openai(self) -> dict[str, Any]:
        """The message in OpenAI chat format (toolgym-only fields dropped)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            if self.name:
                out["name"] = self.name
        return out

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        """A user message."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str | None = None, tool_calls: list[ToolCall] | None = None
                  ) -> Message:
        """An assistant message."""
        return cls(role="assistant", content=content, tool_calls=tool_calls or None)
