"""Run configuration: everything needed to rebuild and resume a run.

A :class:`RunConfig` is validated at the edge (CLI or Python API) and
written to ``config.json``. It names every component and its arguments, but
never a secret: API keys are referenced by environment-variable name only.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from toolgym.errors import ConfigError
from toolgym.models._base import ModelConfig
from toolgym.prompts._pack import PromptPackRef
from toolgym.tasks import Task

__all__ = [
    "CONNECTION_FIELDS",
    "AgentConfig",
    "DomainRef",
    "RunConfig",
    "UserConfig",
    "parse_task_ranges",
    "rollout_seed",
    "select_tasks",
]


class DomainRef(BaseModel):
    """Which domain and task set a run uses."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(description="Registered domain name.")
    data_dir: str | None = Field(None, description="tau2-format data directory (None: built-in).")
    tasks_file: str | None = Field(None, description="Task file replacing the domain's tasks.")


class AgentConfig(BaseModel):
    """The agent: strategy, model and prompt."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    strategy: str = Field("tool-calling", description="Registered agent strategy.")
    model: ModelConfig = Field(description="The agent's model.")
    system_prompt_file: str | None = Field(
        None, description="File whose text replaces the policy-derived system prompt."
    )
    system_prompt_sha256: str | None = Field(
        None, description="Digest of the system prompt file's content (for resume checks)."
    )
    tool_descriptions: dict[str, str] = Field(
        default_factory=dict,
        description="Tool name -> description replacing the domain's (what prompt "
        "optimization may change).")
    args: dict[str, Any] = Field(default_factory=dict, description="Strategy arguments.")


class UserConfig(BaseModel):
    """The user simulator."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    strategy: str = Field("llm", description="Registered user simulator.")
    model: ModelConfig | None = Field(None, description="The user's model (None: no model).")
    args: dict[str, Any] = Field(default_factory=dict, description="Simulator arguments.")


class RunConfig(BaseModel):
    """A complete, reproducible description of a run."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported before the run (they register custom domains, "
        "agents, users or model providers); recorded so a resume imports them too.",
    )
    domain: DomainRef = Field(description="Domain and task set.")
    agent: AgentConfig = Field(description="Agent.")
    user: UserConfig = Field(description="User simulator.")
    judge: ModelConfig | None = Field(None, description="Judge model for NL assertions.")
    tool_args: Literal["tau2", "strict"] | None = Field(
        None, description="How the tools treat malformed arguments: 'tau2' (as tau2-bench, the "
        "default of the airline and retail domains) or 'strict' (toolgym's checks, every other "
        "domain); None picks the default when the run starts, and config.json records the "
        "mode used.")
    prompt_pack: PromptPackRef | None = Field(
        None, description="The prompt pack whose texts replace toolgym's agent frame, tool "
        "descriptions and user instructions (None: toolgym's own); its digest is recorded when "
        "the run starts.")
    tasks: str | None = Field(None, description="Task index ranges, e.g. '0-9,12'.")
    task_ids: list[str] | None = Field(None, description="Explicit task ids.")
    split: str | None = Field(None, description="Named split from split_tasks.json.")
    shuffle: bool = Field(False, description="Shuffle task order (seeded).")
    seed: int = Field(0, description="Run seed; every rollout's seed derives from it.")
    trials: int = Field(1, ge=1, description="Trials per task.")
    concurrency: int = Field(4, ge=1, description="Rollouts in flight at once.")
    max_steps: int = Field(50, ge=1, description="Agent model calls per rollout.")
    max_errors: int = Field(10, ge=1, description="Tool errors that end a rollout.")
    rollout_timeout_s: float | None = Field(None, gt=0, description="Wall-time limit per "
                                            "rollout, in seconds.")
    rollout_cost_limit: float | None = Field(None, gt=0, description="USD limit per rollout.")
    executor: Literal["local", "ray"] = Field(
        "local", description="Where rollouts run: this process, or Ray worker processes.")
    ray_address: str | None = Field(
        None, description="Ray cluster: 'auto', HOST:PORT, or None (a local Ray instance).")
    ray_workers: int = Field(2, ge=1, description="Ray worker processes.")
    shard: str | None = Field(
        None, description="I/N: run only the I-th of N disjoint shards of the (task, trial) "
        "pairs (merge the shards with toolgym merge).")
    allow_invalid_tasks: bool = Field(
        False, description="Skip malformed tasks (with a warning) instead of refusing the run.")
    cache_dir: str | None = Field(
        None, description="On-disk response cache (keyed by model, messages, tools, params, "
        "trial); None disables it."
    )
    # -- simulated tools (toolgym.simtools) ------------------------------------------
    tool_sim: ModelConfig | None = Field(
        None, description="The tool-sim model answering the domain's simulated tools.")
    tool_failures: dict[str, dict[str, float]] | None = Field(
        None, description="Injected failure probabilities per simulated tool, {tool: "
        "{no_answer|partial|error|timeout: p}} ('*': every tool without its own entry); "
        "they replace the domain's defaults; None: the defaults.")
    tool_cache_dir: str | None = Field(
        None, description="Record/replay cache of simulated tool results (None: no cache).")
    tool_cache_mode: Literal["off", "record", "replay", "frozen"] | None = Field(
        None, description="off, record (read-write), replay (read, call the model on a "
        "miss) or frozen (a miss is an error); None: record when tool_cache_dir is set.")

    #: Run fields that may change between a run and its resume: how rollouts
    #: are scheduled, not what is evaluated.
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset({
        "concurrency", "cache_dir", "executor", "ray_address", "ray_workers",
        "tool_cache_dir", "tool_cache_mode"})

    @field_validator("shard")
    @classmethod
    def _valid_shard(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from toolgym.runner._shard import parse_shard

        i, n = parse_shard(value)
        return f"{i}/{n}"

    @field_validator("tool_failures")
    @classmethod
    def _valid_failures(cls, value: dict[str, dict[str, float]] | None
                        ) -> dict[str, dict[str, float]] | None:
        if value is None:
            return None
        from toolgym.simtools._spec import check_failure_rates

        try:
            return {tool: check_failure_rates(rates, f"tool_failures.{tool}")
                    for tool, rates in value.items()}
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _cache_mode_needs_dir(self) -> RunConfig:
        if self.tool_cache_mode not in (None, "off") and not self.tool_cache_dir:
            raise ValueError(f"tool_cache_mode {self.tool_cache_mode} needs tool_cache_dir")
        return self

    @property
    def tool_cache(self) -> Literal["off", "record", "replay", "frozen"]:
        """The effective tool cache mode."""
        if self.tool_cache_mode is not None:
            return self.tool_cache_mode
        return "record" if self.tool_cache_dir else "off"

    def identity(self) -> dict[str, Any]:
        """The config fields a resume must not change (what is evaluated).

        Left out: the run fields in :attr:`RESUMABLE_CHANGES`, for every model
        how it is reached (:data:`CONNECTION_FIELDS`: base URL, key variable,
        concurrency limit, timeouts, retries), and where the system prompt file
        lives (its content's digest stays).
        """
        data = self.model_dump(mode="json")
        for key in self.RESUMABLE_CHANGES:
            data.pop(key, None)
        for model in _model_dicts(data):
            for key in CONNECTION_FIELDS:
                model.pop(key, None)
        if data["agent"].get("system_prompt_sha256"):
            # The prompt's content is what is evaluated; where the file lives is not.
            data["agent"].pop("system_prompt_file", None)
        if data.get("prompt_pack"):
            data["prompt_pack"].pop("path", None)  # likewise: the pack's digest stays
        if data.get("tool_args") is None:
            # Runs made before the option existed checked arguments as strict does.
            data["tool_args"] = "strict"
        return data

    def connection(self) -> dict[str, Any]:
        """The fields a resume may change, per model role and for the run."""
        data = self.model_dump(mode="json")
        out: dict[str, Any] = {k: data.get(k) for k in sorted(self.RESUMABLE_CHANGES)}
        for role, model in _models_by_role(data).items():
            out[role] = {k: model.get(k) for k in CONNECTION_FIELDS}
        out["agent"]["system_prompt_file"] = data["agent"].get("system_prompt_file")
        out["prompt_pack_path"] = (data.get("prompt_pack") or {}).get("path")
        return out


#: ModelConfig fields that say how a model is reached, not which model it is:
#: a resume may change them (a moved server, a longer timeout, more retries).
CONNECTION_FIELDS = ("base_url", "api_key_env", "max_concurrency", "max_retries",
                     "backoff_base_s", "backoff_max_s", "timeout_s", "retry_budget_s")


def _models_by_role(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    agent = (data.get("agent") or {}).get("model")
    user = (data.get("user") or {}).get("model")
    for role, model in (("agent", agent), ("user", user), ("judge", data.get("judge")),
                        ("tool-sim", data.get("tool_sim"))):
        if isinstance(model, dict):
            out[role] = model
    return out


def _model_dicts(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_models_by_role(data).values())


def diff_configs(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Human-readable list of differing leaves between two config dicts."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(diff_configs(a, b, path + "."))
        elif a != b:
            out.append(f"{path}: {a!r} -> {b!r}")
    return out


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_task_ranges(spec: str, count: int | None = None) -> list[int]:
    """Parse '0-9,12' into [0, 1, ..., 9, 12] (inclusive ranges).

    Args:
        spec: The ranges.
        count: Number of tasks there are; when given, every index is checked
            against it before any list is built (so '0-999999999' fails at
            once instead of filling memory).
    """
    bounds: list[tuple[int, int]] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _RANGE.match(part)
        if not m:
            raise ConfigError(f"invalid task range {part.strip()!r} in {spec!r} (use e.g. 0-9,12)")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ConfigError(f"invalid task range {part.strip()!r}: end before start")
        if count is not None and hi >= count:
            raise ConfigError(f"task index {max(lo, count)} out of range (there are {count} "
                              f"tasks, indices 0-{count - 1})" if count else
                              "task index out of range (there are no tasks)")
        bounds.append((lo, hi))
    out: list[int] = []
    for lo, hi in bounds:
        out.extend(range(lo, hi + 1))
    return out


def select_tasks(
    all_tasks: list[Task],
    splits: dict[str, list[str]],
    *,
    tasks: str | None = None,
    task_ids: list[str] | None = None,
    split: str | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> list[Task]:
    """Apply split, id, index-range and shuffle selection, in that order."""
    pool = list(all_tasks)
    if split is not None:
        if split not in splits:
            known = ", ".join(sorted(splits)) or "none"
            raise ConfigError(f"unknown split {split!r} (known: {known})")
        wanted = set(splits[split])
        pool = [t for t in pool if t.id in wanted]
    if task_ids:
        by_id = {t.id: t for t in pool}
        missing = [i for i in task_ids if i not in by_id]
        if missing:
            raise ConfigError(f"unknown task id(s): {', '.join(missing)}")
        # Each task once: a repeated id would run one (task, trial) pair several times.
        pool = [by_id[i] for i in dict.fromkeys(task_ids)]
    if tasks is not None:
        if not tasks.strip():
            raise ConfigError("--tasks is empty (give index ranges such as 0-9,12, or leave "
                              "it out for every task)")
        pool = [pool[i] for i in dict.fromkeys(parse_task_ranges(tasks, len(pool)))]
    if shuffle:
        rng = random.Random(seed)
        rng.shuffle(pool)
    return pool


def rollout_seed(run_seed: int, task_id: str, trial: int) -> int:
    """The deterministic seed of one rollout."""
    digest = hashlib.sha256(f"{run_seed}:{task_id}:{trial}".encode()).hexdigest()
    return int(digest[:8], 16)
