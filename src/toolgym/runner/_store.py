"""The run directory: config.json, append-only results.jsonl, summary.json.

``results.jsonl`` is append-only: each finished rollout is one line, written
with a single ``write`` of the whole line and flushed to the kernel at once,
so a killed process (even SIGKILL) never loses a written rollout. ``fsync``
(which only matters if the machine itself goes down) runs in a background
thread at most every ``SYNC_INTERVAL_S`` seconds, because a synchronous
fsync per line costs milliseconds on the event loop. A hard kill can leave at most one torn
last line; readers ignore a final line without a newline, and writers
truncate it away before appending, so the file never holds a corrupt record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from toolgym.errors import ConfigError, DataError
from toolgym.runner._config import RunConfig
from toolgym.runner._results import RolloutResult

__all__ = [
    "ResultsWriter",
    "RunData",
    "load_run",
    "load_run_config",
    "read_config_record",
    "read_results",
]

RESULTS = "results.jsonl"
#: Seconds between background fsyncs of results.jsonl (a killed process loses
#: nothing either way; this bounds what a machine crash could lose).
SYNC_INTERVAL_S = 2.0
CONFIG = "config.json"
SUMMARY = "summary.json"


def read_results(path: str | Path) -> list[RolloutResult]:
    """Read a results.jsonl, skipping a torn final line (from a hard kill)."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc.strerror}") from None
    out: list[RolloutResult] = []
    seen: set[tuple[str, int]] = set()
    lines = data.split(b"\n")
    # The element after the last newline is either empty or a torn line.
    for lineno, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            result = RolloutResult.model_validate_json(line)
        except ValidationError as exc:
            raise DataError(f"{p}:{lineno}: not a valid rollout record: "
                            f"{exc.errors()[0]['msg']}") from None
        # toolgym never writes a (task, trial) twice; if a file was edited or
        # concatenated by hand, the first record counts.
        if result.key not in seen:
            seen.add(result.key)
            out.append(result)
    return out


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


class ResultsWriter:
    """Appends rollouts to results.jsonl durably, one line each."""

    def __init__(self, path: str | Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open for the run
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._closing = False
        self._syncer: threading.Thread | None = None
        try:
            try:
                # One writer per run directory: a second process would run
                # every pending rollout again.
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise ConfigError(f"{self.path} is being written by another toolgym process; "
                                  "wait for it or use another --out") from None
            self._repair()
            if fsync:
                self._syncer = threading.Thread(target=self._sync_loop, name="results-fsync",
                                                daemon=True)
                self._syncer.start()
        except BaseException:
            self._fh.close()  # releases the lock too
            raise

    def _sync_loop(self) -> None:
        fd = self._fh.fileno()
        while True:
            self._dirty.wait()
            self._dirty.clear()
            with contextlib.suppress(OSError):
                os.fsync(fd)
            if self._closing:
                return
            # At most one fsync per interval: a write to a file being fsynced
            # waits for the sync, which would stall the event loop.
            self._closed.wait(SYNC_INTERVAL_S)

    def _repair(self) -> None:
        """Drop a torn final line left by a hard kill."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                fh.truncate(cut)

    def append(self, result: RolloutResult) -> None:
        """Write one rollout as one line and make it durable."""
        try:
            text = result.model_dump_json()
        except ValueError:
            # A model can emit lone surrogates (invalid Unicode): keep the
            # rollout, with those characters replaced, rather than crash.
            text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
            text = text.encode("utf-8", "replace").decode("utf-8")
        line = text.encode("utf-8") + b"\n"
        self._fh.write(line)
        self._fh.flush()
        self._dirty.set()

    def close(self) -> None:
        """Sync and close the file (never raises for a file that cannot be synced)."""
        if self._fh.closed:
            return
        try:
            if self._syncer is not None:
                self._closing = True
                self._closed.set()
                self._dirty.set()
                self._syncer.join()
            with contextlib.suppress(OSError, ValueError):
                self._fh.flush()
                if self.fsync:
                    os.fsync(self._fh.fileno())  # the last lines, whatever the thread did
        finally:
            with contextlib.suppress(OSError):
                self._fh.close()


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)


@dataclass
class RunData:
    """A run directory loaded into memory."""

    path: Path
    config: dict[str, Any]
    results: list[RolloutResult]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run directory's name."""
        return self.path.name

    @property
    def domain(self) -> str:
        """Domain name from the config ('' if unknown)."""
        return str(self.config.get("domain", {}).get("name", ""))

    @property
    def agent_model(self) -> str:
        """The agent model string from the config ('' if unknown)."""
        return str(self.config.get("agent", {}).get("model", {}).get("model", ""))


def load_run(path: str | Path) -> RunData:
    """Load a run directory written by :func:`toolgym.run` (or ``toolgym run``)."""
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
        except json.JSONDecodeError:
            summary = {}
    return RunData(path=p, config=config, results=read_results(p / RESULTS), summary=summary)
