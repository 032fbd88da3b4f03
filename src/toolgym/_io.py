"""Reading input files: one clear :class:`DataError` line per problem.

Every file toolgym reads on a user's behalf (task files, splits, databases,
policies, scripts, endpoint files, ``.env``, system prompts, few-shot
examples) goes through these helpers, so that a missing, unreadable,
non-UTF-8, malformed or absurdly nested file gives one line naming the file
instead of a traceback. ``what`` names the kind of file in the message
("task file", "policy file"...).

Nesting is capped at :data:`MAX_DEPTH` levels right after parsing: deeper
data would later overflow Python's recursion limit or pydantic's
serializer (about 255 levels) somewhere far from the file that caused it.
toolgym's and tau2's own files nest at most 8 levels.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import yaml

from toolgym.errors import DataError

__all__ = [
    "MAX_DEPTH",
    "check_depth",
    "decode_text",
    "load_json",
    "load_toml",
    "load_yaml",
    "loads_json",
    "parse_json",
    "parse_yaml",
    "read_bytes",
    "read_text",
]

#: Containers (objects, arrays) nested deeper than this are refused.
MAX_DEPTH = 100

_BOM = "\ufeff"


class _Readable(Protocol):
    """A path-like object that can read its bytes (``Path``, package resources)."""

    def read_bytes(self) -> bytes:
        """The file's content."""
        ...


PathLike = str | os.PathLike[str] | _Readable


def _as_readable(path: PathLike) -> _Readable:
    if isinstance(path, str | os.PathLike):
        return Path(path)
    return path


def read_bytes(path: PathLike, what: str = "file") -> bytes:
    """The bytes of a file.

    Raises:
        DataError: the file is missing, a directory, or unreadable.
    """
    try:
        return _as_readable(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: {what} is a directory, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def decode_text(data: bytes, source: str, what: str = "file") -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped).

    Raises:
        DataError: naming the first invalid byte and its offset.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        raise DataError(f"{source}: {what} is not UTF-8 text (byte 0x{byte:02x} at offset "
                        f"{exc.start}: {exc.reason})") from None
    return text[1:] if text.startswith(_BOM) else text


def read_text(path: PathLike, what: str = "file") -> str:
    """The text of a UTF-8 file (see :func:`read_bytes` and :func:`decode_text`)."""
    return decode_text(read_bytes(path, what), str(path), what)


def _too_deep(source: str, max_depth: int) -> DataError:
    return DataError(f"{source}: nested too deeply (more than {max_depth} levels)")


def _shape_problem(value: Any, max_depth: int, max_nodes: int | None) -> str | None:
    """"depth" or "size" when ``value`` exceeds a limit, else None (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > max_depth:
            return "depth"
        seen += len(item)
        if max_nodes is not None and seen > max_nodes:
            return "size"
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list | tuple))
    return None


def check_depth(value: Any, source: str, *, max_depth: int = MAX_DEPTH,
                max_nodes: int | None = None) -> None:
    """Refuse data nested deeper than ``max_depth`` containers.

    Iterative, so any depth is safe to check. ``max_nodes`` caps the number
    of values visited: a YAML alias can make a small file expand into a huge
    (or, through a cycle, endless) structure.

    Raises:
        DataError: ``"<source>: nested too deeply ..."`` or ``"... too large ..."``.
    """
    problem = _shape_problem(value, max_depth, max_nodes)
    if problem == "depth":
        raise _too_deep(source, max_depth)
    if problem == "size":
        raise DataError(f"{source}: too large once YAML aliases are expanded "
                        f"(more than {max_nodes} values)")


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` for untrusted text such as model output.

    Nesting deeper than :data:`MAX_DEPTH` (which would otherwise raise
    ``RecursionError``, or fail much later when the data is saved) raises
    :class:`json.JSONDecodeError` like any other malformed JSON, so callers
    keep one ``except``.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
    else:
        if _shape_problem(value, MAX_DEPTH, None) is None:
            return value
    doc = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    raise json.JSONDecodeError(f"nested too deeply (more than {MAX_DEPTH} levels)", doc, 0)


def parse_json(text: str | bytes, source: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text.

    Raises:
        DataError: invalid JSON (with line and column), too deeply nested, or
            an integer too long for Python to read.
    """
    if isinstance(text, bytes):
        text = decode_text(text, source)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}") from None
    except RecursionError:
        raise _too_deep(source, max_depth) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DataError(f"{source}: invalid JSON: {exc}") from None
    check_depth(value, source, max_depth=max_depth)
    return value


def load_json(path: PathLike, what: str = "JSON file") -> Any:
    """Read and parse a JSON file (every problem is one :class:`DataError` line)."""
    return parse_json(read_text(path, what), str(path))


def _yaml_error(exc: yaml.YAMLError, source: str) -> DataError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        problem = exc.problem or "syntax error"
        context = ""
        if exc.context and exc.context_mark is not None:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        return DataError(f"{source}: invalid YAML at {where}: {problem}{context}")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{source}: invalid YAML: {first}")


#: libyaml's safe loader when PyYAML was built with it: the pure-Python
#: scanner takes quadratic time in the nesting depth (2 s for 1,200 nested
#: brackets), libyaml refuses more than 1,000 levels at once.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, source: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse YAML text with a safe loader (no Python objects are ever built).

    Raises:
        DataError: one line with the line and column of the problem; also for
            too deep nesting and aliases that expand into huge structures.
    """
    try:
        value = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        if isinstance(exc, yaml.MarkedYAMLError) and "nesting depth" in (exc.problem or ""):
            raise _too_deep(source, max_depth) from None
        raise _yaml_error(exc, source) from None
    except RecursionError:
        raise _too_deep(source, max_depth) from None
    except (ValueError, TypeError) as exc:  # e.g. a date such as 2024-13-45
        raise DataError(f"{source}: invalid YAML value: {exc}") from None
    # A file without aliases holds fewer values than characters; the margin
    # leaves room for anchors reused a few times.
    check_depth(value, source, max_depth=max_depth, max_nodes=100_000 + 10 * len(text))
    return value


def load_yaml(path: PathLike, what: str = "YAML file") -> Any:
    """Read and parse a YAML file (every problem is one :class:`DataError` line)."""
    return parse_yaml(read_text(path, what), str(path))


def load_toml(path: PathLike, what: str = "TOML file") -> dict[str, Any]:
    """Read and parse a TOML file (every problem is one :class:`DataError` line)."""
    source = str(path)
    text = read_text(path, what)
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{source}: invalid TOML: {exc}") from None
    except RecursionError:
        raise _too_deep(source, MAX_DEPTH) from None
    check_depth(value, source)
    return value
