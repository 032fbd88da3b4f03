"""Domains and the domain registry.

A :class:`Domain` bundles a parsed database snapshot, a toolkit class, a
policy document and a task set. Built-in and user domains are registered
with :func:`register_domain`; :func:`load_domain` builds one by name, either
from its built-in data or from a tau2-format directory (``db.json``,
``tasks.json``, ``split_tasks.json``, ``policy.md``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from toolgym.domains._db import DB, Snapshot
from toolgym.domains._toolkit import Toolkit
from toolgym.errors import DataError, DomainNotFoundError
from toolgym.tasks import Task, load_splits, load_tasks

DBT = TypeVar("DBT", bound=DB)


@dataclass
class Domain(Generic[DBT]):
    """A stateful world an agent acts in: database, tools, policy and tasks."""

    name: str
    snapshot: Snapshot[DBT]
    toolkit_type: type[Toolkit[DBT]]
    policy: str
    tasks: list[Task]
    splits: dict[str, list[str]] = field(default_factory=dict)
    source: str = "builtin"
    data_digest: str = ""

    def toolkit(self, db: DBT | None = None) -> Toolkit[DBT]:
        """A toolkit over ``db`` (a fresh fork of the snapshot when omitted)."""
        return self.toolkit_type(db if db is not None else self.snapshot.fork())

    def openai_tools(self) -> list[dict[str, Any]]:
        """The domain's tools as OpenAI tool definitions."""
        return self.toolkit().openai_tools()

    def task(self, task_id: str) -> Task:
        """The task with this id (``DataError`` if unknown)."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise DataError(f"domain {self.name!r}: no task with id {task_id!r}")

    def split(self, name: str) -> list[Task]:
        """Tasks of a named split (``DataError`` if the split is unknown)."""
        if name not in self.splits:
            known = ", ".join(sorted(self.splits)) or "none"
            raise DataError(f"domain {self.name!r}: unknown split {name!r} (known: {known})")
        wanted = set(self.splits[name])
        return [t for t in self.tasks if t.id in wanted]

    def with_tasks(self, tasks: list[Task], source: str) -> Domain[DBT]:
        """The same domain with another task set (e.g. a generated task file)."""
        return Domain(
            name=self.name,
            snapshot=self.snapshot,
            toolkit_type=self.toolkit_type,
            policy=self.policy,
            tasks=tasks,
            splits={"base": [t.id for t in tasks]},
            source=source,
            data_digest=self.data_digest,
        )


@dataclass(frozen=True)
class DomainSpec:
    """How to build a domain: its DB type, toolkit and built-in data loader."""

    name: str
    db_type: type[DB]
    toolkit_type: type[Toolkit[Any]]
    builtin: Callable[[], tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]] | None
    description: str = ""


_REGISTRY: dict[str, DomainSpec] = {}
_CACHE: dict[tuple[str, str], Domain[Any]] = {}
_LOCK = threading.Lock()


def register_domain(spec: DomainSpec) -> DomainSpec:
    """Register a domain under ``spec.name`` (replacing any earlier one)."""
    _REGISTRY[spec.name] = spec
    for key in [k for k in _CACHE if k[0] == spec.name]:
        del _CACHE[key]
    return spec


def domain_names() -> list[str]:
    """Names of all registered domains."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def _ensure_builtins() -> None:
    # Importing the built-in packages registers them.
    import toolgym.domains.airline
    import toolgym.domains.retail  # noqa: F401


def get_spec(name: str) -> DomainSpec:
    """The registered spec for ``name``."""
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise DomainNotFoundError(f"unknown domain {name!r} (known: {known})") from None


def _digest_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        if p.exists():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_domain(
    name: str, data_dir: str | Path | None = None, tasks_file: str | Path | None = None
) -> Domain[Any]:
    """Load a registered domain.

    Args:
        name: Registered domain name, e.g. ``"airline"``.
        data_dir: A tau2-format directory; the built-in data when omitted.
        tasks_file: A task file that replaces the domain's own tasks.

    Returns:
        The domain. The parsed snapshot is shared between calls with the same
        data (it is never mutated), so loading twice is cheap.
    """
    spec = get_spec(name)
    key = (name, str(Path(data_dir).resolve()) if data_dir else "<builtin>")
    with _LOCK:
        domain = _CACHE.get(key)
        if domain is None:
            domain = _build(spec, Path(data_dir) if data_dir else None)
            _CACHE[key] = domain
    if tasks_file is not None:
        domain = domain.with_tasks(load_tasks(tasks_file), source=str(tasks_file))
    return domain


def _build(spec: DomainSpec, data_dir: Path | None) -> Domain[Any]:
    if data_dir is None:
        if spec.builtin is None:
            raise DataError(f"domain {spec.name!r} has no built-in data; pass data_dir")
        raw_db, policy, tasks, splits = spec.builtin()
        db = spec.db_type.from_dict(raw_db, source=f"<built-in {spec.name} db>")
        digest = hashlib.sha256(
            (spec.name + policy + str(len(tasks))).encode()
        ).hexdigest()[:16]
        return Domain(spec.name, Snapshot(db), spec.toolkit_type, policy, tasks, splits,
                      "builtin", digest)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")
    db = spec.db_type.load(data_dir / "db.json")
    policy_path = data_dir / "policy.md"
    policy = policy_path.read_text(encoding="utf-8") if policy_path.exists() else ""
    tasks_path = data_dir / "tasks.json"
    tasks = load_tasks(tasks_path) if tasks_path.exists() else []
    split_path = data_dir / "split_tasks.json"
    splits = load_splits(split_path) if split_path.exists() else {}
    splits.setdefault("base", [t.id for t in tasks])
    digest = _digest_files([data_dir / "db.json", tasks_path, policy_path])
    return Domain(spec.name, Snapshot(db), spec.toolkit_type, policy, tasks, splits,
                  str(data_dir), digest)
