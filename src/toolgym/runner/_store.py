"""The run directory: config.json, append-only results.jsonl, summary.json.

``results.jsonl`` is append-only: each finished rollout is one line, written
with ``os.write`` on an unbuffered descriptor, so a killed process (even
SIGKILL) never loses a written rollout. ``fsync`` (which only matters if the
machine itself goes down) runs in a background thread at most every
``SYNC_INTERVAL_S`` seconds, because a synchronous fsync per line costs
milliseconds on the event loop.

What can go wrong, and what each side does about it:

* a hard kill mid-write leaves a torn last line: readers ignore a final line
  without a newline, writers cut it away before appending;
* a failed write (full disk, I/O error) is cut back to the last complete
  record at once and the writer stops, so no fragment ever has records after
  it; should a corrupt line be in the middle anyway (a hand edit), readers
  skip and report it instead of refusing the file;
* ``--retry-errors`` appends a new record for a (task, trial): the newest
  record wins and the pair is counted once.

``config.json``, ``summary.json`` and ``report.html`` are replaced atomically
(a unique temporary file, then a rename; the temporary file is removed if
writing fails).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from toolgym.errors import ConfigError, DataError, ToolgymError
from toolgym.runner._config import RunConfig
from toolgym.runner._results import RolloutResult

__all__ = [
    "RecordsFile",
    "ResultsFile",
    "ResultsWriteError",
    "ResultsWriter",
    "RunData",
    "load_run",
    "load_run_config",
    "read_config_record",
    "read_records",
    "read_results",
    "read_results_file",
    "write_json_atomic",
    "write_text_atomic",
]

RESULTS = "results.jsonl"
#: Seconds between background fsyncs of results.jsonl (a killed process loses
#: nothing either way; this bounds what a machine crash could lose).
SYNC_INTERVAL_S = 2.0
CONFIG = "config.json"
SUMMARY = "summary.json"


R = TypeVar("R", bound=BaseModel)


@dataclass
class RecordsFile(Generic[R]):
    """What :func:`read_records` found in a JSON-lines file of records."""

    records: list[R]
    #: One line per skipped line: ``"results.jsonl:66: ..."`` (corrupt records).
    problems: list[str] = field(default_factory=list)
    #: Records superseded by a newer record of the same key.
    replaced: int = 0


@dataclass
class ResultsFile:
    """What :func:`read_results_file` found in a results.jsonl."""

    results: list[RolloutResult]
    #: One line per skipped line: ``"results.jsonl:66: ..."`` (corrupt records).
    problems: list[str] = field(default_factory=list)
    #: Records superseded by a newer record of the same (task, trial).
    replaced: int = 0


def read_records(path: str | Path, record_type: type[R], what: str = "record"
                 ) -> RecordsFile[R]:
    """Read an append-only JSON-lines file of records leniently.

    A torn final line (a hard kill mid-write) is ignored silently; a corrupt
    line elsewhere (a disk that filled up, a hand edit) is skipped and
    reported in ``problems``, so one bad line never makes a file unreadable.
    When several records share a key (the record's ``key`` property, e.g.
    (task, trial)), the newest wins and counts once, at the position of its
    first record.
    """
    p = Path(path)
    if not p.exists():
        return RecordsFile([])
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror}") from None
    by_key: dict[Any, R] = {}
    problems: list[str] = []
    replaced = 0
    lines = data.split(b"\n")
    # The element after the last newline is either empty or a torn line.
    for lineno, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = record_type.model_validate_json(line)
        except ValidationError as exc:
            problems.append(f"{p}:{lineno}: skipped, not a valid {what} "
                            f"({exc.errors()[0]['msg']})")
            continue
        key = getattr(record, "key")  # noqa: B009 - every record type has a key property
        if key in by_key:
            replaced += 1
        by_key[key] = record  # insertion order stays that of the first record
    return RecordsFile(list(by_key.values()), problems, replaced)


def read_results_file(path: str | Path) -> ResultsFile:
    """Read a results.jsonl leniently (see :func:`read_records`).

    When a (task, trial) has several records (``--retry-errors`` appends a
    new one), the newest wins.
    """
    found = read_records(path, RolloutResult, "rollout record")
    return ResultsFile(found.records, found.problems, found.replaced)


def read_results(path: str | Path) -> list[RolloutResult]:
    """The rollouts of a results.jsonl: one per (task, trial), the newest record.

    Corrupt lines are skipped (see :func:`read_results_file` for the list).
    """
    return read_results_file(path).results


def _read_json_object(path: Path, missing: str) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: expected a JSON object")
    return record


def read_config_record(run_dir: str | Path) -> dict[str, Any]:
    """The run's config.json, checked: ``DataError`` if missing or malformed."""
    path = Path(run_dir) / CONFIG
    record = _read_json_object(path, f"{run_dir}: no {CONFIG}; not a toolgym run directory")
    if not isinstance(record.get("config"), dict):
        raise DataError(f"{path}: not a toolgym run config (no 'config' object)")
    imported = record.get("imported")
    if isinstance(imported, dict):
        # An imported run (toolgym import) has no config toolgym could run again.
        raise ConfigError(
            f"{run_dir} holds results imported from {imported.get('source', 'another tool')} "
            f"({imported.get('file_name') or imported.get('file', 'a results file')}); toolgym "
            "cannot resume or extend it (report, compare, judge, regrade and export read it)")
    return record


def load_run_config(run_dir: str | Path) -> RunConfig:
    """The :class:`RunConfig` saved in a run directory."""
    record = read_config_record(run_dir)
    try:
        return RunConfig.model_validate(record["config"])
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise DataError(f"{Path(run_dir) / CONFIG}: field config.{loc}: {err['msg']}") from None


class ResultsWriteError(ToolgymError):
    """results.jsonl could not be appended to (disk full, I/O error).

    The file was cut back to its last complete record, so it stays valid and
    the run can be resumed once the cause is fixed.
    """


class ResultsWriter:
    """Appends rollouts to results.jsonl durably, one line each.

    Each record goes out in ``os.write`` calls on an unbuffered descriptor.
    If a write fails (ENOSPC, EIO, a file-size limit), the file is truncated
    back to the end of the last complete record and the writer refuses any
    further append, so a failed write can never leave a fragment with later
    records after it.
    """

    def __init__(self, path: str | Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._closing = False
        self._syncer: threading.Thread | None = None
        self.failed: ResultsWriteError | None = None
        self.written = 0
        try:
            try:
                # One writer per run directory: a second process would run
                # every pending rollout again.
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise ConfigError(f"{self.path} is being written by another toolgym process; "
                                  "wait for it or use another --out") from None
            self._good = self._repair()
            if fsync:
                self._syncer = threading.Thread(target=self._sync_loop, name="results-fsync",
                                                daemon=True)
                self._syncer.start()
        except BaseException:
            os.close(self._fd)  # releases the lock too
            raise

    def _sync_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            if self._closing:
                return
            # At most one fsync per interval: a write to a file being fsynced
            # waits for the sync, which would stall the event loop.
            self._closed.wait(SYNC_INTERVAL_S)

    def _repair(self) -> int:
        """Drop a torn final line left by a hard kill; return the file's good length."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        with open(self.path, "rb") as fh:
            # Only the tail can be torn: look back from the end for a newline.
            step = 1 << 16
            pos = size
            while pos > 0:
                start = max(0, pos - step)
                fh.seek(start)
                chunk = fh.read(pos - start)
                if pos == size and chunk.endswith(b"\n"):
                    return size
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    cut = start + nl + 1
                    break
                pos = start
            else:
                cut = 0
        os.truncate(self.path, cut)
        return cut

    def append(self, result: BaseModel) -> None:
        """Write one record (a rollout, a score) as one line.

        Raises:
            ResultsWriteError: the write failed; the file was cut back to its
                last complete record and this writer accepts no more lines.
        """
        if self.failed is not None:
            raise self.failed
        try:
            text = result.model_dump_json()
        except ValueError:
            # A model can emit lone surrogates (invalid Unicode): keep the
            # rollout, with those characters replaced, rather than crash.
            text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
            text = text.encode("utf-8", "replace").decode("utf-8")
        line = memoryview(text.encode("utf-8") + b"\n")
        try:
            done = 0
            while done < len(line):
                done += os.write(self._fd, line[done:])
        except OSError as exc:
            self._fail(exc)
            assert self.failed is not None
            raise self.failed from None
        self._good += len(line)
        self.written += 1
        self._dirty.set()

    def _fail(self, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        try:
            os.ftruncate(self._fd, self._good)
            fixed = "cut back to its last complete record"
        except OSError as again:
            fixed = (f"could not be cut back ({again.strerror}); the next reader skips the "
                     "partial line")
        self.failed = ResultsWriteError(f"cannot write {self.path}: {reason}; the file was "
                                        f"{fixed}")

    def close(self) -> None:
        """Sync and close the file (never raises for a file that cannot be synced)."""
        if self._fd < 0:
            return
        try:
            if self._syncer is not None:
                self._closing = True
                self._closed.set()
                self._dirty.set()
                self._syncer.join()
            if self.fsync:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)  # the last lines, whatever the thread did
        finally:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text_atomic(path: str | Path, text: str, errors: str = "strict") -> None:
    """Write a text file via a unique temporary file and rename.

    Readers see the old file or the new one, never half of one; if writing
    fails (a full disk), the temporary file is removed and the old file is
    left as it was.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=errors) as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class RunData:
    """A run directory loaded into memory."""

    path: Path
    config: dict[str, Any]
    results: list[RolloutResult]
    summary: dict[str, Any] = field(default_factory=dict)
    #: Lines of results.jsonl (or scores/) that were skipped as corrupt (one message each).
    problems: list[str] = field(default_factory=list)
    #: Scorings of the run by name (``scores/<name>.jsonl``): lists of judges' Scores.
    scorings: dict[str, list[Any]] = field(default_factory=dict)
    #: A name to show instead of the directory's (e.g. "seed" / "best" of an optimization).
    display_name: str | None = None

    def __repr__(self) -> str:
        # Short: the default repr would render every message of every rollout, and
        # asyncio renders it when a finished run's task is shown (0.26 s after a
        # 150-rollout tau2 run, at every asyncio.run exit).
        return (f"RunData(path={str(self.path)!r}, domain={self.domain!r}, "
                f"rollouts={len(self.results)}, status={self.summary.get('status')!r})")

    @property
    def name(self) -> str:
        """The run's display name (by default the directory's name)."""
        return self.display_name or self.path.name

    @property
    def domain(self) -> str:
        """Domain name from the config ('' if unknown)."""
        return str(self.config.get("domain", {}).get("name", ""))

    @property
    def agent_model(self) -> str:
        """The agent model string from the config ('' if unknown)."""
        return str(self.config.get("agent", {}).get("model", {}).get("model", ""))


def load_run(path: str | Path) -> RunData:
    """Load a run directory written by :func:`toolgym.run` (or ``toolgym run``).

    Scorings in ``scores/`` are loaded too (``RunData.scorings``); the
    ``nl`` scoring (``toolgym judge RUN --judge nl``) fills in the reward of
    rollouts that were waiting for a judge, in memory (results.jsonl is never
    rewritten).
    """
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"{p}: run directory not found")
    # Reading is lenient (reports can show runs written by other tools);
    # resuming checks the config strictly (load_run_config).
    config = _read_json_object(p / CONFIG, "") if (p / CONFIG).exists() else {}
    summary: dict[str, Any] = {}
    sum_path = p / SUMMARY
    if sum_path.exists():
        try:
            summary = json.loads(sum_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            summary = {}
    found = read_results_file(p / RESULTS)
    scorings, problems = _read_scorings(p)
    results = found.results
    if "nl" in scorings:
        results = _apply_nl(results, scorings["nl"])
    run = RunData(path=p, config=config, results=results, summary=summary,
                  problems=found.problems + problems, scorings=scorings)
    for report in PROBLEM_REPORTERS:
        for problem in run.problems:
            report(problem)
    return run


#: Called with each problem :func:`load_run` finds (a corrupt line it skipped), so that
#: every command that reads a run says so: the CLI prints each once, as a warning.
PROBLEM_REPORTERS: list[Callable[[str], None]] = []


def _read_scorings(run_dir: Path) -> tuple[dict[str, list[Any]], list[str]]:
    folder = run_dir / "scores"
    if not folder.is_dir():
        return {}, []
    from toolgym.judges._base import Score

    scorings: dict[str, list[Any]] = {}
    problems: list[str] = []
    for f in sorted(folder.glob("*.jsonl")):
        got = read_records(f, Score, "score")
        scorings[f.stem] = got.records
        problems.extend(got.problems)
    return scorings, problems


def _apply_nl(results: list[RolloutResult], scores: list[Any]) -> list[RolloutResult]:
    """Rollouts that waited for a judge, with the nl scoring's verdicts filled in."""
    from toolgym.evaluation._types import RewardBreakdown

    by_key = {s.key: s for s in scores if s.success is not None and "breakdown" in s.details}
    out: list[RolloutResult] = []
    for r in results:
        score = by_key.get(r.key)
        if score is None or r.breakdown.status not in ("judge_needed", "judge_failed"):
            out.append(r)
            continue
        breakdown = RewardBreakdown.model_validate(score.details["breakdown"])
        usage = dict(r.usage)
        usage["judge"] = usage["judge"] + score.usage if "judge" in usage else score.usage
        out.append(r.model_copy(update={"reward": breakdown.reward, "breakdown": breakdown,
                                        "usage": usage}))
    return out
