"""Domains and the domain registry.

A :class:`Domain` bundles a parsed database snapshot, a toolkit class, a
policy document and a task set. Built-in and user domains are registered
with :func:`register_domain`; :func:`load_domain` builds one by name, either
from its built-in data or from a tau2-format directory (``db.json``,
``tasks.json``, ``split_tasks.json``, ``policy.md``).
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from toolgym._io import load_json, read_text
from toolgym.domains._db import DB, Snapshot
from toolgym.domains._tau2_args import TOOL_ARGS_MODES
from toolgym.domains._toolkit import Toolkit
from toolgym.errors import ConfigError, DataError, DomainNotFoundError
from toolgym.tasks import Task, check_splits, load_splits, load_tasks

DBT = TypeVar("DBT", bound=DB)

#: The split file read from a data directory, or from beside a task file.
SPLIT_FILE = "split_tasks.json"


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
    #: How the tools treat malformed arguments: ``tau2`` or ``strict``.
    tool_args: str = "strict"

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

    def with_tasks(self, tasks: list[Task], source: str,
                   splits: dict[str, list[str]] | None = None) -> Domain[DBT]:
        """The same domain with another task set (e.g. a generated task file).

        Args:
            tasks: The new tasks.
            source: Where they come from (for messages).
            splits: Named splits of the new tasks (``base``, every task, is
                added when absent).

        The data digest covers the new tasks and splits, so a resume notices
        an edited task or split file.
        """
        h = hashlib.sha256(self.data_digest.encode())
        for t in tasks:
            h.update(t.model_dump_json().encode())
        named = dict(splits or {})
        if named:
            h.update(json.dumps(named, sort_keys=True).encode())
        named.setdefault("base", [t.id for t in tasks])
        return Domain(
            name=self.name,
            snapshot=self.snapshot,
            toolkit_type=self.toolkit_type,
            policy=self.policy,
            tasks=tasks,
            splits=named,
            source=source,
            data_digest=h.hexdigest()[:16],
            tool_args=self.tool_args,
        )

    def with_toolkit(self, toolkit_type: type[Toolkit[DBT]], tool_args: str) -> Domain[DBT]:
        """The same domain and data with another toolkit (another argument mode)."""
        return Domain(self.name, self.snapshot, toolkit_type, self.policy, self.tasks,
                      self.splits, self.source, self.data_digest, tool_args)


@dataclass(frozen=True)
class DomainSpec:
    """How to build a domain: its DB type, toolkit and built-in data loader.

    Attributes:
        parse_tasks: How the domain reads a task file's parsed JSON, given
            ``(data, source)`` (default: tau2 tasks); simulated-tool domains
            read request files.
        fingerprint: The built-in data's digest (default: a hash of the
            files of the DB type's package), for domains whose data lives
            elsewhere.
    """

    name: str
    db_type: type[DB]
    toolkit_type: type[Toolkit[Any]]
    builtin: Callable[[], tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]] | None
    description: str = ""
    parse_tasks: Callable[[Any, str], list[Task]] | None = None
    fingerprint: Callable[[], str] | None = None

    def load_tasks(self, path: str | Path) -> list[Task]:
        """Read a task file the way this domain does."""
        if self.parse_tasks is None:
            return load_tasks(path)
        return self.parse_tasks(load_json(Path(path), "task file"), str(path))

    #: The toolkit of the ``tau2`` argument mode (``--tool-args tau2``), which
    #: reproduces tau2-bench on malformed calls; None: the domain has only
    #: ``strict`` (``toolkit_type``). With one, ``tau2`` is the default.
    tau2_toolkit_type: type[Toolkit[Any]] | None = None

    @property
    def default_tool_args(self) -> str:
        """The argument mode a run gets unless it asks for one."""
        return "tau2" if self.tau2_toolkit_type is not None else "strict"

    def resolve_tool_args(self, tool_args: str | None) -> str:
        """``tool_args``, or the default; ConfigError for a mode the domain lacks."""
        mode = tool_args or self.default_tool_args
        if mode not in TOOL_ARGS_MODES:
            raise ConfigError(f"unknown tool argument mode {mode!r} (use one of: "
                              f"{', '.join(TOOL_ARGS_MODES)})")
        if mode == "tau2" and self.tau2_toolkit_type is None:
            raise ConfigError(f"domain {self.name!r} has no tau2 argument mode "
                              "(only --tool-args strict)")
        return mode

    def toolkit_for(self, tool_args: str) -> type[Toolkit[Any]]:
        """The toolkit class of an argument mode."""
        if self.resolve_tool_args(tool_args) == "tau2":
            assert self.tau2_toolkit_type is not None
            return self.tau2_toolkit_type
        return self.toolkit_type


_REGISTRY: dict[str, DomainSpec] = {}
_CACHE: dict[tuple[str, str, str], Domain[Any]] = {}
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
    import toolgym.domains.assistant
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
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _package_files(spec: DomainSpec) -> list[Path]:
    """The source and data files of a built-in domain's package.

    Built-in data is generated by code and read from package data, so its
    fingerprint is the hash of those files: any change to the generator,
    the tasks or the policy changes it (cheaply, without hashing the DB).
    """
    module = sys.modules[spec.db_type.__module__]
    root = Path(module.__file__ or ".").parent
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".json",
                                                                             ".md"))


def load_domain(
    name: str,
    data_dir: str | Path | None = None,
    tasks_file: str | Path | None = None,
    tool_args: str | None = None,
) -> Domain[Any]:
    """Load a registered domain.

    Args:
        name: Registered domain name, e.g. ``"airline"``.
        data_dir: A tau2-format directory (``db.json`` and ``policy.md``
            required, ``tasks.json`` and ``split_tasks.json`` optional); the
            built-in data when omitted.
        tasks_file: A task file that replaces the domain's own tasks. A
            ``split_tasks.json`` beside it (tau2's split format) gives its
            named splits, as in a data directory.
        tool_args: How the tools treat malformed arguments: ``"tau2"`` (as
            tau2-bench does; the default of domains that have it, airline and
            retail) or ``"strict"`` (toolgym's checks; every other domain).

    Raises:
        DataError: a file is missing or malformed, or a split names unknown
            task ids (one line naming the file).
        ConfigError: an argument mode the domain does not have.

    Returns:
        The domain. The parsed snapshot is shared between calls with the same
        data (it is never mutated), so loading twice is cheap.
    """
    spec = get_spec(name)
    mode = spec.resolve_tool_args(tool_args)
    data_key = str(Path(data_dir).resolve()) if data_dir else "<builtin>"
    key = (name, data_key, mode)
    with _LOCK:
        domain = _CACHE.get(key)
        if domain is None:
            strict = _CACHE.get((name, data_key, "strict"))
            if strict is None:
                strict = _build(spec, Path(data_dir) if data_dir else None)
                _CACHE[(name, data_key, "strict")] = strict
            domain = strict if mode == "strict" else strict.with_toolkit(
                spec.toolkit_for(mode), mode)
            _CACHE[key] = domain
    if tasks_file is not None:
        tasks = spec.load_tasks(tasks_file)
        split_path = Path(tasks_file).with_name(SPLIT_FILE)
        splits = load_splits(split_path) if split_path.is_file() else None
        if splits is not None:
            check_splits(splits, tasks, str(split_path))
        domain = domain.with_tasks(tasks, source=str(tasks_file), splits=splits)
    return domain


def _build(spec: DomainSpec, data_dir: Path | None) -> Domain[Any]:
    if data_dir is None:
        if spec.builtin is None:
            raise DataError(f"domain {spec.name!r} has no built-in data; pass data_dir")
        raw_db, policy, tasks, splits = spec.builtin()
        check_splits(splits, tasks, f"<built-in {spec.name} split_tasks.json>")
        db = spec.db_type.from_dict(raw_db, source=f"<built-in {spec.name} db>")
        digest = (spec.fingerprint() if spec.fingerprint is not None
                  else _digest_files(_package_files(spec)))
        return Domain(spec.name, Snapshot(db), spec.toolkit_type, policy, tasks, splits,
                      "builtin", digest)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")
    db = spec.db_type.load(data_dir / "db.json")
    # The policy is the agent's instructions: running without it would
    # silently measure something else.
    policy_path = data_dir / "policy.md"
    policy = read_text(policy_path, "policy file")
    tasks_path = data_dir / "tasks.json"
    tasks = spec.load_tasks(tasks_path) if tasks_path.exists() else []
    split_path = data_dir / SPLIT_FILE
    splits = load_splits(split_path) if split_path.exists() else {}
    check_splits(splits, tasks, str(split_path))
    splits.setdefault("base", [t.id for t in tasks])
    digest = _digest_files([data_dir / "db.json", tasks_path, policy_path])
    return Domain(spec.name, Snapshot(db), spec.toolkit_type, policy, tasks, splits,
                  str(data_dir), digest)
