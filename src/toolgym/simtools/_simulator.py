"""Answering an episode's simulated tools: failures, cache, tool-sim model, user.

For each call of a simulated tool, in order:

1. The arguments are checked against the tool's JSON schema; a call that does
   not fit gets an error result and no model is called.
2. An injected failure is drawn: ``random.Random(f"{seed}:{tool}:{n}")``
   for the ``n``-th call of that tool in the episode, against the tool's
   probabilities stacked in the order no_answer, partial, error, timeout. The
   same seed therefore injects the same failures into the same calls.
   ``no_answer`` returns the tool's ``no_answer`` text, ``error`` one of its
   errors, ``timeout`` a timeout error, all without a model call;
   ``partial`` asks the model for a partial answer.
3. The result comes from the tool cache when it has it, else from the
   tool-sim model (prompt in :mod:`toolgym.simtools._prompt`), with the
   episode's earlier tool results in its context.

What happened is recorded on the tool message (``sim``) and the model's
usage is counted under the ``tool-sim`` role. Calls of ``ask_user``-style
tools go to the episode's user simulator, which knows the request and the
persona; their usage is counted under ``user``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.domains._toolkit import ToolResult
from toolgym.env._environment import Environment, ToolExecution
from toolgym.errors import ConfigError
from toolgym.messages import Message, SimInfo, ToolCall, Usage
from toolgym.models._base import EpisodeInfo, Model
from toolgym.simtools._cache import CachedResult, HistoryItem, ToolCache, tool_cache_key
from toolgym.simtools._prompt import parse_tool_output, sim_prompt
from toolgym.simtools._spec import (
    FAILURE_KINDS,
    CacheMode,
    FailureKind,
    SimTool,
    argument_problem,
    check_failure_rates,
)
from toolgym.simtools._toolkit import is_sim_toolkit
from toolgym.tasks import Task
from toolgym.users._base import STOP_MARKERS, UserSimulator

__all__ = [
    "TOOL_SIM_ROLE",
    "EpisodeSimulator",
    "SimSettings",
    "draw_failure",
    "effective_failure_rates",
    "episode_history",
    "tool_simulator_factory",
]

#: The model role answering simulated tools (its usage key in RolloutResult.usage).
TOOL_SIM_ROLE = "tool-sim"
#: What the user's answer to ask_user becomes when it holds nothing but a stop marker.
NO_ANSWER_FROM_USER = "I have nothing to add to my request; please use your best judgement."
DEFAULT_ERROR = "the service is temporarily unavailable"
TIMEOUT_S = 30


def draw_failure(seed: int, tool: str, n: int, rates: Mapping[str, float]
                 ) -> FailureKind | None:
    """The failure injected into the ``n``-th call (0-based) of ``tool`` in an episode."""
    if not rates or not any(rates.values()):
        return None
    u = random.Random(f"{seed}:{tool}:{n}").random()
    total = 0.0
    for kind in FAILURE_KINDS:
        total += rates.get(kind, 0.0)
        if u < total:
            return kind
    return None


def effective_failure_rates(tools: Mapping[str, SimTool],
                            overrides: Mapping[str, Mapping[str, float]] | None
                            ) -> dict[str, dict[str, float]]:
    """Per simulated tool, the failure rates a run injects.

    A tool's entry in ``overrides`` replaces its defaults; ``"*"`` applies to
    every tool without an entry of its own; otherwise the spec's ``failures``.

    Raises:
        ConfigError: ``overrides`` names a tool that is not simulated here.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(tools) - {"*"})
    if unknown:
        raise ConfigError(f"--tool-failures names {', '.join(unknown)}, not a simulated tool "
                          f"of this domain (simulated: {', '.join(sorted(tools)) or 'none'})")
    out: dict[str, dict[str, float]] = {}
    for name, tool in tools.items():
        if name in overrides:
            rates = overrides[name]
        elif "*" in overrides:
            rates = overrides["*"]
        else:
            rates = tool.failures
        out[name] = check_failure_rates(rates, f"failures of {name}")
    return out


def episode_history(messages: Sequence[Message]) -> list[HistoryItem]:
    """Every answered tool call of the conversation so far: (tool, arguments, content, error)."""
    answers = {m.tool_call_id: m for m in messages if m.role == "tool" and m.tool_call_id}
    out: list[HistoryItem] = []
    for m in messages:
        if m.role != "assistant" or not m.tool_calls:
            continue
        for c in m.tool_calls:
            answer = answers.get(c.id)
            if answer is not None and c.parse_error is None:
                out.append((c.name, c.arguments, answer.content or "", answer.error))
    return out


@dataclass
class SimSettings:
    """What every episode of a run shares: specs, failure rates, cache, model."""

    domain: Domain[Any]
    tools: dict[str, SimTool]
    rates: dict[str, dict[str, float]]
    user_tools: frozenset[str]
    ending_tools: frozenset[str]
    model: Model | None = None
    cache: ToolCache | None = None


class EpisodeSimulator:
    """The simulated tools of one episode (a :class:`~toolgym.env.ToolSimulator`).

    Args:
        settings: The run's settings.
        model: The tool-sim model bound to this episode (None in frozen mode
            without a model).
        seed: The rollout's seed (failures are drawn from it).
        user: The episode's user simulator (answers ``ask_user``).
    """

    def __init__(self, settings: SimSettings, model: Model | None, seed: int,
                 user: UserSimulator | None) -> None:
        self.settings = settings
        self.model = model
        self.seed = seed
        self.user = user
        self._calls: dict[str, int] = {}

    def handles(self, name: str) -> bool:
        """Simulated and user-answered tools."""
        return name in self.settings.tools or name in self.settings.user_tools

    def ends_episode(self, name: str) -> bool:
        """``final_answer``-style tools."""
        return name in self.settings.ending_tools

    def role(self, name: str) -> str:
        """``user`` for user-answered tools, else ``tool-sim``."""
        return "user" if name in self.settings.user_tools else TOOL_SIM_ROLE

    async def execute(self, call: ToolCall, messages: Sequence[Message],
                      env: Environment) -> ToolExecution:
        """Answer one call (see the module docstring)."""
        if call.name in self.settings.user_tools:
            return await self._ask_user(call, messages, env)
        tool = self.settings.tools[call.name]
        problem = argument_problem(tool, call.arguments)
        if problem is not None:
            return ToolExecution(call, ToolResult(
                f"Error: invalid arguments for {tool.name}: {problem}", error=True), 0.0,
                sim=SimInfo())
        n = self._calls.get(tool.name, 0)
        self._calls[tool.name] = n + 1
        injected = draw_failure(self.seed, tool.name, n, self.settings.rates[tool.name])
        if injected in ("no_answer", "error", "timeout"):
            return ToolExecution(call, self._injected(tool, injected, n), 0.0,
                                 sim=SimInfo(injected=injected))
        answer = "partial" if injected == "partial" else "full"
        # A stateless tool's cache hit needs no history: it is built only when used.
        history = episode_history(messages) if tool.stateful else None
        usage = Usage()

        async def compute() -> tuple[CachedResult, dict[str, Any]]:
            nonlocal usage
            if self.model is None:  # pragma: no cover - refused when the run is prepared
                raise ConfigError("no tool-sim model configured")
            earlier = history if history is not None else episode_history(messages)
            response = await self.model.generate(
                sim_prompt(tool, call.arguments, answer, earlier))
            usage = response.usage
            content, error = parse_tool_output(response.message.content)
            meta = {"tool": tool.name, "arguments": call.arguments, "answer": answer,
                    "model": self.model.name}
            return CachedResult(content, error), meta

        cache = self.settings.cache
        if cache is None:
            result, _ = await compute()
            cache_state = None
        else:
            key = tool_cache_key(tool, call.arguments, answer, history)
            result, hit = await cache.fetch(
                key, lambda: f"{tool.name}({json.dumps(call.arguments, ensure_ascii=False)})"
                f"{' (partial answer)' if answer == 'partial' else ''}", compute)
            cache_state = "hit" if hit else "miss"
        return ToolExecution(
            call, ToolResult(result.content, result.error), 0.0,
            sim=SimInfo(injected=injected, cache=cache_state),
            usage={TOOL_SIM_ROLE: usage} if usage.calls else None)

    def _injected(self, tool: SimTool, kind: str, n: int) -> ToolResult:
        if kind == "no_answer":
            return ToolResult(tool.no_answer)
        if kind == "timeout":
            return ToolResult(f"Error: {tool.name} timed out (no response within "
                              f"{TIMEOUT_S} s)", error=True)
        rng = random.Random(f"{self.seed}:{tool.name}:{n}:error")
        return ToolResult(f"Error: {rng.choice(tool.errors) if tool.errors else DEFAULT_ERROR}",
                          error=True)

    async def _ask_user(self, call: ToolCall, messages: Sequence[Message],
                        env: Environment) -> ToolExecution:
        # The code method checks the arguments (and documents the tool).
        checked = env.toolkit.call(call.name, call.arguments)
        if checked.error or self.user is None:
            return ToolExecution(call, checked, 0.0)
        question = call.arguments.get("question")
        if not isinstance(question, str):
            question = next((v for v in call.arguments.values() if isinstance(v, str)), "")
        # The user sees the conversation as usual, with the question as the
        # agent's latest message: it answers in character, from its scenario.
        reply = await self.user.respond([*messages, Message.assistant(question)])
        text = reply.message.content or ""
        for marker in STOP_MARKERS:
            text = text.replace(marker, " ")
        text = " ".join(text.split()) or NO_ANSWER_FROM_USER
        return ToolExecution(call, ToolResult(text), 0.0,
                             usage={"user": reply.usage} if reply.usage.calls else None)


def tool_simulator_factory(
    domain: Domain[Any],
    model: Model | None,
    *,
    failures: Mapping[str, Mapping[str, float]] | None = None,
    cache_dir: str | Path | None = None,
    cache_mode: CacheMode = "off",
) -> Callable[[Task, int, int, UserSimulator], EpisodeSimulator] | None:
    """What a run needs to simulate a domain's tools (None for a domain of code tools).

    Args:
        domain: The domain.
        model: The run's tool-sim model (None only with a frozen cache).
        failures: ``--tool-failures`` overrides (see :func:`effective_failure_rates`).
        cache_dir: The tool cache directory.
        cache_mode: ``off``, ``record``, ``replay`` or ``frozen``.

    Returns:
        ``(task, trial, seed, user) -> EpisodeSimulator``, or None.

    Raises:
        ConfigError: tool-sim options for a domain without simulated tools, a
            missing model, failures for unknown tools, a cache mode without a
            directory.
    """
    toolkit = domain.toolkit_type
    if not is_sim_toolkit(toolkit):
        given = [name for name, value in (("--tool-sim-model", model),
                                          ("--tool-failures", failures),
                                          ("--tool-cache", cache_dir)) if value]
        if given:
            raise ConfigError(f"domain {domain.name!r} has no simulated tools: "
                              f"{', '.join(given)} do(es) not apply")
        return None
    tools = toolkit.sim_tools()  # type: ignore[attr-defined]
    if cache_mode != "off" and not cache_dir:
        raise ConfigError(f"--tool-cache-mode {cache_mode} needs --tool-cache DIR")
    if tools and model is None and cache_mode != "frozen":
        raise ConfigError(
            f"domain {domain.name!r} has simulated tools ({', '.join(sorted(tools))}): give "
            "--tool-sim-model (oracle answers offline), or a recorded cache with "
            "--tool-cache DIR --tool-cache-mode frozen")
    if not tools and model is not None:
        raise ConfigError(f"domain {domain.name!r} has no tools for the tool-sim model")
    settings = SimSettings(
        domain=domain, tools=dict(tools),
        rates=effective_failure_rates(tools, failures),
        user_tools=toolkit.user_tools(),  # type: ignore[attr-defined]
        ending_tools=toolkit.ending_tools(),  # type: ignore[attr-defined]
        model=model,
        cache=ToolCache(cache_dir, cache_mode) if cache_mode != "off" and cache_dir else None,
    )

    def make(task: Task, trial: int, seed: int, user: UserSimulator) -> EpisodeSimulator:
        bound = (model.for_episode(EpisodeInfo(task, domain, trial, seed, TOOL_SIM_ROLE))
                 if model is not None else None)
        return EpisodeSimulator(settings, bound, seed, user)

    return make
