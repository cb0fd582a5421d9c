"""The values a simulator passes around: request headers, a recorded request, a reply."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_SECRET_HEADERS = frozenset({"authorization", "x-api-key"})


class Headers(Mapping[str, str]):
    """Read-only request headers whose names match case-insensitively."""

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values = {name.lower(): value for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        shown = {k: "**********" if k in _SECRET_HEADERS else v for k, v in self._values.items()}
        return f"paygate.testing.Headers({shown!r})"


@dataclass(frozen=True, slots=True, repr=False)
class RecordedRequest:
    """One request a simulator received, as it arrived.

    ``params`` are the decoded parameters: for Stripe the form body (or, for GET, the query
    string) with bracket keys turned into nested dicts and lists, for Adyen the JSON body.
    ``form`` is the same value.
    """

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def form(self) -> Mapping[str, Any]:
        """The decoded parameters (Stripe's name for them)."""
        return self.params

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` header, if sent."""
        return self.headers.get("idempotency-key")

    def __repr__(self) -> str:
        return (
            f"paygate.testing.RecordedRequest({self.method} {self.path}, "
            f"idempotency_key={self.idempotency_key!r})"
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, headers (without Content-Length) and body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def with_header(self, name: str, value: str) -> Reply:
        return Reply(self.status, (*self.headers, (name, value)), self.body)

    def with_body(self, body: bytes) -> Reply:
        return Reply(self.status, self.headers, body)


def json_reply(status: int, value: object, *headers: tuple[str, str]) -> Reply:
    """A JSON answer with ``headers`` after its Content-Type."""
    body = json.dumps(value).encode()
    return Reply(status, (("Content-Type", "application/json"), *headers), body)
