"""Idempotency keys derived from what a request means, and request fingerprints.

A derived key depends only on the operation, the caller's reference, the amount, the payment id
and, for authorize and purchase, the (non-secret) identity of the payment source. A service that
repeats the same call (after a crash, a timeout, a double click) maps to the same key without
storing one; two calls that differ in any of those get different keys. Consequences, deliberate:

* the same order paid again with another card is a new attempt (a new key), while the same card
  again replays the first answer, a decline included: a deliberate retry of the same card after
  a decline needs a new ``idempotency_key`` (or reference);
* two identical refunds of one payment with no reference and no key are one refund; pass a
  ``reference`` or an ``idempotency_key`` to make them two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Final

KEY_PREFIX: Final = "pg1_"
# 4 + 56 = 60 characters: within Adyen's 64 and Stripe's 255.
_DIGEST_CHARS: Final = 56


# One encoder for every digest (``json.dumps`` with options builds a new one on every call).
_CANONICAL: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _digest(value: object) -> str:
    return hashlib.sha256(_CANONICAL.encode(value).encode()).hexdigest()


def derive_key(
    operation: str,
    *,
    reference: str | None,
    amount: str | None,
    currency: str | None,
    payment_id: str | None,
    source: Mapping[str, object] | None = None,
    details: Mapping[str, str] | None = None,
) -> str:
    """A deterministic key for one logical call: the same inputs always give the same key.
    (``details``, a completed action's, joins the inputs only when given: every other call's
    key stays what it was.)"""
    parts: dict[str, object] = {
        "operation": operation,
        "reference": reference,
        "amount": amount,
        "currency": currency,
        "payment_id": payment_id,
        "source": dict(source) if source is not None else None,
    }
    if details is not None:
        parts["details"] = dict(details)
    return KEY_PREFIX + _digest(parts)[:_DIGEST_CHARS]


def fingerprint(operation: str, fields: Mapping[str, object]) -> str:
    """A digest of everything a request asks for; a key reused with another one is refused.

    ``fields`` must already be free of secrets: only the digest is stored, but a digest of a
    card number is still a card-number derivative and has no place in a store.
    """
    return _digest({"operation": operation, "fields": dict(fields)})
