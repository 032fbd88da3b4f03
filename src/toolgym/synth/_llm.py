"""The ``llm`` generator and the instruction rewriter (a ``generator`` model role).

Both go through toolgym's model layer (:func:`toolgym.models.build_model`:
retries, concurrency limits, usage counted). The generator gets the policy,
the tool list, a few existing tasks as examples and one sampled user's
records, and writes one task as JSON; the rewriter turns a template task's
instructions into natural, varied prose and must keep every fact verbatim.
What either writes is validated like any other task; the validation report
says what was rejected and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from toolgym.domains._domain import Domain
from toolgym.messages import Message, Usage
from toolgym.models import Model
from toolgym.synth._labels import structural_difficulty
from toolgym.synth._parts import Rng
from toolgym.synth._records import SynthInfo
from toolgym.tasks import Task

__all__ = ["GENERATE_SYSTEM", "REWRITE_SYSTEM", "LLMTaskMaker", "extract_json", "rewrite"]

GENERATE_SYSTEM = """You write test cases for a customer-service agent benchmark.
A test case is a simulated customer's scenario plus the exact tool calls a policy-following
agent makes to solve it (the gold actions). The gold actions must follow the policy to the
letter: if the policy forbids the request, the gold has no write call and communicate_info
holds the short phrase of the rule the agent must state. Use only ids and values that appear
in the customer's records below. The customer's scenario must contain every id or fact the
customer has to say, and never tool names.

Answer with one JSON object and nothing else:
{"scenario_type": "<type>", "refusal": false,
 "user_scenario": {"reason_for_call": "...", "known_info": "...", "unknown_info": "...",
                   "task_instructions": "..."},
 "actions": [{"name": "<tool>", "arguments": {...}}],
 "communicate_info": ["<string the agent must say>"],
 "facts": ["<string the scenario must contain>"]}"""

REWRITE_SYSTEM = """You rewrite a simulated customer's instructions into natural, varied
language, as different people would put them. Keep the meaning exactly: the same request,
the same preferences, the same limits. Every string in FACTS must appear verbatim (same
spelling, digits and case) in your text. Answer with one JSON object and nothing else:
{"reason_for_call": "...", "known_info": "...", "unknown_info": "...",
 "task_instructions": "..."}"""


def extract_json(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model's reply (code fences and prose around it allowed)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _profile(domain: Domain[Any], user_id: str) -> dict[str, Any]:
    """The sampled user's records as the agent's tools would show them."""
    db = domain.snapshot.fork()
    user = db.users[user_id]
    data: dict[str, Any] = {"user": user.model_dump(mode="json")}
    if domain.name == "airline":
        data["reservations"] = [db.reservations[r].model_dump(mode="json")
                                for r in user.reservations if r in db.reservations]
    else:
        data["orders"] = [db.orders[o].model_dump(mode="json")
                          for o in user.orders if o in db.orders]
        products = {i["product_id"] for o in data["orders"] for i in o["items"]}
        data["products"] = [db.products[p].model_dump(mode="json") for p in sorted(products)
                            if p in db.products]
    return data


def _tool_lines(domain: Domain[Any]) -> str:
    lines = []
    for name, (kind, desc, schema) in sorted(domain.toolkit_type.tool_specs().items()):
        params = ", ".join(schema.get("properties", {}))
        lines.append(f"- {name}({params}) [{kind}]: {desc.splitlines()[0] if desc else ''}")
    return "\n".join(lines)


def _example(task: Task) -> dict[str, Any]:
    ec = task.evaluation_criteria
    scenario = task.user_scenario.instructions
    return {
        "scenario_type": (task.model_extra or {}).get("scenario_type"),
        "user_scenario": (scenario if isinstance(scenario, str)
                          else scenario.model_dump(exclude_none=True, exclude={"domain"})),
        "actions": [{"name": a.name, "arguments": a.arguments} for a in task.gold_actions],
        "communicate_info": list(ec.communicate_info or []) if ec else [],
    }


class LLMTaskMaker:
    """Asks a generator model for new tasks, few-shot from existing ones.

    Args:
        domain: The domain.
        model: The generator model (already wrapped with retries).
        examples: Tasks to show as examples (a few are drawn per request).
        types: Scenario types to ask for, in turn.
        seed: Seed of the user and example draws.
        rules: The rule profile name recorded on the tasks.
        version: toolgym version recorded in the provenance.
        shots: Examples per request.
    """

    def __init__(self, domain: Domain[Any], model: Model, examples: Sequence[Task],
                 types: Sequence[str], seed: int, rules: str, version: str,
                 shots: int = 3) -> None:
        self.domain = domain
        self.model = model
        self.examples = list(examples)
        self.types = list(types)
        self.seed = seed
        self.rules = rules
        self.version = version
        self.shots = shots
        self.rng = Rng(f"toolgym-synth-llm:{domain.name}:{seed}")
        self.users = self.rng.shuffled(list(domain.snapshot.fork().users))
        self.usage = Usage()
        self.tools = _tool_lines(domain)

    def prompt(self, index: int, user_id: str, kind: str, description: str) -> list[Message]:
        """The messages of one generation request."""
        shots = self.rng.shuffled(self.examples)[:self.shots]
        examples = "\n".join(json.dumps(_example(t), ensure_ascii=False) for t in shots)
        body = (f"POLICY:\n{self.domain.policy}\n\nTOOLS:\n{self.tools}\n\n"
                f"EXAMPLES:\n{examples or '(none)'}\n\n"
                f"CUSTOMER RECORDS:\n{json.dumps(_profile(self.domain, user_id))}\n\n"
                f"Write a new test case #{index} of scenario type '{kind}' ({description}) "
                f"for user {user_id}.")
        return [Message.system(GENERATE_SYSTEM), Message.user(body)]

    async def make(self, index: int, kind: str, description: str
                   ) -> tuple[dict[str, Any] | None, str | None]:
        """One task dict, or None and why the reply could not become a task."""
        user_id = self.users[index % len(self.users)]
        response = await self.model.generate(self.prompt(index, user_id, kind, description))
        self.usage = self.usage + response.usage
        data = extract_json(response.message.content or "")
        if data is None:
            return None, "the generator's reply holds no JSON object"
        scenario, actions = data.get("user_scenario"), data.get("actions")
        if not isinstance(scenario, dict | str) or not isinstance(actions, list):
            return None, "the generator's reply lacks user_scenario or actions"
        if isinstance(scenario, dict):
            scenario = {"domain": self.domain.name, **scenario}
        task_id = f"{self.domain.name}_llm_s{self.seed}_{index:04d}"
        gold = [{"action_id": f"{task_id}_{i}",
                 "name": a.get("name") if isinstance(a, dict) else a,
                 "arguments": (a.get("arguments") or {}) if isinstance(a, dict) else {}}
                for i, a in enumerate(actions)]
        writes = sum(1 for a in gold if self.domain.toolkit_type.tool_specs().get(
            str(a["name"]), ("",))[0] == "write")
        refusal = bool(data.get("refusal"))
        label = structural_difficulty(writes, ["refusal"] if refusal else [], 1)
        facts = [str(f) for f in data.get("facts") or [] if isinstance(f, str | int)]
        info = SynthInfo(generator="llm", seed=self.seed, toolgym_version=self.version,
                         rules=self.rules, parts=[str(data.get("scenario_type") or kind)],
                         facts=facts, refusal=refusal,
                         traps=["refusal"] if refusal else [], structural_difficulty=label)
        communicate = [str(c) for c in data.get("communicate_info") or []]
        # The task's user is the one its gold acts for (a model may pick another).
        owner = next((a["arguments"]["user_id"] for a in gold
                      if isinstance(a["arguments"], dict)
                      and isinstance(a["arguments"].get("user_id"), str)), user_id)
        return {
            "id": task_id,
            "description": {"purpose": None, "relevant_policies": None,
                            "notes": f"Generated by toolgym synth (llm, seed {self.seed})."},
            "user_scenario": {"persona": None, "instructions": scenario},
            "initial_state": None,
            "evaluation_criteria": {"actions": gold, "communicate_info": communicate,
                                    "nl_assertions": [], "reward_basis": ["DB", "COMMUNICATE"]},
            "difficulty": label,
            "provenance": f"toolgym {self.version} synth llm seed {self.seed}",
            "tags": ["synthetic", "refusal" if refusal else ("write" if writes else "read-only"),
                     kind],
            "user_id": owner,
            "method": "llm",
            "scenario_type": str(data.get("scenario_type") or kind),
            "synth": info.model_dump(mode="json", exclude_none=True),
        }, None


async def rewrite(model: Model, instructions: dict[str, Any], facts: Sequence[str]
                  ) -> tuple[dict[str, Any] | None, Usage, str | None]:
    """Rewritten instructions, the call's usage, and why they were refused (if they were).

    The rewrite is refused when the reply is not a JSON object with a
    ``reason_for_call``, or when it lost one of ``facts``.
    """
    shown = {k: v for k, v in instructions.items() if k != "domain" and v}
    body = (f"FACTS: {json.dumps(list(facts), ensure_ascii=False)}\n\n"
            f"INSTRUCTIONS:\n{json.dumps(shown, ensure_ascii=False, indent=1)}")
    response = await model.generate([Message.system(REWRITE_SYSTEM), Message.user(body)])
    data = extract_json(response.message.content or "")
    if data is None or not isinstance(data.get("reason_for_call"), str):
        return None, response.usage, "the rewrite is not a JSON object with a reason_for_call"
    out = {"domain": instructions.get("domain")}
    for key in ("reason_for_call", "known_info", "unknown_info", "task_instructions"):
        value = data.get(key)
        out[key] = value if isinstance(value, str) and value.strip() else None
    text = " ".join(v for v in out.values() if v).casefold()
    lost = [f for f in facts if f.casefold() not in text]
    if lost:
        return None, response.usage, ("the rewrite lost " + ", ".join(repr(f) for f in lost)
                                      + "; the template instructions were kept")
    return out, response.usage, None
