"""Adyen's tables: total over Adyen's vocabulary, consistent, and never guessing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate._currencies import ISO_4217_EXPONENTS
from paygate.adapters import base
from paygate.adapters.adyen import CAPABILITIES, CURRENCIES
from paygate.adapters.adyen._codes import (
    _ERROR_CODE_GROUPS,
    ADVICE_CODES,
    CODE_REASONS,
    DECLINE_FALLBACK,
    ERROR_CODES,
    GENERIC_ERROR_CODES,
    MODIFICATION_PATHS,
    REASON_ADVICE,
    REFUND_REASONS,
    REFUSAL_CODES,
    REFUSAL_TEXTS,
    REFUSALS,
    RESULT_STATUS,
    STATUS_CODES,
    ResultCode,
    advice_for,
    decline_reason_for,
    error_code_for,
)
from paygate.adapters.adyen._webhooks import (
    _EVENT_GROUPS,
    CANCEL_OR_REFUND_ACTIONS,
    EVENT_TYPES,
    event_type_for,
)
from paygate.adapters.base import network_advice_code
from paygate.errors import DeclineReason, ErrorCode, RetryAdvice
from paygate.models import EventType, Operation, PaymentStatus

WEBHOOKS_SPEC = Path(__file__).resolve().parents[3] / "shared/providers/adyen/Webhooks-v1.json"

# ../shared/providers/README.md, "Adyen test data": the refusal codes the test cards force.
README_REFUSALS = {
    "2": DeclineReason.GENERIC,
    "3": DeclineReason.CALL_ISSUER,
    "4": DeclineReason.PROCESSING_ERROR,
    "5": DeclineReason.RESTRICTED_CARD,
    "6": DeclineReason.EXPIRED_CARD,
    "7": DeclineReason.INVALID_AMOUNT,
    "8": DeclineReason.INCORRECT_NUMBER,
    "9": DeclineReason.ISSUER_UNAVAILABLE,
    "10": DeclineReason.CARD_NOT_SUPPORTED,
    "11": DeclineReason.AUTHENTICATION_REQUIRED,
    "12": DeclineReason.INSUFFICIENT_FUNDS,
    "14": DeclineReason.FRAUD_SUSPECTED,
    "15": DeclineReason.GENERIC,
    "16": DeclineReason.GENERIC,
    "24": DeclineReason.INCORRECT_CVC,
}
# ../shared/providers/README.md, "Adyen errors": the errorCodes it names.
README_ERROR_CODES = ("000", "010", "100", "101", "103", "704")


# -- result codes ------------------------------------------------------------------------------
def test_every_result_code_has_a_status() -> None:
    assert set(RESULT_STATUS) == set(ResultCode)


def test_exactly_the_failed_result_codes_have_a_decline_fallback() -> None:
    failed = {code for code, status in RESULT_STATUS.items() if status is PaymentStatus.FAILED}
    assert (
        failed
        == set(DECLINE_FALLBACK)
        == {
            ResultCode.REFUSED,
            ResultCode.ERROR,
            ResultCode.CANCELLED,
        }
    )


def test_no_result_code_claims_money_moved_that_did_not() -> None:
    # Only an authorisation makes a payment AUTHORIZED; nothing is CAPTURED, VOIDED or
    # REFUNDED by /payments' table alone (purchase turns AUTHORIZED into CAPTURED).
    assert set(RESULT_STATUS.values()) == {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.PENDING,
        PaymentStatus.FAILED,
    }


def test_modification_tables_cover_their_operations() -> None:
    assert set(MODIFICATION_PATHS) == {Operation.CAPTURE, Operation.VOID, Operation.REFUND}
    assert set(REFUND_REASONS) == {"duplicate", "fraudulent", "requested_by_customer"}


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "reason"), README_REFUSALS.items())
def test_refusal_codes_named_by_the_reference_have_their_reason(
    code: str, reason: DeclineReason
) -> None:
    assert decline_reason_for(code, None) is reason


def test_every_refusal_has_a_real_reason_and_one_row() -> None:
    codes = [code for code, _, _ in REFUSALS]
    texts = [text.casefold() for _, text, _ in REFUSALS]
    assert len(codes) == len(set(codes)) == len(REFUSAL_CODES)
    assert len(texts) == len(set(texts)) == len(REFUSAL_TEXTS)
    assert codes == sorted(codes, key=int), "rows are in code order"
    assert [c for c, _, r in REFUSALS if r is DeclineReason.UNKNOWN] == []
    assert not {"0", "1", "13"} & set(codes), "not refusals: unknown, authorised, received"


def test_a_code_and_its_text_mean_the_same() -> None:
    for code, text, reason in REFUSALS:
        assert decline_reason_for(code, None) is decline_reason_for(None, text) is reason


def test_the_documented_refusal_codes_are_all_there() -> None:
    # Adyen's refusal-reason list: 2-12, 14-29, 31-46 (13 is "Received", not a refusal).
    documented = {str(n) for n in (*range(2, 13), *range(14, 30), *range(31, 47))}
    assert documented <= set(REFUSAL_CODES)


def test_a_code_wins_over_the_text_and_the_text_over_the_fallback() -> None:
    assert decline_reason_for("12", "Expired Card") is DeclineReason.INSUFFICIENT_FUNDS
    assert decline_reason_for("999", "expired card") is DeclineReason.EXPIRED_CARD
    fallback = DeclineReason.PROCESSING_ERROR
    assert decline_reason_for("0", "Unknown", fallback) is fallback


# -- advice ------------------------------------------------------------------------------------
def test_reason_advice_is_the_table_every_adapter_shares() -> None:
    assert REASON_ADVICE is base.REASON_ADVICE
    assert set(REASON_ADVICE) == set(DeclineReason)
    groups = [reason for _, reasons in base._REASON_ADVICE_GROUPS for reason in reasons]
    assert len(groups) == len(set(groups))
    assert [r for r, a in REASON_ADVICE.items() if a is RetryAdvice.UNKNOWN] == [
        DeclineReason.UNKNOWN
    ]


@pytest.mark.parametrize(
    ("merchant_advice", "advice"),
    [
        ("01", RetryAdvice.UPDATE_PAYMENT_DETAILS),
        ("02: Cannot approve at this time, try again later", RetryAdvice.RETRY_LATER),
        ("03: Do not try again", RetryAdvice.DO_NOT_RETRY),
        (" 21 ", RetryAdvice.DO_NOT_RETRY),
    ],
)
def test_mastercard_advice_codes(merchant_advice: str, advice: RetryAdvice) -> None:
    code = network_advice_code(merchant_advice)
    assert code == merchant_advice.partition(":")[0].strip()
    assert advice_for(DeclineReason.INSUFFICIENT_FUNDS, code) is advice
    assert (
        advice_for(DeclineReason.INSUFFICIENT_FUNDS, "99") is RetryAdvice.RETRY_LATER
    )  # the reason's


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", README_ERROR_CODES)
def test_error_codes_named_by_the_reference_are_mapped_or_judged_by_status(code: str) -> None:
    assert code in ERROR_CODES or code in GENERIC_ERROR_CODES


def test_the_reference_error_codes_mean_what_it_says() -> None:
    assert error_code_for("000", 401) is ErrorCode.AUTHENTICATION
    assert error_code_for("010", 403) is ErrorCode.PERMISSION
    assert error_code_for("100", 422) is ErrorCode.INVALID_REQUEST
    assert error_code_for("101", 422) is ErrorCode.CARD_DECLINED
    assert error_code_for("103", 422) is ErrorCode.CARD_DECLINED
    assert error_code_for("704", 422) is ErrorCode.IDEMPOTENCY_IN_FLIGHT


def test_error_groups_are_disjoint_sorted_and_one_per_code() -> None:
    names = [name for _, names in _ERROR_CODE_GROUPS for name in names]
    assert len(names) == len(set(names))
    values = [value for value, _ in _ERROR_CODE_GROUPS]
    assert len(values) == len(set(values))
    for value, members in _ERROR_CODE_GROUPS:
        assert list(members) == sorted(members), value
    assert not GENERIC_ERROR_CODES & set(ERROR_CODES)


def test_card_data_codes_are_exactly_the_declines_and_name_a_reason() -> None:
    declines = {c for c, code in ERROR_CODES.items() if code is ErrorCode.CARD_DECLINED}
    assert declines == set(CODE_REASONS)
    assert DeclineReason.UNKNOWN not in CODE_REASONS.values()


def test_every_status_table_entry_is_a_client_error() -> None:
    assert all(400 <= status < 500 and status != 429 for status in STATUS_CODES)


# -- properties: nothing unseen is guessed -----------------------------------------------------
def unseen(table: Any) -> st.SearchStrategy[str]:
    return st.text().filter(lambda s: s.strip() not in table and s not in table)


@given(code=st.none() | unseen(ERROR_CODES), status=st.integers(100, 599))
def test_an_unseen_error_code_falls_back_to_the_status(code: str | None, status: int) -> None:
    assert error_code_for(code, status) is STATUS_CODES.get(status, ErrorCode.UNKNOWN)


@given(code=st.sampled_from(sorted(ERROR_CODES)), status=st.integers(100, 599))
def test_a_known_error_code_wins_over_the_status(code: str, status: int) -> None:
    assert error_code_for(code, status) is ERROR_CODES[code]


@given(
    code=st.none() | unseen(REFUSAL_CODES),
    text=st.none() | st.text().filter(lambda s: s.strip().casefold() not in REFUSAL_TEXTS),
)
def test_an_unseen_refusal_is_unknown(code: str | None, text: str | None) -> None:
    assert decline_reason_for(code, text) is DeclineReason.UNKNOWN


@given(reason=st.sampled_from(DeclineReason), advice=st.none() | st.text())
def test_advice_is_adyens_when_known_else_the_reasons(
    reason: DeclineReason, advice: str | None
) -> None:
    known = None if advice is None else ADVICE_CODES.get(advice.partition(":")[0].strip())
    assert advice_for(reason, advice) is (known or REASON_ADVICE[reason])


@given(event_code=unseen(EVENT_TYPES), success=st.booleans(), action=st.none() | st.text())
def test_an_unseen_event_code_is_other(event_code: str, success: bool, action: str | None) -> None:
    assert event_type_for(event_code, success, action) is EventType.OTHER


# -- webhook events ----------------------------------------------------------------------------
def webhook_event_codes() -> set[str]:
    if not WEBHOOKS_SPEC.is_file():
        pytest.skip(f"Adyen's webhook spec is not here: {WEBHOOKS_SPEC}")
    spec = json.loads(WEBHOOKS_SPEC.read_text(encoding="utf-8"))
    codes = {name.strip("/") for name in spec["webhooks"]}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            enum = node.get("eventCode", {}).get("enum") if "eventCode" in node else None
            if isinstance(enum, list):
                codes.update(enum)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec["components"]["schemas"])
    return codes


def test_every_event_code_in_the_webhook_spec_is_in_the_table() -> None:
    codes = webhook_event_codes()
    assert len(codes) > 40, "the spec lists suspiciously few event codes"
    assert sorted(codes - set(EVENT_TYPES)) == []


def test_event_groups_are_disjoint_sorted_and_one_per_meaning() -> None:
    names = [name for _, names in _EVENT_GROUPS for name in names]
    assert len(names) == len(set(names))
    meanings = [meaning for meaning, _ in _EVENT_GROUPS]
    assert len(meanings) == len(set(meanings))
    for meaning, members in _EVENT_GROUPS:
        assert list(members) == sorted(members), meaning


@pytest.mark.parametrize(
    ("event_code", "success", "expected"),
    [
        ("AUTHORISATION", True, EventType.AUTHORIZED),
        ("AUTHORISATION", False, EventType.FAILED),
        ("CAPTURE", True, EventType.CAPTURED),
        ("CAPTURE", False, EventType.CAPTURE_FAILED),
        ("CAPTURE_FAILED", True, EventType.CAPTURE_FAILED),
        ("CANCELLATION", True, EventType.VOIDED),
        ("CANCELLATION", False, EventType.VOID_FAILED),
        ("TECHNICAL_CANCEL", True, EventType.VOIDED),
        ("REFUND", True, EventType.REFUNDED),
        ("REFUND", False, EventType.REFUND_FAILED),
        ("REFUND_FAILED", True, EventType.REFUND_FAILED),
        ("REFUNDED_REVERSED", True, EventType.REFUND_FAILED),
        ("EXPIRE", True, EventType.VOIDED),
        ("CHARGEBACK", True, EventType.CHARGEBACK),
        ("NOTIFICATION_OF_CHARGEBACK", True, EventType.CHARGEBACK),
        ("SECOND_CHARGEBACK", True, EventType.CHARGEBACK),
        ("CHARGEBACK_REVERSED", True, EventType.CHARGEBACK_REVERSED),
        ("CANCEL_OR_REFUND", True, EventType.OTHER),
        ("AUTHORISATION_ADJUSTMENT", True, EventType.OTHER),
        ("REPORT_AVAILABLE", True, EventType.OTHER),
    ],
)
def test_event_meanings(event_code: str, success: bool, expected: EventType) -> None:
    assert event_type_for(event_code, success) is expected


def test_cancel_or_refund_actions_only_refine_cancel_or_refund() -> None:
    assert event_type_for("CANCEL_OR_REFUND", True, "refund") is EventType.REFUNDED
    assert event_type_for("CANCEL_OR_REFUND", True, "cancel") is EventType.VOIDED
    assert event_type_for("CAPTURE", True, "refund") is EventType.CAPTURED
    assert set(CANCEL_OR_REFUND_ACTIONS) == {"cancel", "refund"}


# -- currencies --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("JPY", 0), ("KWD", 3), ("CLP", 2), ("ISK", 2), ("IDR", 0), ("EUR", 2),
        ("CVE", 0), ("UGX", 0), ("IQD", 3), ("LYD", 3), ("USD", 2),
    ],
)  # fmt: skip
def test_currency_scales_follow_adyens_table(code: str, exponent: int) -> None:
    assert CURRENCIES[code].exponent == exponent
    assert CURRENCIES[code].step == 1


def test_currencies_adyen_cannot_charge_are_left_out() -> None:
    left_out = set(ISO_4217_EXPONENTS) - set(CURRENCIES)
    assert left_out == {
        "BIF", "BOV", "CHE", "CHW", "CLF", "COU", "MGA", "MXV", "USN", "UYI", "UYW",
    }  # fmt: skip
    assert CAPABILITIES.currencies is CURRENCIES


def test_zero_and_three_decimal_lists_are_exactly_adyens() -> None:
    zero = {code for code, scale in CURRENCIES.items() if scale.exponent == 0}
    three = {code for code, scale in CURRENCIES.items() if scale.exponent == 3}
    assert zero == {
        "CVE", "DJF", "GNF", "IDR", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
        "XAF", "XOF", "XPF",
    }  # fmt: skip
    assert three == {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
    assert {scale.exponent for scale in CURRENCIES.values()} == {0, 2, 3}
