"""Request validation against a provider's published schema, for the simulators.

The node types below are what ``scripts/build_simulator_schemas.py`` writes into each
provider's generated ``_schema.py`` (one tree per endpoint), and ``violations`` walks a decoded
request against its tree. The walk only finds what is wrong, in document order; each provider
turns the first violation it would report into its own error (Stripe's ``invalid_request_error``
codes, Adyen's ``ServiceError`` codes).

Two wire forms are read: JSON (Adyen), where a value has its JSON type, and Stripe's form
encoding (``form=True``), where every leaf is a string (``"true"``, ``"42"``) and an empty string
is an attempt to unset the parameter, taken only where the schema offers that (``unset``) or
where the empty string is itself a valid value (a plain string). In JSON, ``null`` is a field
not given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

_FORM_INTEGER: Final = re.compile(r"-?[0-9]+")
_FORM_NUMBER: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_BITS: Final = {32: 2**31, 64: 2**63}

Path = tuple[str | int, ...]


# -- the tables' vocabulary ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A value's schema. ``unset``: Stripe takes an empty string for it (to unset it)."""

    unset: bool = False


@dataclass(frozen=True, slots=True)
class Str(Node):
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Int(Node):
    minimum: int | None = None
    maximum: int | None = None
    bits: int | None = None  # the spec's int32 / int64: a wider value cannot be read


@dataclass(frozen=True, slots=True)
class Num(Node):
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Bool(Node):
    pass


@dataclass(frozen=True, slots=True)
class Arr(Node):
    items: Node


@dataclass(frozen=True, slots=True)
class Map(Node):
    """An object of free keys (``additionalProperties``): metadata, additionalData."""

    values: Node


@dataclass(frozen=True, slots=True)
class Obj(Node):
    """An object of known fields: any other key is unknown. ``name`` is the schema's."""

    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AnyOf(Node):
    """One of several scalar shapes (Stripe's ``off_session``: a boolean or one_off|recurring)."""

    options: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class OneOf(Node):
    """An object whose ``key`` field names its shape (Adyen's ``paymentMethod.type``): the
    branch whose ``key`` enum lists the value."""

    key: str
    branches: tuple[Obj, ...]

    def branch(self, kind: str) -> Obj | None:
        for branch in self.branches:
            field = branch.fields.get(self.key)
            if isinstance(field, Str) and field.enum is not None and kind in field.enum:
                return branch
        return None

    def kinds(self) -> tuple[str, ...]:
        return tuple(
            kind
            for branch in self.branches
            if isinstance(field := branch.fields.get(self.key), Str) and field.enum
            for kind in field.enum
        )


# -- what the walk finds ---------------------------------------------------------------------------
class Problem(StrEnum):
    UNKNOWN = "unknown"  # keys the object does not take (``names``)
    MISSING = "missing"  # a required field is absent
    EMPTY = "empty"  # an empty string where the value cannot be unset (form only)
    TYPE = "type"  # not of the node's type (or wider than its int32 / int64)
    ENUM = "enum"  # not one of the listed values
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class Violation:
    problem: Problem
    path: Path  # to the value, or to the object for UNKNOWN
    node: Node
    value: Any = None
    names: tuple[str, ...] = ()  # UNKNOWN: the unknown keys, in the request's order

    def expected(self) -> str:
        """What the node takes, in words ("an integer", "one of a, b or c")."""
        return describe(self.node)


def describe(node: Node) -> str:
    match node:
        case Str(enum=enum) if enum is not None:
            return "one of " + _listed(enum)
        case Str():
            return "a string"
        case Int():
            return "an integer" if node.bits is None else f"an integer of {node.bits} bits"
        case Num():
            return "a number"
        case Bool():
            return "a boolean"
        case Arr():
            return "an array"
        case Obj() | Map() | OneOf():
            return "an object"
        case AnyOf(options=options):
            return " or ".join(describe(option) for option in options)
    return "a value"  # pragma: no cover


def _listed(values: Sequence[str]) -> str:
    shown = [value or '""' for value in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


# -- the walk --------------------------------------------------------------------------------------
def violations(node: Node, value: Any, *, form: bool = False) -> list[Violation]:
    """Everything wrong with ``value`` against ``node``, in document order."""
    found: list[Violation] = []
    _walk(node, value, (), form, found)
    return found


def _walk(node: Node, value: Any, path: Path, form: bool, found: list[Violation]) -> None:
    if form and value == "":
        if not (node.unset or _takes_empty(node)):
            found.append(Violation(Problem.EMPTY, path, node, value))
        return
    match node:
        case Obj():
            _object(node, value, path, form, found)
        case Map(values=values):
            if not isinstance(value, Mapping):
                found.append(Violation(Problem.TYPE, path, node, value))
                return
            for key, item in value.items():
                if item is not None:
                    _walk(values, item, (*path, key), form, found)
        case Arr(items=items):
            if not isinstance(value, list):
                found.append(Violation(Problem.TYPE, path, node, value))
                return
            for index, item in enumerate(value):
                _walk(items, item, (*path, index), form, found)
        case OneOf():
            _one_of(node, value, path, form, found)
        case AnyOf(options=options):
            if all(violations(option, value, form=form) for option in options):
                found.append(Violation(Problem.TYPE, path, node, value))
        case _:
            problem = _scalar(node, value, form)
            if problem is not None:
                found.append(Violation(problem, path, node, value))


def _takes_empty(node: Node) -> bool:
    """Whether ``""`` is itself a valid value: a plain string, or an enum that lists it."""
    if not isinstance(node, Str) or node.min_length:
        return False
    return node.enum is None or "" in node.enum


def _object(node: Obj, value: Any, path: Path, form: bool, found: list[Violation]) -> None:
    if not isinstance(value, Mapping):
        found.append(Violation(Problem.TYPE, path, node, value))
        return
    unknown = tuple(str(key) for key in value if key not in node.fields)
    if unknown:
        found.append(Violation(Problem.UNKNOWN, path, node, names=unknown))
    for key, item in value.items():
        child = node.fields.get(key)
        if child is not None and item is not None:
            _walk(child, item, (*path, key), form, found)
    for name in node.required:
        if value.get(name) is None:
            found.append(Violation(Problem.MISSING, (*path, name), node.fields[name]))


def _one_of(node: OneOf, value: Any, path: Path, form: bool, found: list[Violation]) -> None:
    if not isinstance(value, Mapping):
        found.append(Violation(Problem.TYPE, path, node, value))
        return
    kind = value.get(node.key)
    key_path = (*path, node.key)
    if kind is None:
        found.append(Violation(Problem.MISSING, key_path, Str()))
    elif not isinstance(kind, str):
        found.append(Violation(Problem.TYPE, key_path, Str(), kind))
    elif (branch := node.branch(kind)) is None:
        found.append(Violation(Problem.ENUM, key_path, Str(enum=node.kinds()), kind))
    else:
        _walk(branch, value, path, form, found)


def _scalar(node: Node, value: Any, form: bool) -> Problem | None:
    match node:
        case Str():
            if not isinstance(value, str):
                return Problem.TYPE
            if node.enum is not None and value not in node.enum:
                return Problem.ENUM
            if node.max_length is not None and len(value) > node.max_length:
                return Problem.TOO_LONG
            if node.min_length is not None and len(value) < node.min_length:
                return Problem.TOO_SHORT
            return None
        case Int():
            number = _integer(value, form)
            if number is None or (node.bits and not -_BITS[node.bits] <= number < _BITS[node.bits]):
                return Problem.TYPE
            return _bounds(node.minimum, node.maximum, number)
        case Num():
            real = _number(value, form)
            return Problem.TYPE if real is None else _bounds(node.minimum, node.maximum, real)
        case Bool():
            ok = value in {"true", "false"} if form else isinstance(value, bool)
            return None if ok else Problem.TYPE
    raise TypeError(f"not a scalar node: {node!r}")  # pragma: no cover


def _integer(value: Any, form: bool) -> int | None:
    if form:
        return int(value) if isinstance(value, str) and _FORM_INTEGER.fullmatch(value) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any, form: bool) -> float | None:
    if form:
        return float(value) if isinstance(value, str) and _FORM_NUMBER.fullmatch(value) else None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _bounds(minimum: float | None, maximum: float | None, number: float) -> Problem | None:
    if minimum is not None and number < minimum:
        return Problem.TOO_SMALL
    if maximum is not None and number > maximum:
        return Problem.TOO_LARGE
    return None
