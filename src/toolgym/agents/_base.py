"""Agent strategies: how an agent turns the conversation into its next message.

An :class:`Agent` wraps a :class:`~toolgym.models.Model`. The runner keeps
one canonical conversation (OpenAI-style messages, system prompt first) and
asks the agent for the next assistant message; a strategy may prompt its
model differently (ReAct text, few-shot demonstrations) but always returns
an assistant :class:`~toolgym.messages.Message` whose ``tool_calls`` are the
calls to execute. Strategies are registered by name so a run's config can
rebuild them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolgym._registry import Registry
from toolgym.messages import Message, Usage
from toolgym.models._base import Model

__all__ = [
    "Agent",
    "AgentContext",
    "AgentReply",
    "agent_strategies",
    "create_agent",
    "register_agent",
]


@dataclass(frozen=True)
class AgentContext:
    """What an agent is built with for one episode."""

    model: Model
    system_prompt: str
    tools: list[dict[str, Any]]
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentReply:
    """The agent's next message and what producing it cost."""

    message: Message
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0


class Agent(abc.ABC):
    """An agent strategy for one episode."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.model = ctx.model

    @abc.abstractmethod
    async def act(self, messages: list[Message]) -> AgentReply:
        """Return the next assistant message given the canonical conversation.

        ``messages[0]`` is the system message built from ``ctx.system_prompt``.
        Model errors (``toolgym.models.ModelError`` subclasses) propagate.
        """


AgentFactory = Callable[[AgentContext], Agent]


def _import_builtin() -> None:
    import toolgym.agents._strategies  # noqa: F401


_AGENTS: Registry[AgentFactory] = Registry("agent strategy", _import_builtin)


def register_agent(name: str) -> Callable[[AgentFactory], AgentFactory]:
    """Decorator registering an agent strategy under ``name``."""
    return _AGENTS.register(name)


def agent_strategies() -> list[str]:
    """Names of the registered agent strategies."""
    return _AGENTS.names()


def create_agent(name: str, ctx: AgentContext) -> Agent:
    """Build the agent strategy ``name``."""
    return _AGENTS.get(name)(ctx)
