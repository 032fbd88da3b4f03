"""Agent strategies: ``tool-calling``, ``react``, ``act`` and ``few-shot``.

Build one with :func:`create_agent` (by registered name) or instantiate a
strategy class directly; add your own with :func:`register_agent`.
"""

from toolgym.agents._base import (
    Agent,
    AgentContext,
    AgentReply,
    agent_strategies,
    create_agent,
    register_agent,
)
from toolgym.agents._few_shot import FewShotAgent, load_demonstrations
from toolgym.agents._react import ParsedAction, ReActAgent, parse_action
from toolgym.agents._tool_calling import SAMPLING_ARGS, ToolCallingAgent

__all__ = [
    "SAMPLING_ARGS",
    "Agent",
    "AgentContext",
    "AgentReply",
    "FewShotAgent",
    "ParsedAction",
    "ReActAgent",
    "ToolCallingAgent",
    "agent_strategies",
    "create_agent",
    "load_demonstrations",
    "parse_action",
    "register_agent",
]
