"""The ``tool-calling`` strategy: the model's native tool calling, nothing added.

Also home of the argument checking shared by every strategy (and by the user
simulators): ``ctx.args`` holds sampling parameters forwarded to the model
plus a few strategy switches; an unknown key is a configuration error rather
than something silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolgym.agents._base import Agent, AgentContext, AgentReply, register_agent
from toolgym.errors import ConfigError
from toolgym.messages import Message
from toolgym.models._base import ModelResponse

__all__ = [
    "NATIVE_TOOL_ARGS",
    "SAMPLING_ARGS",
    "ToolCallingAgent",
    "check_args",
    "reply_from_response",
    "sampling_params",
    "split_system",
    "with_system_prompt",
]

# Sampling parameters a strategy forwards to Model.generate. The providers
# decide what reaches the server; this list only guards against typos.
SAMPLING_ARGS: frozenset[str] = frozenset({
    "temperature", "top_p", "top_k", "min_p", "max_tokens", "max_completion_tokens", "seed",
    "stop", "frequency_penalty", "presence_penalty", "repetition_penalty", "reasoning_effort",
    "verbosity", "extra_body",
})

# Only meaningful when the model is given native tools.
NATIVE_TOOL_ARGS: frozenset[str] = frozenset({"tool_choice", "parallel_tool_calls"})


def check_args(args: Mapping[str, Any], allowed: Iterable[str], who: str) -> None:
    """Reject keys of ``args`` that are not in ``allowed``.

    Args:
        args: The strategy's configured arguments.
        allowed: The accepted keys.
        who: What is being configured, for the message (e.g. "agent 'react'").

    Raises:
        ConfigError: naming the unknown keys and listing the allowed ones.
    """
    allowed_set = set(allowed)
    unknown = sorted(k for k in args if k not in allowed_set)
    if unknown:
        raise ConfigError(f"{who}: unknown argument(s) {', '.join(map(repr, unknown))} "
                          f"(allowed: {', '.join(sorted(allowed_set))})")


def sampling_params(args: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """The entries of ``args`` whose key is in ``allowed`` (the model's keyword arguments)."""
    keep = set(allowed)
    return {k: v for k, v in args.items() if k in keep}


def split_system(messages: list[Message], default: str) -> tuple[str, list[Message]]:
    """The leading system message's text (``default`` when there is none) and the rest."""
    if messages and messages[0].role == "system":
        return messages[0].content or "", messages[1:]
    return default, messages


def with_system_prompt(messages: list[Message], system_prompt: str) -> list[Message]:
    """``messages`` with the leading system message replaced (or added) by ``system_prompt``."""
    rest = messages[1:] if messages and messages[0].role == "system" else messages
    return [Message.system(system_prompt), *rest]


def reply_from_response(response: ModelResponse, message: Message | None = None) -> AgentReply:
    """An :class:`AgentReply` carrying the response's usage and latency on its message too."""
    msg = response.message if message is None else message
    msg = msg.model_copy(update={"role": "assistant", "usage": response.usage,
                                 "latency_s": response.latency_s})
    return AgentReply(message=msg, usage=response.usage, latency_s=response.latency_s)


class ToolCallingAgent(Agent):
    """Native tool calling: the conversation and ``ctx.tools`` go to the model as they are.

    ``ctx.args`` may hold sampling parameters (``temperature``, ``max_tokens``,
    ``seed``...) and ``tool_choice`` / ``parallel_tool_calls``; they are
    passed to :meth:`Model.generate` unchanged.
    """

    allowed_args: frozenset[str] = SAMPLING_ARGS | NATIVE_TOOL_ARGS
    strategy_name = "tool-calling"

    def __init__(self, ctx: AgentContext) -> None:
        super().__init__(ctx)
        check_args(ctx.args, self.allowed_args, f"agent {self.strategy_name!r}")
        self.params = sampling_params(ctx.args, SAMPLING_ARGS | NATIVE_TOOL_ARGS)

    def system_prompt(self, policy: str) -> str:
        """The system prompt sent to the model, given the conversation's own one."""
        return policy

    async def act(self, messages: list[Message]) -> AgentReply:
        """Ask the model for the next message, offering it the tools natively."""
        policy, _ = split_system(messages, self.ctx.system_prompt)
        system = self.system_prompt(policy)
        has_system = bool(messages) and messages[0].role == "system"
        # The canonical conversation goes out untouched unless the prompt changed.
        prompt = messages if has_system and system == policy else with_system_prompt(
            messages, system)
        response = await self.model.generate(prompt, self.ctx.tools or None, **self.params)
        return reply_from_response(response)


@register_agent("tool-calling")
def _tool_calling(ctx: AgentContext) -> Agent:
    """Native tool calling: the conversation and the tools go to the model as they are."""
    return ToolCallingAgent(ctx)
