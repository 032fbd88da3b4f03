"""The ``oracle`` provider: an agent that replays a task's gold actions.

It is the reference point of a benchmark run (an upper bound, and a check
that the environment and grader agree with the task files): each call
returns the next gold tool call (one per assistant message, ids
``call_<n>``), then a final text stating every ``communicate_info`` string
verbatim. Tool results are not read.

``args.error_rate`` (default 0) makes it imperfect in a reproducible way:
per episode, ``random.Random(f"{seed}:{task.id}:{trial}")`` decides whether
to make one realistic mistake: a wrong argument in a write action, a skipped
write action, or stopping early before the last write action.

``args.heed_prompt`` (default false) makes it follow its system prompt the way
prompt optimization needs: a planned mistake on a tool is not made when the
system prompt has a rule line naming that tool (``When calling
book_reservation, check payment_methods.``), so a better prompt really scores
better offline.

With ``args.role = "reflection"`` the provider is instead an offline stand-in
for a prompt optimizer's reflection model (:class:`OracleReflector`). In an
episode's ``tool-sim`` role it answers simulated tools, and in the
``generator`` role it writes requests (:mod:`toolgym.simtools._oracle`).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from toolgym.errors import ConfigError
from toolgym.messages import Message, ToolCall
from toolgym.models._base import (
    EpisodeInfo,
    Model,
    ModelConfig,
    ModelResponse,
    TerminalModelError,
    check_provider_args,
    local_response,
    register_provider,
)
from toolgym.models._pricing import PRICING_ARGS

__all__ = [
    "OracleMistake",
    "OracleModel",
    "OraclePlan",
    "OracleReflector",
    "communicate_text",
    "oracle_plan",
    "refuse_oracle_judge",
    "ruled_tools",
]

CLOSING_TEXT = "Is there anything else I can help you with?"
EARLY_STOP_TEXT = "I'm sorry, but I am not able to complete the rest of this request."

# Used when no domain toolkit tells which tools write.
_READ_PREFIXES = ("get_", "find_", "list_", "search_", "lookup_", "check_")
_NON_WRITE = frozenset({"calculate", "think", "transfer_to_human_agents"})

#: The ``args`` an oracle model accepts.
ORACLE_ARGS = PRICING_ARGS | frozenset({"error_rate", "latency_ms", "role", "heed_prompt"})

#: A rule line of a system prompt that the heeding oracle obeys: it names a tool.
RULE_LINE = re.compile(r"^\s*(?:[-*]\s*)?when calling\s+`?([A-Za-z_][A-Za-z0-9_]*)`?",
                       re.IGNORECASE | re.MULTILINE)


def ruled_tools(prompt: str | None) -> set[str]:
    """Tools named by the rule lines (``When calling <tool>, ...``) of a prompt."""
    return {m.group(1) for m in RULE_LINE.finditer(prompt or "")}


@dataclass(frozen=True)
class OracleMistake:
    """The one mistake an imperfect oracle makes in an episode."""

    kind: str
    """``wrong_argument``, ``skipped_action`` or ``early_stop``."""
    action_index: int
    """Index of the affected gold action (assistant actions only)."""
    argument: str | None = None
    old: Any = None
    new: Any = None


@dataclass
class OraclePlan:
    """What the oracle will do in one episode."""

    calls: list[tuple[str, dict[str, Any]]]
    final_text: str
    mistake: OracleMistake | None = None
    gold: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: The closing text without a mistake (what a heeding oracle says instead).
    gold_final: str = ""

    @property
    def mistake_tool(self) -> str | None:
        """The tool of the gold action the planned mistake affects."""
        if self.mistake is None or not self.gold:
            return None
        return self.gold[self.mistake.action_index][0]

    def without_mistake(self) -> OraclePlan:
        """The same episode played without its mistake."""
        return OraclePlan(list(self.gold), self.gold_final or self.final_text, None,
                          self.gold)


def communicate_text(task: Any) -> str:
    """A closing message stating every ``communicate_info`` string of the task verbatim."""
    ec = getattr(task, "evaluation_criteria", None)
    info = [str(s) for s in (getattr(ec, "communicate_info", None) or [])]
    if not info:
        return "I have completed your request. " + CLOSING_TEXT
    # "; " rather than ", ": the COMMUNICATE check drops commas from the message.
    return "Here is what I found: " + "; ".join(info) + ". " + CLOSING_TEXT


def _write_tools(domain: Any) -> set[str] | None:
    toolkit = getattr(domain, "toolkit_type", None)
    specs = getattr(toolkit, "tool_specs", None)
    if specs is None:
        return None
    return {name for name, spec in specs().items() if str(spec[0]) == "write"}


def _is_write(name: str, writes: set[str] | None) -> bool:
    if writes is not None:
        return name in writes
    return name not in _NON_WRITE and not name.startswith(_READ_PREFIXES)


def _perturb_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str) and value:
        last = value[-1]
        if last.isdigit():
            repl = str((int(last) + 1) % 10)
        elif "a" <= last.lower() <= "z":
            nxt = chr((ord(last.lower()) - ord("a") + 1) % 26 + ord("a"))
            repl = nxt.upper() if last.isupper() else nxt
        else:
            repl = last + "X"
        return value[:-1] + repl
    return None


def _perturb(value: Any, rng: random.Random) -> Any:
    """A plausible wrong variant of ``value``, or None when it has none."""
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        new = _perturb(value[i], rng)
        if new is None:
            return None
        out = list(value)
        out[i] = new
        return out
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        new = _perturb(value[key], rng)
        if new is None:
            return None
        return {**value, key: new}
    return _perturb_scalar(value)


def _copy_json(value: dict[str, Any]) -> dict[str, Any]:
    """Deep copy of JSON data (several times faster than copy.deepcopy)."""
    return typing.cast(dict[str, Any], json.loads(json.dumps(value)))


def oracle_plan(task: Any, *, domain: Any = None, seed: int = 0, trial: int = 0,
                error_rate: float = 0.0) -> OraclePlan:
    """Plan an oracle episode for ``task``.

    Args:
        task: The task (its assistant gold actions are replayed).
        domain: The domain, used to know which tools write (a name heuristic
            is used without it).
        seed: Run seed.
        trial: Trial index.
        error_rate: Probability of making one mistake in this episode.
    """
    # The plan shares the task's argument dicts (read-only); a planned mistake
    # copies the one it changes, and generate() hands out copies.
    gold = [(a.name, a.arguments)
            for a in getattr(task, "gold_actions", [])
            if getattr(a, "requestor", "assistant") == "assistant"]
    calls = list(gold)
    final = communicate_text(task)
    rng = random.Random(f"{seed}:{getattr(task, 'id', '')}:{trial}")
    if error_rate <= 0 or rng.random() >= error_rate:
        return OraclePlan(calls, final, None, gold, final)
    writes = _write_tools(domain)
    write_idx = [i for i, (name, _) in enumerate(gold) if _is_write(name, writes)]
    if not write_idx:
        return OraclePlan(calls, final, None, gold, final)
    kinds = ["wrong_argument", "skipped_action", "early_stop"]
    for kind in rng.sample(kinds, len(kinds)):
        if kind == "wrong_argument":
            for i in rng.sample(write_idx, len(write_idx)):
                args = calls[i][1]
                for key in rng.sample(sorted(args), len(args)):
                    new = _perturb(args[key], rng)
                    if new is not None and new != args[key]:
                        mistake = OracleMistake(kind, i, key, args[key], new)
                        calls[i] = (calls[i][0], {**_copy_json(args), key: new})
                        return OraclePlan(calls, final, mistake, gold, final)
            continue
        if kind == "skipped_action":
            i = rng.choice(write_idx)
            del calls[i]
            return OraclePlan(calls, final, OracleMistake(kind, i), gold, final)
        last = write_idx[-1]
        return OraclePlan(calls[:last], EARLY_STOP_TEXT, OracleMistake(kind, last), gold,
                          final)
    return OraclePlan(calls, final, None, gold, final)  # pragma: no cover - early_stop applies


class OracleModel(Model):
    """Agent role only: replays the gold actions of the episode's task.

    Config args: ``error_rate`` (float, default 0), ``latency_ms``, ``role``
    and pricing keys (``price_in``/``price_out``); any other key is refused
    with :class:`ConfigError`.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__(config or ModelConfig(model="oracle"))
        check_provider_args("oracle", self.config.args, ORACLE_ARGS)
        try:
            self.error_rate = float(self.config.args.get("error_rate", 0.0))
        except (TypeError, ValueError):
            raise ConfigError("oracle: error_rate must be a number") from None
        if not 0.0 <= self.error_rate <= 1.0:
            raise ConfigError(f"oracle: error_rate must be within [0, 1], got {self.error_rate}")
        self.latency_s = float(self.config.args.get("latency_ms", 0)) / 1000.0
        heed = self.config.args.get("heed_prompt", False)
        if not isinstance(heed, bool):
            raise ConfigError(f"oracle: heed_prompt must be true or false, got {heed!r}")
        self.heed_prompt = heed
        self.plan: OraclePlan | None = None
        self.step = 0

    def for_episode(self, episode: EpisodeInfo) -> Model:
        """An oracle bound to the episode's task (or a simulated-tool role's double)."""
        if episode.role in ("tool-sim", "generator"):
            from toolgym.simtools._oracle import OracleRequestGenerator, OracleToolSim

            if episode.role == "generator":
                return OracleRequestGenerator(self.config)
            return OracleToolSim(self.config, episode.domain)
        if episode.role not in ("agent", "assistant"):
            raise ConfigError(f"the oracle model plays the agent, tool-sim and generator "
                              f"roles, not {episode.role!r}")
        child = OracleModel(self.config)
        child.plan = oracle_plan(episode.task, domain=episode.domain, seed=episode.seed,
                                 trial=episode.trial, error_rate=self.error_rate)
        return child

    @property
    def mistake(self) -> OracleMistake | None:
        """The mistake planned for this episode, if any."""
        return self.plan.mistake if self.plan else None

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """The next gold action, then the final text, then a closing line."""
        if self.plan is None:
            raise TerminalModelError("the oracle model needs an episode (for_episode) first")
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        n = self.step
        self.step += 1
        if n == 0 and self.heed_prompt and self.plan.mistake is not None:
            system = next((m.content for m in messages if m.role == "system"), None)
            if self.plan.mistake_tool in ruled_tools(system):
                self.plan = self.plan.without_mistake()  # the prompt warned about this tool
        if n < len(self.plan.calls):
            name, args = self.plan.calls[n]
            call = ToolCall(id=f"call_{n}", name=name, arguments=_copy_json(args))
            message = Message(role="assistant", tool_calls=[call])
        elif n == len(self.plan.calls):
            message = Message(role="assistant", content=self.plan.final_text)
        else:
            message = Message(role="assistant", content=CLOSING_TEXT)
        return local_response(message, self.latency_s)


class OracleReflector(Model):
    """An offline stand-in for a prompt optimizer's reflection model (``role=reflection``).

    It reads the reflection prompt: the current text (the first fenced block)
    and the feedback, and answers with that text plus one rule line
    (``When calling <tool>, ...``) for every tool the feedback names in a
    ``tool `<name>``` mention that has no rule line yet, in a fenced block.
    With nothing new to add it returns the text unchanged. Together with the
    heeding oracle agent (``heed_prompt=true``) this makes prompt optimization
    testable end to end with no model.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        check_provider_args("oracle", config.args, ORACLE_ARGS)

    async def generate(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> ModelResponse:
        """The current text with rule lines for the tools the feedback blames."""
        prompt = "\n".join(m.content or "" for m in messages if m.role == "user")
        blocks = re.findall(r"```(?:[a-z]*\n)?(.*?)```", prompt, re.DOTALL)
        current = blocks[0].strip("\n") if blocks else ""
        feedback = prompt[prompt.find("```", prompt.find("```") + 3) + 3:] if blocks else prompt
        blamed = re.findall(r"tool `([A-Za-z_][A-Za-z0-9_]*)`", feedback)
        have = ruled_tools(current)
        new = [t for t in dict.fromkeys(blamed) if t not in have]
        rules = "".join(f"\nWhen calling {t}, double-check every argument against the "
                        f"user's request and the policy before you call it." for t in new)
        return local_response(Message(role="assistant", content=f"```\n{current}{rules}\n```"))


def refuse_oracle_judge(config: ModelConfig | None) -> None:
    """Refuse the oracle as a judge model, before anything runs.

    The oracle replays a task's gold; it has no verdict to give, so every
    judgment would fail, one rollout at a time.
    """
    if config is not None and config.model == "oracle":
        raise ConfigError("the oracle model cannot judge (it plays the agent, tool-sim, "
                          "generator and reflection roles); give a judge endpoint, e.g. "
                          "--judge-model openai/MODEL --judge-base-url URL")


@register_provider("oracle")
def _make_oracle(config: ModelConfig) -> Model:
    """No model: replays the task's gold actions (error_rate=0.3 makes realistic mistakes)."""
    if config.args.get("role") == "reflection":
        return OracleReflector(config)
    return OracleModel(config)
