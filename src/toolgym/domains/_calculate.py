"""A safe arithmetic evaluator shared by the airline and retail ``calculate`` tools.

tau2's ``calculate`` tool restricts the expression to the characters
``0-9 + - * / ( ) .`` and space, evaluates it as Python arithmetic, rounds the
result to 2 decimals and returns ``str(float)``. We reproduce those results
without ever calling ``eval``: the expression is parsed with :mod:`ast` (which
compiles nothing) and the tree is walked, allowing only number literals,
binary ``+ - * /`` (plus ``//`` and ``**``, which the allowed characters can
also spell and which Python arithmetic therefore accepts), unary ``+``/``-``
and parentheses.

Values keep Python's own types while evaluating (ints stay exact ints, ``/``
is true division), so the result is the same float Python would compute.

Tools run on the event loop, so an expression must never take long: before
anything is parsed, its length and operator count are capped; before
anything is evaluated, the syntax tree's size and depth are; while
evaluating, no integer may grow past :data:`MAX_INT_BITS` (Python's own
arithmetic, as in tau2, spends over a minute multiplying 300 factors
``3**31000``; no float result is that large anyway). Each limit is a
:class:`ToolError` the agent sees.
"""

from __future__ import annotations

import ast
import operator
import typing
from collections.abc import Callable
from types import EllipsisType
from typing import Any

from toolgym.domains._error_texts import not_iterable, type_name
from toolgym.errors import ToolError

__all__ = ["ALLOWED_CHARACTERS", "MAX_DEPTH", "MAX_EXPRESSION_LENGTH", "MAX_INT_BITS",
           "MAX_NODES", "MAX_OPERATORS", "calculate", "calculate_tau2"]

#: The characters an expression may contain, as tau2 writes them.
_ALLOWED = "0123456789+-*/(). "
#: Characters an expression may contain; anything else is refused up front.
ALLOWED_CHARACTERS = frozenset(_ALLOWED)
#: Longer input is refused before parsing (an agent has no use for it).
MAX_EXPRESSION_LENGTH = 10_000
#: More operator characters than this are refused before parsing.
MAX_OPERATORS = 1_000
#: Syntax trees larger than this are refused before evaluation.
MAX_NODES = 2 * MAX_OPERATORS + 1
#: Syntax trees nested deeper than this are refused before evaluation (a
#: sum of 300 numbers is 300 levels deep).
MAX_DEPTH = 300
#: No integer, intermediate or final, may have more bits; a float result
#: needs fewer than 1,100.
MAX_INT_BITS = 10_000

Number = int | float
#: What the allowed characters can spell besides numbers: ``()`` and ``...``.
Value = int | float | tuple[()] | EllipsisType

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}


def calculate(expression: str, *, python_texts: bool = False) -> str:
    """Evaluate an arithmetic expression and return the rounded result as text.

    Args:
        expression: Arithmetic over number literals with ``+ - * /`` and
            parentheses, e.g. ``"(2 + 3) * 4.5"``.

    Returns:
        ``str(round(float(result), 2))``, e.g. ``"4.0"`` or ``"0.67"``.

    Raises:
        ToolError: ``Invalid characters in expression`` for any character
            outside the allowed set, ``division by zero``, the parser's
            message for malformed input, or ``expression too long`` /
            ``too complex`` / ``too deeply nested`` / ``result too large``
            past the limits in the module docstring. With ``python_texts``
            (the tau2 argument mode) division errors are worded as Python
            words them (``float division by zero``) and ``()`` or ``...``
            fail as they do in Python's ``float()``; otherwise every division
            error is ``division by zero`` and those are ``unsupported
            expression``.
    """
    if not isinstance(expression, str) or not set(expression) <= ALLOWED_CHARACTERS:
        raise ToolError("Invalid characters in expression")
    # Python's eval() skips leading blanks of a string source; ast.parse does
    # not, so strip them to accept the same inputs.
    source = expression.lstrip(" ")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ToolError(f"expression too long (at most {MAX_EXPRESSION_LENGTH} characters)")
    operators = sum(source.count(c) for c in "+-*/")
    if operators > MAX_OPERATORS:
        raise ToolError(f"expression too complex (at most {MAX_OPERATORS} operators)")
    try:
        tree = ast.parse(source, filename="<string>", mode="eval")
        _check_size(tree.body)
        value = _eval(tree.body, python_texts)
        if not isinstance(value, int | float):
            raise ToolError("float() argument must be a string or a real number, not "
                            f"'{type_name(value)}'")
        return str(round(float(value), 2))
    except SyntaxError as exc:
        raise ToolError(str(exc)) from None
    except ZeroDivisionError as exc:
        raise ToolError(str(exc) if python_texts else "division by zero") from None
    except OverflowError as exc:
        raise ToolError(str(exc)) from None
    except (RecursionError, MemoryError):
        # Deeply nested input (e.g. thousands of unary minus signs) must not
        # take the episode down.
        raise ToolError("expression too deeply nested") from None


def _check_size(root: ast.expr) -> None:
    """Refuse trees with too many nodes or too deep, without recursing."""
    stack = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ToolError(f"expression too complex (at most {MAX_NODES} terms)")
        if depth > MAX_DEPTH:
            raise ToolError(f"expression too deeply nested (at most {MAX_DEPTH} levels)")
        if isinstance(node, ast.BinOp):
            stack.append((node.left, depth + 1))
            stack.append((node.right, depth + 1))
        elif isinstance(node, ast.UnaryOp):
            stack.append((node.operand, depth + 1))


def _too_large(*values: Number) -> bool:
    return any(isinstance(v, int) and v.bit_length() > MAX_INT_BITS for v in values)


def calculate_tau2(expression: Any) -> str:
    """:func:`calculate` with tau2's handling of an expression that is not a string.

    tau2 iterates the expression to check its characters and then hands it
    to ``eval``: a list (or an object's keys) whose elements are allowed
    substrings gets as far as ``eval``; anything else that cannot be
    iterated fails right away. The messages are Python's.
    """
    if isinstance(expression, str):
        return calculate(expression, python_texts=True)
    if not isinstance(expression, list | dict):
        raise ToolError(not_iterable(expression))
    for element in expression:
        if not isinstance(element, str):
            raise ToolError("'in <string>' requires string as left operand, not "
                            f"{type_name(element)}")
        if element not in _ALLOWED:
            raise ToolError("Invalid characters in expression")
    raise ToolError("eval() arg 1 must be a string, bytes or code object")


def _zero_division(op: ast.operator, left: Number, right: Number) -> str | None:
    """Python's ZeroDivisionError text for ``left op right``, if it raises one."""
    floats = isinstance(left, float) or isinstance(right, float)
    if isinstance(op, ast.Div) and right == 0:
        return "float division by zero" if floats else "division by zero"
    if isinstance(op, ast.FloorDiv) and right == 0:
        return "float floor division by zero" if floats else "integer division or modulo by zero"
    if isinstance(op, ast.Pow) and left == 0 and right < 0:
        return "0.0 cannot be raised to a negative power"
    return None


def _python_op(node: ast.BinOp | ast.UnaryOp, *values: Value) -> Value:
    """An operation on ``()`` or ``...``: Python's result or its TypeError text."""
    args: list[Any] = list(values)
    try:
        if isinstance(node, ast.UnaryOp):
            fn1: Callable[[Any], Any] = (operator.neg if isinstance(node.op, ast.USub)
                                         else operator.pos)
            return typing.cast(Value, fn1(*args))
        fn2: Callable[[Any, Any], Any] = (operator.pow if isinstance(node.op, ast.Pow)
                                          else _BINARY[type(node.op)])
        return typing.cast(Value, fn2(*args))
    except (TypeError, OverflowError) as exc:
        raise ToolError(str(exc)) from None


def _eval(node: ast.expr, python_texts: bool) -> Value:
    if isinstance(node, ast.Constant):
        # Only ints, floats and ... can be spelled with the allowed characters,
        # but check anyway so a bool/str/complex can never slip through.
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if _too_large(value):
                raise ToolError("number too large")
            return value
        if value is Ellipsis and python_texts:
            return Ellipsis
        raise ToolError("unsupported expression")
    if isinstance(node, ast.Tuple) and not node.elts and python_texts:
        return ()  # "()"; without commas a tuple is always empty
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ToolError("unsupported expression")
        operand = _eval(node.operand, python_texts)
        if not isinstance(operand, int | float):
            return _python_op(node, operand)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, python_texts), _eval(node.right, python_texts)
        if type(node.op) not in _BINARY and not isinstance(node.op, ast.Pow):
            raise ToolError("unsupported expression")
        if not (isinstance(left, int | float) and isinstance(right, int | float)):
            return _python_op(node, left, right)
        zero = _zero_division(node.op, left, right)
        if zero is not None:
            raise ToolError(zero if python_texts else "division by zero")
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        fn = _BINARY[type(node.op)]
        if (isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1):
            raise ToolError("result too large")  # checked before the multiplication
        result = fn(left, right)
        if _too_large(result):
            raise ToolError("result too large")
        return result
    # e.g. "()" parses to an empty tuple (outside python_texts).
    raise ToolError("unsupported expression")


def _pow(base: Number, exponent: Number) -> Number:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and (base.bit_length() - 1) * exponent > MAX_INT_BITS
    ):
        raise ToolError("result too large")
    result = base**exponent
    if _too_large(result):
        raise ToolError("result too large")
    if isinstance(result, complex):
        # A negative base to a fractional power; float() of it fails in Python.
        raise ToolError("float() argument must be a string or a real number, not 'complex'")
    return result
