"""Adyen's checks of a Checkout request body against its published schema (``_schema``),
before the simulator acts, answered as Adyen answers them.

What Adyen cannot read into its request model is a 400 ``702``: an unknown field ("Structure of
PaymentRequest contains the following unknown fields: [...]", naming the schema, as in Adyen's
answers), a value of the wrong JSON type or outside an enum. What it reads but refuses is a
422: ``100`` for a missing required field, and, for a length outside the spec's
minLength/maxLength or a number outside its bounds, ``702`` again (Adyen's published list names
no code of its own for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from paygate.testing._validation import Map, Obj, OneOf, Path, Problem, Violation, violations
from paygate.testing.adyen._errors import AdyenError, required, unexpected
from paygate.testing.adyen._schema import REQUESTS

_UNREADABLE: Final = frozenset({Problem.UNKNOWN, Problem.TYPE, Problem.ENUM})
_SHOWN: Final = 30  # characters of a refused value quoted in a message


def refusal(version: str, endpoint: str, body: Mapping[str, Any]) -> AdyenError | None:
    """The error Adyen answers ``body`` with at ``endpoint`` (a path of ``REQUESTS[version]``),
    if any: the first field it cannot read, else the first it refuses."""
    found = violations(REQUESTS[version][endpoint], body)
    unreadable = [v for v in found if v.problem in _UNREADABLE]
    if not (unreadable or found):
        return None
    return _error((unreadable or found)[0])


def dotted(path: Path) -> str:
    """``("paymentMethod", "number")`` → ``paymentMethod.number``; ``lineItems[0].id``."""
    text = ""
    for segment in path:
        text += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
    return text.lstrip(".")


def _error(violation: Violation) -> AdyenError:
    name, node, value = dotted(violation.path), violation.node, violation.value
    match violation.problem:
        case Problem.UNKNOWN:
            assert isinstance(node, Obj)
            return AdyenError(
                400,
                "702",
                f"Structure of {node.name} contains the following unknown fields: "
                f"[{', '.join(violation.names)}]",
            )
        case Problem.MISSING:
            return required(name, is_object=isinstance(node, Obj | Map | OneOf))
        case Problem.ENUM:
            return unexpected(f"'{name}' must be {violation.expected()}, not {_shown(value)}")
        case Problem.TYPE:
            return unexpected(f"'{name}' must be {violation.expected()}")
        case Problem.TOO_LONG | Problem.TOO_SHORT:
            bound = "at most" if violation.problem is Problem.TOO_LONG else "at least"
            limit = getattr(node, "max_length" if bound == "at most" else "min_length")
            return AdyenError(
                422, "702", f"Field '{name}' is not valid: it takes {bound} {limit} characters"
            )
    bound = "at least" if violation.problem is Problem.TOO_SMALL else "at most"
    limit = getattr(node, "minimum" if bound == "at least" else "maximum")
    return AdyenError(422, "702", f"Field '{name}' is not valid: it must be {bound} {limit}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."
