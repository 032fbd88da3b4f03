"""What every import shares: the run directory of an imported run.

An imported run is an ordinary run directory (``results.jsonl`` of
:class:`~toolgym.runner.RolloutResult` lines, ``config.json``,
``summary.json``) plus ``tasks.json``, the tasks the rollouts were graded
against. Its ``config.json`` carries an ``imported`` record (source tool,
file, digest) instead of a run config that toolgym could resume: report,
compare, judge, regrade and export read it; ``toolgym resume`` refuses it.

The reward of every imported rollout is the one the source tool recorded;
``breakdown.notes`` starts with :data:`IMPORTED_NOTE` to say so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolgym import __version__
from toolgym._io import read_bytes
from toolgym.errors import ConfigError, DataError
from toolgym.evaluation._metrics import summarize, task_sort_key
from toolgym.runner._results import RolloutResult
from toolgym.runner._store import (
    CONFIG,
    RESULTS,
    SUMMARY,
    ResultsWriter,
    RunData,
    load_run,
    write_json_atomic,
)
from toolgym.tasks import Task

__all__ = [
    "IMPORTED_NOTE",
    "TASKS_FILE",
    "ImportedRun",
    "SourceFile",
    "as_dict",
    "check_against_schema",
    "imported_record",
    "is_imported",
    "now_iso",
    "read_source",
    "run_config",
    "run_domain",
    "write_imported_run",
]

#: How the first note of an imported rollout's breakdown begins.
IMPORTED_NOTE = "reward source: imported"
#: The tasks of an imported run, inside its directory.
TASKS_FILE = "tasks.json"


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (lenient config reading)."""
    return value if isinstance(value, dict) else {}


def run_config(run: RunData) -> dict[str, Any]:
    """The ``config`` object of a run's config.json ({} when absent)."""
    return as_dict(run.config.get("config"))


def now_iso() -> str:
    """The current UTC time, ISO-8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SourceFile:
    """A results file read for an import: its path, bytes digest and parsed JSON."""

    path: Path
    sha256: str
    size: int
    data: Any


def read_source(path: str | Path, what: str) -> SourceFile:
    """Read and parse a results file (one clear line if it cannot be read)."""
    from toolgym._io import parse_json

    p = Path(path)
    raw = read_bytes(p, what)
    data = parse_json(raw, str(p))
    return SourceFile(path=p.resolve(), sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                      data=data)


@dataclass
class ImportedRun:
    """What an import produced, before it is written."""

    source: str
    format: str
    file: SourceFile
    domain: str
    tasks: list[Task]
    results: list[RolloutResult]
    agent: dict[str, Any]
    user: dict[str, Any]
    trials: int
    data_dir: str | None = None
    seed: int = 0
    max_steps: int | None = None
    max_errors: int | None = None
    #: Anything else worth keeping from the source (its own metadata).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Lines worth telling the user (skipped records, guesses made).
    warnings: list[str] = field(default_factory=list)


def imported_record(run: ImportedRun, tasks_file: Path) -> dict[str, Any]:
    """The config.json of an imported run.

    ``config`` holds only what readers of a run use (domain, tasks file,
    trials, seed, models), not a :class:`~toolgym.runner.RunConfig`:
    nothing here can be re-run.
    """
    imported: dict[str, Any] = {
        "source": run.source,
        "format": run.format,
        "file": str(run.file.path),
        "file_name": run.file.path.name,
        "sha256": run.file.sha256,
        "bytes": run.file.size,
        "imported_at": now_iso(),
        "rollouts": len(run.results),
        **run.extra,
    }
    domain = {"name": run.domain, "data_dir": run.data_dir, "tasks_file": str(tasks_file)}
    config: dict[str, Any] = {
        "plugins": [],
        "domain": domain,
        "agent": run.agent,
        "user": run.user,
        "judge": None,
        "seed": run.seed,
        "trials": run.trials,
        "max_steps": run.max_steps,
        "max_errors": run.max_errors,
    }
    task_ids = sorted({r.task_id for r in run.results}, key=task_sort_key)
    return {
        "toolgym_version": __version__,
        "created_at": now_iso(),
        "imported": imported,
        "config": config,
        "domain": {"name": run.domain, "source": run.data_dir or "imported",
                   "data_digest": run.file.sha256[:16]},
        "agent": run.agent,
        "user": run.user,
        "task_ids": task_ids,
        "trials": run.trials,
    }


def is_imported(config: dict[str, Any]) -> bool:
    """Whether a run's config.json record is that of an imported run."""
    return isinstance(config.get("imported"), dict)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and ((out / RESULTS).exists() or (out / CONFIG).exists()):
        raise ConfigError(f"{out} already holds a run; choose another --out (an import never "
                          "writes into an existing run)")


def write_imported_run(run: ImportedRun, out: str | Path) -> RunData:
    """Write an imported run directory and return it loaded.

    Raises:
        ConfigError: ``out`` already holds a run, or is a file.
        DataError: there is nothing to import.
    """
    out = Path(out)
    _check_out(out)
    if not run.results:
        raise DataError(f"{run.file.path}: no rollouts to import")
    out.mkdir(parents=True, exist_ok=True)
    tasks_path = (out / TASKS_FILE).resolve()
    used = {r.task_id for r in run.results}
    tasks = sorted((t for t in run.tasks if t.id in used), key=lambda t: task_sort_key(t.id))
    write_json_atomic(tasks_path, [t.model_dump(mode="json", exclude_none=True)
                                   for t in tasks])
    writer = ResultsWriter(out / RESULTS)
    try:
        for r in sorted(run.results, key=lambda r: (task_sort_key(r.task_id), r.trial)):
            writer.append(r)
    finally:
        writer.close()
    write_json_atomic(out / CONFIG, imported_record(run, tasks_path))
    summary = summarize(run.results, run.trials, seed=run.seed)
    summary.update({"status": "complete", "complete": True, "imported": True,
                    "resume_command": None, "retry_command": None})
    write_json_atomic(out / SUMMARY, summary)
    return load_run(out)


def json_text(value: Any) -> str:
    """Compact JSON of a value (for messages)."""
    return json.dumps(value, ensure_ascii=False)


def run_domain(run: RunData, data_dir: str | Path | None = None,
               tasks_file: str | Path | None = None) -> Any:
    """The domain (with the run's tasks) a run was graded in.

    Args:
        run: The loaded run.
        data_dir: Domain data replacing the run's own (e.g. tau2's data for an
            imported tau-bench run).
        tasks_file: A task file replacing the run's own.

    Raises:
        DataError: the run's config names no domain, or its data cannot be loaded.
    """
    from toolgym.domains import load_domain
    from toolgym.runner._run import import_plugins

    cfg = run_config(run)
    ref = as_dict(cfg.get("domain"))
    name = ref.get("name") or run.domain
    if not name:
        raise DataError(f"{run.path}: config.json names no domain")
    import_plugins(list(cfg.get("plugins") or []))
    tasks = tasks_file if tasks_file is not None else ref.get("tasks_file")
    if tasks is not None and is_imported(run.config) and not Path(tasks).exists():
        # The directory was moved: its own tasks.json is the one recorded.
        tasks = run.path / TASKS_FILE
    return load_domain(name, data_dir=data_dir if data_dir is not None else ref.get("data_dir"),
                       tasks_file=tasks)


def check_against_schema(data: Any, schema: dict[str, Any], what: str) -> None:
    """Validate JSON data against a JSON Schema (draft 7) with the jsonschema library.

    Raises:
        MissingDependencyError: jsonschema is not installed (the ``interop`` extra).
        DataError: the data does not fit, naming the first problem's place.
    """
    try:
        import jsonschema
    except ImportError:
        from toolgym.errors import MissingDependencyError

        raise MissingDependencyError("jsonschema", "interop") from None
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise DataError(f"{what} does not fit its schema at {where}: {error.message}")
