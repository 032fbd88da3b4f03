"""tau2 leaderboard submissions: ``submission.json`` plus the trajectories.

A submission directory holds ``submission.json`` (the leaderboard's
submission record: model, organizations, contact, pass^1..4 and cost per
domain, methodology) and ``trajectories/``, one tau2 results file per domain
(:func:`~toolgym.interop.export_tau2`), named in ``trajectory_files``.

The leaderboard's rules are checked first, and a run set that breaks one is
refused with the reason: one run per leaderboard domain, on tau2's own task
set (not toolgym's built-in tasks, a custom task file or tau-bench v1's
tasks), every task of the domain's ``base`` split with at least four
trials, every rollout graded (no infrastructure errors, no rollout waiting
for a judge), and the same agent and user simulator (models and arguments)
in every domain.

pass^k is the tau2 convention (per task, the trials it has), in percent;
``cost`` is the agent's average cost per trajectory (null when unknown).
Prompts count as unmodified only when a run's config names a tau2 prompt
pack (``prompt_pack``, which toolgym does not have yet): otherwise
``modified_prompts`` is true and the submission is ``custom``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from toolgym import __version__
from toolgym._io import load_json
from toolgym.errors import ConfigError, DataError
from toolgym.evaluation._metrics import pass_k_curve, task_sort_key
from toolgym.interop._common import (
    as_dict,
    check_against_schema,
    is_imported,
    run_config,
    run_domain,
)
from toolgym.interop._tau2_export import tau2_results
from toolgym.runner._config import CONNECTION_FIELDS
from toolgym.runner._store import RunData, load_run, write_json_atomic

__all__ = [
    "LEADERBOARD_DOMAINS",
    "MIN_TRIALS",
    "Submission",
    "SubmissionError",
    "SubmissionResult",
    "check_submission_runs",
    "export_submission",
    "prompts_modified",
]

#: The domains the tau2 leaderboard has.
LEADERBOARD_DOMAINS = ("airline", "retail", "telecom", "banking_knowledge")
#: Trials per task the leaderboard needs.
MIN_TRIALS = 4
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SubmissionError(ConfigError):
    """The runs do not meet the leaderboard's rules; the message lists why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactInfo(_Strict):
    """Who to ask about the submission."""

    email: str | None = Field(None, description="Contact e-mail.")
    name: str | None = Field(None, description="Name of the submitter.")
    github: str | None = Field(None, description="GitHub user name.")


class DomainResults(_Strict):
    """The figures of one domain."""

    pass_1: float | None = Field(None, description="pass^1 in percent.")
    pass_2: float | None = Field(None, description="pass^2 in percent.")
    pass_3: float | None = Field(None, description="pass^3 in percent.")
    pass_4: float | None = Field(None, description="pass^4 in percent.")
    cost: float | None = Field(None, description="Average agent cost per trajectory, USD.")


class Verification(_Strict):
    """What a reviewer checks."""

    modified_prompts: bool | None = Field(None, description="Agent or user prompts modified.")
    omitted_questions: bool | None = Field(None, description="Tasks left out.")
    details: str | None = Field(None, description="Explanations.")


class Methodology(_Strict):
    """How the evaluation was made."""

    evaluation_date: str | None = Field(None, description="YYYY-MM-DD of the last rollout.")
    tau2_bench_version: str | None = Field(None, description="tau2-bench version, if known.")
    user_simulator: str | None = Field(None, description="The user simulator's model.")
    notes: str | None = Field(None, description="Free text.")
    verification: Verification | None = Field(None, description="Verification facts.")


class Submission(_Strict):
    """The leaderboard submission record (``submission.json``)."""

    model_name: str = Field(description="The evaluated model.")
    model_organization: str = Field(description="Who made the model.")
    submitting_organization: str = Field(description="Who ran the evaluation.")
    submission_date: str = Field(description="YYYY-MM-DD.")
    submission_type: Literal["standard", "custom"] = Field(
        "custom", description="standard: tau2's own scaffold and prompts; custom otherwise.")
    modality: Literal["text"] = Field("text", description="Text (half-duplex) evaluation.")
    contact_info: ContactInfo = Field(description="Contact.")
    results: dict[str, DomainResults] = Field(description="Figures per domain.")
    is_new: bool = Field(False, description="Highlight as new.")
    trajectories_available: bool = Field(True, description="Trajectory files are provided.")
    trajectory_files: dict[str, str] = Field(description="Domain -> trajectory file name.")
    methodology: Methodology = Field(description="How it was evaluated.")


@dataclass
class SubmissionResult:
    """A written submission directory."""

    path: Path
    submission: Submission
    trajectory_files: dict[str, Path] = field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.").lower()[:60] or "model"


def _cfg(run: RunData) -> dict[str, Any]:
    return run_config(run)


def _model_identity(section: Any) -> dict[str, Any]:
    """Strategy, model and arguments of an agent/user config (connection settings left out)."""
    if not isinstance(section, dict):
        return {}
    out = {k: v for k, v in section.items() if k not in ("system_prompt_file",)}
    model = out.get("model")
    if isinstance(model, dict):
        out["model"] = {k: v for k, v in model.items() if k not in CONNECTION_FIELDS}
    return out


def _model_name(section: Any) -> str | None:
    model = section.get("model") if isinstance(section, dict) else None
    name = model.get("model") if isinstance(model, dict) else None
    return name if isinstance(name, str) and name and name != "unknown" else None


def prompts_modified(run: RunData) -> bool:
    """Whether a run's prompts differ from tau2's own.

    Only a run made with a tau2 prompt pack counts as unmodified: the run
    config's ``prompt_pack`` (see :class:`toolgym.prompts.PromptPackRef`) is
    set and says ``tau2: true`` (extracted from tau2-bench, unchanged since,
    replacing the agent frame, the tool definitions and the user instructions).
    Without a pack the prompts are toolgym's own: modified.
    """
    pack = _cfg(run).get("prompt_pack")
    return not (isinstance(pack, dict) and pack.get("tau2") is True)


def _base_ids(run: RunData, problems: list[str]) -> list[str] | None:
    """The ids of the domain's base split the run must cover (None: refused)."""
    ref = as_dict(_cfg(run).get("domain"))
    imported = as_dict(run.config.get("imported")) if is_imported(run.config) else None
    if imported is not None and imported.get("source") == "tau-bench":
        problems.append(f"{run.path}: imported from tau-bench v1, whose tasks are not tau2's; "
                        "the leaderboard scores tau2's task set")
        return None
    if imported is None and not ref.get("data_dir"):
        problems.append(f"{run.path}: runs toolgym's built-in {run.domain} tasks, not tau2's; "
                        "run with --data-dir pointing at tau2's data")
        return None
    if imported is None and ref.get("tasks_file"):
        problems.append(f"{run.path}: runs a custom task file ({ref['tasks_file']}), not tau2's "
                        "task set")
        return None
    try:
        # tau2's data directory says which tasks are the base split; an
        # imported tau2 run without one is checked against its own tasks.
        domain = _data_domain(run, ref["data_dir"]) if ref.get("data_dir") else run_domain(run)
    except (DataError, ConfigError) as exc:
        problems.append(f"{run.path}: cannot load its domain to check the task set: {exc}")
        return None
    base = domain.splits.get("base") or [t.id for t in domain.tasks]
    return list(base)


def _data_domain(run: RunData, data_dir: str) -> Any:
    from toolgym.domains import load_domain

    return load_domain(run.domain, data_dir=data_dir)


def check_submission_runs(runs: list[RunData]) -> list[str]:
    """The leaderboard rules the runs break, one line each (empty: none).

    See the module docstring for the rules.
    """
    problems: list[str] = []
    if not runs:
        return ["no runs given"]
    by_domain: dict[str, list[RunData]] = {}
    for run in runs:
        by_domain.setdefault(run.domain, []).append(run)
    for name, group in sorted(by_domain.items()):
        if name not in LEADERBOARD_DOMAINS:
            problems.append(f"{group[0].path}: domain {name!r} is not on the tau2 leaderboard "
                            f"({', '.join(LEADERBOARD_DOMAINS)})")
        if len(group) > 1:
            problems.append(f"domain {name!r} has {len(group)} runs ("
                            + ", ".join(str(r.path) for r in group)
                            + "); the leaderboard takes one result per domain")
    agents = {r.path: _model_identity(_cfg(r).get("agent")) for r in runs}
    users = {r.path: _model_identity(_cfg(r).get("user")) for r in runs}
    for what, seen in (("agent", agents), ("user simulator", users)):
        distinct = {repr(sorted(v.items())) for v in seen.values()}
        if len(distinct) > 1:
            shown = "; ".join(f"{p}: {_describe(v)}" for p, v in seen.items())
            problems.append(f"the runs use different {what} settings ({shown}); the leaderboard "
                            "needs the same model and arguments in every domain")
    for run in runs:
        if not run.results:
            problems.append(f"{run.path}: no rollouts")
            continue
        infra = [r for r in run.results if r.infra_error]
        if infra:
            problems.append(f"{run.path}: {len(infra)} rollouts ended on infrastructure errors "
                            f"(first: task {infra[0].task_id} trial {infra[0].trial}); rerun "
                            f"them with: toolgym resume {run.path} --retry-errors")
        waiting = [r for r in run.results if r.breakdown.status == "judge_needed"]
        if waiting:
            problems.append(f"{run.path}: {len(waiting)} rollouts wait for a judge (NL "
                            f"assertions); grade them with: toolgym judge {run.path} --judge nl "
                            "--judge-model MODEL")
        base = _base_ids(run, problems)
        if base is None:
            continue
        trials: dict[str, int] = {}
        for r in run.results:
            if not r.infra_error:
                trials[r.task_id] = trials.get(r.task_id, 0) + 1
        missing = [t for t in base if t not in trials]
        if missing:
            problems.append(f"{run.path}: {len(missing)} of the {len(base)} base tasks have no "
                            f"rollout (e.g. {', '.join(missing[:5])}); the leaderboard needs "
                            "every task")
        few = sorted((t for t in base if 0 < trials.get(t, 0) < MIN_TRIALS), key=task_sort_key)
        if few:
            least = min(trials[t] for t in few)
            problems.append(f"{run.path}: {len(few)} tasks have fewer than {MIN_TRIALS} trials "
                            f"(task {few[0]}: {trials[few[0]]}, fewest: {least}); the "
                            f"leaderboard needs at least {MIN_TRIALS}")
    return problems


def _describe(identity: dict[str, Any]) -> str:
    model = identity.get("model")
    name = model.get("model") if isinstance(model, dict) else None
    args = model.get("args") if isinstance(model, dict) else None
    text = f"{identity.get('strategy')} / {name or 'no model'}"
    return text + (f" {args}" if args else "")


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def _cost(run: RunData) -> float | None:
    costs = []
    for r in run.results:
        u = r.usage.get("agent")
        if u is None or u.calls == 0:
            costs.append(u.cost if u is not None and u.cost is not None else 0.0)
        elif u.cost is None:
            return None
        else:
            costs.append(u.cost)
    return round(sum(costs) / len(costs), 6) if costs else None


def _evaluation_date(runs: list[RunData]) -> str | None:
    stamps = [r.timings.finished_at for run in runs for r in run.results if r.timings.finished_at]
    if not stamps:
        return None
    try:
        return datetime.fromisoformat(max(stamps)).date().isoformat()
    except ValueError:
        return None


def _user_simulator(run: RunData) -> str:
    user = _cfg(run).get("user")
    name = _model_name(user)
    if name:
        return name
    strategy = user.get("strategy") if isinstance(user, dict) else None
    return f"toolgym {strategy or 'unknown'} user (no model)"


def _user_slug(run: RunData) -> str:
    user = _cfg(run).get("user")
    name = _model_name(user)
    strategy = user.get("strategy") if isinstance(user, dict) else None
    return _slug(name or str(strategy or "user"))


def export_submission(
    run_dirs: list[str | Path],
    out: str | Path,
    *,
    organization: str,
    contact_email: str,
    model_name: str | None = None,
    model_organization: str | None = None,
    contact_name: str | None = None,
    github: str | None = None,
    submission_date: str | None = None,
    notes: str | None = None,
    schema: str | Path | None = None,
) -> SubmissionResult:
    """Write a tau2 leaderboard submission directory from toolgym runs.

    Args:
        run_dirs: One run directory per domain.
        out: The submission directory to create (must be empty or absent).
        organization: Who ran the evaluation (also the model's organization
            unless ``model_organization`` is given).
        contact_email: Contact e-mail.
        model_name: The model's name (default: the runs' agent model).
        model_organization: Who made the model.
        contact_name: Name of the contact.
        github: GitHub user name of the contact.
        submission_date: YYYY-MM-DD (default: today, UTC).
        notes: Added to the methodology notes.
        schema: The leaderboard's ``schema.json``: ``submission.json`` is
            validated against it before anything is written (needs
            jsonschema: the ``interop`` extra).

    Raises:
        SubmissionError: the runs break a leaderboard rule (every reason listed).
        ConfigError: a missing or malformed option, or ``out`` is not empty.
    """
    if not organization.strip():
        raise ConfigError("--organization is required (who ran the evaluation)")
    if not _EMAIL.match(contact_email.strip()):
        raise ConfigError(f"--contact-email {contact_email!r} is not an e-mail address")
    day = submission_date or datetime.now(UTC).date().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ConfigError(f"submission date {day!r} is not YYYY-MM-DD") from None
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty directory; choose another --out")
    runs = [load_run(d) for d in run_dirs]
    problems = check_submission_runs(runs)
    if problems:
        raise SubmissionError("the runs do not meet the leaderboard's rules: "
                              + "; ".join(problems))
    agent = _cfg(runs[0]).get("agent")
    name = model_name or _model_name(agent)
    if not name:
        raise ConfigError("the runs do not record the agent's model name; give --model-name")
    trials = min(min(Counter(r.task_id for r in run.results).values()) for run in runs)
    modified = any(prompts_modified(run) for run in runs)
    user_sim = _user_simulator(runs[0])
    results: dict[str, DomainResults] = {}
    files: dict[str, str] = {}
    exports: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: r.domain):
        curve = pass_k_curve(run.results, 4, "tau2")
        results[run.domain] = DomainResults(
            pass_1=_percent(curve.get(1)), pass_2=_percent(curve.get(2)),
            pass_3=_percent(curve.get(3)), pass_4=_percent(curve.get(4)), cost=_cost(run))
        files[run.domain] = (f"{_slug(name)}_{run.domain}_toolgym_{_user_slug(runs[0])}_"
                             f"{trials}trials.json")
        exports[run.domain] = tau2_results(run)
    strategy = agent.get("strategy") if isinstance(agent, dict) else None
    text = (f"Evaluated with toolgym {__version__} (agent strategy {strategy or 'unknown'}, "
            f"user simulator {user_sim}), at least {trials} trials per task on tau2's task set; "
            "pass^k in the tau2 convention. "
            + ("Prompts are toolgym's own, not tau2's prompt pack. " if modified
               else "Prompts are tau2's (toolgym's tau2 prompt pack). ")
            + (notes or "")).strip()
    submission = Submission(
        model_name=name,
        model_organization=model_organization or organization,
        submitting_organization=organization,
        submission_date=day,
        submission_type="custom" if modified else "standard",
        contact_info=ContactInfo(email=contact_email.strip(), name=contact_name, github=github),
        results=results,
        trajectory_files=files,
        methodology=Methodology(
            evaluation_date=_evaluation_date(runs),
            user_simulator=user_sim,
            notes=text,
            verification=Verification(
                modified_prompts=modified, omitted_questions=False,
                details=f"toolgym {__version__}; every base task, {trials}+ trials per task; "
                + ("prompts modified (toolgym's own)" if modified else "tau2 prompts")),
        ),
    )
    record = submission.model_dump(mode="json", exclude_none=True)
    if schema is not None:
        loaded = load_json(schema, "leaderboard schema")
        if not isinstance(loaded, dict):
            raise DataError(f"{schema}: a JSON Schema must be an object")
        check_against_schema(record, loaded, "submission.json")
    traj_dir = out / "trajectories"
    traj_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for domain_name, data in exports.items():
        path = traj_dir / files[domain_name]
        write_json_atomic(path, data)
        written[domain_name] = path
    write_json_atomic(out / "submission.json", record)
    return SubmissionResult(path=out, submission=submission, trajectory_files=written)
