"""Acceptance: paygate's webhook verifiers give the verdict the providers' official libraries
give, on the same generated deliveries (stripe-python's ``Webhook.construct_event`` and
``WebhookSignature.verify_header``; the Adyen library's ``util.is_valid_hmac_notification``).

Every delivery is checked by both; a verdict that differs must be one of ``DELIBERATE`` (listed
with its reason, and documented in docs/webhooks.md, "Compared with the official libraries").
A listed difference that stops differing fails too. Skipped where the official packages are not
installed (they are in the ``dev`` and ``bench`` extras)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from paygate.adapters.adyen import AdyenAdapter
from paygate.adapters.adyen._webhooks import sign
from paygate.adapters.stripe import StripeAdapter
from paygate.errors import ConfigurationError, ErrorCode, InvalidWebhookError

try:
    # The official SDKs are banned from paygate's code (ruff TID251); comparing verdicts with
    # them is this file's whole point (pyproject.toml allows it here alone).
    import Adyen.util as adyen_util
    import stripe
except ImportError:
    pytest.skip(
        "the official stripe and Adyen packages are not installed (pip install -e '.[dev]')",
        allow_module_level=True,
    )

ACCEPT, REFUSE = "accept", "refuse"

# -- Stripe ------------------------------------------------------------------------------------
SECRET = "whsec_officialComparison000000000"
OTHER_SECRET = "whsec_someoneElsesSecret000000000"
TOLERANCE = 300
EVENT = {
    "id": "evt_1Compare",
    "object": "event",
    "api_version": "2023-08-16",
    "created": 1_700_000_000,
    "data": {
        "object": {
            "id": "pi_3Compare",
            "object": "payment_intent",
            "amount": 1234,
            "amount_capturable": 0,
            "amount_received": 1234,
            "capture_method": "manual",
            "currency": "eur",
            "livemode": False,
            "metadata": {"reference": "order-42"},
            "status": "succeeded",
        }
    },
    "livemode": False,
    "pending_webhooks": 1,
    "type": "payment_intent.succeeded",
}
BODY = json.dumps(EVENT, indent=2).encode()


def _v1(body: bytes, t: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StripeDelivery:
    header: str
    body: bytes = BODY


def _stripe_deliveries(now: int) -> dict[str, StripeDelivery]:
    sig = _v1(BODY, now)
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    return {
        "valid": StripeDelivery(f"t={now},v1={sig}"),
        "tampered body": StripeDelivery(f"t={now},v1={sig}", BODY.replace(b"1234", b"9999")),
        "re-serialized body": StripeDelivery(f"t={now},v1={sig}", json.dumps(EVENT).encode()),
        "tampered signature": StripeDelivery(f"t={now},v1={flipped}"),
        "wrong secret": StripeDelivery(f"t={now},v1={_v1(BODY, now, OTHER_SECRET)}"),
        "secret rotation": StripeDelivery(f"t={now},v1={_v1(BODY, now, OTHER_SECRET)},v1={sig}"),
        "only a v0 signature": StripeDelivery(f"t={now},v0={sig}"),
        "no timestamp": StripeDelivery(f"v1={sig}"),
        "timestamp moved, signature kept": StripeDelivery(f"t={now - 1},v1={sig}"),
        "stale": StripeDelivery(f"t={now - TOLERANCE - 60},v1={_v1(BODY, now - TOLERANCE - 60)}"),
        "old, within the tolerance": StripeDelivery(f"t={now - 60},v1={_v1(BODY, now - 60)}"),
        "future, within the tolerance": StripeDelivery(f"t={now + 120},v1={_v1(BODY, now + 120)}"),
        "future, beyond the tolerance": StripeDelivery(
            f"t={now + TOLERANCE + 600},v1={_v1(BODY, now + TOLERANCE + 600)}"
        ),
        "space after a comma": StripeDelivery(f"t={now}, v1={sig}"),
        "tab after a comma": StripeDelivery(f"t={now},\tv1={sig}"),
        "spaces around the value": StripeDelivery(f" t={now},v1={sig} "),
        "space after t=": StripeDelivery(f"t= {now},v1={sig}"),
        "space after v1=": StripeDelivery(f"t={now},v1= {sig}"),
        "space inside the signature": StripeDelivery(f"t={now},v1={sig[:32]} {sig[32:]}"),
        "upper-case signature": StripeDelivery(f"t={now},v1={sig.upper()}"),
    }


def _paygate_stripe(delivery: StripeDelivery) -> str:
    adapter = StripeAdapter("sk_test_x", webhook_secret=SECRET, webhook_tolerance=TOLERANCE)
    try:
        adapter.parse_webhook({"Stripe-Signature": delivery.header}, delivery.body, now=time.time())
    except InvalidWebhookError as refused:
        code = refused.code
    else:
        return ACCEPT
    # A refusal for the signature or the age, never because the event could not be read.
    assert code in {ErrorCode.WEBHOOK_SIGNATURE_INVALID, ErrorCode.WEBHOOK_STALE}, code
    return REFUSE


def _official_stripe(delivery: StripeDelivery) -> str:
    verdicts = set()
    try:
        stripe.WebhookSignature.verify_header(delivery.body, delivery.header, SECRET, TOLERANCE)
        verdicts.add(ACCEPT)
    except stripe.SignatureVerificationError:
        verdicts.add(REFUSE)
    try:
        stripe.Webhook.construct_event(delivery.body, delivery.header, SECRET, TOLERANCE)
        verdicts.add(ACCEPT)
    except stripe.SignatureVerificationError:
        verdicts.add(REFUSE)
    assert len(verdicts) == 1, "stripe-python's two entry points disagree"
    return verdicts.pop()


# -- Adyen -------------------------------------------------------------------------------------
HMAC_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
OTHER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"


def _item(psp: str, event_code: str = "AUTHORISATION", key: str = HMAC_HEX) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pspReference": psp,
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "order:42",  # a colon in a signed field is not escaped
        "amount": {"value": 1234, "currency": "EUR"},
        "eventCode": event_code,
        "eventDate": "2024-05-06T17:15:34+02:00",
        "success": "true",
        "reason": "076181:1111:03/2030",
    }
    if event_code != "AUTHORISATION":
        item["originalReference"] = "PSP0000000000001"
    item["additionalData"] = {"hmacSignature": sign(item, bytes.fromhex(key))}
    return item


def _notification(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "live": "false",
        "notificationItems": [{"NotificationRequestItem": item} for item in items],
    }


def _changed(item: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    copied = copy.deepcopy(item)
    change(copied)
    return copied


def _flip(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _adyen_deliveries() -> dict[str, dict[str, Any]]:
    good = _item("PSP0000000000001")
    capture = _item("PSP0000000000002", "CAPTURE")
    refund = _item("PSP0000000000003", "REFUND")
    forged_capture = _changed(capture, lambda i: i["amount"].update(value=1))
    signature = good["additionalData"]["hmacSignature"]
    return {
        "valid": _notification(good),
        "tampered signed field (amount)": _notification(
            _changed(good, lambda i: i["amount"].update(value=99999))
        ),
        "tampered signed field (success)": _notification(
            _changed(good, lambda i: i.update(success="false"))
        ),
        "tampered unsigned field (reason)": _notification(
            _changed(good, lambda i: i.update(reason="something else"))
        ),
        "tampered signature": _notification(
            _changed(good, lambda i: i["additionalData"].update(hmacSignature=_flip(signature)))
        ),
        "signature with a trailing newline": _notification(
            _changed(good, lambda i: i["additionalData"].update(hmacSignature=signature + "\n"))
        ),
        "wrong HMAC key": _notification(_item("PSP0000000000001", key=OTHER_HEX)),
        "no signature": _notification(
            _changed(good, lambda i: i["additionalData"].pop("hmacSignature"))
        ),
        "no additionalData": _notification(_changed(good, lambda i: i.pop("additionalData"))),
        "batch of three": _notification(good, capture, refund),
        "batch, first item forged": _notification(forged_capture, good, refund),
        "batch, second item forged": _notification(good, forged_capture, refund),
        "batch, last item forged": _notification(good, refund, forged_capture),
    }


def _paygate_adyen(notification: dict[str, Any], key: str = HMAC_HEX) -> str:
    adapter = AdyenAdapter("any-key", merchant_account="TestMerchant", hmac_key=key)
    try:
        adapter.parse_webhook({}, json.dumps(notification).encode(), now=time.time())
    except InvalidWebhookError as refused:
        code = refused.code
    else:
        return ACCEPT
    assert code is ErrorCode.WEBHOOK_SIGNATURE_INVALID, code
    return REFUSE


def _official_adyen(notification: dict[str, Any], key: str = HMAC_HEX) -> str:
    # The helper answers False (or None without additionalData), and raises on a missing
    # signature or an unusable key: each of those is a refusal.
    try:
        valid = adyen_util.is_valid_hmac_notification(notification, key)
    except (KeyError, ValueError):
        return REFUSE
    return ACCEPT if valid else REFUSE


# -- the comparison --------------------------------------------------------------------------------
# (paygate's verdict, the official library's verdict) for the deliveries where they differ on
# purpose, and why. docs/webhooks.md lists the same.
DELIBERATE: dict[tuple[str, str], tuple[str, str, str]] = {
    ("stripe", "space after a comma"): (
        ACCEPT,
        REFUSE,
        "paygate ignores whitespace around the header's items; the signature must still match "
        "the exact body and timestamp, so nothing Stripe did not sign is accepted",
    ),
    ("stripe", "tab after a comma"): (ACCEPT, REFUSE, "as for a space after a comma"),
    ("stripe", "spaces around the value"): (ACCEPT, REFUSE, "as for a space after a comma"),
    ("stripe", "space after t="): (
        REFUSE,
        ACCEPT,
        "paygate takes only digits as the timestamp; stripe-python's int() skips the space",
    ),
    ("adyen", "batch, second item forged"): (
        REFUSE,
        ACCEPT,
        "paygate verifies every item of a batch and refuses the whole delivery for one forged "
        "item; the official helper checks only the first item",
    ),
    ("adyen", "batch, last item forged"): (REFUSE, ACCEPT, "as for the second item"),
}

STRIPE_CASES = sorted(_stripe_deliveries(0))
ADYEN_CASES = sorted(_adyen_deliveries())


def _agree(provider: str, name: str, ours: str, theirs: str) -> None:
    listed = DELIBERATE.get((provider, name))
    if listed is None:
        assert ours == theirs, f"{provider} {name}: paygate would {ours}, the official SDK {theirs}"
    else:
        assert (ours, theirs) == listed[:2], f"{provider} {name}: no longer {listed[:2]}"


@pytest.mark.parametrize("name", STRIPE_CASES)
def test_stripe_verdicts_match_stripe_python(name: str) -> None:
    delivery = _stripe_deliveries(int(time.time()))[name]
    _agree("stripe", name, _paygate_stripe(delivery), _official_stripe(delivery))


@pytest.mark.parametrize("name", ADYEN_CASES)
def test_adyen_verdicts_match_the_adyen_library(name: str) -> None:
    notification = _adyen_deliveries()[name]
    _agree("adyen", name, _paygate_adyen(notification), _official_adyen(notification))


def test_the_plain_verdicts_are_the_expected_ones() -> None:
    """The comparison cannot pass by both sides being wrong the same way."""
    now = int(time.time())
    stripe_deliveries, adyen_deliveries = _stripe_deliveries(now), _adyen_deliveries()
    for name in ("valid", "secret rotation", "future, beyond the tolerance"):
        assert _paygate_stripe(stripe_deliveries[name]) == ACCEPT, name
    for name in ("tampered body", "wrong secret", "stale", "timestamp moved, signature kept"):
        assert _official_stripe(stripe_deliveries[name]) == REFUSE, name
    assert _paygate_adyen(adyen_deliveries["batch of three"]) == ACCEPT
    assert _official_adyen(adyen_deliveries["wrong HMAC key"]) == REFUSE


@pytest.mark.parametrize(
    "key", [HMAC_HEX[:32] + " " + HMAC_HEX[32:], HMAC_HEX + "\n", "\t" + HMAC_HEX]
)
def test_an_hmac_key_with_whitespace_is_refused_by_both(key: str) -> None:
    notification = _notification(_item("PSP0000000000001"))
    with pytest.raises(ConfigurationError):  # paygate: when the adapter is built
        AdyenAdapter("any-key", merchant_account="TestMerchant", hmac_key=key)
    assert _official_adyen(notification, key) == REFUSE  # Adyen: when it is used


def test_every_deliberate_difference_is_a_case_and_documented() -> None:
    cases = {("stripe", n) for n in STRIPE_CASES} | {("adyen", n) for n in ADYEN_CASES}
    assert set(DELIBERATE) <= cases
    page = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    assert "Compared with the official libraries" in page
    for phrase in ("whitespace around", "only the first item", "int()"):
        assert phrase in page, phrase
