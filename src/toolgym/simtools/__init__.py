"""Simulated tools: domains whose tools are answered by a model (``tool-sim``).

A simulated tool is declared by spec (:class:`SimTool`: name, description,
JSON-schema parameters, what a result looks like, its errors), in Python or
YAML (:func:`load_sim_tools`), and listed on a :class:`SimToolkit` next to
ordinary code tools; :func:`register_sim_domain` builds a whole domain from
specs, a policy and requests. During a run, each call is checked against the
schema, may get a seeded injected failure (no answer, partial answer, error,
timeout; recorded on the tool message), is answered from the record/replay
tool cache (:class:`ToolCache`) or by the ``tool-sim`` model with the
episode's earlier results in context; ``ask_user`` goes to the user
simulator. The ``oracle`` provider answers offline. Tasks are requests
(:class:`AssistantRequest`), generated with :func:`generate_requests`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported lazily: a domain module imports the toolkit part of this package,
# and loading any domain must not pull in the model layer.
_EXPORTS = {
    "AskUserTool": "toolgym.simtools._toolkit",
    "AssistantRequest": "toolgym.simtools._requests",
    "CacheMode": "toolgym.simtools._spec",
    "CachedResult": "toolgym.simtools._cache",
    "EpisodeSimulator": "toolgym.simtools._simulator",
    "FAILURE_KINDS": "toolgym.simtools._spec",
    "FinalAnswerTool": "toolgym.simtools._toolkit",
    "GenerationResult": "toolgym.simtools._generate",
    "OracleRequestGenerator": "toolgym.simtools._oracle",
    "OracleToolSim": "toolgym.simtools._oracle",
    "SimDB": "toolgym.simtools._toolkit",
    "SimTool": "toolgym.simtools._spec",
    "SimToolkit": "toolgym.simtools._toolkit",
    "Step": "toolgym.simtools._requests",
    "TOOL_SIM_ROLE": "toolgym.simtools._simulator",
    "ToolCache": "toolgym.simtools._cache",
    "ToolCacheMissError": "toolgym.simtools._cache",
    "argument_problem": "toolgym.simtools._spec",
    "asks_user": "toolgym.simtools._toolkit",
    "draw_failure": "toolgym.simtools._simulator",
    "effective_failure_rates": "toolgym.simtools._simulator",
    "ends_episode": "toolgym.simtools._toolkit",
    "generate_requests": "toolgym.simtools._generate",
    "injected_outcomes": "toolgym.simtools._stats",
    "is_sim_toolkit": "toolgym.simtools._toolkit",
    "load_sim_tools": "toolgym.simtools._spec",
    "oracle_result": "toolgym.simtools._oracle",
    "parse_failure_option": "toolgym.simtools._spec",
    "parse_failure_options": "toolgym.simtools._spec",
    "parse_requests": "toolgym.simtools._requests",
    "parse_sim_tools": "toolgym.simtools._spec",
    "parse_steps_option": "toolgym.simtools._generate",
    "parse_tool_output": "toolgym.simtools._prompt",
    "register_sim_domain": "toolgym.simtools._domain",
    "request_parser": "toolgym.simtools._domain",
    "request_to_task": "toolgym.simtools._requests",
    "sim_prompt": "toolgym.simtools._prompt",
    "sim_summary": "toolgym.simtools._stats",
    "task_to_request": "toolgym.simtools._requests",
    "tool_cache_key": "toolgym.simtools._cache",
    "tool_simulator_factory": "toolgym.simtools._simulator",
}

__all__ = [
    "FAILURE_KINDS",
    "TOOL_SIM_ROLE",
    "AskUserTool",
    "AssistantRequest",
    "CacheMode",
    "CachedResult",
    "EpisodeSimulator",
    "FinalAnswerTool",
    "GenerationResult",
    "OracleRequestGenerator",
    "OracleToolSim",
    "SimDB",
    "SimTool",
    "SimToolkit",
    "Step",
    "ToolCache",
    "ToolCacheMissError",
    "argument_problem",
    "asks_user",
    "draw_failure",
    "effective_failure_rates",
    "ends_episode",
    "generate_requests",
    "injected_outcomes",
    "is_sim_toolkit",
    "load_sim_tools",
    "oracle_result",
    "parse_failure_option",
    "parse_failure_options",
    "parse_requests",
    "parse_sim_tools",
    "parse_steps_option",
    "parse_tool_output",
    "register_sim_domain",
    "request_parser",
    "request_to_task",
    "sim_prompt",
    "sim_summary",
    "task_to_request",
    "tool_cache_key",
    "tool_simulator_factory",
]

if TYPE_CHECKING:
    from toolgym.simtools._cache import CachedResult, ToolCache, ToolCacheMissError, tool_cache_key
    from toolgym.simtools._domain import register_sim_domain, request_parser
    from toolgym.simtools._generate import GenerationResult, generate_requests, parse_steps_option
    from toolgym.simtools._oracle import OracleRequestGenerator, OracleToolSim, oracle_result
    from toolgym.simtools._prompt import parse_tool_output, sim_prompt
    from toolgym.simtools._requests import (
        AssistantRequest,
        Step,
        parse_requests,
        request_to_task,
        task_to_request,
    )
    from toolgym.simtools._simulator import (
        TOOL_SIM_ROLE,
        EpisodeSimulator,
        draw_failure,
        effective_failure_rates,
        tool_simulator_factory,
    )
    from toolgym.simtools._spec import (
        FAILURE_KINDS,
        CacheMode,
        SimTool,
        argument_problem,
        load_sim_tools,
        parse_failure_option,
        parse_failure_options,
        parse_sim_tools,
    )
    from toolgym.simtools._stats import injected_outcomes, sim_summary
    from toolgym.simtools._toolkit import (
        AskUserTool,
        FinalAnswerTool,
        SimDB,
        SimToolkit,
        asks_user,
        ends_episode,
        is_sim_toolkit,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolgym.simtools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
