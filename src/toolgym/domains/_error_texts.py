"""The error texts a tau2 agent reads, produced by our own code.

tau2 runs a tool by calling a Python method with the agent's arguments and
shows whatever the call raises: Python's own messages (a keyword the method
does not take, a list used as a dictionary key, ``None`` iterated) and
pydantic's multi-line validation reports. In ``tau2`` argument mode toolgym
shows the agent the same strings (SEMANTICS §1.2; ``docs/tau2-fidelity.md``).

None of these strings is read back from the running interpreter or the
installed pydantic: interpreters and pydantic releases reword them (Python
3.14 reworded unhashable-key errors; every pydantic minor release changes
the documentation URL in its reports). Each text is built here from the
values involved:

* Python texts (:func:`call_error`, :func:`unhashable`, :func:`not_iterable`,
  ...) follow CPython 3.10-3.13, the versions tau2 runs on.
* Validation reports (:func:`validation_report`) are rebuilt from the error
  list (``ValidationError.errors()``: type, location, input, context) with our
  own message table, pydantic's input-value truncation and the documentation
  URL of pydantic :data:`PYDANTIC_DOCS_VERSION`, the release tau2 v1.0.x was
  measured with. Only the *validation itself* (which inputs fail, and how) is
  pydantic's, as in tau2.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from toolgym.errors import ToolError

__all__ = [
    "PYDANTIC_DOCS_VERSION",
    "bad_operands",
    "call_error",
    "contains",
    "key_error",
    "no_attribute",
    "no_len",
    "not_iterable",
    "type_name",
    "unhashable",
    "validate",
    "validation_report",
]

#: The pydantic minor version named in the documentation URLs of tau2's
#: validation reports (``https://errors.pydantic.dev/2.14/v/<type>``).
PYDANTIC_DOCS_VERSION = "2.14"

_M = TypeVar("_M", bound=BaseModel)


# ----------------------------------------------------------------- Python texts
def type_name(value: Any) -> str:
    """The type name Python puts in its messages (``NoneType``, ``list``...)."""
    return type(value).__name__


def unhashable(value: Any) -> str:
    """``unhashable type: 'list'``: a dict or set lookup with an unhashable key."""
    return f"unhashable type: '{type_name(value)}'"


def not_iterable(value: Any) -> str:
    """``'int' object is not iterable``."""
    return f"'{type_name(value)}' object is not iterable"


def no_attribute(value: Any, name: str) -> str:
    """``'dict' object has no attribute 'flight_number'``."""
    return f"'{type_name(value)}' object has no attribute '{name}'"


def no_len(value: Any) -> str:
    """``object of type 'float' has no len()``."""
    return f"object of type '{type_name(value)}' has no len()"


def bad_operands(op: str, left: Any, right: Any) -> str:
    """``unsupported operand type(s) for -: 'str' and 'float'``."""
    return f"unsupported operand type(s) for {op}: '{type_name(left)}' and '{type_name(right)}'"


def key_error(key: Any) -> str:
    """What ``str(KeyError(key))`` shows: the key's repr."""
    return repr(key)


def contains(table: Mapping[Any, Any] | Collection[Any], key: Any) -> bool:
    """``key in table`` (a dict or a set), with Python's message as a ToolError for an
    unhashable key."""
    try:
        return key in table
    except TypeError:
        raise ToolError(unhashable(key)) from None


def _quoted_list(names: Sequence[str]) -> str:
    # CPython's wording: 'a' / 'a' and 'b' / 'a', 'b', and 'c'.
    quoted = [f"'{n}'" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-2]) + f", {quoted[-2]}, and {quoted[-1]}"


def call_error(qualname: str, signature: inspect.Signature, arguments: Mapping[str, Any]
               ) -> str | None:
    """Python's TypeError text for calling a bound method with ``**arguments``.

    ``signature`` is the unbound function's (``self`` first); ``qualname`` is
    what Python prints before ``()``, e.g. ``AirlineTools.get_user_details``.
    CPython checks the keywords in the order given (the first unknown one, or
    ``self``, is reported), then the missing parameters, all named at once.

    Returns:
        The message, or None when the call binds.
    """
    params = list(signature.parameters.values())
    bound = params[0].name if params else None
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    names = {p.name for p in params[1:]
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           inspect.Parameter.KEYWORD_ONLY)}
    for key in arguments:
        if key == bound:
            return f"{qualname}() got multiple values for argument '{key}'"
        if key not in names and not accepts_any:
            return f"{qualname}() got an unexpected keyword argument '{key}'"
    missing = [p.name for p in params[1:]
               if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
               and p.default is inspect.Parameter.empty and p.name not in arguments]
    if missing:
        plural = "" if len(missing) == 1 else "s"
        return (f"{qualname}() missing {len(missing)} required positional argument{plural}: "
                f"{_quoted_list(missing)}")
    missing_kw = [p.name for p in params[1:]
                  if p.kind is inspect.Parameter.KEYWORD_ONLY
                  and p.default is inspect.Parameter.empty and p.name not in arguments]
    if missing_kw:
        plural = "" if len(missing_kw) == 1 else "s"
        return (f"{qualname}() missing {len(missing_kw)} required keyword-only "
                f"argument{plural}: {_quoted_list(missing_kw)}")
    return None


# ------------------------------------------------------------ validation reports
#: Message templates by pydantic error type (the wording of pydantic 2.x up to
#: PYDANTIC_DOCS_VERSION); ``{name}`` fields come from the error's context.
_MESSAGES: dict[str, str] = {
    "missing": "Field required",
    "extra_forbidden": "Extra inputs are not permitted",
    "string_type": "Input should be a valid string",
    "string_unicode": "Input should be a valid string, unable to parse raw data as a unicode "
                      "string",
    "int_type": "Input should be a valid integer",
    "int_parsing": "Input should be a valid integer, unable to parse string as an integer",
    "int_parsing_size": "Unable to parse input string as an integer, exceeded maximum size",
    "int_from_float": "Input should be a valid integer, got a number with a fractional part",
    "float_type": "Input should be a valid number",
    "float_parsing": "Input should be a valid number, unable to parse string as a number",
    "finite_number": "Input should be a finite number",
    "bool_type": "Input should be a valid boolean",
    "bool_parsing": "Input should be a valid boolean, unable to interpret input",
    "list_type": "Input should be a valid list",
    "tuple_type": "Input should be a valid tuple",
    "set_type": "Input should be a valid set",
    "dict_type": "Input should be a valid dictionary",
    "model_type": "Input should be a valid dictionary or instance of {class_name}",
    "model_attributes_type": "Input should be a valid dictionary or object to extract fields "
                             "from",
    "literal_error": "Input should be {expected}",
    "none_required": "Input should be None",
}


def _expected_literal(values: Sequence[Any]) -> str:
    """``'a', 'b' or 'c'``: how a report lists the values a literal allows."""
    shown = [repr(v) for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" or {shown[-1]}"


def _literal_values(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[Any] | None:
    """The values of the Literal at ``loc`` in ``model``, if it is one."""
    ann: Any = model
    for part in loc:
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
            field = ann.model_fields.get(part)
            if field is None:
                return None
            ann = field.annotation
        elif isinstance(part, int) and typing.get_origin(ann) is list:
            ann = typing.get_args(ann)[0]
        else:
            return None
        while typing.get_origin(ann) is typing.Annotated:
            ann = typing.get_args(ann)[0]
    values: list[Any] = []
    union = typing.get_origin(ann) in (typing.Union, types.UnionType)
    for option in typing.get_args(ann) if union else [ann]:
        if typing.get_origin(option) is typing.Literal:
            values.extend(typing.get_args(option))
    return values or None


def _message(error: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    kind = error["type"]
    ctx = dict(error.get("ctx") or {})
    if kind == "literal_error":
        values = _literal_values(model, error["loc"])
        if values is not None:
            ctx["expected"] = _expected_literal(values)
    template = _MESSAGES.get(kind)
    if template is None:
        # An error type tau2's tools cannot meet with JSON arguments: the
        # library's own wording is all there is.
        return str(error["msg"])
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return str(error["msg"])


def _input_value(value: Any) -> str:
    """The input as a report shows it: its repr, cut to 25 + 24 bytes around ``...``.

    pydantic measures in UTF-8 bytes and cuts on character boundaries (the
    head rounds down, the tail starts at the next boundary).
    """
    try:
        text = repr(value)
    except Exception:
        text = str(value)
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= 50:
        return text
    head = 25
    while head > 0 and (raw[head] & 0xC0) == 0x80:
        head -= 1
    tail = len(raw) - 24
    while tail < len(raw) and (raw[tail] & 0xC0) == 0x80:
        tail += 1
    return (raw[:head].decode("utf-8", "surrogatepass") + "..."
            + raw[tail:].decode("utf-8", "surrogatepass"))


def validation_report(title: str, errors: Sequence[Mapping[str, Any]],
                      model: type[BaseModel] | None = None) -> str:
    """The text of a pydantic ``ValidationError`` for ``errors``, as tau2 shows it.

    Args:
        title: What failed to validate (the model's class name in tau2).
        errors: ``ValidationError.errors()`` entries (type, loc, input, ctx).
        model: The model validated, to list a literal's allowed values.
    """
    count = len(errors)
    lines = [f"{count} validation error{'' if count == 1 else 's'} for {title}"]
    url = f"https://errors.pydantic.dev/{PYDANTIC_DOCS_VERSION}/v/"
    for error in errors:
        loc = error.get("loc") or ()
        if loc:
            lines.append(".".join(str(part) for part in loc))
        value = error.get("input")
        lines.append(f"  {_message(error, model)} [type={error['type']}, "
                     f"input_value={_input_value(value)}, input_type={type_name(value)}]")
        lines.append(f"    For further information visit {url}{error['type']}")
    return "\n".join(lines)


def validate(model: type[_M], data: Mapping[str, Any], title: str | None = None) -> _M:
    """Build ``model`` from keyword data as tau2 does (``Model(**data)``).

    Raises:
        ToolError: the validation report, worded as :func:`validation_report`.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ToolError(validation_report(title or model.__name__,
                                          exc.errors(include_url=False), model)) from None
