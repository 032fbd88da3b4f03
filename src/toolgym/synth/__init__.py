"""Synthetic tasks: generate, validate, label and split (``toolgym synth``).

* :func:`generate_tasks` makes validated tasks from a domain's database and
  policy: the ``template`` method samples entities and scenario types and
  derives the gold actions by applying the policy rules (correct by
  construction, and checked by :func:`check_policy`); the ``llm`` method asks a
  generator model, few-shot from existing tasks.
* :func:`validate_tasks` applies every validation rule to any task list and
  gives a :class:`ValidationReport` (kept / rejected, with reasons).
* :func:`split_tasks` splits without leakage (disjoint users and gold-action
  signatures); :func:`from_tau_bench` / :func:`to_tau_bench` convert
  tau-bench v1 task lists.
"""

from toolgym.synth._generate import (
    SynthResult,
    generate_tasks,
    generate_tasks_async,
    save_result,
)
from toolgym.synth._labels import (
    LEVELS,
    refine_difficulty,
    structural_difficulty,
    task_stats,
    task_user,
)
from toolgym.synth._policy import check_policy, declared_refusal
from toolgym.synth._records import (
    RULE_NAMES,
    Reason,
    SynthInfo,
    TaskVerdict,
    ValidationReport,
)
from toolgym.synth._rules import (
    TAU2_AIRLINE,
    TOOLGYM_AIRLINE,
    AirlineRules,
    RetailRules,
    airline_rules,
    rules_for,
)
from toolgym.synth._splits import parse_split_spec, split_tasks, write_signature
from toolgym.synth._tau_bench import from_tau_bench, to_tau_bench
from toolgym.synth._template import SCENARIO_TYPES, scenario_types
from toolgym.synth._validate import Validator, required_facts, validate_tasks

__all__ = [
    "LEVELS",
    "RULE_NAMES",
    "SCENARIO_TYPES",
    "TAU2_AIRLINE",
    "TOOLGYM_AIRLINE",
    "AirlineRules",
    "Reason",
    "RetailRules",
    "SynthInfo",
    "SynthResult",
    "TaskVerdict",
    "ValidationReport",
    "Validator",
    "airline_rules",
    "check_policy",
    "declared_refusal",
    "from_tau_bench",
    "generate_tasks",
    "generate_tasks_async",
    "parse_split_spec",
    "refine_difficulty",
    "required_facts",
    "rules_for",
    "save_result",
    "scenario_types",
    "split_tasks",
    "structural_difficulty",
    "task_stats",
    "task_user",
    "to_tau_bench",
    "validate_tasks",
    "write_signature",
]
