"""Stripe's error vocabulary mapped onto paygate's, as data.

Stripe describes a failure with up to four strings on its error object; each has a table here:

``ERROR_TYPES``
    ``error.type`` (the four wire types) → ``ErrorCode``. The fallback when ``error.code`` is
    absent or not in ``ERROR_CODES``.
``ERROR_CODES``
    ``error.code`` → ``ErrorCode``, for every code the current Stripe API defines. Built from
    ``_ERROR_CODE_GROUPS``, one group per normalized code. Codes that only concern products
    paygate does not drive (Connect onboarding, payouts, invoices, tax, Terminal, treasury, bank
    account verification) are plain ``INVALID_REQUEST``. A code that reports the payer's card or
    bank refusing a payment attempt is ``CARD_DECLINED``, whatever the payment method.
``CODE_REASONS``
    ``error.code`` → ``DeclineReason``, for the declined codes that name a reason themselves
    (``expired_card``, ``incorrect_cvc``, ...). ``card_declined`` is deliberately absent: on its
    own it says nothing about why.
``DECLINE_CODES``
    ``error.decline_code`` → ``DeclineReason``: Stripe's documented card decline codes. It is
    consulted before ``CODE_REASONS``.
``ADVICE_CODES``
    ``error.advice_code`` → ``RetryAdvice``: Stripe's own advice, which wins when present.
``REASON_ADVICE``
    ``DeclineReason`` → ``RetryAdvice``, total: the default advice when Stripe gives none. It is
    shared by every adapter and lives in ``paygate.adapters.base``; re-exported here so the
    Stripe tables read as one set.

Every table is open-ended on the Stripe side: a type, code, decline code or advice code nobody
has seen yet maps to the type's fallback or to ``UNKNOWN``, never to a guess. A ``# fmt: skip``
keeps the dense name groups one sorted block each.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from paygate.adapters.base import NETWORK_ADVICE, REASON_ADVICE
from paygate.errors import DeclineReason, ErrorCode, RetryAdvice

__all__ = [
    "ADVICE_CODES",
    "CODE_REASONS",
    "DECLINE_CODES",
    "ERROR_CODES",
    "ERROR_TYPES",
    "REASON_ADVICE",
    "advice_for",
    "decline_reason_for",
    "error_code_for",
]

ERROR_TYPES: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {
        "api_error": ErrorCode.PROVIDER_UNAVAILABLE,
        "card_error": ErrorCode.CARD_DECLINED,
        "idempotency_error": ErrorCode.IDEMPOTENCY_CONFLICT,
        "invalid_request_error": ErrorCode.INVALID_REQUEST,
    }
)

_ERROR_CODE_GROUPS: Final[tuple[tuple[ErrorCode, tuple[str, ...]], ...]] = (
    (ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE, ("charge_already_refunded",)),
    (ErrorCode.AMOUNT_INVALID, (
        "amount_too_large", "amount_too_small", "charge_exceeds_source_limit",
        "charge_exceeds_transaction_limit", "invalid_charge_amount",
    )),
    (ErrorCode.AUTHENTICATION, (
        "api_key_expired", "platform_api_key_expired", "secret_key_required",
    )),
    (ErrorCode.CARD_DECLINED, (
        "account_closed", "authentication_required", "card_decline_rate_limit_exceeded",
        "card_declined", "debit_not_authorized", "expired_card", "incorrect_address",
        "incorrect_cvc", "incorrect_number", "incorrect_zip", "insufficient_funds",
        "invalid_cvc", "invalid_expiry_month", "invalid_expiry_year", "invalid_number",
        "payment_intent_action_required", "payment_intent_authentication_failure",
        "payment_intent_payment_attempt_failed", "payment_method_customer_decline",
        "payment_method_provider_decline", "payment_method_provider_timeout",
        "processing_error", "refer_to_customer", "setup_attempt_failed",
        "setup_intent_authentication_failure",
    )),
    (ErrorCode.IDEMPOTENCY_IN_FLIGHT, ("idempotency_key_in_use",)),
    (ErrorCode.INVALID_REQUEST, (
        "account_country_invalid_address",
        "account_error_country_change_requires_additional_steps",
        "account_information_mismatch", "account_invalid", "account_number_invalid",
        "account_token_required_for_v2_account", "balance_invalid_parameter",
        "bank_account_bad_routing_numbers", "bank_account_declined", "bank_account_exists",
        "bank_account_restricted", "bank_account_unusable", "bank_account_unverified",
        "bank_account_verification_failed", "billing_invalid_mandate",
        "cardholder_phone_number_required", "charge_invalid_parameter", "country_code_invalid",
        "coupon_expired", "customer_max_payment_methods", "customer_max_subscriptions",
        "customer_tax_location_invalid", "email_invalid", "failed_tax_calculation",
        "financial_account_balance_does_not_support_currency",
        "financial_account_capability_not_enabled", "financial_account_capability_restricted",
        "financial_connections_account_inactive",
        "financial_connections_account_pending_account_numbers",
        "financial_connections_account_unavailable_account_numbers",
        "financial_connections_no_successful_transaction_refresh", "forwarding_api_inactive",
        "forwarding_api_invalid_parameter", "forwarding_api_retryable_upstream_error",
        "forwarding_api_upstream_connection_error", "forwarding_api_upstream_connection_timeout",
        "forwarding_api_upstream_error", "instant_payouts_config_disabled",
        "instant_payouts_currency_disabled", "instant_payouts_limit_exceeded",
        "intent_verification_method_missing", "invalid_characters",
        "invalid_mandate_reference_prefix_format", "invalid_source_usage",
        "invalid_tax_location", "invoice_no_customer_line_items",
        "invoice_no_payment_method_types", "invoice_no_subscription_line_items",
        "invoice_not_editable", "invoice_on_behalf_of_not_editable",
        "invoice_payment_intent_requires_action", "invoice_upcoming_none", "missing",
        "no_account", "out_of_inventory", "ownership_declaration_not_allowed",
        "parameter_invalid_empty", "parameter_invalid_integer",
        "parameter_invalid_string_blank", "parameter_invalid_string_empty",
        "parameter_missing", "parameter_unknown", "parameters_exclusive",
        "payment_intent_invalid_parameter", "payment_intent_konbini_rejected_confirmation_number",
        "payment_intent_mandate_invalid", "payment_method_bank_account_blocked",
        "payment_method_billing_details_address_missing",
        "payment_method_configuration_failures", "payment_method_currency_mismatch",
        "payment_method_invalid_parameter", "payment_method_invalid_parameter_testmode",
        "payment_method_microdeposit_failed", "payment_method_microdeposit_processing_error",
        "payment_method_microdeposit_verification_amounts_invalid",
        "payment_method_microdeposit_verification_amounts_mismatch",
        "payment_method_microdeposit_verification_attempts_exceeded",
        "payment_method_microdeposit_verification_descriptor_code_mismatch",
        "payment_method_microdeposit_verification_timeout", "payout_reconciliation_not_ready",
        "payouts_limit_exceeded", "postal_code_invalid", "product_inactive",
        "resource_already_exists", "routing_number_invalid", "setup_intent_invalid_parameter",
        "setup_intent_mandate_invalid", "shipping_address_invalid",
        "shipping_calculation_failed", "siret_invalid", "sku_inactive",
        "storer_capability_missing", "storer_capability_not_active", "stripe_tax_inactive",
        "tax_id_invalid", "tax_id_prohibited", "taxes_calculation_failed",
        "terminal_reader_busy", "terminal_reader_hardware_fault",
        "terminal_reader_invalid_location_for_activation",
        "terminal_reader_invalid_location_for_payment", "terminal_reader_offline",
        "terminal_reader_timeout", "token_card_network_invalid",
        "transfer_source_balance_parameters_mismatch", "url_invalid",
    )),
    (ErrorCode.INVALID_STATE, (
        "acss_debit_session_incomplete", "balance_insufficient",
        "capture_charge_authorization_expired", "capture_unauthorized_payment",
        "charge_already_captured", "charge_disputed", "charge_expired_for_capture",
        "charge_not_refundable", "customer_session_expired",
        "india_recurring_payment_mandate_canceled", "intent_invalid_state",
        "payment_intent_payment_attempt_expired", "payment_intent_unexpected_state",
        "payment_method_bank_account_already_verified", "payment_method_unexpected_state",
        "refund_disputed_payment", "return_intent_already_processed",
        "setup_intent_setup_attempt_expired", "setup_intent_unexpected_state",
        "status_transition_invalid", "token_already_used", "token_in_use",
    )),
    (ErrorCode.NOT_FOUND, ("resource_missing",)),
    (ErrorCode.PERMISSION, (
        "action_blocked", "anomalous_money_movement_request", "application_fees_not_allowed",
        "approval_required", "livemode_mismatch", "not_allowed_on_standard_account",
        "payouts_not_allowed", "platform_account_required",
        "progressive_onboarding_limit_exceeded", "request_blocked", "testmode_charges_only",
        "transfers_not_allowed",
    )),
    (ErrorCode.RATE_LIMITED, ("lock_timeout", "payment_intent_rate_limit_exceeded", "rate_limit")),
    (ErrorCode.UNSUPPORTED, (
        "alipay_upgrade_required", "bitcoin_upgrade_required", "clearing_code_unsupported",
        "country_unsupported", "instant_payouts_unsupported", "invalid_card_type",
        "payment_intent_incompatible_payment_method", "payment_method_not_available",
        "payment_method_unactivated", "payment_method_unsupported_type",
        "sepa_unsupported_account",
        "service_period_coupon_with_metered_tiered_item_unsupported",
        "setup_intent_mobile_wallet_unsupported", "state_unsupported",
        "terminal_location_country_unsupported", "tls_version_unsupported",
    )),
)  # fmt: skip

ERROR_CODES: Final[Mapping[str, ErrorCode]] = MappingProxyType(
    {name: code for code, names in _ERROR_CODE_GROUPS for name in names}
)

CODE_REASONS: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {
        "account_closed": DeclineReason.INVALID_ACCOUNT,
        "authentication_required": DeclineReason.AUTHENTICATION_REQUIRED,
        "card_decline_rate_limit_exceeded": DeclineReason.LIMIT_EXCEEDED,
        "expired_card": DeclineReason.EXPIRED_CARD,
        "incorrect_address": DeclineReason.INCORRECT_ADDRESS,
        "incorrect_cvc": DeclineReason.INCORRECT_CVC,
        "incorrect_number": DeclineReason.INCORRECT_NUMBER,
        "incorrect_zip": DeclineReason.INCORRECT_ADDRESS,
        "insufficient_funds": DeclineReason.INSUFFICIENT_FUNDS,
        "invalid_cvc": DeclineReason.INCORRECT_CVC,
        "invalid_expiry_month": DeclineReason.EXPIRED_CARD,
        "invalid_expiry_year": DeclineReason.EXPIRED_CARD,
        "invalid_number": DeclineReason.INCORRECT_NUMBER,
        "payment_intent_action_required": DeclineReason.AUTHENTICATION_REQUIRED,
        "payment_intent_authentication_failure": DeclineReason.AUTHENTICATION_REQUIRED,
        # A redirect method's attempt the shopper did not approve at their bank (or that
        # failed there): refused, with no more said (Adyen's "Shopper Cancelled" alike).
        "payment_intent_payment_attempt_failed": DeclineReason.GENERIC,
        "payment_method_customer_decline": DeclineReason.GENERIC,
        "payment_method_provider_timeout": DeclineReason.ISSUER_UNAVAILABLE,
        "processing_error": DeclineReason.PROCESSING_ERROR,
        "setup_intent_authentication_failure": DeclineReason.AUTHENTICATION_REQUIRED,
    }
)

_DECLINE_CODE_GROUPS: Final[tuple[tuple[DeclineReason, tuple[str, ...]], ...]] = (
    (DeclineReason.AUTHENTICATION_REQUIRED, (
        "authentication_required", "offline_pin_required", "online_or_offline_pin_required",
    )),
    (DeclineReason.CALL_ISSUER, ("approve_with_id", "call_issuer")),
    (DeclineReason.CARD_NOT_SUPPORTED, ("card_not_supported",)),
    (DeclineReason.CURRENCY_NOT_SUPPORTED, ("currency_not_supported",)),
    (DeclineReason.DO_NOT_HONOR, ("do_not_honor", "do_not_try_again")),
    (DeclineReason.DUPLICATE_TRANSACTION, ("duplicate_transaction",)),
    (DeclineReason.EXPIRED_CARD, ("expired_card", "invalid_expiry_month", "invalid_expiry_year")),
    (DeclineReason.FRAUD_SUSPECTED, ("fraudulent", "merchant_blacklist", "security_violation")),
    (DeclineReason.GENERIC, ("generic_decline", "no_action_taken")),
    (DeclineReason.INCORRECT_ADDRESS, ("incorrect_zip",)),
    (DeclineReason.INCORRECT_CVC, ("incorrect_cvc", "invalid_cvc")),
    (DeclineReason.INCORRECT_NUMBER, ("incorrect_number", "invalid_number")),
    (DeclineReason.INCORRECT_PIN, ("incorrect_pin", "invalid_pin", "pin_try_exceeded")),
    (DeclineReason.INSUFFICIENT_FUNDS, ("insufficient_funds",)),
    (DeclineReason.INVALID_ACCOUNT, ("invalid_account", "new_account_information_available")),
    (DeclineReason.INVALID_AMOUNT, ("invalid_amount",)),
    (DeclineReason.ISSUER_UNAVAILABLE, ("issuer_not_available", "try_again_later")),
    (DeclineReason.LIMIT_EXCEEDED, ("card_velocity_exceeded", "withdrawal_count_limit_exceeded")),
    (DeclineReason.LOST_OR_STOLEN, ("lost_card", "pickup_card", "stolen_card")),
    (DeclineReason.PROCESSING_ERROR, ("processing_error", "reenter_transaction")),
    (DeclineReason.RESTRICTED_CARD, (
        "not_permitted", "restricted_card", "revocation_of_all_authorizations",
        "revocation_of_authorization", "service_not_allowed", "stop_payment_order",
        "transaction_not_allowed",
    )),
    (DeclineReason.TEST_MODE, ("test_mode_live_card", "testmode_decline")),
)  # fmt: skip

DECLINE_CODES: Final[Mapping[str, DeclineReason]] = MappingProxyType(
    {name: reason for reason, names in _DECLINE_CODE_GROUPS for name in names}
)

ADVICE_CODES: Final[Mapping[str, RetryAdvice]] = MappingProxyType(
    {
        "confirm_card_data": RetryAdvice.UPDATE_PAYMENT_DETAILS,
        "do_not_try_again": RetryAdvice.DO_NOT_RETRY,
        "try_again_later": RetryAdvice.RETRY_LATER,
    }
)


def error_code_for(error_type: str, code: str | None) -> ErrorCode:
    """The normalized code: ``code``'s entry, else ``error_type``'s, else ``UNKNOWN``."""
    by_type = ERROR_TYPES.get(error_type, ErrorCode.UNKNOWN)
    return by_type if code is None else ERROR_CODES.get(code, by_type)


def decline_reason_for(decline_code: str | None, code: str | None) -> DeclineReason:
    """The normalized decline reason: ``decline_code``'s entry, else ``code``'s, else
    ``UNKNOWN``."""
    unknown = DeclineReason.UNKNOWN
    by_code = unknown if code is None else CODE_REASONS.get(code, unknown)
    return by_code if decline_code is None else DECLINE_CODES.get(decline_code, by_code)


def advice_for(
    reason: DeclineReason, advice_code: str | None, network_advice: str | None = None
) -> RetryAdvice:
    """Stripe's ``advice_code`` when it is one we know, else the network's advice code when it
    is one we know, else the reason's default advice."""
    by_reason = REASON_ADVICE.get(reason, RetryAdvice.UNKNOWN)
    by_network = (
        by_reason if network_advice is None else NETWORK_ADVICE.get(network_advice, by_reason)
    )
    return by_network if advice_code is None else ADVICE_CODES.get(advice_code, by_network)
