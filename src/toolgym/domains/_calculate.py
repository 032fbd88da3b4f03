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
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable

from toolgym.errors import ToolError

__all__ = ["ALLOWED_CHARACTERS", "calculate"]

#: Characters an expression may contain; anything else is refused up front.
ALLOWED_CHARACTERS = frozenset("0123456789+-*/(). ")

# An exponent this large on an int could take unbounded time and memory;
# tau2 would simply hang, we refuse instead.
_MAX_POW_BITS = 100_000

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
}


#: Longer input is refused before parsing (an agent has no use for it).
MAX_EXPRESSION_LENGTH = 10_000


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression and return the rounded result as text.

    Args:
        expression: Arithmetic over number literals with ``+ - * /`` and
            parentheses, e.g. ``"(2 + 3) * 4.5"``.

    Returns:
        ``str(round(float(result), 2))``, e.g. ``"4.0"`` or ``"0.67"``.

    Raises:
        ToolError: ``Invalid characters in expression`` for any character
            outside the allowed set, ``division by zero``, or the parser's
            message for malformed input.
    """
    if not isinstance(expression, str) or not set(expression) <= ALLOWED_CHARACTERS:
        raise ToolError("Invalid characters in expression")
    # Python's eval() skips leading blanks of a string source; ast.parse does
    # not, so strip them to accept the same inputs.
    source = expression.lstrip(" ")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ToolError(f"expression too long (at most {MAX_EXPRESSION_LENGTH} characters)")
    try:
        tree = ast.parse(source, filename="<string>", mode="eval")
        value = _eval(tree.body)
        return str(round(float(value), 2))
    except SyntaxError as exc:
        raise ToolError(str(exc)) from None
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError as exc:
        raise ToolError(str(exc)) from None
    except (RecursionError, MemoryError):
        # Deeply nested input (e.g. thousands of unary minus signs) must not
        # take the episode down.
        raise ToolError("expression too deeply nested") from None


def _eval(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        # Only ints and floats can be spelled with the allowed characters, but
        # check anyway so a bool/str/complex can never slip through.
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise ToolError("unsupported expression")
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        raise ToolError("unsupported expression")
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _pow(left, right)
        fn = _BINARY.get(type(node.op))
        if fn is None:
            raise ToolError("unsupported expression")
        return fn(left, right)
    # e.g. "()" parses to an empty tuple; Python's float() would reject it.
    raise ToolError("unsupported expression")


def _pow(base: Number, exponent: Number) -> Number:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and base.bit_length() * exponent > _MAX_POW_BITS
    ):
        raise ToolError("result too large")
    result = base**exponent
    if isinstance(result, complex):
        # A negative base to a fractional power; float() of it fails in Python.
        raise ToolError("float() argument must be a string or a real number, not 'complex'")
    return result
