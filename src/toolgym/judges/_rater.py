"""The rubric rater (``--judge rater``): a model rates a trajectory against criteria.

The model sees the domain's policy and tools, what the user wanted, the
numbered transcript and the rubric, and answers with JSON: per criterion a
verdict, the evidence (message indices) and a rationale, then an overall
verdict. Scales: binary (pass/fail) or 1-5 (``scale=5``; a rollout passes at
``pass_at``, default 4). ``mode=step`` rates each agent step instead (tool
choice, arguments, use of the result; 1-5 each) for planner-style data.
``votes=N`` asks N times and combines: the binary majority (a tie follows
``tie``, default ``fail``), or the mean on the 1-5 scale.

A reply that is not usable is asked again once (``attempts``), then recorded
as a judge error: never a pass.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import yaml

from toolgym.errors import ConfigError, DataError
from toolgym.judges._base import Judge, JudgeContext, JudgeOutputError, Score, register_judge
from toolgym.judges._common import (
    ask_until_parsed,
    extract_json,
    gather_votes,
    tools_summary,
    user_goal,
)
from toolgym.judges._nl import render_transcript
from toolgym.messages import Message, Usage

__all__ = ["DEFAULT_RUBRIC", "RubricRater"]

#: The default rubric: did the agent resolve the request while following the policy?
DEFAULT_RUBRIC: list[dict[str, str]] = [
    {"name": "resolved", "description": "The agent resolved what the user asked for: it "
     "performed the requested changes or gave the requested information, or correctly "
     "refused what the policy does not allow."},
    {"name": "policy", "description": "The agent followed the policy: it checked what the "
     "policy requires before acting (identity, eligibility, the user's explicit "
     "confirmation before a change) and did nothing the policy forbids."},
    {"name": "tools", "description": "The agent used the tools correctly: the right tools "
     "with the right arguments, no unrequested or duplicate changes."},
    {"name": "communication", "description": "The agent told the user the outcome and the "
     "facts they needed, accurately, without inventing anything."},
]

_SYSTEM = """You are an expert reviewer of customer-service conversations between an AI agent
and a customer. The agent follows the policy below and acts through the listed tools.
Rate the agent's behaviour against each criterion of the rubric, citing the [number] of the
messages that are your evidence. Judge only from the transcript; do not assume anything the
transcript does not show.

# Policy
{policy}

# Tools
{tools}"""

_EPISODE_FORMAT = """Answer with JSON only, in this shape:
{{"criteria": [{{"name": "<criterion name>", "verdict": {verdict}, "evidence": [<message numbers>],
  "rationale": "<one or two sentences>"}}, ...],
 "overall": {{"verdict": {verdict}, "rationale": "<one or two sentences>"}}}}
Give one entry for every criterion, in the rubric's order."""

_STEP_FORMAT = """Rate every agent step: each assistant message that calls tools or answers the
user. For each, rate from 1 (bad) to 5 (excellent): the choice of tool (or of answering),
the arguments, and the use of earlier tool results. Answer with JSON only, in this shape:
{"steps": [{"index": <message number>, "tool_choice": <1-5>, "arguments": <1-5>,
  "use_of_result": <1-5>, "rationale": "<one sentence>"}, ...],
 "overall": {"verdict": <1-5>, "rationale": "<one or two sentences>"}}"""


_BOTH_FORMAT = """Rate the agent against each criterion of the rubric (1 = bad, 5 = excellent),
and rate every agent step: each assistant message that calls tools or answers the user, from 1
to 5 for the choice of tool (or of answering), the arguments, and the use of earlier tool
results. Answer with JSON only, in this shape:
{"criteria": [{"name": "<criterion name>", "verdict": <1-5>, "evidence": [<message numbers>],
  "rationale": "<one or two sentences>"}, ...],
 "steps": [{"index": <message number>, "tool_choice": <1-5>, "arguments": <1-5>,
  "use_of_result": <1-5>, "rationale": "<one sentence>"}, ...],
 "overall": {"verdict": <1-5>, "rationale": "<one or two sentences>"}}"""


def _load_rubric(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        path = Path(value)
        try:
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"{path}: cannot read the rubric ({exc.strerror})") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a YAML/JSON rubric ({str(exc).splitlines()[0]})"
                            ) from None
    if isinstance(value, dict):
        value = [{"name": k, "description": str(v)} for k, v in value.items()]
    if not isinstance(value, list) or not value or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str)
            and isinstance(c.get("description"), str) for c in value):
        raise ConfigError("judge 'rater': rubric must be a non-empty list of "
                          "{name, description} (or a mapping name -> description)")
    names = [c["name"] for c in value]
    if len(set(names)) != len(names):
        raise ConfigError("judge 'rater': rubric criterion names must be unique")
    return [{"name": c["name"], "description": c["description"]} for c in value]


def _int_arg(args: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = args.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"judge 'rater': {key} must be an integer in [{lo}, {hi}], "
                          f"got {value!r}")
    return value


@register_judge("rater")
class RubricRater(Judge):
    """A rubric rater with written feedback (see the module docstring).

    Args (``--judge-arg``): ``rubric`` (YAML/JSON file, or a list of
    {name, description}; default: the domain's own rubric when its toolkit
    has one, else :data:`DEFAULT_RUBRIC`), ``scale`` (2 = binary, default; or 5),
    ``pass_at`` (1-5 scale: lowest passing score, default 4), ``mode``
    (``episode``, ``step``, or ``both``: the rubric and every step in one reply),
    ``votes`` (default 1), ``tie`` (``fail`` or ``pass``), ``attempts`` (default
    2), ``with_task`` (show the user's scenario, default true), ``temperature``
    (sent to the judge model).
    """

    needs_model = True
    allowed_args = frozenset({"rubric", "scale", "pass_at", "mode", "votes", "tie", "attempts",
                              "with_task", "temperature"})

    def __init__(self, ctx: JudgeContext) -> None:
        super().__init__(ctx)
        a = ctx.args
        # A domain may ship its own rubric (the assistant domain rates answers and steps).
        own = getattr(getattr(ctx.domain, "toolkit_type", None), "rubric", None)
        self.rubric = (_load_rubric(a["rubric"]) if "rubric" in a
                       else _load_rubric(own) if own else DEFAULT_RUBRIC)
        self.scale = _int_arg(a, "scale", 2, 2, 5)
        if self.scale not in (2, 5):
            raise ConfigError("judge 'rater': scale must be 2 (binary) or 5")
        self.mode = a.get("mode", "episode")
        if self.mode not in ("episode", "step", "both"):
            raise ConfigError("judge 'rater': mode must be 'episode', 'step' or 'both'")
        if self.mode in ("step", "both"):
            self.scale = 5
        self.pass_at = _int_arg(a, "pass_at", 4, 1, 5)
        self.votes = _int_arg(a, "votes", 1, 1, 15)
        self.attempts = _int_arg(a, "attempts", 2, 1, 5)
        self.tie = a.get("tie", "fail")
        if self.tie not in ("fail", "pass"):
            raise ConfigError("judge 'rater': tie must be 'fail' or 'pass'")
        self.with_task = bool(a.get("with_task", True))
        self.params: dict[str, Any] = ({"temperature": a["temperature"]}
                                       if "temperature" in a else {})

    def _prompt(self, task: Any, messages: list[Message]) -> list[Message]:
        system = _SYSTEM.format(policy=self.ctx.domain.policy.strip(),
                                tools=tools_summary(self.ctx.domain))
        parts = []
        if self.with_task:
            parts.append(f"# What the user wanted (the simulated user's scenario)\n"
                         f"{user_goal(task)}")
        parts.append(f"# Transcript\n{render_transcript(messages)}")
        rubric = "\n".join(f"{i}. {c['name']}: {c['description']}"
                           for i, c in enumerate(self.rubric, start=1))
        if self.mode == "step":
            parts.append(_STEP_FORMAT)
        elif self.mode == "both":
            parts.append(f"# Rubric\n{rubric}\n\n" + _BOTH_FORMAT)
        else:
            verdict = "true | false" if self.scale == 2 else "<1-5>"
            parts.append(f"# Rubric\n{rubric}\n\n" + _EPISODE_FORMAT.format(verdict=verdict))
        return [Message.system(system), Message.user("\n\n".join(parts))]

    def _verdict(self, value: Any, where: str) -> float:
        if self.scale == 2:
            if not isinstance(value, bool):
                raise JudgeOutputError(f"{where}: verdict must be true or false, got {value!r}")
            return 1.0 if value else 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 5:
            raise JudgeOutputError(f"{where}: verdict must be a number from 1 to 5, got "
                                   f"{value!r}")
        return float(value)

    def _parse(self, text: str, n_messages: int) -> dict[str, Any]:
        data = extract_json(text)
        if not isinstance(data, dict) or not isinstance(data.get("overall"), dict):
            raise JudgeOutputError("missing 'overall'")
        overall = self._verdict(data["overall"].get("verdict"), "overall")
        out: dict[str, Any] = {"overall": overall,
                               "rationale": str(data["overall"].get("rationale") or "")}
        if self.mode in ("step", "both"):
            steps = data.get("steps")
            if not isinstance(steps, list):
                raise JudgeOutputError("missing 'steps' list")
            rated = []
            for i, st in enumerate(steps):
                if not isinstance(st, dict) or not isinstance(st.get("index"), int):
                    raise JudgeOutputError(f"steps[{i}] needs an integer 'index'")
                rated.append({"index": st["index"], **{
                    k: self._verdict(st.get(k), f"steps[{i}].{k}")
                    for k in ("tool_choice", "arguments", "use_of_result")},
                    "rationale": str(st.get("rationale") or "")})
            out["steps"] = rated
            if self.mode == "step":
                return out
        items = data.get("criteria")
        if not isinstance(items, list):
            raise JudgeOutputError("missing 'criteria' list")
        by_name = {c.get("name"): c for c in items if isinstance(c, dict)}
        criteria = []
        for c in self.rubric:
            item = by_name.get(c["name"])
            if item is None:
                raise JudgeOutputError(f"no verdict for criterion {c['name']!r}")
            evidence = [e for e in item.get("evidence") or [] if isinstance(e, int)
                        and 0 <= e < n_messages]
            criteria.append({"name": c["name"],
                             "verdict": self._verdict(item.get("verdict"), c["name"]),
                             "evidence": evidence,
                             "rationale": str(item.get("rationale") or "")})
        out["criteria"] = criteria
        return out

    async def score(self, task: Any, result: Any) -> Score:
        """Rate the rollout (``votes`` times) and combine the votes."""
        prompt = self._prompt(task, result.messages)
        n = len(result.messages)

        async def one() -> tuple[dict[str, Any], Usage]:
            parsed, usage, _ = await ask_until_parsed(
                self.model, prompt, lambda text: self._parse(text, n), self.attempts,
                what="rater", **self.params)
            return parsed, usage

        votes = await gather_votes(self.votes, one)
        usage = Usage()
        for _, u in votes:
            usage = usage + u
        ratings = [v for v, _ in votes]
        overall = [r["overall"] for r in ratings]
        if self.scale == 2:
            passes = sum(v >= 1.0 for v in overall)
            fails = len(overall) - passes
            success = passes > fails or (passes == fails and self.tie == "pass")
            score = 1.0 if success else 0.0
        else:
            score = statistics.fmean(overall)
            success = score >= self.pass_at
        # The written feedback comes from a vote that agrees with the outcome.
        chosen = next((r for r in ratings if self._passes(r["overall"]) == success), ratings[0])
        return Score(task_id=result.task_id, trial=result.trial, judge=self.ctx.name,
                     success=success, score=score, feedback=self._feedback(chosen),
                     failures=self._failures(chosen), usage=usage,
                     details={"scale": self.scale, "mode": self.mode, "votes": overall,
                              **{k: v for k, v in chosen.items() if k != "overall"}})

    def _passes(self, verdict: float) -> bool:
        return verdict >= (1.0 if self.scale == 2 else self.pass_at)

    def _failures(self, rating: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"type": "criterion", "criterion": c["name"], "verdict": c["verdict"],
             "evidence": c["evidence"], "rationale": c["rationale"]}
            for c in rating.get("criteria", []) if not self._passes(c["verdict"])]
        out += [{"type": "weak_step", "index": s["index"], "rationale": s["rationale"],
                 **{k: s[k] for k in ("tool_choice", "arguments", "use_of_result")}}
                for s in rating.get("steps", [])
                if min(s["tool_choice"], s["arguments"], s["use_of_result"]) < self.pass_at]
        return out

    def _feedback(self, rating: dict[str, Any]) -> str:
        lines = [f"overall: {rating['rationale']}".strip()]
        for s in rating.get("steps", []):
            lines.append(f"step [{s['index']}] tool {s['tool_choice']:g}, arguments "
                         f"{s['arguments']:g}, use of result {s['use_of_result']:g}: "
                         f"{s['rationale']}")
        for c in rating.get("criteria", []):
            mark = ("pass" if c["verdict"] >= 1 else "fail") if self.scale == 2 \
                else f"{c['verdict']:g}/5"
            cite = f" (messages {', '.join(map(str, c['evidence']))})" if c["evidence"] else ""
            lines.append(f"{c['name']}: {mark}{cite}: {c['rationale']}")
        return "\n".join(lines)
