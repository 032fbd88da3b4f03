"""tau2 argument handling: what tau2's tools do with malformed arguments.

tau2 passes the agent's arguments to its tool methods without checking
them. A tool that needs records builds them itself, and only when every
element of the argument is an object (``[Model(**x) for x in value]``);
otherwise it carries on with the value as sent, which then fails later
(``'str' object has no attribute 'flight_number'``), or succeeds and is
stored as it is (a passenger list sent as ``{"v": [...]}``). Errors are
Python's and pydantic's own texts, and outputs are pydantic's Python-mode
dumps written with ``json.dumps``.

The ``tau2`` argument mode (``--tool-args tau2``) runs the airline and retail
tools through subclasses built on :class:`Tau2Arguments`, which reproduce
that behaviour (``docs/tau2-fidelity.md`` lists every case); the ``strict``
mode runs the plain toolkits. Both behave the same on well-formed calls.
"""

from __future__ import annotations

import json
import typing
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from toolgym.domains._error_texts import (
    call_error,
    no_attribute,
    not_iterable,
    validate,
)
from toolgym.domains._toolkit import _signature
from toolgym.errors import ToolError

__all__ = ["TOOL_ARGS_MODES", "Tau2Arguments", "as_records", "first_element_error",
           "python_output"]

#: Argument-handling modes: ``tau2`` reproduces tau2-bench on malformed calls,
#: ``strict`` checks arguments as toolgym always did.
TOOL_ARGS_MODES = ("tau2", "strict")

_M = TypeVar("_M", bound=BaseModel)
_R = TypeVar("_R", bound=BaseModel)


def _python(value: Any) -> Any:
    if isinstance(value, BaseModel):
        # Python mode: a count stored as given stays a bool (``true``), an
        # integer in a float field stays an integer (``0``), as in tau2.
        return value.model_dump(warnings=False)
    if isinstance(value, list | tuple):
        return [_python(v) for v in value]
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    return value


def python_output(value: Any) -> str:
    """A tool's return value as tau2 writes it: strings as they are, anything else
    the ``json.dumps`` of pydantic's Python-mode dump (default separators)."""
    if isinstance(value, str):
        return value
    return json.dumps(_python(value))


def as_records(model: type[_M], value: Any) -> list[_M] | None:
    """tau2's ``if all(isinstance(x, dict) for x in value): value = [Model(**x) ...]``.

    Iterating a string gives its characters and a dict its keys, so ``""``
    and ``{}`` become an empty list.

    Returns:
        The records, or None when some element is not an object (the caller
        goes on with the value as sent).

    Raises:
        ToolError: the value cannot be iterated, or an element does not
            validate (the first one that fails, with its validation report).
    """
    if not isinstance(value, str | list | dict):
        raise ToolError(not_iterable(value))
    if not all(isinstance(x, dict) for x in value):
        return None
    return [validate(model, typing.cast(dict[str, Any], x)) for x in value]


def first_element_error(value: Any, attribute: str) -> ToolError:
    """The error of tau2 reading ``attribute`` off the first element of an
    argument it left as sent (never empty: an empty one became a list)."""
    return ToolError(no_attribute(next(iter(value)), attribute))


class Tau2Arguments:
    """Mixin for a toolkit in the tau2 argument mode (put it first in the bases).

    The call boundary reports keyword errors in Python's words, naming the
    method as tau2's class does (:attr:`python_name`); outputs are written as
    tau2 writes them; records are built with tau2's validation reports.
    """

    #: The name of tau2's toolkit class, shown in keyword errors
    #: (``AirlineTools.get_user_details() missing 1 required ...``).
    python_name: ClassVar[str]

    def call_error(self, name: str, arguments: dict[str, Any], exc: TypeError) -> str:
        """Python's own message for keywords that do not fit the method."""
        text = call_error(f"{self.python_name}.{name}", _signature(getattr(type(self), name)),
                          arguments)
        return text if text is not None else str(exc)

    def output(self, value: Any) -> str:
        """The output as tau2 writes it (see :func:`python_output`)."""
        return python_output(value)

    def _record(self, type_: type[_R], data: dict[str, Any], what: str) -> _R:
        """``Model(**data)`` with tau2's validation report on failure."""
        return validate(type_, data)
