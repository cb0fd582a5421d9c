"""Recording what a provider answered during a contract run, and finding schema drift.

``RecordingTransport`` wraps the gateway's transport and keeps every response it reads.
``save`` writes them redacted (``paygate._redaction.redact``); ``drift`` compares a new run
with a saved one and reports the fields the adapter relies on (the field names of its wire
models) that disappeared or changed JSON type, per endpoint.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import BaseModel

from paygate._redaction import redact, redact_text

__all__ = ["Drift", "Exchange", "RecordingTransport", "drift", "load", "relied_on", "save"]

# A path segment that carries an id (pi_3Nx..., a 16-character pspReference) is not part of
# the endpoint.
_ID_SEGMENT: Final = re.compile(r"^(?=.*\d)[A-Za-z0-9_]{10,}$")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One response the provider sent: its endpoint and its (redacted) body."""

    method: str
    path: str
    status: int
    body: Any  # decoded JSON, redacted; or {"_text": ...} for a body that is not JSON
    scenario: str = ""

    @property
    def endpoint(self) -> str:
        segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in self.path.split("/")]
        return f"{self.method} {'/'.join(segments)} {self.status}"


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that keeps each response read through it in ``sink``."""

    def __init__(self, inner: httpx.BaseTransport, sink: list[Exchange]) -> None:
        self._inner = inner
        self._sink = sink

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        content = response.read()
        try:
            body: Any = redact(json.loads(content))
        except ValueError:
            body = {"_text": redact_text(content.decode("utf-8", "replace"))[:2000]}
        self._sink.append(Exchange(request.method, request.url.path, response.status_code, body))
        return response

    def close(self) -> None:
        self._inner.close()


def shape(value: Any, prefix: str = "") -> dict[str, set[str]]:
    """Every field path of a JSON value (``a.b``, ``items[].c``) and its JSON types."""
    found: dict[str, set[str]] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            found.setdefault(path, set()).add(_json_type(item))
            for sub, types in shape(item, path).items():
                found.setdefault(sub, set()).update(types)
    elif isinstance(value, list):
        for item in value:
            for sub, types in shape(item, f"{prefix}[]").items():
                found.setdefault(sub, set()).update(types)
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def relied_on(wire_module: str) -> frozenset[str]:
    """The field names (aliases included) of every wire model in ``wire_module``."""
    module = importlib.import_module(wire_module)
    names: set[str] = set()
    for _, model in inspect.getmembers(module, inspect.isclass):
        if issubclass(model, BaseModel) and model.__module__ == module.__name__:
            for name, info in model.model_fields.items():
                names.add(info.alias or name)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Drift:
    endpoint: str
    field: str
    was: str
    now: str  # "missing" when the field disappeared


def _shapes(exchanges: Iterable[Exchange]) -> dict[str, dict[str, set[str]]]:
    by_endpoint: dict[str, dict[str, set[str]]] = {}
    for exchange in exchanges:
        fields = by_endpoint.setdefault(exchange.endpoint, {})
        for path, types in shape(exchange.body).items():
            fields.setdefault(path, set()).update(types)
    return by_endpoint


def drift(
    before: Sequence[Exchange], after: Sequence[Exchange], relied: frozenset[str]
) -> list[Drift]:
    """Fields the adapter relies on that an endpoint answered before and no longer answers,
    or answers with another JSON type. Endpoints not seen in ``after`` are not compared."""
    old, new = _shapes(before), _shapes(after)
    found: list[Drift] = []
    for endpoint in sorted(old.keys() & new.keys()):
        for path, types in sorted(old[endpoint].items()):
            if path.rsplit(".", 1)[-1].removesuffix("[]") not in relied:
                continue
            now = new[endpoint].get(path)
            if now is None:
                found.append(Drift(endpoint, path, "/".join(sorted(types)), "missing"))
            elif now != types:
                found.append(Drift(endpoint, path, "/".join(sorted(types)), "/".join(sorted(now))))
    return found


def save(path: Path, provider: str, target: str, exchanges: Sequence[Exchange]) -> None:
    data = {
        "provider": provider,
        "target": target,
        "responses": [
            {
                "scenario": e.scenario,
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "body": e.body,
            }
            for e in exchanges
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(path: Path) -> list[Exchange]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Exchange(r["method"], r["path"], int(r["status"]), r["body"], r.get("scenario", ""))
        for r in data["responses"]
    ]
