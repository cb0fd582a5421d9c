"""The error classes themselves: bad input is one paygate class that is also what Python code
expects for bad input, and no error text carries a control character."""

from __future__ import annotations

import pickle

import pytest

from paygate import _outcomes
from paygate.errors import (
    CardDeclinedError,
    ErrorCode,
    IdempotencyConflict,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    TerminalError,
)


def test_invalid_request_is_a_terminal_paygate_error_and_a_type_and_value_error() -> None:
    error = InvalidRequestError("bad input")
    assert isinstance(error, TerminalError) and isinstance(error, PaymentError)
    assert isinstance(error, TypeError) and isinstance(error, ValueError)
    assert not error.retriable and error.code is ErrorCode.INVALID_REQUEST
    for caught in (TypeError, ValueError, TerminalError):
        with pytest.raises(caught):
            raise InvalidRequestError("bad input")


@pytest.mark.parametrize(
    "error_cls", [CardDeclinedError, IdempotencyConflict, RetriableError, OutcomeUnknown]
)
def test_no_other_error_is_a_builtin_value_or_type_error(error_cls: type[PaymentError]) -> None:
    # A decline or an unknown outcome caught by a bare ``except ValueError`` would be a bug.
    assert not issubclass(error_cls, ValueError | TypeError)


def test_an_invalid_request_survives_pickling_and_the_idempotency_store() -> None:
    error = InvalidRequestError("refused", provider="stripe", http_status=400, request_id="req_1")
    for copy in (
        pickle.loads(pickle.dumps(error)),
        _outcomes.decode(_outcomes.encode_error(error)),
    ):
        assert isinstance(copy, InvalidRequestError) and isinstance(copy, ValueError)
        assert str(copy) == str(error)


@pytest.mark.parametrize(
    "key",
    [
        "key\r\nX-Forged: 1",
        "key\x00\x07\x1b[31mred",
        "key\x85\x9f",  # C1 controls: NEL among them
        "key\u2028line",
        "key\x7f",
    ],
)
def test_an_idempotency_key_is_echoed_with_its_control_characters_escaped(key: str) -> None:
    error = IdempotencyConflict(
        f"idempotency key {key} was already used", idempotency_key=key, provider="stripe"
    )
    for text in (str(error), repr(error), error.message):
        assert not any(ch in text for ch in key if not ch.isprintable()), text
    assert repr(key)[1:-1] in str(error)  # escaped, as Python writes it: still searchable


def test_printable_text_is_left_as_it_is() -> None:
    error = InvalidRequestError("Zahlung für Bestellung «42» abgelehnt", idempotency_key="k-1")
    assert str(error) == (
        "Zahlung für Bestellung «42» abgelehnt (code=invalid_request, idempotency_key=k-1)"
    )
