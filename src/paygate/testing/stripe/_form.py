"""Stripe's form encoding, read back: ``metadata[reference]=x&expand[0]=latest_charge`` →
``{"metadata": {"reference": "x"}, "expand": ["latest_charge"]}``.

Bracketed keys nest; a node whose keys are exactly ``0..n-1`` (or built with ``[]``) becomes a
list, except metadata, whose keys are the caller's. Values stay strings, as on the wire.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import parse_qsl

_NAME: Final = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT: Final = re.compile(r"\[([^\[\]]*)\]")
_LITERAL_KEYS: Final = frozenset({"metadata"})  # never turned into a list


def decode_form(text: str) -> dict[str, Any]:
    """The nested parameters of a form body or query string; ValueError when they clash."""
    root: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True, errors="strict"):
        match = _NAME.fullmatch(name)
        if match is None:
            raise ValueError(f"invalid parameter name: {name!r}")
        _place(root, [match[1], *_SEGMENT.findall(match[2])], value, name)
    shaped = _shape(root, "")
    assert isinstance(shaped, dict)
    return shaped


def _place(root: dict[str, Any], path: list[str], value: str, name: str) -> None:
    node = root
    *parents, last = path
    for segment in parents:
        child = node.setdefault(segment or str(len(node)), {})
        if not isinstance(child, dict):
            raise ValueError(f"parameter {name!r} conflicts with another parameter")
        node = child
    key = last or str(len(node))
    if key in node:
        raise ValueError(f"parameter {name!r} was given twice or conflicts with another")
    node[key] = value


def _shape(node: dict[str, Any], name: str) -> dict[str, Any] | list[Any]:
    shaped = {k: _shape(v, k) if isinstance(v, dict) else v for k, v in node.items()}
    if name in _LITERAL_KEYS or not shaped or not all(_is_index(k) for k in shaped):
        return shaped
    order = sorted(shaped, key=int)
    if [int(k) for k in order] != list(range(len(order))):
        raise ValueError(f"array parameter {name!r} skips an index")
    return [shaped[k] for k in order]


def _is_index(key: str) -> bool:
    return key.isascii() and key.isdigit()
