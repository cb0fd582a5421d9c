"""The one decision of an error's class: total over every failure kind, call and reach, held to
its rules, and keeping every piece of context an adapter read."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from paygate._decision import DECISIONS, Reach, decide, decided
from paygate.adapters import failures
from paygate.adapters.failures import (
    Context,
    Declined,
    Failure,
    InFlight,
    KeyConflict,
    Kind,
    Mismatch,
    NotFound,
    ProviderError,
    ProviderFailed,
    RateLimited,
    SchemaViolation,
    TransportFailure,
    UnexpectedAnswer,
    Unread,
    Unsendable,
)
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    IdempotencyConflict,
    IdempotencyInFlight,
    InvalidRequestError,
    OutcomeUnknown,
    PaymentError,
    RetriableError,
    RetryAdvice,
    TerminalError,
)
from paygate.models import Payment, PaymentStatus
from paygate.money import Money

CONTEXT = Context(
    provider="p",
    message="what happened",
    http_status=402,
    request_id="req_1",
    idempotency_key="key-1",
    payment_id="pay_1",
    provider_code="their_code",
    decline_code="their_decline",
    provider_body={"error": {"card": {"number": "4242424242424242"}}},
    retry_after=1.5,
    provider_retry_hint=True,
)

# One failure of every kind, as an adapter or the core builds it.
EXAMPLES: dict[Kind, Failure] = {
    Kind.DECLINED: Declined(
        CONTEXT, DeclineReason.EXPIRED_CARD, RetryAdvice.UPDATE_PAYMENT_DETAILS
    ),
    Kind.REFUSED: ProviderError(CONTEXT, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE),
    Kind.NOT_PROCESSED: ProviderError(CONTEXT, ErrorCode.RATE_LIMITED, not_processed=True),
    Kind.RATE_LIMITED: RateLimited(CONTEXT),
    Kind.PROVIDER_FAILED: ProviderFailed(CONTEXT),
    Kind.SCHEMA_VIOLATION: SchemaViolation(CONTEXT),
    Kind.UNEXPECTED_ANSWER: UnexpectedAnswer(CONTEXT),
    Kind.NOT_FOUND: NotFound(CONTEXT),
    Kind.IN_FLIGHT: InFlight(CONTEXT),
    Kind.KEY_CONFLICT: KeyConflict(CONTEXT),
    Kind.UNREAD: Unread(CONTEXT, too_large=True),
    Kind.MISMATCH: Mismatch(CONTEXT),
    Kind.TRANSPORT: TransportFailure(CONTEXT, ErrorCode.TIMEOUT),
    Kind.UNSENDABLE: Unsendable(CONTEXT),
}
CELLS = list(itertools.product(Kind, (False, True), Reach))
BRANCHES = (RetriableError, TerminalError, OutcomeUnknown)
# Kinds that leave open what the provider did with a request it may have received.
AMBIGUOUS = {
    Kind.PROVIDER_FAILED,
    Kind.SCHEMA_VIOLATION,
    Kind.UNEXPECTED_ANSWER,
    Kind.UNREAD,
    Kind.MISMATCH,
    Kind.TRANSPORT,
    # The provider is still running a request under the key: this call's earlier attempt, or
    # an earlier call's whose own record may be missing.
    Kind.IN_FLIGHT,
}


def test_every_classification_class_has_an_example_of_its_kind() -> None:
    classes = {type(f) for f in EXAMPLES.values()}
    declared = {
        obj
        for name in failures.__all__
        if isinstance(obj := getattr(failures, name), type) and hasattr(obj, "__dataclass_fields__")
    } - {Context}
    assert classes == declared
    assert all(f.kind is kind for kind, f in EXAMPLES.items())


@pytest.mark.parametrize(("kind", "mutating", "reach"), CELLS)
def test_the_table_answers_every_kind_call_and_reach(
    kind: Kind, mutating: bool, reach: Reach
) -> None:
    cls = DECISIONS[kind, mutating, reach]
    assert sum(issubclass(cls, branch) for branch in BRANCHES) == 1, cls
    error = decide(EXAMPLES[kind], mutating=mutating, reach=reach)
    assert type(error) is cls
    assert error.code is EXAMPLES[kind].code


def test_the_table_has_no_cell_beyond_its_kinds_calls_and_reaches() -> None:
    assert set(DECISIONS) == set(CELLS)


@pytest.mark.parametrize(("kind", "mutating", "reach"), CELLS)
def test_only_a_mutating_call_that_may_have_been_acted_on_is_unknown(
    kind: Kind, mutating: bool, reach: Reach
) -> None:
    unknown = issubclass(DECISIONS[kind, mutating, reach], OutcomeUnknown)
    may_have_acted = mutating and reach is not Reach.NOT_SENT and kind in AMBIGUOUS
    assert unknown is may_have_acted


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (EXAMPLES[Kind.DECLINED], CardDeclinedError),
        (EXAMPLES[Kind.REFUSED], InvalidRequestError),
        (EXAMPLES[Kind.NOT_PROCESSED], RetriableError),
        (EXAMPLES[Kind.RATE_LIMITED], RetriableError),
        (EXAMPLES[Kind.KEY_CONFLICT], IdempotencyConflict),
        (EXAMPLES[Kind.NOT_FOUND], TerminalError),
        (EXAMPLES[Kind.UNSENDABLE], InvalidRequestError),
    ],
)
def test_the_providers_account_of_a_request_stands_however_far_it_got(
    failure: Failure, expected: type[PaymentError]
) -> None:
    for mutating, reach in itertools.product((False, True), Reach):
        assert type(decide(failure, mutating=mutating, reach=reach)) is expected


def test_a_transport_failure_is_retriable_until_a_mutating_request_may_have_left() -> None:
    failure = EXAMPLES[Kind.TRANSPORT]
    assert type(decide(failure, mutating=True, reach=Reach.NOT_SENT)) is RetriableError
    assert type(decide(failure, mutating=True, reach=Reach.SENT)) is OutcomeUnknown
    assert type(decide(failure, mutating=False, reach=Reach.SENT)) is RetriableError


def test_a_key_the_provider_is_still_running_is_an_unknown_outcome_of_a_mutating_call() -> None:
    """Clearing the call's intent on it would drop the only trace of the request the provider
    is running under the key, when an earlier call's record of it could not be written."""
    failure = EXAMPLES[Kind.IN_FLIGHT]
    assert type(decide(failure, mutating=False, reach=Reach.ANSWERED)) is IdempotencyInFlight
    unknown = decide(failure, mutating=True, reach=Reach.ANSWERED)
    assert type(unknown) is OutcomeUnknown and unknown.code is ErrorCode.IDEMPOTENCY_IN_FLIGHT


def test_a_5xx_is_retriable_on_a_read_and_unknown_on_a_mutating_call() -> None:
    failure = EXAMPLES[Kind.PROVIDER_FAILED]
    assert type(decide(failure, mutating=False, reach=Reach.ANSWERED)) is RetriableError
    unknown = decide(failure, mutating=True, reach=Reach.ANSWERED)
    assert type(unknown) is OutcomeUnknown and unknown.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_the_error_keeps_every_piece_of_context_redacted() -> None:
    error = decide(EXAMPLES[Kind.DECLINED], mutating=True, reach=Reach.ANSWERED)
    assert isinstance(error, CardDeclinedError)
    assert (error.reason, error.advice) == (
        DeclineReason.EXPIRED_CARD,
        RetryAdvice.UPDATE_PAYMENT_DETAILS,
    )
    expected: dict[str, Any] = {
        "message": "what happened",
        "provider": "p",
        "http_status": 402,
        "request_id": "req_1",
        "idempotency_key": "key-1",
        "payment_id": "pay_1",
        "provider_code": "their_code",
        "decline_code": "their_decline",
        "retry_after": 1.5,
        "provider_retry_hint": True,
    }
    assert {name: getattr(error, name) for name in expected} == expected
    assert "4242424242424242" not in repr(error.provider_body)


def test_codes_come_from_the_classification() -> None:
    too_large = decide(Unread(CONTEXT, too_large=True), mutating=False, reach=Reach.ANSWERED)
    undecodable = decide(Unread(CONTEXT, too_large=False), mutating=False, reach=Reach.ANSWERED)
    assert too_large.code is ErrorCode.RESPONSE_TOO_LARGE
    assert undecodable.code is ErrorCode.SCHEMA_VIOLATION
    refused = decide(EXAMPLES[Kind.REFUSED], mutating=True, reach=Reach.ANSWERED)
    assert refused.code is ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE


def test_a_result_passes_through_and_a_failure_is_decided_as_answered() -> None:
    eur = Money("1.00", "EUR")
    payment = Payment(
        id="pay_1", provider="p", status=PaymentStatus.AUTHORIZED, amount=eur,
        amount_authorized=eur, amount_captured=Money.zero("EUR"),
        amount_refunded=Money.zero("EUR"), provider_status="authorized",
    )  # fmt: skip
    assert decided(payment, mutating=True) is payment
    assert type(decided(EXAMPLES[Kind.SCHEMA_VIOLATION], mutating=True)) is OutcomeUnknown
    assert type(decided(EXAMPLES[Kind.SCHEMA_VIOLATION], mutating=False)) is TerminalError
