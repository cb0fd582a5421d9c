"""Stripe's error tables: total over Stripe's vocabulary, consistent, and never guessing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate import Money, PaymentSource
from paygate._decision import decided
from paygate.adapters import base
from paygate.adapters.base import _REASON_ADVICE_GROUPS, ResponseContext
from paygate.adapters.stripe import StripeAdapter
from paygate.adapters.stripe._codes import (
    _DECLINE_CODE_GROUPS,
    _ERROR_CODE_GROUPS,
    ADVICE_CODES,
    CODE_REASONS,
    DECLINE_CODES,
    ERROR_CODES,
    ERROR_TYPES,
    REASON_ADVICE,
    advice_for,
    decline_reason_for,
    error_code_for,
)
from paygate.errors import (
    CardDeclinedError,
    DeclineReason,
    ErrorCode,
    IdempotencyInFlight,
    InvalidRequestError,
    OutcomeUnknown,
    RetryAdvice,
)
from paygate.models import AuthorizeRequest

# The Stripe reference data lives in a `shared/` folder next to the repository, not in it.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
ENUMS = SHARED / "providers" / "stripe" / "enums.current.json"

# Decline codes and card-level codes that ../shared/providers/README.md names in its
# "Stripe errors" and "Stripe test data" sections.
README_DECLINE_CODES = (
    "card_velocity_exceeded",
    "do_not_honor",
    "fraudulent",
    "generic_decline",
    "insufficient_funds",
    "lost_card",
    "stolen_card",
)
README_CARD_CODES = (
    "authentication_required",
    "expired_card",
    "incorrect_cvc",
    "incorrect_number",
    "processing_error",
)


def stripe_enums() -> dict[str, Any]:
    if not ENUMS.is_file():
        pytest.skip(f"Stripe reference data not found: {ENUMS.resolve()}")
    data: dict[str, Any] = json.loads(ENUMS.read_text(encoding="utf-8"))
    return data


# -- totality ----------------------------------------------------------------------------------
def test_every_current_stripe_error_type_is_mapped() -> None:
    types = stripe_enums()["error.type"]
    assert types, "the reference file lists no error types"
    assert sorted(set(types) - set(ERROR_TYPES)) == []


def test_every_current_stripe_error_code_is_mapped() -> None:
    codes = stripe_enums()["error.code"]
    assert len(codes) > 100, "the reference file lists suspiciously few error codes"
    assert sorted(set(codes) - set(ERROR_CODES)) == []


@pytest.mark.parametrize("decline_code", README_DECLINE_CODES)
def test_decline_codes_named_by_the_reference_have_a_reason(decline_code: str) -> None:
    assert decline_reason_for(decline_code, "card_declined") is not DeclineReason.UNKNOWN


@pytest.mark.parametrize("code", README_CARD_CODES)
def test_card_codes_named_by_the_reference_have_a_reason(code: str) -> None:
    assert ERROR_CODES[code] is ErrorCode.CARD_DECLINED
    assert decline_reason_for(None, code) is not DeclineReason.UNKNOWN


def test_every_decline_code_has_a_real_reason() -> None:
    assert [c for c, r in DECLINE_CODES.items() if r is DeclineReason.UNKNOWN] == []
    assert [c for c, r in CODE_REASONS.items() if r is DeclineReason.UNKNOWN] == []


def test_every_reason_but_unknown_is_reachable() -> None:
    reachable = set(DECLINE_CODES.values()) | set(CODE_REASONS.values())
    assert set(DeclineReason) - reachable == {DeclineReason.UNKNOWN}


def test_every_reason_has_advice() -> None:
    assert REASON_ADVICE is base.REASON_ADVICE, "Stripe uses the table every adapter shares"
    assert set(REASON_ADVICE) == set(DeclineReason)
    assert REASON_ADVICE[DeclineReason.UNKNOWN] is RetryAdvice.UNKNOWN
    unknown_advice = [r for r, a in REASON_ADVICE.items() if a is RetryAdvice.UNKNOWN]
    assert unknown_advice == [DeclineReason.UNKNOWN]


# -- consistency -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "groups", [_ERROR_CODE_GROUPS, _DECLINE_CODE_GROUPS, _REASON_ADVICE_GROUPS]
)
def test_groups_are_disjoint_sorted_and_one_per_value(
    groups: tuple[tuple[Any, tuple[Any, ...]], ...],
) -> None:
    keys = [key for _, members in groups for key in members]
    assert len(keys) == len(set(keys)), "a name appears in two groups"
    values = [value for value, _ in groups]
    assert len(values) == len(set(values)), "two groups for one value"
    for value, members in groups:
        assert list(members) == sorted(members), f"the {value} group is not sorted"


def test_codes_that_name_a_reason_are_declines() -> None:
    assert {c for c in CODE_REASONS if ERROR_CODES.get(c) is not ErrorCode.CARD_DECLINED} == set()


def test_a_name_used_as_code_and_as_decline_code_means_the_same() -> None:
    shared = set(CODE_REASONS) & set(DECLINE_CODES)
    assert shared, "expected some overlap (expired_card, incorrect_cvc, ...)"
    assert {c for c in shared if CODE_REASONS[c] is not DECLINE_CODES[c]} == set()


def test_card_declined_alone_names_no_reason() -> None:
    assert decline_reason_for(None, "card_declined") is DeclineReason.UNKNOWN


@pytest.mark.parametrize(
    ("decline_code", "reason", "advice"),
    [
        ("generic_decline", DeclineReason.GENERIC, RetryAdvice.DO_NOT_RETRY),
        ("insufficient_funds", DeclineReason.INSUFFICIENT_FUNDS, RetryAdvice.RETRY_LATER),
        ("lost_card", DeclineReason.LOST_OR_STOLEN, RetryAdvice.DO_NOT_RETRY),
        ("pickup_card", DeclineReason.LOST_OR_STOLEN, RetryAdvice.DO_NOT_RETRY),
        ("fraudulent", DeclineReason.FRAUD_SUSPECTED, RetryAdvice.DO_NOT_RETRY),
        ("expired_card", DeclineReason.EXPIRED_CARD, RetryAdvice.UPDATE_PAYMENT_DETAILS),
        ("invalid_cvc", DeclineReason.INCORRECT_CVC, RetryAdvice.UPDATE_PAYMENT_DETAILS),
        ("try_again_later", DeclineReason.ISSUER_UNAVAILABLE, RetryAdvice.RETRY_LATER),
        ("reenter_transaction", DeclineReason.PROCESSING_ERROR, RetryAdvice.RETRY_LATER),
        ("card_velocity_exceeded", DeclineReason.LIMIT_EXCEEDED, RetryAdvice.RETRY_LATER),
        ("testmode_decline", DeclineReason.TEST_MODE, RetryAdvice.UPDATE_PAYMENT_DETAILS),
    ],
)
def test_known_declines(decline_code: str, reason: DeclineReason, advice: RetryAdvice) -> None:
    assert decline_reason_for(decline_code, "card_declined") is reason
    assert advice_for(reason, None) is advice


def test_specific_codes() -> None:
    assert error_code_for("invalid_request_error", "resource_missing") is ErrorCode.NOT_FOUND
    assert error_code_for("invalid_request_error", "charge_already_refunded") is (
        ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE
    )
    assert error_code_for("invalid_request_error", "refund_disputed_payment") is (
        ErrorCode.INVALID_STATE
    )
    assert error_code_for("invalid_request_error", "lock_timeout") is ErrorCode.RATE_LIMITED
    assert error_code_for("card_error", "payment_intent_authentication_failure") is (
        ErrorCode.CARD_DECLINED
    )
    assert decline_reason_for(None, "payment_intent_authentication_failure") is (
        DeclineReason.AUTHENTICATION_REQUIRED
    )


# -- properties: nothing unseen is guessed, nothing raises ------------------------------------
def unseen(table: Any) -> st.SearchStrategy[str]:
    return st.text().filter(lambda s: s not in table)


@given(
    error_type=st.sampled_from(sorted(ERROR_TYPES)) | unseen(ERROR_TYPES),
    code=st.none() | unseen(ERROR_CODES),
)
def test_an_unseen_code_falls_back_to_the_type(error_type: str, code: str | None) -> None:
    assert error_code_for(error_type, code) is ERROR_TYPES.get(error_type, ErrorCode.UNKNOWN)


@given(error_type=st.text(), code=st.sampled_from(sorted(ERROR_CODES)))
def test_a_known_code_wins_over_the_type(error_type: str, code: str) -> None:
    assert error_code_for(error_type, code) is ERROR_CODES[code]


@given(decline_code=st.none() | unseen(DECLINE_CODES), code=st.none() | unseen(CODE_REASONS))
def test_an_unseen_decline_is_unknown(decline_code: str | None, code: str | None) -> None:
    assert decline_reason_for(decline_code, code) is DeclineReason.UNKNOWN


@given(decline_code=st.sampled_from(sorted(DECLINE_CODES)), code=st.none() | st.text())
def test_a_known_decline_code_wins_over_the_code(decline_code: str, code: str | None) -> None:
    assert decline_reason_for(decline_code, code) is DECLINE_CODES[decline_code]


@given(decline_code=unseen(DECLINE_CODES), code=st.sampled_from(sorted(CODE_REASONS)))
def test_an_unseen_decline_code_falls_back_to_the_code(decline_code: str, code: str) -> None:
    assert decline_reason_for(decline_code, code) is CODE_REASONS[code]


@given(reason=st.sampled_from(DeclineReason), advice_code=st.none() | unseen(ADVICE_CODES))
def test_unseen_advice_falls_back_to_the_reason(
    reason: DeclineReason, advice_code: str | None
) -> None:
    assert advice_for(reason, advice_code) is REASON_ADVICE[reason]


@given(reason=st.sampled_from(DeclineReason), advice_code=st.sampled_from(sorted(ADVICE_CODES)))
def test_stripe_advice_wins(reason: DeclineReason, advice_code: str) -> None:
    assert advice_for(reason, advice_code) is ADVICE_CODES[advice_code]


def test_no_reason_and_no_advice_is_unknown() -> None:
    assert advice_for(DeclineReason.UNKNOWN, None) is RetryAdvice.UNKNOWN


# -- through the adapter -----------------------------------------------------------------------
ADAPTER = StripeAdapter("sk_test_codesKey123456789", base_url="https://stripe.example")
AUTH = AuthorizeRequest(
    amount=Money("12.34", "EUR"),
    source=PaymentSource.token("pm_card_visa"),
    reference="order-42",
)


def stripe_error(status: int, type_: str, code: str | None = None, **extra: Any) -> Any:
    body = {"error": {"type": type_, "code": code, "message": "m", **extra}}
    response = httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Request-Id": "req_1"}
    )
    outcome = ADAPTER.parse_response(response, ResponseContext(request=AUTH, idempotency_key="k1"))
    return decided(outcome, mutating=AUTH.operation.is_mutating)  # as the core decides it


def test_unknown_decline_code_is_a_decline_with_unknown_reason() -> None:
    result = stripe_error(402, "card_error", "card_declined", decline_code="brand_new_code")
    assert isinstance(result, CardDeclinedError)
    assert result.reason is DeclineReason.UNKNOWN and result.advice is RetryAdvice.UNKNOWN
    assert result.decline_code == "brand_new_code"


def test_soft_decline_advises_a_later_attempt_but_is_not_retriable() -> None:
    result = stripe_error(402, "card_error", "card_declined", decline_code="try_again_later")
    assert isinstance(result, CardDeclinedError)
    assert result.reason is DeclineReason.ISSUER_UNAVAILABLE
    assert result.advice is RetryAdvice.RETRY_LATER
    assert result.retriable is False


def test_lost_card_advises_never_again() -> None:
    result = stripe_error(402, "card_error", "card_declined", decline_code="lost_card")
    assert isinstance(result, CardDeclinedError)
    assert result.reason is DeclineReason.LOST_OR_STOLEN
    assert result.advice is RetryAdvice.DO_NOT_RETRY


def test_card_level_code_without_decline_code() -> None:
    result = stripe_error(402, "card_error", "incorrect_cvc")
    assert isinstance(result, CardDeclinedError)
    assert result.reason is DeclineReason.INCORRECT_CVC
    assert result.advice is RetryAdvice.UPDATE_PAYMENT_DETAILS


def test_unknown_code_on_a_400_is_an_invalid_request() -> None:
    result = stripe_error(400, "invalid_request_error", "brand_new_code")
    assert type(result) is InvalidRequestError
    assert result.code is ErrorCode.INVALID_REQUEST
    assert result.provider_code == "brand_new_code"


def test_idempotency_key_in_use_is_an_unknown_outcome_of_a_payment() -> None:
    """Stripe is still running a request under the key: what it will do is unknown, and the
    call is repeated under the key (Stripe then replays that request's answer)."""
    result = stripe_error(409, "invalid_request_error", "idempotency_key_in_use")
    assert isinstance(result, OutcomeUnknown) and not isinstance(result, IdempotencyInFlight)
    assert result.code is ErrorCode.IDEMPOTENCY_IN_FLIGHT and result.idempotency_key == "k1"
