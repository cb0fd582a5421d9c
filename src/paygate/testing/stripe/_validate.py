"""Stripe's checks of a request against its published parameters (``_schema``), before the
simulator acts: the ``invalid_request_error`` Stripe answers with, naming the parameter in
bracket form (``payment_method_options[card][capture_method]``).

Codes are those of Stripe's error-code list (``parameter_unknown``, ``parameter_missing``,
``parameter_invalid_empty``, ``parameter_invalid_integer``); a value that is not one of an
enum, a string too long, a boolean, object or array of the wrong shape get no code, as from
Stripe: its list names none for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from paygate.testing._validation import (
    AnyOf,
    Arr,
    Bool,
    Int,
    Map,
    Obj,
    Path,
    Problem,
    Str,
    Violation,
    describe,
    violations,
)
from paygate.testing.stripe._errors import StripeError, invalid
from paygate.testing.stripe._schema import REQUESTS

_SHOWN: Final = 30  # characters of a refused value quoted in a message


def refusal(endpoint: str, params: Mapping[str, Any]) -> StripeError | None:
    """The error Stripe answers ``params`` with at ``endpoint`` (a ``REQUESTS`` key), if any:
    an unknown parameter first, then the first other problem in the request's order."""
    found = violations(REQUESTS[endpoint], params, form=True)
    if not found:
        return None
    unknown = [v for v in found if v.problem is Problem.UNKNOWN]
    return _error((unknown or found)[0])


def bracketed(path: Path) -> str:
    """``("payment_method_options", "card", "foo")`` → ``payment_method_options[card][foo]``."""
    head, *rest = path
    return f"{head}" + "".join(f"[{segment}]" for segment in rest)


def _error(violation: Violation) -> StripeError:
    param = bracketed(violation.path) if violation.path else ""
    node, value = violation.node, violation.value
    match violation.problem:
        case Problem.UNKNOWN:
            name = bracketed((*violation.path, violation.names[0]))
            return invalid(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        case Problem.MISSING:
            return invalid(
                f"Missing required param: {param}.", code="parameter_missing", param=param
            )
        case Problem.EMPTY:
            return invalid(
                f"You passed an empty string for '{param}'. We assume empty values are an "
                f"attempt to unset a parameter; however '{param}' cannot be unset. You should "
                f"remove '{param}' from your request or supply a non-empty value.",
                code="parameter_invalid_empty",
                param=param,
            )
        case Problem.ENUM:
            return invalid(f"Invalid {param}: must be {describe(node)}", param=param)
        case Problem.TOO_LONG | Problem.TOO_SHORT:
            assert isinstance(node, Str)
            bound = (
                f"at most {node.max_length}"
                if violation.problem is Problem.TOO_LONG
                else f"at least {node.min_length}"
            )
            return invalid(
                f"Invalid string: {_shown(value)}; must be {bound} characters", param=param
            )
        case Problem.TOO_SMALL | Problem.TOO_LARGE:
            assert isinstance(node, Int)
            bound = (
                f"greater than or equal to {node.minimum}"
                if violation.problem is Problem.TOO_SMALL
                else f"less than or equal to {node.maximum}"
            )
            return invalid(
                f"Invalid {param}: must be {bound}", code="parameter_invalid_integer", param=param
            )
    return _type_error(node, value, param)


def _type_error(node: Any, value: Any, param: str) -> StripeError:
    match node:
        case Int():
            return invalid(
                f"Invalid integer: {_shown(value)}", code="parameter_invalid_integer", param=param
            )
        case Bool():
            return invalid(f"Invalid boolean: {_shown(value)}", param=param)
        case Obj() | Map():
            return invalid(f"Invalid object: {param} takes key-value pairs", param=param)
        case Arr():
            return invalid(f"Invalid array: {param} takes a list of values", param=param)
        case Str():
            return invalid(f"Invalid string: {param} takes a single value", param=param)
        case AnyOf():
            return invalid(f"Invalid {param}: must be {describe(node)}", param=param)
    return invalid(f"Invalid {param}", param=param)  # pragma: no cover


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."
